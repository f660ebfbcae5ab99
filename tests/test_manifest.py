"""The manifest is one typed object with one reader and one writer: what an export writes reads back to the same
bytes, older manifests (fewer keys, backend "onnx") load with their defaults, and a bad one is a one-line error."""
import json
import os

import pytest

from edge_sdk.bundle.manifest import FIELD_ORDER, Manifest, read_bundle
from edge_sdk.errors import BundleError

SCHEDULE = {"steps": 2, "strength": 0.6, "timesteps": [561, 61], "start_signal": 0.25, "start_noise": 0.75, "starts_from_noise": False}


def graph(name):
    return {"file": f"{name}.pte", "precision": "fp32", "inputs": [{"name": "x", "shape": [1], "dtype": "float32"}], "outputs": []}


def exported_document() -> dict:
    """Every key an export writes, in the order it writes them."""
    values = {
        "format": "moebius-edge/bundle", "format_version": 1, "backend": "executorch", "precision": "fp32",
        "vae_precision": "fp32", "model": "tiny", "model_source": {"name": "tiny", "random_weights": True}, "image_size": 512, "latent_size": 64,
        "latent_channels": 4, "steps": 2, "strength": 0.6, "guidance_scale": 2.5, "timesteps": [561, 61],
        "schedule": SCHEDULE, "graphs": {name: graph(name) for name in ("encode", "step", "decode")}, "decode_tiling": None,
        "test_vector": {"file": "test_vector.safetensors", "tolerance": {"step": 1e-5}, "measured": None},
        "calibration": None, "vae_drift": None, "backend_details": {"delegate": "xnnpack"}, "sdk_version": "0.1.0",
        "toolchain": {"torch": "2.13.0"}, "created": "2026-12-05T06:00:00Z",
        "files": {"encode.pte": {"bytes": 1, "sha256": "0" * 64}}, "export_seconds": {"total": 1.5},
    }
    assert tuple(values) == FIELD_ORDER
    return values


def write_document(folder, document) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    return text.encode()


def test_an_exported_manifest_reads_typed_and_writes_back_byte_for_byte(tmp_path):
    original = write_document(tmp_path / "a", exported_document())
    manifest = Manifest.read(tmp_path / "a")
    assert (manifest.backend, manifest.image_size, manifest.timesteps, manifest.baked_steps) == ("executorch", 512, [561, 61], 2)
    assert manifest.graphs["step"]["file"] == "step.pte" and manifest.files["encode.pte"]["bytes"] == 1
    start = manifest.loop_schedule()
    assert (start.timesteps, start.starts_from_noise, start.start_signal, start.start_noise) == ((561, 61), False, 0.25, 0.75)
    (tmp_path / "b").mkdir()
    manifest.write(tmp_path / "b")
    assert (tmp_path / "b" / "manifest.json").read_bytes() == original
    assert os.listdir(tmp_path / "b") == ["manifest.json"]  # the temporary file was renamed, none is left


def test_an_older_manifest_loads_with_defaults_and_keeps_its_keys(tmp_path):
    document = exported_document()
    for key in ("model", "vae_precision", "steps", "strength", "guidance_scale", "decode_tiling", "calibration", "vae_drift", "export_seconds"):
        del document[key]
    document["backend"] = "onnx"  # the ONNX Runtime backend's former name
    document["graphs"] = {name: dict(graph(name), file=f"{name}.onnx") for name in ("encode", "step", "decode")}
    document["graphs"]["decode"]["precision"] = "fp16"  # before vae_precision, the graphs said it
    document["note"] = "a key this SDK does not know"
    original = write_document(tmp_path / "old", document)
    bundle = read_bundle(tmp_path / "old", verify_files=False)
    manifest = bundle.manifest
    assert manifest.backend == "onnx" and bundle.graph_path("step").name == "step.onnx"
    assert (manifest.model_name, manifest.baked_steps, manifest.strength, manifest.guidance_scale) == ("tiny", 2, 1.0, 2.5)
    assert (manifest.vae_precision, manifest.vae_drift, manifest.tiling) == ("fp16", None, None)
    (tmp_path / "again").mkdir()
    manifest.write(tmp_path / "again")
    assert (tmp_path / "again" / "manifest.json").read_bytes() == original


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("timesteps"), "the manifest has no 'timesteps': the bundle is damaged"),
        (lambda d: d.update(format_version=2), "bundle format version 2 is not supported"),
        (lambda d: d.update(backend="tflite"), "unknown backend 'tflite'"),
        (lambda d: d["graphs"].pop("decode"), "the manifest must describe the graphs encode, step, decode"),
        (lambda d: d.update(decode_tiling={"tile": 40}), "decode_tiling must be null or an object with integer 'tile' and 'overlap'"),
        (lambda d: d.update(decode_tiling={"tile": 40, "overlap": 40}), r"decode tiling needs 0 < overlap < tile < latent size \(64\); got tile 40, overlap 40"),
    ],
)
def test_a_bad_manifest_is_one_clear_line(tmp_path, change, message):
    document = exported_document()
    change(document)
    write_document(tmp_path, document)
    with pytest.raises(BundleError, match=message) as raised:
        Manifest.read(tmp_path)
    assert "\n" not in str(raised.value)


def test_a_failed_write_leaves_the_previous_manifest(tmp_path):
    original = write_document(tmp_path, exported_document())
    manifest = Manifest.read(tmp_path)
    manifest.backend_details = {"not json": object()}
    with pytest.raises(TypeError):
        manifest.write(tmp_path)
    assert (tmp_path / "manifest.json").read_bytes() == original and os.listdir(tmp_path) == ["manifest.json"]
