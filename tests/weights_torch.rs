//! `nanscope weights` on PyTorch checkpoints and pickles (fixtures made by
//! `fixtures/make_torch.py`), through the real binary and its JSON report.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

#[path = "common/inert_scan.rs"]
mod inert_scan;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// Runs a JSON scan from an empty working directory (so a pickle that managed
/// to run `touch nanscope_pickle_ran` would leave a trace there) and returns
/// the report and exit code.
fn scan(rels: &[&str]) -> (Value, i32) {
    inert_scan::scan(&[], &rels.iter().map(|rel| fixture(rel)).collect::<Vec<_>>())
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

fn tensor<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tensor {name} in {}", report["tensors"]))
}

fn tensor_names(report: &Value) -> Vec<&str> {
    report["tensors"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect()
}

fn file_of(finding: &Value) -> &str {
    finding["subject"]["file"].as_str().unwrap()
}

#[test]
fn fp16_state_dict_nan_and_inf_at_their_elements() {
    let (report, code) = scan(&["weights/torch/unet_fp16.pth"]);
    assert_eq!(code, 1);
    let nonfinite = findings(&report, "W101");
    assert_eq!(nonfinite.len(), 2, "{nonfinite:?}");
    let conv = nonfinite.iter().find(|f| f["subject"]["tensor"] == "conv_in.weight").unwrap();
    assert_eq!(conv["subject"]["index"], json!([0, 1, 2, 2]));
    assert_eq!(conv["evidence"]["nan"], 2);
    assert_eq!(conv["evidence"]["first_nonfinite_flat"], 17);
    assert!(file_of(conv).ends_with("unet_fp16.pth"));
    let bias = nonfinite.iter().find(|f| f["subject"]["tensor"] == "conv_out.bias").unwrap();
    assert_eq!(bias["subject"]["index"], json!([2]));
    assert_eq!((bias["evidence"]["pos_inf"].clone(), bias["evidence"]["nan"].clone()), (json!(1), json!(0)));
    assert_eq!(report["files"][0]["format"], "pytorch-zip");
    assert_eq!(tensor(&report, "conv_in.weight")["dtype"], "F16");
    assert_eq!(tensor(&report, "conv_in.weight")["shape"], json!([8, 4, 3, 3]));
    assert_eq!(tensor(&report, "conv_in.weight")["stats"]["count"], 288);
}

#[test]
fn nested_checkpoint_names_are_full_paths_and_overflow_is_found() {
    let (report, code) = scan(&["weights/torch/checkpoint_nested.ckpt"]);
    assert_eq!(code, 1);
    assert_eq!(tensor_names(&report), vec!["state_dict.model.proj.weight", "state_dict.model.proj.bias"]);
    let overflow = findings(&report, "W102");
    assert_eq!(overflow.len(), 1);
    assert_eq!(overflow[0]["subject"]["tensor"], "state_dict.model.proj.weight");
    assert_eq!(overflow[0]["evidence"]["overflow"], 1);
    assert_eq!(overflow[0]["evidence"]["absmax"], 1.0e6);
    assert!(findings(&report, "W101").is_empty());
}

#[test]
fn legacy_views_report_view_coordinates() {
    let (report, _) = scan(&["weights/torch/legacy_transposed.pt"]);
    assert_eq!(report["files"][0]["format"], "pytorch-legacy");
    let nonfinite = findings(&report, "W101");
    let proj = nonfinite.iter().find(|f| f["subject"]["tensor"] == "proj.weight").unwrap();
    // base[1, 4] is NaN; the saved tensor is base.t(), so the view coordinate is [4, 1].
    assert_eq!(proj["subject"]["index"], json!([4, 1]));
    assert_eq!(proj["evidence"]["first_nonfinite_flat"], 13);
    assert_eq!(tensor(&report, "proj.weight")["shape"], json!([5, 3]));
    let emb = nonfinite.iter().find(|f| f["subject"]["tensor"] == "emb.weight").unwrap();
    assert_eq!(emb["subject"]["index"], json!([1, 0]));
    assert_eq!(emb["evidence"]["neg_inf"], 1);
    // flat[4:].view(2, 3) of arange(10)/4: the view starts at element 4.
    assert_eq!(tensor(&report, "emb.weight")["stats"]["max"], 2.25);
    assert_eq!(tensor(&report, "emb.weight")["stats"]["count"], 6);
}

#[test]
fn malicious_global_is_reported_and_never_run_and_the_tensor_is_scanned() {
    let (report, code) = scan(&["weights/torch/malicious.pt"]);
    assert_eq!(code, 1);
    let s101 = findings(&report, "S101");
    assert_eq!(s101.len(), 1);
    assert_eq!(s101[0]["severity"], "error");
    assert_eq!(s101[0]["evidence"]["global"], "os.system");
    assert_eq!(s101[0]["evidence"]["entry"], "malicious/data.pkl");
    assert_eq!(s101[0]["evidence"]["offset"], 152);
    assert!(file_of(s101[0]).ends_with("malicious.pt"));
    let w101 = findings(&report, "W101");
    assert_eq!(w101.len(), 1);
    assert_eq!(w101[0]["subject"]["tensor"], "weight");
    assert_eq!(w101[0]["subject"]["index"], json!([2]));
    assert_eq!(tensor(&report, "weight")["stats"]["min"], -1.0);
}

#[test]
fn every_storage_dtype_is_read() {
    let (report, _) = scan(&["torch/all_dtypes.pt"]);
    let expected = [
        ("float32", "F32"),
        ("float16", "F16"),
        ("bfloat16", "BF16"),
        ("float64", "F64"),
        ("int64", "I64"),
        ("int32", "I32"),
        ("int16", "I16"),
        ("int8", "I8"),
        ("uint8", "U8"),
        ("bool", "BOOL"),
        ("complex64", "C64"),
        ("float8_e4m3fn", "F8_E4M3"),
        ("float8_e5m2", "F8_E5M2"),
        ("uint16", "U16"),
    ];
    assert_eq!(tensor_names(&report), expected.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    for (name, dtype) in expected {
        let t = tensor(&report, name);
        assert_eq!(t["dtype"], dtype, "{name}");
        assert_eq!(t["shape"], json!([4]), "{name}");
        let stats = &t["stats"];
        assert_eq!(stats["max"], if name == "bool" { 1.0 } else { 3.0 }, "{name}");
        let min = match name {
            "bool" | "uint8" | "uint16" => 0.0,
            _ => -2.0,
        };
        assert_eq!(stats["min"], min, "{name}");
        assert_eq!(stats["nan"], 0, "{name}");
    }
    assert!(codes(&report).iter().all(|c| !c.starts_with('F')), "{:?}", codes(&report));
}

#[test]
fn parameters_lists_shared_and_root_tensors() {
    let (report, _) = scan(&["torch/parameters.pt"]);
    assert_eq!(tensor_names(&report), vec!["layer.weight", "layers.0", "layers.1", "a", "b"]);
    let w101 = findings(&report, "W101");
    let names: Vec<_> = w101.iter().map(|f| f["subject"]["tensor"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["layer.weight", "layers.1"]);
    assert_eq!(w101[0]["subject"]["index"], json!([0, 1]));
    let (report, _) = scan(&["torch/bare_tensor.pt"]);
    assert_eq!(tensor_names(&report), vec!["<root>"]);
    assert_eq!(findings(&report, "W101")[0]["subject"]["index"], json!([0, 1]));
}

#[test]
fn quantized_tensors_are_dequantized() {
    let (report, _) = scan(&["torch/quantized.pt"]);
    let per_tensor = tensor(&report, "per_tensor");
    assert_eq!(per_tensor["dtype"], "F32");
    assert_eq!(per_tensor["quant"]["scheme"], "torch-qtensor");
    // quantize([0, .5, 1, 1.5], scale .5, zero point 2) = [2, 3, 4, 5], read back as (q - 2)·0.5.
    assert_eq!((per_tensor["stats"]["min"].clone(), per_tensor["stats"]["max"].clone()), (json!(0.0), json!(1.5)));
    let per_channel = tensor(&report, "per_channel");
    assert_eq!(per_channel["quant"]["granularity"], "channel");
    assert_eq!(per_channel["shape"], json!([2, 2]));
}

#[test]
fn missing_storage_record_names_the_entry_and_other_tensors_are_scanned() {
    let (report, code) = scan(&["torch/missing_storage.pt"]);
    assert_eq!(code, 1);
    let f108 = findings(&report, "F108");
    assert_eq!(f108.len(), 1);
    assert_eq!(f108[0]["subject"]["tensor"], "b");
    assert_eq!(f108[0]["evidence"]["entry"], "missing_storage/data/1");
    assert_eq!(tensor_names(&report), vec!["a"]);
}

#[test]
fn broken_files_are_findings_with_offsets() {
    let (report, code) = scan(&["torch/truncated.pt"]);
    assert_eq!((code, codes(&report)), (1, vec!["F108".to_string()]));
    let (report, _) = scan(&["torch/unknown_opcode.pt"]);
    let f109 = findings(&report, "F109");
    assert_eq!(f109.len(), 1);
    assert_eq!(f109[0]["evidence"]["offset"], 135);
    assert_eq!(f109[0]["evidence"]["entry"], "unknown_opcode/data.pkl");
    assert!(f109[0]["message"].as_str().unwrap().contains("unknown opcode 0xff"));
    let (report, code) = scan(&["torch/legacy_truncated.pt"]);
    assert_eq!((code, codes(&report)), (1, vec!["F103".to_string()]));
    assert!(findings(&report, "F103")[0]["evidence"]["offset"].as_u64().unwrap() > 0);
}

#[test]
fn inst_opcode_is_refused_and_the_tensor_still_read() {
    let (report, code) = scan(&["torch/inst.pt"]);
    assert_eq!(code, 1);
    let s102 = findings(&report, "S102");
    assert_eq!(s102.len(), 1);
    assert_eq!(s102[0]["evidence"]["opcode"], "0x69");
    assert_eq!(s102[0]["evidence"]["offset"], 142);
    assert_eq!(tensor_names(&report), vec!["w"]);
}

#[test]
fn deep_nesting_ends_in_a_finding_not_a_crash() {
    let (report, code) = scan(&["torch/deep_lists.pkl", "torch/deep_marks.pkl"]);
    assert_eq!(code, 1);
    let f109 = findings(&report, "F109");
    assert_eq!(f109.len(), 2, "{f109:?}");
    assert!(f109[0]["message"].as_str().unwrap().contains("nest deeper than"));
    assert!(f109[1]["message"].as_str().unwrap().contains("MARK nesting"));
}

#[test]
fn pickled_numpy_dicts_from_numpy_1_and_2_and_all_protocols() {
    for file in ["torch/numpy_p2.pkl", "torch/numpy1_p3.pkl", "torch/numpy_p4.pkl", "torch/numpy_p5.pkl"] {
        let (report, code) = scan(&[file]);
        assert_eq!(code, 1, "{file}");
        assert_eq!(report["files"][0]["format"], "pickle", "{file}");
        assert_eq!(tensor_names(&report), vec!["pose.candidate", "big", "fortran"], "{file}");
        let w101 = findings(&report, "W101");
        assert_eq!(w101[0]["subject"]["tensor"], "pose.candidate", "{file}");
        assert_eq!(w101[0]["subject"]["index"], json!([1, 0]), "{file}");
        assert_eq!(w101[1]["subject"]["tensor"], "big", "{file}");
        assert_eq!(w101[1]["evidence"]["pos_inf"], 1, "{file}");
        // The big-endian array decodes to its real values.
        assert_eq!(tensor(&report, "big")["stats"]["max"], 3.0, "{file}");
        assert_eq!(tensor(&report, "fortran")["stats"]["max"], 5.0, "{file}");
        assert!(findings(&report, "S101").is_empty(), "{file}");
    }
}

#[test]
fn torch_demo_folder_reports_every_planted_hazard() {
    let (report, code) = scan(&["weights/torch"]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["files"], 4);
    let mut found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = Path::new(file_of(f)).file_name().unwrap().to_string_lossy().into_owned();
            (
                f["code"].as_str().unwrap().to_string(),
                format!("{file}:{}", f["subject"]["tensor"].as_str().unwrap_or("")),
            )
        })
        .collect();
    found.sort();
    let expected = [
        ("S101", "malicious.pt:"),
        ("W101", "legacy_transposed.pt:emb.weight"),
        ("W101", "legacy_transposed.pt:proj.weight"),
        ("W101", "malicious.pt:weight"),
        ("W101", "unet_fp16.pth:conv_in.weight"),
        ("W101", "unet_fp16.pth:conv_out.bias"),
        ("W102", "checkpoint_nested.ckpt:state_dict.model.proj.weight"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(c, s)| (c.to_string(), s.to_string())).collect();
    assert_eq!(found, expected);
}

#[test]
fn torchscript_archives_read_tensors_through_module_state() {
    let (report, code) = scan(&["torch/torchscript.pt"]);
    assert_eq!(code, 0, "{}", report["findings"]);
    assert_eq!(tensor_names(&report), vec!["0.weight", "0.bias"]);
}

#[test]
fn v3_only_dtypes_are_read() {
    let (report, _) = scan(&["torch/v3_dtypes.pt"]);
    let expected = [
        ("float8_e4m3fnuz", "F8_E4M3FNUZ", -2.0, 3.0, 4),
        ("float8_e5m2fnuz", "F8_E5M2FNUZ", -2.0, 3.0, 4),
        ("float8_e8m0fnu", "F8_E8M0", 1.0, 8.0, 4),
        // Complex values are counted component-wise.
        ("complex32", "C32", -2.0, 3.0, 8),
        ("uint32", "U32", 0.0, 3.0, 4),
        ("uint64", "U64", 0.0, 3.0, 4),
    ];
    assert_eq!(tensor_names(&report), expected.iter().map(|e| e.0).collect::<Vec<_>>());
    for (name, dtype, min, max, count) in expected {
        let t = tensor(&report, name);
        assert_eq!(t["dtype"], dtype, "{name}");
        assert_eq!((t["stats"]["min"].clone(), t["stats"]["max"].clone()), (json!(min), json!(max)), "{name}");
        assert_eq!(t["stats"]["count"], count, "{name}");
    }
}

#[test]
fn numpy_arrays_inside_a_torch_checkpoint_are_scanned() {
    let (report, _) = scan(&["torch/numpy_in_zip.pt"]);
    assert_eq!(tensor_names(&report), vec!["w", "stats.mean"]);
    let w101 = findings(&report, "W101");
    assert_eq!(w101.len(), 1);
    assert_eq!(w101[0]["subject"]["tensor"], "stats.mean");
    assert_eq!(w101[0]["subject"]["index"], json!([1]));
    assert!(findings(&report, "S101").is_empty());
}

#[test]
fn legacy_files_written_with_protocol_4() {
    let (report, _) = scan(&["torch/legacy_protocol4.pt"]);
    assert_eq!(report["files"][0]["format"], "pytorch-legacy");
    assert_eq!(findings(&report, "W101")[0]["subject"]["index"], json!([1]));
}
