"""Bundles: the manifest, integrity (changed or missing files), atomic export, the CLI, and the host loop
matching the reference pipeline on images of any size. Bundles come from `backend_bundles` (shared)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edge_sdk
from edge_sdk.bundle import BundleError
from edge_sdk.samples import sample_pairs

from backend_bundles import STEPS, psnr, tiny_bundles


@pytest.fixture(scope="module")
def bundles():
    return tiny_bundles()


@pytest.fixture(scope="module")
def et_fp32(bundles):
    return bundles.bundle("executorch", "fp32")


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_sdk.cli", *map(str, args)], capture_output=True, text=True)


def sample(name):
    return next((image, mask) for image, mask in sample_pairs() if image.stem == name)


def test_manifest_records_what_the_bundle_holds(bundles, et_fp32):
    from edge_sdk.bundle.files import sha256_file

    manifest = json.loads((et_fp32 / "manifest.json").read_text())
    assert manifest["format"] == "moebius-edge/bundle" and manifest["format_version"] == 1
    assert (manifest["backend"], manifest["precision"], manifest["model"]) == ("executorch", "fp32", "tiny")
    assert manifest["timesteps"] == bundles.graphs.timesteps and len(manifest["timesteps"]) == STEPS
    assert manifest["guidance_scale"] == 2.5 and manifest["strength"] == 1.0
    assert manifest["schedule"]["sqrt_alpha"] == pytest.approx(bundles.graphs.schedule.sqrt_alpha.tolist())
    step = manifest["graphs"]["step"]
    assert [s["name"] for s in step["inputs"]] == ["x", "masked_latents", "mask_latent", "step_index"]
    assert step["inputs"][3] == {"name": "step_index", "shape": [1], "dtype": "int64"}
    assert manifest["graphs"]["decode"]["outputs"] == [{"name": "image", "shape": [1, 3, 512, 512], "dtype": "float32"}]
    # every file is listed with its real hash and size; graph entries carry their hash for the app runtimes
    for relative, record in manifest["files"].items():
        assert sha256_file(et_fp32 / relative) == record["sha256"]
        assert (et_fp32 / relative).stat().st_size == record["bytes"]
    assert {"encode.pte", "step.pte", "decode.pte", "test_vector.safetensors"} <= set(manifest["files"])
    assert step["sha256"] == manifest["files"]["step.pte"]["sha256"]
    assert set(manifest["toolchain"]) >= {"torch", "executorch"} and manifest["sdk_version"] == edge_sdk.__version__
    assert manifest["created"].endswith("Z")
    vector = manifest["test_vector"]
    assert all(vector["measured"][g] <= vector["tolerance"][g] == 1e-3 for g in ("step", "decode"))


def test_bundle_inpaints_like_the_reference_at_any_size_and_skips_empty_masks(bundles, et_fp32):
    bundle = edge_sdk.load(et_fp32)
    assert bundle.manifest["backend"] == "executorch" and bundle.notice  # random weights are announced
    image, mask = sample("deep_field")  # not 512², one crop resized to the model and pasted back
    original = Image.open(image).convert("RGB")
    result = bundle.inpaint(image, mask, seed=3)
    assert result.size == original.size
    reference = bundles.pipe(image, mask, steps=STEPS, seed=3, progress=False)
    assert psnr(result, reference) >= 60
    empty = np.zeros((original.height, original.width), dtype=np.uint8)
    assert np.array_equal(np.asarray(bundle.inpaint(original, empty)), np.asarray(original))


@pytest.fixture
def copy_of(et_fp32, tmp_path):
    def make():
        target = tmp_path / "bundle"
        shutil.copytree(et_fp32, target)
        return target

    return make


def test_changed_file_fails_load_and_verify(copy_of):
    bundle = copy_of()
    data = bytearray((bundle / "step.pte").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "step.pte").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"step\.pte changed since export \(sha256"):
        edge_sdk.load(bundle)
    result = cli("verify", bundle)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "step.pte changed since export" in result.stderr


def test_missing_file_fails_load_and_verify(copy_of):
    bundle = copy_of()
    (bundle / "decode.pte").unlink()
    with pytest.raises(BundleError, match=r"decode\.pte is missing"):
        edge_sdk.load(bundle)
    result = cli("verify", bundle)
    assert result.returncode == 2 and "decode.pte is missing" in result.stderr


def test_manifest_problems_are_clear(copy_of, tmp_path):
    with pytest.raises(BundleError, match="bundle not found"):
        edge_sdk.load(tmp_path / "nothing")
    bundle = copy_of()
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps(dict(manifest, format_version=99)))
    with pytest.raises(BundleError, match="format version 99 is not supported"):
        edge_sdk.load(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        edge_sdk.load(bundle)


def test_interrupted_export_leaves_no_directory(bundles, tmp_path, monkeypatch):
    """The ONNX export writes encode.onnx for real, then is interrupted while writing the step graph."""
    from edge_sdk.backends.onnxruntime import export as onnx_export  # the module the ONNX backend writes through
    from edge_sdk.bundle.export import export_bundle

    real = onnx_export.write_file
    written = []

    def interrupted(path, data):
        if written:
            raise KeyboardInterrupt
        real(path, data)
        written.append(path)

    monkeypatch.setattr(onnx_export, "write_file", interrupted)
    target = tmp_path / "out" / "bundle"
    target.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        export_bundle(bundles.graphs, "onnx", "fp32", target, programs=bundles.programs)
    assert written and written[0].name == "encode.onnx"  # a file was written before the interruption
    assert list(target.parent.iterdir()) == []  # neither the bundle nor its staging directory remains


def test_cli_reports_export_mistakes_in_one_line(tmp_path):
    cases = [
        (["export", "--backend", "executorch", "--precision", "fp16", "-o", tmp_path / "a"], "precision"),
        (["export", "--backend", "onnx", "--precision", "fp32", "--recipe", tmp_path / "r.json", "-o", tmp_path / "b"], "--recipe"),
        (["export", "--backend", "onnx", "-o", tmp_path / "missing" / "c"], "output folder does not exist"),
        (["info"], "bundle directory or --model"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr


def test_cli_info_verify_and_inpaint_with_a_bundle(et_fp32, tmp_path):
    info = cli("info", et_fp32)
    assert info.returncode == 0
    assert "executorch (fp32)" in info.stdout and "delegation:" in info.stdout and "step.pte" in info.stdout
    verify = cli("verify", et_fp32)
    assert verify.returncode == 0 and "test vector step: relative error" in verify.stdout
    image, mask = sample("camera")
    out = tmp_path / "filled.png"
    result = cli("inpaint", image, mask, "-o", out, "--bundle", et_fp32, "--seed", 1)
    assert result.returncode == 0, result.stderr
    expected = edge_sdk.load(et_fp32).inpaint(image, mask, seed=1)
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))
    baked = cli("inpaint", image, mask, "-o", tmp_path / "x.png", "--bundle", et_fp32, "--steps", 7)
    assert baked.returncode == 2 and "baked" in baked.stderr and not (tmp_path / "x.png").exists()
