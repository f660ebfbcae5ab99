"""benchmarks/gpu_reference.py in its reduced CPU mode: it runs end to end, prints a table, writes JSON."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_reference.py"


@pytest.fixture(scope="module")
def gpu_reference():
    spec = importlib.util.spec_from_file_location("gpu_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_reduced_mode_runs_and_reports(gpu_reference, tmp_path, capsys):
    out = tmp_path / "gpu_reference.json"
    gpu_reference.main(["--reduced", "--device", "cpu", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "step ms" in printed and f"wrote {out}" in printed

    result = json.loads(out.read_text())
    assert result["preset"] == "tiny" and result["device_type"] == "cpu" and result["device"]
    assert result["steps_run"] == 2
    rows = {(r["graphs"], r["dtype"], r["fp32_lambda"], r["mode"]): r for r in result["rows"]}
    assert set(rows) == {
        ("unoptimized", "fp32", False, "eager"),
        ("optimized", "fp32", False, "eager"),
        ("unoptimized", "bf16", False, "eager"),
        ("optimized", "bf16", True, "eager"),
        ("optimized", "bf16", False, "eager"),
    }
    assert not [r for r in rows.values() if r["error"]]
    assert all(r["step_ms"] > 0 for r in rows.values())
    assert rows[("optimized", "fp32", False, "eager")]["inpaint_ms"] > 0
    for key, row in rows.items():
        if key[1] == "fp32":  # each graph is its own fp32 reference
            assert row["eps_rel_err"] == 0 and row["latent_rel_err"] == 0
        else:  # bf16 keeps 8 mantissa bits: a few percent on ε, less on the latent
            assert 1e-4 < row["eps_rel_err"] < 0.1 and 1e-5 < row["latent_rel_err"] < 0.05


def test_command_line_choices(gpu_reference):
    args = gpu_reference.parse_args(["--device", "cpu", "--modes", "eager,cuda-graph,compile"])
    assert args.preset == "moebius-0.2b" and args.dtypes == ["fp32", "fp16", "bf16"]
    assert args.modes == ["eager", "compile"]  # CUDA graphs need a GPU
    with pytest.raises(SystemExit):
        gpu_reference.parse_args(["--dtypes", "fp8"])
