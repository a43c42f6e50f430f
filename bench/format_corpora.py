#!/usr/bin/env python3
"""Runs the reference loaders and nanscope on the format corpora and records
where they agree, in reports/format-corpora.md.

The corpora are the files fixtures/make_format_cases.py writes under
fixtures/format/ (run it first if they are missing): malformed and unusual
safetensors, .npy, GGUF and zip files recreated from the cases of the
reference loaders' own test suites. For each file:

- the reference verdict: python `safetensors` (safe_open and every tensor
  read), `numpy.load` (allow_pickle=False; every .npz member read),
  `torch.load(weights_only=True)` for PyTorch zips, and for GGUF both the
  python `gguf` reader (measured) and ggml's verdict (what ggml's
  `gguf_init_from_file` decides for the case, per the upstream test that the
  case recreates; ggml is the reference nanscope follows);
- nanscope's verdict: `nanscope weights FILE --format json`, "reject" when an
  F or S finding is an error, "warn" when one is a warning or info, else
  "accept".

A case agrees when both accept or both reject; it is "stricter" when the
reference accepts and nanscope warns, or rejects for the reason the case
documents (its "stricter" field); anything else is a disagreement.

    cargo build && python3 bench/format_corpora.py
    NANSCOPE_BASELINE=/path/to/older/nanscope python3 bench/format_corpora.py   # adds the zip-bomb comparison

It also measures the memory and time nanscope takes on an .npz of 66 KB whose
central directory lists one deflated 64 MiB member 48 times (the shape that
fuzzing found), beside a baseline binary when NANSCOPE_BASELINE names one.
"""

import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fixtures", "format")
BINARY = os.path.join(ROOT, "target", "debug", "nanscope")
REPORT = os.path.join(ROOT, "reports", "format-corpora.md")

def reference(corpus, path):
    """("accept" | "reject", detail) from the reference loader."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if corpus == "safetensors":
                from safetensors import safe_open

                with safe_open(path, "np") as f:
                    for key in f.keys():
                        f.get_tensor(key)
            elif corpus == "npy":
                import numpy as np

                np.load(path)
            elif corpus == "npz":
                import numpy as np

                with np.load(path) as z:
                    for key in z.files:
                        z[key]
            elif corpus == "torch":
                import torch

                torch.load(path, weights_only=True)
            elif corpus == "gguf":
                import gguf

                gguf.GGUFReader(path)
        return "accept", ""
    except BaseException as e:  # noqa: BLE001 - a reference refusing a file is the measurement
        if isinstance(e, KeyboardInterrupt):
            raise
        return "reject", f"{type(e).__name__}: {str(e).splitlines()[0][:90] if str(e) else ''}"


def nanscope(path):
    """(verdict, codes, first error message) from nanscope."""
    out = subprocess.run([BINARY, "--format", "json", "weights", path], capture_output=True, timeout=60)
    if out.returncode == 2 and b"nothing to check" in out.stderr:
        # A well-formed file with no tensors: nothing to check, format accepted.
        return "accept", [], ""
    report = json.loads(out.stdout)
    findings = [f for f in report["findings"] if f["code"][0] in "FS"]
    errors = [f for f in findings if f["severity"] == "error"]
    codes = sorted({f"{f['code']}:{f['severity'][0]}" for f in findings})
    if errors:
        return "reject", codes, errors[0]["message"][:110]
    if findings:
        return "warn", codes, findings[0]["message"][:110]
    return "accept", codes, ""


def zip_bomb(path, copies=48, elements=16 << 20):
    """An .npz whose central directory lists one deflated .npy `copies` times."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.zeros(elements, dtype="<f4"))
    payload = buf.getvalue()
    packed = zlib.compress(payload, 9)[2:-4]
    crc = zlib.crc32(payload)
    name = b"a.npy"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(packed), len(payload), len(name), 0)
    body = local + name + packed
    central = b""
    for i in range(copies):
        entry = f"a{i}.npy".encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(packed), len(payload),
                               len(entry), 0, 0, 0, 0, 0, 0) + entry
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, copies, copies, len(central), len(body), 0)
    with open(path, "wb") as f:
        f.write(body + central + eocd)
    return len(body + central + eocd), len(payload)


def measure(binary, path):
    """(max resident MiB, seconds) of one scan, in a child of its own."""
    code = ("import resource,subprocess,sys,time; t=time.time(); "
            "subprocess.run(sys.argv[1:], capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time()-t)")
    out = subprocess.run([sys.executable, "-c", code, binary, "--format", "json", "weights", path],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) / 1024, float(out[1])


def bomb_section():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bomb.npz")
        size, member = zip_bomb(path)
        rows = [("this nanscope", *measure(BINARY, path))]
        baseline = os.environ.get("NANSCOPE_BASELINE")
        if baseline:
            rows.append((f"baseline `{os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(baseline))))}`",
                         *measure(baseline, path)))
    lines = ["## Zip central-directory amplification", "",
             f"An .npz of {size} bytes whose central directory lists one deflated {member}-byte .npy 48 times "
             "(debug builds, on a shared machine):", "", "| binary | max resident MiB | seconds |", "|---|---|---|"]
    lines += [f"| {name} | {rss:.0f} | {secs:.1f} |" for name, rss, secs in rows]
    return lines + [""]


def status(ref, ours, key):
    if ref == "reject":
        return "agree" if ours == "reject" else "DISAGREE"
    if ours == "accept":
        return "agree"
    if ours == "warn":
        return "stricter (warning or info)"
    return "stricter (documented)" if key else "DISAGREE"


def main():
    if not os.path.exists(BINARY):
        sys.exit(f"build nanscope first: {BINARY} is missing")
    cases = json.load(open(os.path.join(CORPUS, "cases.json")))
    rows = []
    for c in cases:
        path = os.path.join(CORPUS, c["file"])
        measured, detail = reference(c["corpus"], path)
        # ggml cannot be run from Python; its verdict is the upstream test's.
        ref = c["expect"] if c["corpus"] == "gguf" else measured
        ours, codes, message = nanscope(path)
        rows.append(dict(c, ref=ref, measured=measured, detail=detail, ours=ours, codes=codes, message=message,
                         status=status(ref, ours, c.get("stricter"))))

    lines = ["# Format validation against the reference loaders", "",
             "Made by `bench/format_corpora.py` on the corpora of `fixtures/make_format_cases.py` "
             "(files recreated by our own code from the cases of the reference loaders' test suites).",
             "Reference loaders: python `safetensors`, `numpy.load`, `torch.load(weights_only=True)`; for GGUF, "
             "ggml's verdict (the upstream test's expectation, which nanscope follows) with the python `gguf` "
             "reader measured beside it.", ""]
    lines += ["| corpus | files | agree | nanscope stricter (warning or info) | nanscope stricter (documented error) | "
              "disagreements |", "|---|---|---|---|---|---|"]
    for corpus in ["safetensors", "npy", "gguf", "npz", "torch"]:
        rs = [r for r in rows if r["corpus"] == corpus]
        count = lambda s: sum(r["status"] == s for r in rs)  # noqa: E731
        lines.append(f"| {corpus} | {len(rs)} | {count('agree')} | {count('stricter (warning or info)')} | "
                     f"{count('stricter (documented)')} | {count('DISAGREE')} |")
    gg = [r for r in rows if r["corpus"] == "gguf"]
    lines += ["", f"For GGUF, the python `gguf` reader agrees with ggml on "
              f"{sum(r['measured'] == r['ref'] for r in gg)} of {len(gg)} files; it accepts "
              + ", ".join(f"`{r['name']}`" for r in gg if r["measured"] != r["ref"] and r["measured"] == "accept")
              + " (rules it does not check: packing order, arrays of arrays, name length, big-endian files, "
              "which it reads).", ""]
    documented = [c for c in cases if c.get("stricter")]
    if documented:
        lines += ["Where nanscope refuses, on purpose, what a reference loads:", ""]
        lines += [f"- `{c['corpus']}/{c['name']}`: {c['stricter']}" for c in documented]
        lines.append("")
    for corpus in ["safetensors", "npy", "gguf", "npz", "torch"]:
        lines += [f"## {corpus}", "", "| case | upstream | reference | nanscope | status |", "|---|---|---|---|---|"]
        for r in (r for r in rows if r["corpus"] == corpus):
            ref = r["ref"] if corpus != "gguf" else f"ggml {r['ref']}; gguf-py {r['measured']}"
            if r["detail"]:
                ref += f" ({r['detail']})"
            ours = f"{r['ours']} {' '.join(r['codes'])}".strip()
            if r["message"]:
                ours += f": {r['message']}"
            cell = lambda s: s.replace("|", "\\|").replace("\n", " ")  # noqa: E731
            lines.append(f"| `{r['name']}` | {cell(r['source'])} | {cell(ref)} | {cell(ours)} | {r['status']} |")
        lines.append("")
    lines += bomb_section()
    with open(REPORT, "w") as f:
        f.write("\n".join(lines))
    bad = [r for r in rows if r["status"] == "DISAGREE"]
    print(f"{len(rows)} files, {len(bad)} disagreements -> {REPORT}")
    for r in bad:
        print(f"  {r['corpus']}/{r['name']}: reference {r['ref']}, nanscope {r['ours']} {r['codes']} {r['message']}")


if __name__ == "__main__":
    main()
