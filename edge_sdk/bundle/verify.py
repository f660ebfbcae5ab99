"""`verify`: every file's hash, then (where the runtime exists here) the embedded test vector."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from edge_sdk.errors import BundleError
from edge_sdk.bundle.inpaint_bundle import open_runner
from edge_sdk.bundle.manifest import read_bundle
from edge_sdk.bundle.known_answers import load_test_vector, run_test_vector


@dataclasses.dataclass
class VerifyReport:
    path: Path
    files: int
    errors: Optional[dict]  # relative error per graph when the test vector ran
    tolerance: dict
    skipped: Optional[str]  # why the test vector did not run

    def lines(self) -> list[str]:
        out = [f"{self.path}: {self.files} files match their sha256"]
        if self.errors is None:
            out.append(f"test vector not run: {self.skipped}")
        else:
            for name, error in self.errors.items():
                out.append(f"test vector {name}: relative error {error:.2e} (allowed {self.tolerance[name]:.2e})")
        return out


def verify_bundle(path, run: bool = True) -> VerifyReport:
    """Raise BundleError if a file is missing or changed, or if the test vector's error exceeds its tolerance."""
    from edge_sdk.backends import get_backend

    bundle = read_bundle(path)
    tolerance = bundle.manifest.test_vector.get("tolerance", {})
    files = len(bundle.manifest.files)
    if not run:
        return VerifyReport(bundle.path, files, None, tolerance, "not requested")
    backend = get_backend(bundle.backend)
    ok, why = backend.runtime_available()
    if not ok:
        return VerifyReport(bundle.path, files, None, tolerance, why)
    vector = load_test_vector(bundle.path / bundle.manifest.test_vector["file"])
    errors = run_test_vector(open_runner(bundle), vector)
    for name, error in errors.items():
        if not error <= tolerance.get(name, 0.0):
            raise BundleError(
                f"bundle {bundle.path}: the {name} graph's test-vector error {error:.3g} exceeds the allowed "
                f"{tolerance.get(name, 0.0):.3g}: this runtime does not reproduce the exported graph"
            )
    return VerifyReport(bundle.path, files, errors, tolerance, None)
