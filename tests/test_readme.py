"""The README's commands and snippets, run as written, with small models in place of the official weights.

Substitutions: `photo.jpg`/`mask.png` are a bundled sample; the official checkpoint and VAE paths hold the tiny
reference checkpoint and a tiny VAE (so `--model tiny` / `config="tiny"` replace `moebius-0.2b`), and 20 steps
become 2 (the demo runs `--steps 2`), to keep the test short. Commands not run are listed in SKIPPED with the reason. The export runs on a pseudo-terminal,
as a user sees it; its transcript and bundle are cached per code version like the other tiny bundles.
"""
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from edge_sdk.cli import main
from edge_sdk.samples import sample_pairs

from backend_bundles import CACHE, source_digest

README = Path(__file__).resolve().parents[1] / "README.md"
IMAGE, MASK = next((image, mask) for image, mask in sample_pairs() if image.stem == "cat")
OFFICIAL_CHECKPOINTS = ("Moebius/pretrained/diffusion_pytorch_model.bin", "Moebius/ft_places2/diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin")
OFFICIAL_VAE = "PixelHacker/vae"
EXPORTED = "bundles/tiny-executorch-fp32"
MAX_EXPORT_LINES = 40
SKIPPED = {
    "--model moebius-0.2b": "the 0.2B model's int8 export takes minutes and gigabytes (benchmarks/bundle_sizes.py measures it)",
    "moebius-edge bench": "tests/test_bench.py runs the bench on tiny bundles",
    "moebius-edge batch": "Ray jobs over a photo folder: tests/test_scaleout_batch.py and test_scaleout_cluster.py run them",
    "--ray-address": "a Ray cluster: tests/test_scaleout_cluster.py runs calibrate and bench on a two-node cluster",
}
# Python blocks not run here, by a marker in the block, with the reason.
SKIPPED_SNIPPETS = {"edge_sdk.batch(": "a Ray job over a photo folder: tests/test_scaleout_batch.py runs edge_sdk.batch"}


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def readme_commands() -> list[str]:
    """Every `moebius-edge …` command of the README's sh blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in code_blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("moebius-edge "):
                commands.append(" ".join(line.split()))
    return commands


def skip_reason(command: str):
    return next((why for marker, why in SKIPPED.items() if marker in command), None)


def adapted(command: str) -> list[str]:
    argv = command.replace("--steps 20", "--steps 2").split()[1:]
    if "--checkpoint" in argv:
        argv += ["--model", "tiny"]
    if argv[0] == "demo":
        argv += ["--steps", "2"]
    return argv


def run_on_terminal(argv, cwd: Path, timeout: float) -> tuple[int, str]:
    """Run `argv` with stdout and stderr on a pseudo-terminal; returns (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "120"})
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    else:
        process.kill()
        pytest.fail(f"{' '.join(map(str, argv))} ran past {timeout} s")
    os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, reference_dir):
    """A folder where the README's relative paths exist: photo.jpg, mask.png, the 'official' files."""
    from edge_sdk.vae import build_vae

    root = tmp_path_factory.mktemp("readme")
    shutil.copy(IMAGE, root / "photo.jpg")
    shutil.copy(MASK, root / "mask.png")
    checkpoint = reference_dir / "tiny" / "diffusion_pytorch_model.bin"
    for path in OFFICIAL_CHECKPOINTS:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(checkpoint, root / path)
    build_vae("tiny").save_pretrained(root / OFFICIAL_VAE)
    return root


@pytest.fixture(scope="module")
def exported(workdir):
    """The README's tiny export, run on a terminal: (transcript, bundle path). Cached per code version."""
    command = next(c for c in readme_commands() if c.startswith("moebius-edge export") and "--model tiny" in c)
    assert command.endswith(f"-o {EXPORTED}")
    cache = CACHE / f"readme-export-{source_digest()}"
    (workdir / EXPORTED).parent.mkdir(exist_ok=True)
    if not (cache / "transcript.txt").is_file():
        code, transcript = run_on_terminal([sys.executable, "-m", "edge_sdk.cli", *command.split()[1:]], workdir, timeout=900)
        assert code == 0, transcript
        shutil.rmtree(cache, ignore_errors=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(workdir / EXPORTED, cache / "bundle")
        (cache / "transcript.txt").write_bytes(transcript.encode("utf-8"))  # bytes: a bar's \r must stay a \r
        mode = (workdir / EXPORTED).stat().st_mode & 0o777
    else:
        shutil.copytree(cache / "bundle", workdir / EXPORTED)
        transcript, mode = (cache / "transcript.txt").read_bytes().decode("utf-8"), None
    return transcript, workdir / EXPORTED, mode


def test_every_readme_command_is_run_or_skipped_with_a_reason():
    commands = readme_commands()
    assert any(c.startswith("moebius-edge inpaint") for c in commands) and any(c.startswith("moebius-edge export") for c in commands)
    ran = [c for c in commands if skip_reason(c) is None]
    assert {c.split()[1] for c in ran} == {"inpaint", "demo", "export", "verify", "info"}


def test_export_shows_our_progress_only(exported):
    transcript, bundle, mode = exported
    lines = transcript.replace("\r\n", "\n").split("\n")
    assert len(lines) < MAX_EXPORT_LINES, transcript
    assert not re.search(r"\w+Warning\b|warnings\.warn|cpuinfo|Traceback", transcript), transcript
    assert any("step: lowering to xnnpack" in line for line in lines)  # the long stage has a line of its own
    log = bundle.parent / (bundle.name + ".export.log")
    assert f"are in {EXPORTED}.export.log" in transcript  # the message names the log
    if mode is not None:  # a fresh export: the folder follows the umask, the log holds the toolchains' warnings
        umask = os.umask(0)
        os.umask(umask)
        assert mode == 0o777 & ~umask
        assert "Warning" in log.read_text(encoding="utf-8")


def test_command_line_section(workdir, capfd, monkeypatch):
    from edge_sdk.threads import default_threads

    monkeypatch.chdir(workdir)
    ran = 0
    for command in readme_commands():
        argv = adapted(command)
        if skip_reason(command) or argv[0] not in ("inpaint", "demo") or "--bundle" in argv:
            continue
        Path("filled.png").unlink(missing_ok=True)
        code = main(argv)
        out, err = capfd.readouterr()
        assert code == 0, (command, err)
        ran += 1
        if argv[0] == "inpaint":
            assert Image.open("filled.png").size == Image.open("photo.jpg").size
            # no --checkpoint: the default model, nano, tells its limits on every run
            assert ("model 'nano' is a small model" in err) == ("--checkpoint" not in argv), err
            assert torch.get_num_threads() == default_threads()
        else:
            report = Path("demo-output/report.md").read_text()
            assert "Model: `nano`" in report and "strength 0.5" in report  # the README's default strength for nano
    assert ran == 3


def test_bundle_commands(exported, workdir, capfd, monkeypatch):
    monkeypatch.chdir(workdir)
    _, bundle, _ = exported
    for command in readme_commands():
        argv = adapted(command)
        if skip_reason(command) or not (argv[0] in ("verify", "info") or "--bundle" in argv):
            continue
        code = main(argv)
        out, err = capfd.readouterr()
        assert code == 0, (command, err)
        assert "cpuinfo" not in err and "threadpool" not in err  # the runtime's CPU probe stays quiet
        if argv[0] == "verify":
            assert "files match their sha256" in out and "test vector step" in out
        elif argv[0] == "info":
            assert "delegation:" in out
        else:
            assert "denoising" in err  # progress over the steps
            assert Image.open("filled.png").size == Image.open("photo.jpg").size


def test_python_snippets(exported, workdir, monkeypatch):
    import edge_sdk

    monkeypatch.chdir(workdir)
    blocks = [b for b in code_blocks("python") if not any(marker in b for marker in SKIPPED_SNIPPETS)]
    assert len(blocks) == 2 and len(code_blocks("python")) == 2 + len(SKIPPED_SNIPPETS)
    pipeline_block = blocks[0].replace('config="moebius-0.2b"', 'config="tiny"').replace('"moebius-0.2b")', '"tiny")')
    pipeline_block = pipeline_block.replace("steps=20", "steps=2")
    namespace = {}
    exec(compile(pipeline_block, "README.md", "exec"), namespace)
    assert namespace["result"].size == Image.open("photo.jpg").size and Path("filled.png").is_file()
    assert tuple(namespace["latents"].shape) == (1, 4, 64, 64) and torch.isfinite(namespace["latents"]).all()
    namespace = {"edge_sdk": edge_sdk}
    exec(compile(blocks[1], "README.md", "exec"), namespace)
    assert namespace["bundle"].manifest["precision"] == "fp32"
    assert namespace["result"].size == Image.open("photo.jpg").size
