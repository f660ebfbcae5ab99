"""moebius-edge: on-device inpainting with the Moebius diffusion model.

One import namespace: the top-level `backends/` and `calibration/` folders install as
`edge_sdk.backends` and `edge_sdk.calibration` (the way ExecuTorch maps its own folders).
"""
from pathlib import Path

from setuptools import find_packages, setup

ROOTS = {"edge_sdk": "edge_sdk", "edge_sdk.backends": "backends", "edge_sdk.calibration": "calibration"}


def packages_and_dirs():
    packages, package_dir = [], {}
    for package, folder in ROOTS.items():
        package_dir[package] = folder
        packages.append(package)
        for sub in find_packages(folder):
            if not sub.startswith("edge_sdk"):
                packages.append(f"{package}.{sub}")
    return sorted(set(packages)), package_dir


packages, package_dir = packages_and_dirs()
requirements = [
    line.strip()
    for line in Path(__file__).with_name("requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#") and not line.startswith("pytest")
]
# Ray and what Ray Data needs are optional (`pip install moebius-edge[ray]`): only edge_sdk.scaleout imports them.
RAY_EXTRA = ("ray==", "pyarrow==", "pandas==")
extras = {"ray": [r for r in requirements if r.startswith(RAY_EXTRA)]}
requirements = [r for r in requirements if not r.startswith(RAY_EXTRA)]

setup(
    name="moebius-edge",
    version="0.1.0",
    description="Moebius inpainting on phones, Jetsons, laptops and browsers",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=packages,
    package_dir=package_dir,
    package_data={"edge_sdk": ["samples/*.jpg", "samples/*.png", "samples/*.md", "weights/*", "weights/*/*"]},
    install_requires=requirements,
    extras_require=extras,
    entry_points={"console_scripts": ["moebius-edge=edge_sdk.cli:main"]},
)
