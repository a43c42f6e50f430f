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
    if a.size == 0:
        return {"count": 0, "nan": 0, "pos_inf": 0, "neg_inf": 0, "zero": 0, "subnormal": 0}
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
    cases.append(torch.zeros(0))
    for t in cases:
        want = reference(t)
        deferred = probe.stats_from_vector(probe.device_stats(t).tolist(), t.numel())
        for got in (probe.tensor_stats(t), deferred):
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


def run_records(defer, out, flush_records=None):
    """Two steps of a small model with NaN planted in step 1, recorded with `defer`."""
    probe.DEFER = defer
    if flush_records is not None:
        probe.FLUSH_RECORDS = flush_records
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 4))
    x = torch.randn(3, 4)
    written_at_step_1 = None
    with probe.attach(model, out, prefix="m") as p:
        for step in range(2):
            p.step(step, timestep=999 - step)
            if step == 1:
                written_at_step_1 = sum(1 for _ in open(os.path.join(out, "records.jsonl")))
                x = x.clone()
                x[0, 0] = float("nan")
            model(x)
            p.record("latents", x * 2)
    records = [json.loads(line) for line in open(os.path.join(out, "records.jsonl"))]
    probe.DEFER, probe.FLUSH_RECORDS = "auto", 1024
    return records, written_at_step_1


def check_deferred_records_match_immediate_ones():
    now, _ = run_records("never", tempfile.mkdtemp())
    later, written = run_records("always", tempfile.mkdtemp())
    assert written == len(now) // 2, "step() writes the previous step's records"
    assert [list(r) for r in now] == [list(r) for r in later], "same keys in the same order"
    for a, b in zip(now, later):
        assert {k: v for k, v in a.items() if k not in ("stats", "headroom", "inputs")} == \
            {k: v for k, v in b.items() if k not in ("stats", "headroom", "inputs")}
        for sa, sb in [(a["stats"], b["stats"])] + [(x["stats"], y["stats"]) for x, y in zip(a.get("inputs") or [], b.get("inputs") or [])]:
            assert sa.keys() == sb.keys(), (sa, sb)
            for key in sa:
                if isinstance(sa[key], float):
                    assert math.isclose(sa[key], sb[key], rel_tol=1e-6, abs_tol=1e-9), (a["module"], key, sa[key], sb[key])
                else:
                    assert sa[key] == sb[key], (a["module"], key, sa[key], sb[key])
    assert any(r["stats"]["nan"] for r in later if r.get("step") == 1)
    # A small flush threshold writes records before step() does.
    few, written = run_records("always", tempfile.mkdtemp(), flush_records=3)
    assert len(few) == len(now) and written >= len(now) // 2 - 2


if __name__ == "__main__":
    check_stats()
    check_shared_folder_and_abort()
    check_deferred_records_match_immediate_ones()
    print("ok")
