"""Bad inputs, in tables: the CLI answers each with one `moebius-edge: error:` line and exit code 2, the Python
API with an EdgeSDKError naming the problem, and neither leaves an output or a partial file behind.

The cases of issue #20 (tracebacks, silent wrong results, late or misleading checks) and the earlier ones.
Bundle cases reuse the cached tiny ExecuTorch bundle of `backend_bundles`; the rest fail before any model runs.
"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import edge_sdk
from edge_sdk.cli import main
from edge_sdk.errors import EdgeSDKError
from edge_sdk.samples import sample_pairs

from backend_bundles import tiny_bundles

IMAGE, MASK = next((image, mask) for image, mask in sample_pairs() if image.stem == "cat")
WEIGHTS = Path(edge_sdk.__file__).parent / "weights"
NANO_CHECKPOINT, NANO_VAE = WEIGHTS / "nano_denoiser.safetensors", WEIGHTS / "nano_vae"


class Work:
    """A folder of bad things to pass: a folder named like an image, a symlink loop, a pickle that is not a
    plain state dict, a VAE folder without config.json."""

    def __init__(self, root: Path):
        self.root = root
        (root / "x.png").mkdir()
        (root / "photo_dir").mkdir()
        (root / "empty_vae").mkdir()
        (root / "vae_file").write_text("not a folder")
        os.symlink(root / "loop_b", root / "loop_a")
        os.symlink(root / "loop_a", root / "loop_b")
        broken = root / "broken.jpg"
        broken.write_bytes(b"not a jpeg at all")
        Image.new("L", (100, 100), 255).save(root / "small_mask.png")
        import argparse

        torch.save({"weight": torch.zeros(2), "args": argparse.Namespace(lr=1)}, root / "with_objects.bin")
        shutil.copy(IMAGE, root / "photo.jpg")

    def __truediv__(self, name):
        return self.root / name


@pytest.fixture
def work(tmp_path):
    return Work(tmp_path)


def files_under(root: Path) -> set:
    return {p.relative_to(root) for p in root.rglob("*")}


def run_cli(capsys, argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr()


def assert_one_line_error(code, err, fragment):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("moebius-edge: error: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err and "weights_only" not in err


def inpaint(*extra, image=IMAGE, mask=MASK, out="out.png"):
    return lambda w: ["inpaint", image(w) if callable(image) else image, mask, "-o", w / out if isinstance(out, str) else out, *extra]


# (case, argv from the Work folder, the error line's fragment)
CLI_CASES = [
    # output paths: checked before the model loads
    ("output is a folder named x.png", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "x.png"], "is a folder: name an image file"),
    ("output under /proc", lambda w: ["inpaint", IMAGE, MASK, "-o", "/proc/x.png"], "/proc is not writable"),
    ("output in a read-only place", lambda w: ["inpaint", IMAGE, MASK, "-o", "/sys/x.png"], "/sys is not writable"),
    ("output overwrites the input", lambda w: ["inpaint", w / "photo.jpg", MASK, "-o", w / "photo.jpg"], "is the input"),
    ("output extension", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "out.txt"], "must end in one of"),
    ("output folder missing", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "none" / "o.png"], "output folder does not exist"),
    ("demo into a read-only place", lambda w: ["demo", "-o", "/sys/demo-output"], "/sys is not writable"),
    ("demo output is a file", lambda w: ["demo", "-o", w / "vae_file"], "is a file, not a folder"),
    # sampling settings: one set of rules (edge_sdk.sampling_settings)
    ("steps 100000", inpaint("--steps", "100000"), "--steps must be between 1 and 1000"),
    ("steps 0", inpaint("--steps", "0"), "--steps must be between 1 and 1000"),
    ("seed past 2**64", inpaint("--seed", "99999999999999999999"), "--seed must be a whole number from 0 to 2**64 - 1"),
    ("negative seed", inpaint("--seed", "-1"), "--seed must be a whole number"),
    ("guidance nan", inpaint("--guidance", "nan"), "--guidance must be a finite number, got nan"),
    ("guidance inf", inpaint("--guidance", "inf"), "--guidance must be a finite number, got inf"),
    ("negative guidance", inpaint("--guidance", "-1"), "--guidance must be between 0 and 20"),
    ("huge guidance", inpaint("--guidance", "500"), "--guidance must be between 0 and 20"),
    ("strength 1.5", inpaint("--strength", "1.5"), "--strength must be in (0, 1], got 1.5"),
    ("strength keeps no step", inpaint("--strength", "0.01", "--steps", "20"), "--strength 0.01 keeps no step out of --steps 20"),
    ("too few steps for nano's strength", inpaint("--steps", "1"), "pass more --steps or --strength 1"),
    ("threads 0", inpaint("--threads", "0"), "--threads must be a whole number of at least 1"),
    # inputs
    ("missing image", inpaint(image=lambda w: w / "nope.jpg"), "image not found"),
    ("image is a folder", inpaint(image=lambda w: w / "photo_dir"), "is a folder, not an image file"),
    ("image is a symlink loop", inpaint(image=lambda w: w / "loop_a"), "cannot be read (Too many levels of symbolic links)"),
    ("corrupt image", inpaint(image=lambda w: w / "broken.jpg"), "not a readable image"),
    ("mask of another size", lambda w: ["inpaint", IMAGE, w / "small_mask.png", "-o", w / "o.png"], "must match"),
    # model files
    ("missing checkpoint", inpaint("--checkpoint", "nope.bin", "--vae", NANO_VAE), "checkpoint not found"),
    ("nano weights with the tiny config", inpaint("--checkpoint", NANO_CHECKPOINT, "--vae", NANO_VAE, "--model", "tiny"), "its shapes fit the 'nano' preset"),
    ("VAE folder without config.json", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "o.png", "--checkpoint", NANO_CHECKPOINT, "--vae", w / "empty_vae", "--model", "nano"], "has no config.json"),
    ("VAE path is a file", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "o.png", "--checkpoint", NANO_CHECKPOINT, "--vae", w / "vae_file", "--model", "nano"], "is a file"),
    ("checkpoint holding Python objects", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "o.png", "--checkpoint", w / "with_objects.bin", "--vae", NANO_VAE, "--model", "nano"], "Unsupported global: GLOBAL argparse.Namespace"),
    ("checkpoint without its VAE", inpaint("--checkpoint", NANO_CHECKPOINT), "--checkpoint and --vae go together"),
    ("checkpoint is a folder", lambda w: ["inpaint", IMAGE, MASK, "-o", w / "o.png", "--checkpoint", w / "photo_dir", "--vae", NANO_VAE], "is a folder: pass the .bin or .safetensors file"),
    # export, before anything slow
    ("export guidance nan", lambda w: ["export", "--model", "tiny", "--backend", "onnx", "--guidance", "nan", "-o", w / "b"], "--guidance must be a finite number"),
    ("export steps 100000", lambda w: ["export", "--model", "tiny", "--backend", "onnx", "--steps", "100000", "-o", w / "b"], "--steps must be between"),
    ("export into an existing folder", lambda w: ["export", "--model", "tiny", "--backend", "onnx", "-o", w / "photo_dir"], "already exists"),
    ("export into a read-only place", lambda w: ["export", "--model", "tiny", "--backend", "onnx", "-o", "/sys/bundle"], "/sys is not writable"),
    ("export precision", lambda w: ["export", "--backend", "executorch", "--precision", "fp16", "-o", w / "b"], "precision"),
    ("export VAE precision bf16", lambda w: ["export", "--model", "tiny", "--backend", "executorch", "--vae-precision", "bf16", "-o", w / "b"], "--vae-precision must be fp32, fp16, int8 or two of them as ENCODE/DECODE, got 'bf16'"),
    ("export VAE precision of three graphs", lambda w: ["export", "--model", "tiny", "--backend", "executorch", "--vae-precision", "int8/fp32/fp32", "-o", w / "b"], "a VAE precision is one precision or ENCODE/DECODE (e.g. int8/fp32), got 'int8/fp32/fp32'"),
    ("export int8 encode for ONNX Runtime", lambda w: ["export", "--model", "tiny", "--backend", "onnxruntime", "--vae-precision", "int8/fp32", "-o", w / "b"], "backend onnxruntime exports fp32 bundles with the VAE in fp32, not int8"),
    ("export int8 VAE for ONNX Runtime", lambda w: ["export", "--model", "tiny", "--backend", "onnxruntime", "--vae-precision", "int8", "-o", w / "b"], "backend onnxruntime exports fp32 bundles with the VAE in fp32, not int8"),
    ("export fp32 VAE for TensorRT", lambda w: ["export", "--model", "tiny", "--backend", "tensorrt", "--precision", "fp16", "--vae-precision", "fp32", "-o", w / "b"], "fp16 bundles with the VAE in fp16, not fp32: NVIDIA GPUs"),
]


@pytest.mark.parametrize("case, argv, fragment", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_answers_in_one_line_and_writes_nothing(case, argv, fragment, work, capsys):
    arguments = argv(work)
    before = files_under(work.root)
    code, captured = run_cli(capsys, arguments)
    assert_one_line_error(code, captured.err, fragment)
    assert captured.out == ""
    assert files_under(work.root) == before  # no output, no .part file, no staging folder


@pytest.fixture(scope="module")
def tiny_pipe():
    return edge_sdk.InpaintPipeline.from_preset("tiny")


def call(**settings):
    return lambda pipe, w: pipe(IMAGE, MASK, progress=False, **{"steps": 2, **settings})


# (case, a call given the tiny pipeline and the Work folder, the message's fragment)
PYTHON_CASES = [
    ("steps=2.5", call(steps=2.5), "steps must be a whole number, got 2.5"),
    ("steps=100000", call(steps=100000), "steps must be between 1 and 1000"),
    ("steps=True", call(steps=True), "steps must be a whole number"),
    ("seed=2**70", call(seed=2**70), "seed must be a whole number from 0 to 2**64 - 1"),
    ("seed='abc'", call(seed="abc"), "seed must be a whole number from 0 to 2**64 - 1, got 'abc'"),
    ("guidance_scale=nan", call(guidance_scale=math.nan), "guidance_scale must be a finite number"),
    ("guidance_scale=-3", call(guidance_scale=-3), "guidance_scale must be between 0 and 20"),
    ("strength=1.5", call(strength=1.5), "strength must be in (0, 1]"),
    ("strength=2.0", call(strength=2.0), "strength must be in (0, 1]"),
    ("strength='0.5'", call(strength="0.5"), "strength must be a finite number"),
    ("image=None", lambda pipe, w: pipe(None, MASK, steps=2), "image must be a file path, a PIL image or a numpy array, got NoneType"),
    ("mask=None", lambda pipe, w: pipe(IMAGE, None, steps=2), "mask must be a file path"),
    ("image is a folder", lambda pipe, w: pipe(w / "photo_dir", MASK, steps=2), "is a folder"),
    ("edge_sdk.load(None)", lambda pipe, w: edge_sdk.load(None), "a bundle is a folder path, got NoneType"),
    ("edge_sdk.load(missing)", lambda pipe, w: edge_sdk.load(w / "nothing"), "bundle not found"),
    ("nano weights, tiny config", lambda pipe, w: edge_sdk.load_denoiser(NANO_CHECKPOINT, "tiny"), "its shapes fit the 'nano' preset"),
    ("checkpoint holding Python objects", lambda pipe, w: edge_sdk.load_denoiser(w / "with_objects.bin", "nano"), "Unsupported global"),
    ("VAE folder without config.json", lambda pipe, w: edge_sdk.InpaintPipeline.from_files(NANO_CHECKPOINT, w / "empty_vae", "nano"), "has no config.json"),
    ("output is a folder", lambda pipe, w: _save(w / "x.png"), "is a folder"),
    ("output under /proc", lambda pipe, w: _save("/proc/x.png"), "/proc is not writable"),
]


def _save(path):
    from edge_sdk.output_files import check_output_image

    return check_output_image(path)


@pytest.mark.parametrize("case, action, fragment", PYTHON_CASES, ids=[c[0] for c in PYTHON_CASES])
def test_python_api_raises_edge_sdk_errors(case, action, fragment, tiny_pipe, work):
    before = files_under(work.root)
    with pytest.raises(EdgeSDKError) as error:
        action(tiny_pipe, work)
    message = str(error.value)
    assert fragment in message and "\n" not in message and "weights_only" not in message
    assert files_under(work.root) == before


def test_setting_errors_are_still_value_errors():
    from edge_sdk.sampling import make_scheduler, retained_timesteps

    with pytest.raises(ValueError, match="steps must be between 1 and 1000"):
        retained_timesteps(make_scheduler(), 100000, 1.0)  # was diffusers' own ValueError, now ours


# --- read-only file system (a tmpfs mounted read-only where this machine allows mounting) ---


@pytest.fixture
def read_only_dir(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root in a namespace that allows mounts)")
    yield target
    subprocess.run(["umount", str(target)], check=True)


def test_read_only_file_system_is_refused_before_inference(read_only_dir, capsys):
    code, captured = run_cli(capsys, ["inpaint", IMAGE, MASK, "-o", read_only_dir / "o.png"])
    assert_one_line_error(code, captured.err, "is not writable (Read-only file system)")
    code, captured = run_cli(capsys, ["demo", "-o", read_only_dir / "demo"])
    assert_one_line_error(code, captured.err, "is not writable (Read-only file system)")


# --- silent wrong results: the input's mode comes back ---


def test_rgba_input_comes_back_rgba_with_its_alpha(tiny_pipe):
    """(Grey in, grey out: tests/test_pipeline.py::test_rgba_and_grey_images_are_accepted.)"""
    rgba = Image.open(IMAGE).convert("RGBA").resize((96, 64))
    hole = np.zeros((64, 96), dtype=bool)
    hole[20:40, 30:60] = True
    far = np.ones_like(hole)
    far[5:55, 15:75] = False  # beyond the paste blur's reach
    alpha = np.full((64, 96), 255, dtype=np.uint8)
    alpha[:, :10] = 0  # a transparent strip far from the hole
    alpha[20:40, 30:60] = 0  # the hole itself is transparent too
    rgba.putalpha(Image.fromarray(alpha))
    result = tiny_pipe(rgba, hole, steps=1, progress=False)
    assert result.mode == "RGBA" and result.size == rgba.size
    out = np.asarray(result)
    assert np.array_equal(out[..., 3][far], alpha[far])  # alpha kept outside the hole
    assert (out[..., 3][hole] == 255).all()  # the fill is opaque
    assert np.array_equal(out[far], np.asarray(rgba)[far])  # even the colour under transparent pixels
    assert not np.array_equal(out[hole][:, :3], np.asarray(rgba)[hole][:, :3])  # the hole was filled
    empty = np.zeros_like(hole)
    assert np.array_equal(np.asarray(tiny_pipe(rgba, empty, steps=1, progress=False)), np.asarray(rgba))


def test_model_notice_is_a_warning_once_per_process(tiny_pipe, monkeypatch):
    from edge_sdk import notices

    monkeypatch.setattr(notices, "_TOLD", set())
    hole = np.zeros((64, 64), dtype=bool)
    image = Image.new("RGB", (64, 64), (10, 20, 30))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny_pipe(image, hole, steps=2)
        tiny_pipe(image, hole, steps=2)
    told = [w for w in caught if issubclass(w.category, notices.ModelNotice)]
    assert len(told) == 1 and "random weights" in str(told[0].message)


# --- files: modes, atomic writes ---


def test_outputs_and_bundle_folders_follow_the_umask(tmp_path):
    from edge_sdk.bundle.files import publishing_directory
    from edge_sdk.atomic_files import publish_folder, write_text_atomic
    from edge_sdk.mask_generator import save_mask
    from edge_sdk.output_files import save_image_atomic

    previous = os.umask(0o022)
    try:
        save_image_atomic(Image.new("RGB", (8, 8)), tmp_path / "a.png")
        with publishing_directory(tmp_path / "bundle") as staging:
            (staging / "x.pte").write_bytes(b"x")
        write_text_atomic(tmp_path / "recipe.json", "{}")
        publish_folder(lambda folder: (folder / "report.md").write_text("r"), tmp_path / "report")
        save_mask(np.full((4, 4), 255, dtype=np.uint8), tmp_path / "mask.png")
    finally:
        os.umask(previous)
    for file in ("a.png", "recipe.json", "report/report.md", "mask.png"):
        assert (tmp_path / file).stat().st_mode & 0o777 == 0o644, file
    for folder in ("bundle", "report"):
        assert (tmp_path / folder).stat().st_mode & 0o777 == 0o755, folder


def test_jpeg_output_uses_the_documented_quality(tmp_path):
    from edge_sdk.output_files import LOSSY_QUALITY, save_image_atomic

    picture = Image.open(IMAGE).convert("RGB")
    save_image_atomic(picture, tmp_path / "a.jpg")
    picture.save(tmp_path / "b.jpg", quality=LOSSY_QUALITY)
    assert (tmp_path / "a.jpg").read_bytes() == (tmp_path / "b.jpg").read_bytes()
    save_image_atomic(picture.convert("RGBA"), tmp_path / "c.jpg")  # no alpha in JPEG: flattened, not an error
    assert Image.open(tmp_path / "c.jpg").mode == "RGB"


def test_stale_staging_of_a_killed_export_is_swept(tmp_path):
    from edge_sdk.bundle.files import publishing_directory

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".bundle.partial-{dead.pid}-abcd"
    stale.mkdir()
    (stale / "step.pte").write_bytes(b"half")
    alive = tmp_path / f".bundle.partial-{os.getppid()}-efgh"  # a live process's export is left alone
    alive.mkdir()
    other = tmp_path / f".other.partial-{dead.pid}-abcd"  # another target's
    other.mkdir()
    with publishing_directory(tmp_path / "bundle") as staging:
        (staging / "x").write_text("done")
    assert not stale.exists() and alive.exists() and other.exists()
    assert (tmp_path / "bundle" / "x").read_text() == "done"


def test_sigterm_during_export_leaves_nothing(tmp_path):
    target = tmp_path / "bundle"
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_sdk.cli", "export", "--model", "tiny", "--backend", "onnx", "--steps", "2", "-o", str(target)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".bundle.partial-*")):
        assert process.poll() is None and time.monotonic() < deadline, "the export ended before writing its staging folder"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["bundle.export.log"])


# --- bundles whose manifest does not match their files ---


@pytest.fixture(scope="module")
def et_bundle():
    return tiny_bundles().bundle("executorch", "fp32")


def relabelled(bundle: Path, tmp_path: Path, backend: str) -> Path:
    copy = tmp_path / f"relabelled-{backend}"
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, backend=backend)))
    return copy


@pytest.mark.parametrize("backend", ["onnx", "coreml"])
def test_manifest_naming_another_backend_is_a_damaged_bundle(et_bundle, tmp_path, capsys, backend):
    bundle = relabelled(et_bundle, tmp_path, backend)
    fragment = f"the manifest says backend '{backend}'"
    with pytest.raises(EdgeSDKError, match=fragment):
        edge_sdk.load(bundle)
    code, captured = run_cli(capsys, ["verify", bundle])
    assert_one_line_error(code, captured.err, fragment)
    assert "damaged" in captured.err and captured.out == ""
    out = tmp_path / "filled.png"
    code, captured = run_cli(capsys, ["inpaint", IMAGE, MASK, "-o", out, "--bundle", bundle])
    assert_one_line_error(code, captured.err, fragment)
    assert not out.exists()


def test_graph_files_the_runtime_cannot_parse_are_a_damaged_bundle(et_bundle, tmp_path, capsys):
    """ExecuTorch files renamed to .onnx under an "onnx" manifest with matching hashes: ONNX Runtime's parse
    error becomes one line."""
    from edge_sdk.bundle.files import file_records

    bundle = tmp_path / "disguised"
    shutil.copytree(et_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    for name in ("encode", "step", "decode"):
        (bundle / f"{name}.pte").rename(bundle / f"{name}.onnx")
        manifest["graphs"][name]["file"] = f"{name}.onnx"
    # The manifest's own file list, renamed (a shared bundle may also hold conformance vectors, not bundle files).
    listed = sorted(name.replace(".pte", ".onnx") for name in manifest["files"])
    manifest["files"] = file_records(bundle, listed)
    (bundle / "manifest.json").write_text(json.dumps(dict(manifest, backend="onnx")))
    with pytest.raises(EdgeSDKError, match="the onnx runtime cannot open its graphs"):
        edge_sdk.load(bundle)
    code, captured = run_cli(capsys, ["verify", bundle])
    assert_one_line_error(code, captured.err, "cannot open its graphs")


def test_bundle_inpaint_checks_its_seed_and_output_first(et_bundle, tmp_path, capsys):
    bundle = edge_sdk.load(et_bundle)
    with pytest.raises(EdgeSDKError, match="seed must be a whole number"):
        bundle.inpaint(IMAGE, MASK, seed=2**70)
    code, captured = run_cli(capsys, ["inpaint", IMAGE, MASK, "-o", tmp_path / "o.png", "--bundle", et_bundle, "--seed", "-5"])
    assert_one_line_error(code, captured.err, "--seed must be a whole number")
    code, captured = run_cli(capsys, ["inpaint", IMAGE, MASK, "-o", "/proc/o.png", "--bundle", et_bundle])
    assert_one_line_error(code, captured.err, "/proc is not writable")
    assert list(tmp_path.iterdir()) == []


# --- the first experience: a fast --help, a quiet import ---


def test_help_imports_no_toolchain():
    probe = (
        "import sys; from edge_sdk.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'torchao', 'diffusers', 'executorch', 'onnxruntime', 'coremltools') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_python_api_imports_quietly():
    probe = "import edge_sdk; edge_sdk.InpaintPipeline; edge_sdk.load; import edge_sdk.calibration.observers"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
