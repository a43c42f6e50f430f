//! Tests of the interpreter: every supported opcode, memo identity, limits,
//! refused globals and opcodes, and streams that must fail cleanly.

use super::*;
use crate::formats::pickle::numpy::{ArrayData, array, scalar};
use crate::numerics::{ByteOrder, DType};

fn load(bytes: &[u8]) -> Pickle<'_> {
    unpickle(bytes, 0, &Limits::default())
}

fn root(p: &Pickle) -> Value {
    p.root.clone().unwrap_or_else(|e| panic!("pickle failed: {e}"))
}

fn error(bytes: &[u8]) -> PickleError {
    match load(bytes).root {
        Err(e) => e,
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[test]
fn scalars() {
    assert_eq!(root(&load(b"\x80\x02N.")), Value::None);
    assert_eq!(root(&load(b"\x88.")), Value::Bool(true));
    assert_eq!(root(&load(b"\x89.")), Value::Bool(false));
    assert_eq!(root(&load(b"J\xfe\xff\xff\xff.")), Value::Int(-2));
    assert_eq!(root(&load(b"K\xff.")), Value::Int(255));
    assert_eq!(root(&load(b"M\x01\x02.")), Value::Int(0x0201));
    assert_eq!(root(&load(b"\x8a\x00.")), Value::Int(0));
    assert_eq!(root(&load(b"\x8a\x01\xff.")), Value::Int(-1));
    assert_eq!(root(&load(b"\x8a\x06\x00\x00\x00\x00\x00\x01.")), Value::Int(1 << 40));
    assert_eq!(root(&load(b"\x8b\x02\x00\x00\x00\x00\x80.")), Value::Int(-32768));
    assert_eq!(root(&load(b"G\x3f\xf8\x00\x00\x00\x00\x00\x00.")), Value::Float(1.5));
    assert_eq!(root(&load(b"I01\n.")), Value::Bool(true));
    assert_eq!(root(&load(b"I00\n.")), Value::Bool(false));
    assert_eq!(root(&load(b"I-42\n.")), Value::Int(-42));
    assert_eq!(root(&load(b"L7L\n.")), Value::Int(7));
    assert_eq!(root(&load(b"F2.25\n.")), Value::Float(2.25));
}

#[test]
fn big_integers_keep_their_bytes() {
    // The legacy torch magic number, 0x1950a86a20f9469cfc6c.
    let p = load(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    let Some(Node::BigInt(bytes)) = p.node(&root(&p)) else { panic!() };
    assert_eq!(bytes, &[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
    // 2**64 as protocol 0 text: magnitude bytes plus a sign byte.
    let p = load(b"L18446744073709551616L\n.");
    let Some(Node::BigInt(bytes)) = p.node(&root(&p)) else { panic!() };
    assert_eq!(bytes, &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    let p = load(b"L-18446744073709551616\n.");
    let Some(Node::BigInt(bytes)) = p.node(&root(&p)) else { panic!() };
    assert_eq!(bytes, &[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
}

#[test]
fn strings_and_bytes() {
    for bytes in [&b"X\x02\x00\x00\x00hi."[..], b"\x8c\x02hi.", b"\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi.", b"Vhi\n."] {
        let p = load(bytes);
        assert_eq!(p.str(&root(&p)), Some("hi"), "{bytes:?}");
    }
    let p = load(b"V\\u00e9t\\u00e9\n.");
    assert_eq!(p.str(&root(&p)), Some("été"));
    for bytes in [
        &b"B\x02\x00\x00\x00ab."[..],
        b"C\x02ab.",
        b"\x8e\x02\x00\x00\x00\x00\x00\x00\x00ab.",
        b"\x96\x02\x00\x00\x00\x00\x00\x00\x00ab.",
        b"T\x02\x00\x00\x00ab.",
        b"U\x02ab.",
        b"S'ab'\n.",
        b"S'\\x61b'\n.",
    ] {
        let p = load(bytes);
        assert_eq!(p.bytes(&root(&p)), Some(&b"ab"[..]), "{bytes:?}");
    }
    // In-place bytes remember where they are, so arrays can stay mapped.
    let p = load(b"\x80\x03C\x02ab.");
    assert_eq!(p.bytes_span(&root(&p)), Some((4, 2)));
}

#[test]
fn tuples_lists_dicts_and_sets() {
    let p = load(b"\x80\x02()K\x01\x85K\x01K\x02\x86K\x01K\x02K\x03\x87(K\x01K\x02K\x03K\x04tt.");
    let outer = p.tuple(&root(&p)).unwrap();
    let sizes: Vec<usize> = outer.iter().map(|t| p.tuple(t).unwrap().len()).collect();
    assert_eq!(sizes, vec![0, 1, 2, 3, 4]);
    let p = load(b"]K\x01a(K\x02K\x03e.");
    assert_eq!(p.items(&root(&p)).unwrap(), &[Value::Int(1), Value::Int(2), Value::Int(3)]);
    let p = load(b"(K\x01K\x02l.");
    assert_eq!(p.items(&root(&p)).unwrap(), &[Value::Int(1), Value::Int(2)]);
    // Key order is kept, and a repeated key replaces the value in place.
    let p = load(b"}(\x8c\x01bK\x01\x8c\x01aK\x02u\x8c\x01bK\x03s.");
    let d = p.dict(&root(&p)).unwrap();
    let keys: Vec<&str> = d.entries.iter().map(|(k, _)| p.str(k).unwrap()).collect();
    assert_eq!(keys, vec!["b", "a"]);
    assert_eq!(p.get(&root(&p), "b"), Some(Value::Int(3)));
    let p = load(b"(\x8c\x01kK\x05d.");
    assert_eq!(p.get(&root(&p), "k"), Some(Value::Int(5)));
    let p = load(b"\x8f(K\x01K\x02\x90.");
    assert!(matches!(p.node(&root(&p)), Some(Node::Set(items)) if items.len() == 2));
    let p = load(b"(K\x01\x91.");
    assert!(matches!(p.node(&root(&p)), Some(Node::FrozenSet(items)) if items.len() == 1));
}

#[test]
fn stack_manipulation() {
    assert_eq!(root(&load(b"K\x01K\x020.")), Value::Int(1));
    assert_eq!(root(&load(b"K\x01(K\x02K\x031.")), Value::Int(1));
    // POP with an empty frame discards the mark, as Python does.
    assert_eq!(root(&load(b"K\x01(0.")), Value::Int(1));
    let p = load(b"]2K\x01a\x86.");
    let pair = p.tuple(&root(&p)).unwrap();
    assert_eq!(pair[0], pair[1], "DUP shares identity");
    assert_eq!(p.items(&pair[0]).unwrap(), &[Value::Int(1)]);
}

#[test]
fn memo_shares_identity_with_build() {
    // An object is memoized, referenced, then BUILD mutates it: both
    // references see the state.
    let bytes = b"\x80\x02ccollections\nOrderedDict\nq\x00)R\x8c\x01xK\x01sq\x01h\x01\x86.";
    let p = load(bytes);
    let pair = p.tuple(&root(&p)).unwrap();
    assert_eq!(pair[0], pair[1]);
    assert_eq!(p.get(&pair[1], "x"), Some(Value::Int(1)));
    let bytes = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)Rr\x05\x00\x00\x00K\x07bj\x05\x00\x00\x00\x86.";
    let p = load(bytes);
    let pair = p.tuple(&root(&p)).unwrap();
    assert_eq!(p.object(&pair[0]).unwrap().state, Some(Value::Int(7)));
    assert_eq!(pair[0], pair[1]);
    // MEMOIZE numbers entries by memo size; text PUT/GET work too.
    let p = load(b"\x80\x04K\x01\x94K\x02\x94h\x00h\x01\x86.");
    assert_eq!(p.tuple(&root(&p)).unwrap(), &[Value::Int(1), Value::Int(2)]);
    let p = load(b"K\x09p3\ng3\n\x86.");
    assert_eq!(p.tuple(&root(&p)).unwrap(), &[Value::Int(9), Value::Int(9)]);
}

#[test]
fn reduce_newobj_and_build_are_recorded_not_called() {
    let p = load(b"\x80\x02ctorch\nSize\n(K\x02K\x03t\x85R.");
    let o = p.object(&root(&p)).unwrap();
    assert_eq!(o.construction, Construction::Reduce);
    assert!(p.global(&o.callable).unwrap().is("torch", "Size"));
    let p = load(b"\x80\x04\x8c\x05numpy\x8c\x07ndarray\x93)\x81}b.");
    let o = p.object(&root(&p)).unwrap();
    assert_eq!(o.construction, Construction::NewObj);
    assert!(p.dict(&o.state.unwrap()).is_some());
    let p = load(b"\x80\x04\x8c\x05numpy\x8c\x07ndarray\x93)}\x92.");
    assert_eq!(p.object(&root(&p)).unwrap().construction, Construction::NewObjEx);
    let p = load(b"\x80\x02ctorch\nFloatStorage\nQ.");
    assert!(p.persistent_id(&root(&p)).is_some());
    assert!(p.alerts.is_empty());
}

#[test]
fn data_callables_become_data() {
    // Protocol 2 spells bytes as _codecs.encode(latin-1 text).
    let p = load(b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xc3\xbf\x01X\x06\x00\x00\x00latin1\x86R.");
    assert_eq!(p.bytes(&root(&p)), Some(&[0xff, 0x01][..]));
    let p = load(b"\x80\x02c__builtin__\nset\n](K\x01K\x02e\x85R.");
    assert!(matches!(p.node(&root(&p)), Some(Node::Set(items)) if items.len() == 2));
    // Python 2's OrderedDict pickles its items as an argument.
    let p = load(b"\x80\x02ccollections\nOrderedDict\n]](U\x01aK\x01ea\x85R.");
    assert_eq!(p.dict(&root(&p)).unwrap().entries.len(), 1);
}

#[test]
fn unsafe_globals_are_alerts_and_the_stream_goes_on() {
    let bytes = b"\x80\x02}(X\x01\x00\x00\x00acos\nsystem\nX\x02\x00\x00\x00ls\x85RX\x01\x00\x00\x00bK\x01u.";
    let bytes = &bytes[..];
    let p = load(bytes);
    let r = root(&p);
    assert_eq!(p.get(&r, "b"), Some(Value::Int(1)), "reading continues after the global");
    assert_eq!(p.alerts, vec![Alert::UnsafeGlobal { module: "os".into(), name: "system".into(), offset: 10 }]);
    let global = p.callable(&p.get(&r, "a").unwrap()).unwrap();
    assert_eq!(global.trust, Trust::Unsafe);
    let p = load(b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.");
    assert!(matches!(&p.alerts[..], [Alert::UnsafeGlobal { name, offset: 18, .. }] if name == "eval"));
    let p = load(b"\x80\x04\x8c\x14torchao.quantization\x8c\nInt4Tensor\x93.");
    assert!(matches!(&p.alerts[..], [Alert::SubclassGlobal { .. }]));
}

#[test]
fn refused_opcodes_are_alerts() {
    let cases: [(&[u8], &str); 7] = [
        (b"(ibuiltins\nlist\n.", "INST"),
        (b"(cbuiltins\nlist\no.", "OBJ"),
        (b"\x82\x01.", "EXT1"),
        (b"\x83\x01\x00.", "EXT2"),
        (b"\x84\x01\x00\x00\x00.", "EXT4"),
        (b"Pkey\n.", "PERSID"),
        (b"\x97.", "NEXT_BUFFER"),
    ];
    for (bytes, name) in cases {
        let p = load(bytes);
        assert!(p.root.is_ok(), "{name}: {:?}", p.root);
        assert!(
            p.alerts.iter().any(|a| matches!(a, Alert::RefusedOpcode { name: n, offset: _, .. } if *n == name)),
            "{name}"
        );
    }
    let p = load(b"C\x01a\x98.");
    assert!(matches!(&p.alerts[..], [Alert::RefusedOpcode { name: "READONLY_BUFFER", offset: 3, .. }]));
    // INST of an unsafe global is reported both ways.
    let p = load(b"(ios\nsystem\n.");
    assert_eq!(p.alerts.len(), 2);
}

#[test]
fn malformed_streams_fail_with_offsets() {
    assert_eq!(error(b"\x80\x02K\x01\xff.").kind, ErrorKind::UnknownOpcode(0xff));
    assert_eq!(error(b"\x80\x02K\x01\xff.").offset, 4);
    assert!(matches!(error(b"X\xff\xff\xff\xffab.").kind, ErrorKind::Truncated { needed: 0xffff_ffff, .. }));
    assert!(matches!(error(b"\x8e\xff\xff\xff\xff\xff\xff\xff\xff.").kind, ErrorKind::Truncated { .. }));
    assert!(matches!(error(b"\x95\xff\xff\xff\xff\xff\xff\xff\x7f.").kind, ErrorKind::Truncated { .. }));
    assert!(matches!(error(b"\x8b\xff\xff\xff\xff.").kind, ErrorKind::BadOperand { .. }));
    assert_eq!(error(b"a.").kind, ErrorKind::StackUnderflow("APPEND"));
    assert_eq!(error(b"(.").kind, ErrorKind::StackUnderflow("STOP"));
    assert_eq!(error(b"K\x01(\x86.").kind, ErrorKind::StackUnderflow("TUPLE2"));
    assert_eq!(error(b"t.").kind, ErrorKind::NoMark("TUPLE"));
    assert_eq!(error(b"h\x05.").kind, ErrorKind::MemoMiss(5));
    assert_eq!(error(b"q\x00.").kind, ErrorKind::StackUnderflow("BINPUT"));
    assert_eq!(error(b"K\x01").kind, ErrorKind::NoStop);
    assert_eq!(error(b"").kind, ErrorKind::NoStop);
    assert_eq!(error(b"\x80\x06.").kind, ErrorKind::Protocol(6));
    assert!(matches!(error(b"}(K\x01u.").kind, ErrorKind::BadOperand { .. }));
    assert!(matches!(error(b"K\x01K\x02a.").kind, ErrorKind::WrongType { opcode: "APPEND", .. }));
    assert!(matches!(error(b")N\x85b.").kind, ErrorKind::WrongType { opcode: "BUILD", .. }));
    assert!(matches!(error(b"K\x01K\x02\x93.").kind, ErrorKind::WrongType { .. }));
    assert!(matches!(error(b"cos").kind, ErrorKind::Truncated { .. }));
    assert!(matches!(error(b"Iabc\n.").kind, ErrorKind::BadOperand { .. }));
}

#[test]
fn limits_end_in_errors() {
    let tight = Limits { max_stack: 8, max_marks: 4, max_memo: 2, max_nodes: 3, max_depth: 10 };
    let run = |bytes: &[u8]| unpickle(bytes, 0, &tight).root.unwrap_err().kind;
    assert!(matches!(run(&[b'N'; 20]), ErrorKind::Limit { what: "stack depth", .. }));
    assert!(matches!(run(&[b'('; 20]), ErrorKind::Limit { what: "MARK nesting", .. }));
    assert!(matches!(run(b"Nq\x00q\x01q\x02."), ErrorKind::Limit { what: "memo size", .. }));
    assert!(matches!(run(b"]]]]."), ErrorKind::Limit { what: "number of values", .. }));
    // Re-using a memo slot is not growth.
    assert!(unpickle(b"Nq\x00q\x00q\x01q\x01.", 0, &tight).root.is_ok());
    // Deep nesting built without marks is fine for the machine; walkers cap it.
    let mut deep = vec![b']'; 100_000];
    deep.extend(vec![b'a'; 99_999]);
    deep.push(b'.');
    assert!(load(&deep).root.is_ok());
}

#[test]
fn a_stream_of_pickles_reads_one_after_another() {
    let bytes = b"\x80\x02K\x01.\x80\x02K\x02.";
    let first = load(bytes);
    assert_eq!(root(&first), Value::Int(1));
    let second = unpickle(bytes, first.end, &Limits::default());
    assert_eq!(root(&second), Value::Int(2));
    assert_eq!(second.end, bytes.len());
}

#[test]
fn following_reads_every_pickle_after_stop_and_judges_it() {
    let bytes = b"\x80\x02K\x01.\x80\x02cbuiltins\neval\nX\x03\x00\x00\x001+1\x85R.";
    let first = load(bytes);
    let rest = following(bytes, first.end, &Limits::default());
    assert_eq!(rest.len(), 1);
    assert!(matches!(&rest[0].alerts[..], [Alert::UnsafeGlobal { name, offset: 7, .. }] if name == "eval"));
    let at = Location { file: "f", entry: None, base: 0 };
    let codes: Vec<String> =
        following_findings(&rest, bytes.len(), at).into_iter().map(|f| f.code().to_string()).collect();
    assert_eq!(codes, ["S104", "S101"]);
    // Bytes that are no pickle are a layout finding; a cut pickle is F109.
    let junk = b"K\x01.\x00\x01";
    let rest = following(junk, 3, &Limits::default());
    let codes: Vec<String> =
        following_findings(&rest, junk.len(), at).into_iter().map(|f| f.code().to_string()).collect();
    assert_eq!(codes, ["F105"]);
    let cut = b"K\x01.K\x02";
    let rest = following(cut, 3, &Limits::default());
    let codes: Vec<String> =
        following_findings(&rest, cut.len(), at).into_iter().map(|f| f.code().to_string()).collect();
    assert_eq!(codes, ["F109"]);
}

#[test]
fn a_file_of_countless_tiny_pickles_is_capped_and_reported() {
    let bytes = b"N.".repeat(MAX_FOLLOWING + 10);
    let rest = following(&bytes, 2, &Limits::default());
    assert_eq!(rest.len(), MAX_FOLLOWING);
    let at = Location { file: "f", entry: None, base: 0 };
    let codes: Vec<String> =
        following_findings(&rest, bytes.len(), at).into_iter().map(|f| f.code().to_string()).collect();
    assert_eq!(codes, ["S104", "F109"]);
}

#[test]
fn an_opcode_across_a_frame_boundary_is_an_alert() {
    // FRAME of 4 bytes: `}` and 3 bytes of a 10-byte SHORT_BINUNICODE.
    let straddle = b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00}\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R.";
    let p = load(straddle);
    assert!(p.root.is_ok());
    let frames: Vec<_> = p.alerts.iter().filter(|a| matches!(a, Alert::FrameStraddle { .. })).collect();
    assert!(matches!(frames[..], [Alert::FrameStraddle { name: "SHORT_BINUNICODE", offset: 12, frame_end: 15, .. }]));
    assert!(p.alerts.iter().any(|a| matches!(a, Alert::UnsafeGlobal { name, .. } if name == "eval")));
    // A frame that ends exactly between opcodes raises nothing.
    let aligned = b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01.";
    assert!(load(aligned).alerts.is_empty());
    let exact = b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00K\x01\x95\x01\x00\x00\x00\x00\x00\x00\x00.";
    assert!(load(exact).alerts.is_empty());
    // A FRAME opened inside another frame.
    let nested = b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00}\x95\x02\x00\x00\x00\x00\x00\x00\x00K\x01\x86.";
    assert!(matches!(&load(nested).alerts[..], [Alert::FrameStraddle { name: "FRAME", offset: 12, .. }]));
}

#[test]
fn stack_global_takes_python_2_strings_as_names() {
    // Python 3 decodes STRING operands to str, so this calls os.system.
    let p = load(b"S'os'\nS'system'\n\x93S'ls'\n\x85R.");
    assert!(matches!(&p.alerts[..], [Alert::UnsafeGlobal { module, name, .. }] if module == "os" && name == "system"));
}

#[test]
fn protocol_0_and_1_text_opcodes_build_the_same_values() {
    let p = load(b"(dp0\nS'w'\np1\n(lp2\nF1.5\naI2\naL3L\naV\\u00e9\np3\nas.");
    let r = root(&p);
    let list = p.get(&r, "w").unwrap();
    let items = p.items(&list).unwrap();
    assert_eq!(items[..3], [Value::Float(1.5), Value::Int(2), Value::Int(3)]);
    assert_eq!(p.str(&items[3]), Some("\u{e9}"));
    assert!(is_pickle(b"(dp0\nS'w'\np1\nI1\ns."));
}

#[test]
fn numpy_arrays_from_every_protocol_and_numpy_version() {
    let files: [(&str, &[u8]); 4] = [
        ("p2", include_bytes!("../../../fixtures/torch/numpy_p2.pkl")),
        ("numpy1 p3", include_bytes!("../../../fixtures/torch/numpy1_p3.pkl")),
        ("p4", include_bytes!("../../../fixtures/torch/numpy_p4.pkl")),
        ("p5", include_bytes!("../../../fixtures/torch/numpy_p5.pkl")),
    ];
    for (what, bytes) in files {
        let p = load(bytes);
        let r = root(&p);
        assert!(p.alerts.is_empty(), "{what}: {:?}", p.alerts);
        let pose = p.get(&r, "pose").unwrap();
        let candidate = array(&p, &p.get(&pose, "candidate").unwrap()).unwrap().unwrap();
        assert_eq!(candidate.shape, vec![2, 2], "{what}");
        assert_eq!(
            (candidate.dtype, candidate.order, candidate.descr.as_str()),
            (Some(DType::F32), ByteOrder::Little, "<f4")
        );
        let ArrayData::Raw { bytes: raw, .. } = candidate.data else { panic!("{what}") };
        assert_eq!(f32::from_le_bytes(raw[0..4].try_into().unwrap()), 0.1);
        assert!(f32::from_le_bytes(raw[8..12].try_into().unwrap()).is_nan());
        let big = array(&p, &p.get(&r, "big").unwrap()).unwrap().unwrap();
        assert_eq!((big.dtype, big.order), (Some(DType::F64), ByteOrder::Big), "{what}");
        let fortran = array(&p, &p.get(&r, "fortran").unwrap()).unwrap().unwrap();
        assert!(fortran.fortran_order, "{what}");
        assert_eq!(fortran.shape, vec![2, 3]);
        let num = p.get(&r, "num").unwrap();
        assert_eq!(p.int(&num), Some(1 << 40), "{what}");
        let s = scalar(&p, &p.get(&r, "scale").unwrap()).unwrap();
        assert_eq!(s.to_f64(), Some(1.5), "{what}");
    }
}

#[test]
fn findings_name_globals_and_offsets() {
    let p = load(b"\x80\x02cos\nsystem\ncos\nsystem\n\x86.");
    let at = Location { file: "m.pt", entry: Some("m/data.pkl"), base: 0 };
    let findings = alert_findings(&p.alerts, at);
    assert_eq!(findings.len(), 1, "one finding per distinct global");
    let f = &findings[0];
    assert_eq!(f.code(), "S101");
    assert_eq!(f.subject.file.as_deref(), Some("m.pt"));
    assert_eq!(f.evidence["global"], "os.system");
    assert_eq!(f.evidence["offset"], 2);
    assert_eq!(f.evidence["occurrences"], 2);
    assert_eq!(f.evidence["entry"], "m/data.pkl");
    let e = error_finding(&error(b"\x80\x02\xff"), Location { file: "x.pkl", entry: None, base: 100 });
    assert_eq!((e.code(), &e.evidence["offset"]), ("F109", &serde_json::json!(102)));
}

fn valid_samples() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../../../fixtures/torch/numpy_p2.pkl").to_vec(),
        include_bytes!("../../../fixtures/torch/numpy_p4.pkl").to_vec(),
        include_bytes!("../../../fixtures/torch/numpy_p5.pkl").to_vec(),
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nHalfStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89h\x00)Rtr\x02\x00\x00\x00Ru.".to_vec(),
    ]
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        let p = load(&bytes);
        if let Ok(root) = p.root {
            let _ = crate::formats::torch::walk(&p, root, 64);
        }
    }

    #[test]
    fn mutated_pickles_never_panic(
        sample in 0usize..4,
        edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = valid_samples().swap_remove(sample);
        apply_edits(&mut bytes, edits);
        let p = load(&bytes);
        if let Ok(root) = p.root {
            let walk = crate::formats::torch::walk(&p, root, 64);
            for (_, value) in &walk.arrays {
                let _ = array(&p, value);
            }
        }
        let _ = crate::formats::torch::parse_pickle(&bytes, "fuzz");
    }
}

/// Applies property-test edits to a sample: `(position, byte, kind)` where
/// kind 0 overwrites, 1 inserts and 2 removes the byte at the position.
fn apply_edits(bytes: &mut Vec<u8>, edits: Vec<(usize, u8, u8)>) {
    for (at, byte, how) in edits {
        let at = at % (bytes.len() + 1);
        match how {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
}

/// The pickle-security fixtures: every layout the stream reader handles.
fn stream_samples() -> Vec<Vec<u8>> {
    [
        &include_bytes!("../../../fixtures/pickle/proto0_arrays.pkl")[..],
        include_bytes!("../../../fixtures/pickle/two_pickles.pkl"),
        include_bytes!("../../../fixtures/pickle/frame_straddle.pkl"),
        include_bytes!("../../../fixtures/pickle/legacy_py2.pth"),
        include_bytes!("../../../fixtures/pickle/legacy_magic_text.pt"),
        include_bytes!("../../../fixtures/pickle/dict_of_arrays.npy"),
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Damaged streams, whatever format they are then recognised as, never
    /// panic, and every tensor they yield points inside the file.
    #[test]
    fn mutated_streams_never_panic(
        sample in 0usize..6,
        edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = stream_samples().swap_remove(sample);
        apply_edits(&mut bytes, edits);
        let parsed = crate::formats::parse(crate::formats::detect(&bytes), &bytes, "fuzz");
        for entry in &parsed.tensors {
            if let crate::formats::Storage::Mapped { start, len } = entry.storage {
                proptest::prop_assert!(start + len <= bytes.len());
            }
        }
    }
}
