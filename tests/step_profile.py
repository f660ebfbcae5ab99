"""The step graph's ExecuTorch profile (ETDump) through benchmarks/profile_step.py, the script behind the
committed profiles, so the tests read the same numbers the benchmark publishes."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_step.py"


def step_profile(bundle: Path, runs: int = 1) -> dict:
    spec = importlib.util.spec_from_file_location("profile_step", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.profile(bundle, runs)
