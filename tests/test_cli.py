"""The command line: a working run, and one-line errors with exit code 2 that leave no file behind."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from edge_sdk.cli import main
from edge_sdk.samples import sample_pairs

IMAGE, MASK = sample_pairs()[0]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def assert_user_error(capsys, tmp_path, fragment, *argv):
    out = tmp_path / "out.png"
    code, err = run_cli(capsys, "inpaint", *argv, "-o", out, "--steps", "2")
    lines = [line for line in err.splitlines() if line.startswith("moebius-edge: error")]
    assert code == 2
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err
    assert list(tmp_path.glob("out.png*")) == [] and list(tmp_path.glob(".out.png*")) == []


def test_inpaint_writes_the_output(tmp_path, capsys):
    out = tmp_path / "result.png"
    code, err = run_cli(capsys, "inpaint", IMAGE, MASK, "-o", out, "--steps", "2", "--seed", "1")
    assert code == 0
    assert "small model" in err and "random weights" not in err  # the trained nano default, which says what it is
    assert Image.open(out).size == Image.open(IMAGE).size
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_missing_image(tmp_path, capsys):
    assert_user_error(capsys, tmp_path, "image not found", tmp_path / "nope.jpg", MASK)


def test_corrupt_image(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    assert_user_error(capsys, tmp_path, "not a readable image", broken, MASK)


def test_corrupt_mask(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert_user_error(capsys, tmp_path, "mask", IMAGE, broken)


def test_mask_size_mismatch(tmp_path, capsys):
    small = tmp_path / "small.png"
    Image.new("L", (100, 100), 255).save(small)
    assert_user_error(capsys, tmp_path, "must match", IMAGE, small)


def test_image_over_50_megapixels(tmp_path, capsys):
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 7000)).save(huge)  # 56 MP, compresses to a few hundred kB
    assert_user_error(capsys, tmp_path, "50 MP limit", huge, MASK)


def test_missing_checkpoint(tmp_path, capsys):
    vae = tmp_path / "vae"
    vae.mkdir()
    assert_user_error(capsys, tmp_path, "checkpoint not found", IMAGE, MASK, "--checkpoint", tmp_path / "x.bin", "--vae", vae)


def test_checkpoint_with_wrong_keys(tmp_path, capsys, reference_dir):
    vae = tmp_path / "vae"
    _write_tiny_vae(vae)
    checkpoint = reference_dir / "tiny" / "diffusion_pytorch_model.bin"
    assert_user_error(capsys, tmp_path, "'tiny' preset", IMAGE, MASK, "--checkpoint", checkpoint, "--vae", vae)


def test_checkpoint_that_is_not_a_state_dict(tmp_path, capsys):
    bogus = tmp_path / "bogus.bin"
    torch.save({"weights": [1, 2, 3]}, bogus)
    vae = tmp_path / "vae"
    _write_tiny_vae(vae)
    assert_user_error(capsys, tmp_path, "not a state dict", IMAGE, MASK, "--checkpoint", bogus, "--vae", vae, "--model", "tiny")


def test_vae_folder_without_config(tmp_path, capsys, reference_dir):
    vae = tmp_path / "vae"
    vae.mkdir()
    checkpoint = reference_dir / "tiny" / "diffusion_pytorch_model.bin"
    assert_user_error(capsys, tmp_path, "no config.json", IMAGE, MASK, "--checkpoint", checkpoint, "--vae", vae, "--model", "tiny")


def test_official_files_run_end_to_end(tmp_path, capsys, reference_dir):
    vae = tmp_path / "vae"
    _write_tiny_vae(vae)
    out = tmp_path / "out.png"
    checkpoint = reference_dir / "tiny" / "diffusion_pytorch_model.bin"
    code, err = run_cli(capsys, "inpaint", IMAGE, MASK, "-o", out, "--checkpoint", checkpoint, "--vae", vae, "--model", "tiny", "--steps", "1")
    assert code == 0, err
    assert "random weights" not in err
    assert Image.open(out).size == Image.open(IMAGE).size


def test_bad_output_extension(tmp_path, capsys):
    code, err = run_cli(capsys, "inpaint", IMAGE, MASK, "-o", tmp_path / "out.txt", "--steps", "2")
    assert code == 2 and "must end in one of" in err
    assert list(tmp_path.iterdir()) == []


def test_console_script_exit_code(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "edge_sdk.cli", "inpaint", str(tmp_path / "none.png"), str(MASK), "-o", str(tmp_path / "o.png")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("moebius-edge: error: image not found")


def _write_tiny_vae(folder):
    from edge_sdk.vae import build_vae

    build_vae("tiny").save_pretrained(folder)


def test_the_model_decides_the_strength_a_run_without_one_uses():
    from argparse import Namespace

    from edge_sdk.cli_shared import model_strength
    from edge_sdk.presets import MODEL_PRESETS

    assert model_strength(Namespace(model="nano", checkpoint=None)) == MODEL_PRESETS["nano"].strength < 1
    assert model_strength(Namespace(model="tiny", checkpoint=None)) == 1.0
    assert model_strength(Namespace(model=None, checkpoint="official.bin")) == 1.0  # official weights: from noise


def test_too_few_steps_for_the_model_strength_is_a_one_line_error(tmp_path, capsys):
    code, err = run_cli(capsys, "inpaint", IMAGE, MASK, "-o", tmp_path / "out.png", "--steps", "1")  # nano runs half of them
    assert code == 2 and "pass more --steps or --strength 1" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
