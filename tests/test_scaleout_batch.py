"""`edge_sdk.batch` / `moebius-edge batch` on a local Ray (2 CPUs, 200 MB object store, one Ray for the module):
outputs bit-identical to single-process inpaints, a bad row reported while the rest are written, a killed
actor still giving every row exactly once, and a resumed job skipping the rows already done."""
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from scaleout_data import write_manifest, write_rows

ray = pytest.importorskip("ray", reason="Ray is in requirements.txt; without it the scale-out commands say so")

from edge_sdk.cli import main  # noqa: E402
from edge_sdk.scaleout.batch import batch  # noqa: E402
from edge_sdk.scaleout.batch_results import STATE_DIR, ResultJournal, read_results  # noqa: E402

STEPS = 1  # tiny at 1 step: the VAE dominates, ~2 s a row here
NAMES = ["astronaut", "brick", "cat", "coffee"]
SEEDS = [3, 0, 7, 11]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch-inputs")
    rows = write_rows(folder, NAMES, SEEDS, bad_mask="cat")
    return folder, rows


def single_process(folder, row):
    """The same row inpainted by the plain pipeline in this process, with one thread like each actor."""
    from edge_sdk.pipeline import InpaintPipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pipe = InpaintPipeline.from_preset("tiny")
        return pipe(folder / row["image"], folder / row["mask"], steps=STEPS, seed=row["seed"], progress=False)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def first_run(local_ray, inputs, tmp_path_factory):
    """The 4-row manifest (one bad row) on 2 actors, with --evaluate."""
    folder, rows = inputs
    out = tmp_path_factory.mktemp("batch-run") / "out"
    summary = batch(write_manifest(folder / "all.csv", rows), out, model="tiny", steps=STEPS, actors=2, evaluate=True, progress=False)
    return out, summary


def test_outputs_match_single_process_and_a_bad_row_is_reported(first_run, inputs):
    folder, rows = inputs
    out, summary = first_run
    assert (summary.rows, summary.ok, summary.failed, summary.skipped) == (4, 3, 1, 0)
    results = {r["output"]: r for r in read_results(out)}
    assert sorted(results) == sorted(row["output"] for row in rows)
    bad = results["filled/cat.png"]
    assert bad["status"] == "error" and "mask is 80×120 but the image is 160×120" in bad["error"]
    assert not (out / "filled" / "cat.png").exists()
    for row in rows:
        if row["image"].startswith("cat"):
            continue
        result = results[row["output"]]
        assert result["status"] == "ok" and result["error"] is None and result["seconds"] > 0
        written = np.asarray(Image.open(out / row["output"]))
        expected = np.asarray(single_process(folder, row))
        assert np.array_equal(written, expected), row["output"]
        hole = np.asarray(Image.open(folder / row["mask"])) > 127
        assert result["hole_share"] == pytest.approx(hole.mean())
        assert np.isfinite(result["psnr_hole_vs_original"]) and -1 <= result["ssim_hole_vs_original"] <= 1
        assert result["psnr_hole_vs_reference"] is None  # --model is its own reference
    assert not list(out.rglob("*.part")) and not (out / STATE_DIR).exists()


def test_resumed_job_skips_the_rows_already_done(first_run, inputs, tmp_path):
    """The first run's folder (copied with its timestamps) and its manifest plus one new row: the three rows
    written are skipped, the bad row is tried again (and fails again), the new row is written."""
    folder, rows = inputs
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    extra = write_rows(folder, ["rocket"], seeds=[2])
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "filled").iterdir()}
    summary = batch(write_manifest(folder / "more.csv", rows + extra), out, model="tiny", steps=STEPS, actors=1, progress=False)
    assert (summary.rows, summary.skipped, summary.ok, summary.failed) == (5, 3, 4, 1)
    assert {name: (out / "filled" / name).stat().st_mtime_ns for name in stamps} == stamps  # not written again
    assert (out / "filled" / "rocket.png").is_file()
    outputs = [r["output"] for r in read_results(out)]
    assert sorted(outputs) == sorted(row["output"] for row in rows + extra)  # each row once


def test_journal_of_an_interrupted_job_counts_its_written_rows_as_done(tmp_path):
    """What a job killed before its end leaves: parts but no results.parquet; only rows with their image count."""
    journal = ResultJournal(tmp_path)
    base = {"image": "a.png", "mask": "a_mask.png", "seed": 0, "error": None, "seconds": 1.0, "worker": "w"}
    journal.append([base | {"row_id": 0, "output": "x.png", "status": "ok"}, base | {"row_id": 1, "output": "y.png", "status": "ok"}])
    journal.append([base | {"row_id": 2, "output": "z.png", "status": "error", "error": "unreadable"}])
    Image.new("RGB", (4, 4)).save(tmp_path / "x.png")  # y.png's image never made it to disk
    assert ResultJournal(tmp_path).done() == {"x.png"}
    ResultJournal(tmp_path).finish()
    assert [(r["output"], r["status"]) for r in read_results(tmp_path)] == [("x.png", "ok"), ("y.png", "ok"), ("z.png", "error")]
    assert not (tmp_path / STATE_DIR).exists()


def test_killed_actor_still_yields_every_row_exactly_once(local_ray, tmp_path):
    names = ["astronaut", "brick", "camera", "coffee", "retina"]
    folder = tmp_path / "in"
    rows = write_rows(folder, names)
    out = tmp_path / "out"
    killed = []

    def kill_first_worker():
        # SIGKILL the actor process that wrote the first result, while the other rows are still queued.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not killed:
            parts = sorted((out / STATE_DIR).glob("part-*.parquet")) if (out / STATE_DIR).is_dir() else []
            if parts:
                import pyarrow.parquet

                worker = pyarrow.parquet.read_table(parts[0]).to_pylist()[0]["worker"]
                pid = int(worker.rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    summary = batch(write_manifest(folder / "rows.csv", rows), out, model="tiny", steps=STEPS, actors=2, progress=False)
    killer.join(timeout=5)
    assert killed, "no actor was killed: the job ended before the first result was read"
    results = read_results(out)
    assert sorted(r["output"] for r in results) == sorted(row["output"] for row in rows)  # every row, once
    assert all(r["status"] == "ok" for r in results) and summary.ok == len(names)
    workers = {r["worker"] for r in results}
    assert any(int(w.rsplit(":", 1)[1]) != killed[0] for w in workers)  # later rows ran on a restarted or other actor
    assert not list(out.rglob("*.part"))


def test_cli_batch_bad_input_exits_2(local_ray, tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "out"), "--model", "tiny"]) == 2
    assert "batch input not found" in capsys.readouterr().err
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,output\na.png,x.png\n")
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--model", "tiny"]) == 2
    assert "lacks the column(s) mask" in capsys.readouterr().err
    manifest.write_text("image,mask,output\na.png,b.png,x.png\nc.png,d.png,x.png\n")
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), "--model", "tiny"]) == 2
    assert "rows 1 and 2 would both write x.png" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_without_ray_the_scaleout_commands_say_what_to_install(monkeypatch, tmp_path, capsys):
    """Ray is optional: with it unimportable, each command stops with one line and exit code 2."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what an interpreter without Ray sees
    assert main(["batch", str(tmp_path), "-o", str(tmp_path / "out"), "--model", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("moebius-edge: error: this command needs Ray") and 'pip install "moebius-edge[ray]"' in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_calibrate_workers_without_ray_address_exits_2(tmp_path, capsys):
    argv = ["calibrate", "--model", "tiny", "--workers", "2", "-o", str(tmp_path / "r.json"), "--report", str(tmp_path / "rep")]
    assert main(argv) == 2
    assert "--workers applies to a recording on Ray: add --ray-address" in capsys.readouterr().err


def test_an_address_nobody_listens_on_fails_in_seconds():
    from edge_sdk.ray_runtime import RayUnavailableError, _probe

    with pytest.raises(RayUnavailableError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        _probe("127.0.0.1:1")
    with pytest.raises(RayUnavailableError, match="must be 'auto' or HOST:PORT"):
        _probe("headnode")
