"""Checks of nanscope_probe.py against a NumPy reference. Run with
`python3 python/test_nanscope_probe.py` (needs torch and safetensors); the
Rust test suite runs it when torch is importable."""

import json
import math
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nanscope_probe as probe  # noqa: E402


def reference(t):
    a = t.detach().double().numpy().reshape(-1) if t.dtype != torch.bfloat16 else t.float().double().numpy().reshape(-1)
    fin = np.isfinite(a)
    tiny = torch.finfo(t.dtype).tiny
    out = {
        "count": a.size,
        "nan": int(np.isnan(a).sum()),
        "pos_inf": int(np.isposinf(a).sum()),
        "neg_inf": int(np.isneginf(a).sum()),
        "zero": int((a == 0).sum()),
        "subnormal": int((fin & (a != 0) & (np.abs(a) < tiny)).sum()),
        "first_nonfinite_flat": int(np.argmax(~fin)) if (~fin).any() else None,
    }
    f = a[fin]
    if f.size:
        out.update(min=f.min(), max=f.max(), absmax=np.abs(f).max(), mean=f.mean(), std=f.std())
    return out


def check_stats():
    torch.manual_seed(0)
    cases = []
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        base = torch.randn(1000, dtype=torch.float64) * 100 + 7
        cases.append(base.to(dtype))
        finite = base.clone().to(dtype)
        finite[20] = 0
        finite[21] = torch.finfo(dtype).tiny / 4
        cases.append(finite)
        special = base.clone().to(dtype)
        special[3] = float("nan")
        special[10] = float("inf")
        special[11] = float("-inf")
        special[20] = 0
        special[21] = torch.finfo(dtype).tiny / 4
        cases.append(special)
        cases.append(torch.full((5,), float("nan"), dtype=dtype))
    cases.append(torch.full((4,), 60000.0, dtype=torch.float16))
    cases.append(torch.tensor([3e38, -3e38, 1.0], dtype=torch.bfloat16))
    for t in cases:
        got, want = probe.tensor_stats(t), reference(t)
        for key, value in want.items():
            if isinstance(value, float) or isinstance(got.get(key), float):
                assert math.isclose(got[key], value, rel_tol=1e-4, abs_tol=1e-6 * max(1.0, abs(value))), (t.dtype, key, got[key], value)
            else:
                assert got[key] == value, (t.dtype, key, got[key], value)
        json.dumps(got, allow_nan=False)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)
        self.act = torch.nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.act(self.proj(x))
        return {"sample": h, "aux": (h * 2,)}


def check_shared_folder_and_abort():
    out = tempfile.mkdtemp()
    a, b = Tiny(), Tiny()
    try:
        with probe.attach(a, out, prefix="a", level="stages") as pa, probe.attach(b, out, prefix="b", level="stages"):
            pa.step(0, timestep=999)
            a(torch.ones(2, 4))
            pa.stage("second")
            b(torch.ones(2, 4))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["complete"] and manifest["aborted"] == "RuntimeError: boom", manifest
    records = [json.loads(line) for line in open(os.path.join(out, "records.jsonl"))]
    assert [r["seq"] for r in records] == list(range(len(records)))
    names = [(r["module"], r.get("output"), r["stage"]) for r in records]
    assert ("a", "sample", "a") in names and ("b", "sample", "second") in names, names
    assert all(r["timestep"] == 999.0 for r in records)
    roots = [r for r in records if r.get("boundary")]
    assert roots and all("payload" in r for r in roots)
    from safetensors.torch import load_file

    loaded = load_file(os.path.join(out, roots[0]["payload"]["file"]))["output"]
    assert list(loaded.shape) == roots[0]["shape"]
    # The in-place ReLU's input is measured before it runs.
    relu = next(r for r in records if r["module"] == "a.act")
    assert relu["inputs"][0]["stats"]["count"] == 8


if __name__ == "__main__":
    check_stats()
    check_shared_folder_and_abort()
    print("ok")
