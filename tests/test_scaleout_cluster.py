"""Scale-out on a two-node Ray cluster on this machine (`ray.cluster_utils.Cluster`, 1 CPU and 200 MB of
object store per node, one cluster for the module): batch inpainting spread over both nodes, distributed
calibration against the single-process recipe, and the bench device farm (two fake devices; a node removed
mid-run gives a failed row)."""
import json
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from scaleout_data import write_manifest, write_rows
from test_bench import tiny_bundle  # noqa: F401  (the cached tiny ExecuTorch bundle fixture)

ray = pytest.importorskip("ray", reason="Ray is in requirements.txt; without it the scale-out commands say so")
from ray.cluster_utils import Cluster  # noqa: E402

from edge_sdk.scaleout.batch import batch  # noqa: E402
from edge_sdk.scaleout.batch_results import read_results  # noqa: E402

NODE = dict(num_cpus=1, object_store_memory=200 * 1024**2)
CALIBRATION_STEPS = 4


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args=dict(NODE, resources={"device:fake-a": 1}, include_dashboard=False))
    second = cluster.add_node(**NODE, resources={"device:fake-b": 1})
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster, second
    ray.shutdown()
    cluster.shutdown()


def node_ids():
    return {node["NodeID"] for node in ray.nodes() if node["Alive"]}


def test_batch_on_two_nodes_matches_single_process(cluster, tmp_path):
    from edge_sdk.pipeline import InpaintPipeline

    rows = write_rows(tmp_path / "in", ["astronaut", "rocket"], seeds=[5, 9])
    summary = batch(write_manifest(tmp_path / "in" / "rows.csv", rows), tmp_path / "out", model="tiny", steps=1, actors=2, progress=False)
    assert (summary.ok, summary.failed, summary.actors) == (2, 0, 2)
    results = {r["output"]: r for r in read_results(tmp_path / "out")}
    assert sorted(results) == sorted(row["output"] for row in rows)  # the pool: one actor on each 1-CPU node
    torch.set_num_threads(1)
    pipe = InpaintPipeline.from_preset("tiny")
    for row in rows:
        expected = pipe(tmp_path / "in" / row["image"], tmp_path / "in" / row["mask"], steps=1, seed=row["seed"], progress=False)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / row["output"])), np.asarray(expected))


def test_distributed_calibration_gives_the_single_process_recipe(cluster, tmp_path):
    """minmax ranges merge exactly (min of minima, max of maxima), so `calibrate --ray-address` on two nodes
    writes the single-process recipe bit for bit: the int8 layer set, every scale and zero point, the data
    hash. (mse and percentile merge histograms on a shared grid: calibration/ray_recording.py and
    benchmarks/results/scaleout_nano.md give the measured difference.)"""
    from edge_sdk.calibration.calibrate import CalibrationOptions, calibrate
    from edge_sdk.calibration.recipe import load_recipe
    from edge_sdk.cli import main
    from edge_sdk.pipeline import InpaintPipeline

    torch.set_num_threads(1)
    pipe = InpaintPipeline.from_preset("tiny")
    settings = dict(num_images=2, steps_per_image=2, steps=CALIBRATION_STEPS, observer="minmax", eval_images=1,
                    sensitivity_samples=1, epsilon_layers=1, max_evaluations=1)
    single = calibrate(pipe.denoiser, pipe.vae, CalibrationOptions(**settings, cache_dir=None, progress=False))
    argv = ["calibrate", "--model", "tiny", "--no-cache", "--ray-address", "auto", "--workers", "2",
            "-o", str(tmp_path / "recipe.json"), "--report", str(tmp_path / "report")]
    for name, value in settings.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    assert main(argv) == 0
    spread = load_recipe(tmp_path / "recipe.json")
    assert spread.count("int8") > 0 and spread.to_dict() == single.recipe.to_dict()
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["psnr_db"] == pytest.approx(single.report["psnr_db"], abs=1e-9)


def test_bench_farm_merges_two_devices_and_a_lost_node_gives_a_failed_row(cluster, tiny_bundle, tmp_path):  # noqa: F811
    from edge_sdk.cli import main

    head_and_second = node_ids()
    out = tmp_path / "farm"
    # Python rows only (the C++ runner's rows, where it is built, are test_bench's).
    argv = ["bench", str(tiny_bundle), "--steps", "1", "--warmup", "0", "--samples", "0", "--no-memory", "--threads", "1", "--no-cpp"]
    assert main([*argv, "--ray-address", "auto", "--devices", "fake-a,fake-b", "--out", str(out)]) == 0
    document = json.loads((out / "bench.json").read_text())
    rows = [document["reference"], *document["bundles"]]
    assert [(r["device"], r["backend"]) for r in rows] == [("fake-a", "pytorch"), ("fake-a", "executorch"), ("fake-b", "pytorch"), ("fake-b", "executorch")]
    hosts = {d["device"]: d["host"]["ray_node_id"] for d in document["farm"]}
    assert all(d["status"] == "ok" for d in document["farm"]) and len(set(hosts.values())) == 2 and set(hosts.values()) == head_and_second
    assert "tiny-executorch-fp32 @ fake-b" in (out / "bench.md").read_text() and (out / "bench.png").stat().st_size > 0

    # A third device whose node is removed while its measurement is scheduled or running.
    cluster_, _ = cluster
    third = cluster_.add_node(**NODE, resources={"device:fake-c": 1})
    cluster_.wait_for_nodes()

    def remove_third():
        time.sleep(2.0)
        cluster_.remove_node(third)

    remover = threading.Thread(target=remove_third)
    remover.start()
    lost = tmp_path / "lost"
    assert main([*argv, "--ray-address", "auto", "--devices", "fake-b,fake-c", "--out", str(lost)]) == 0
    remover.join()
    document = json.loads((lost / "bench.json").read_text())
    farm = {d["device"]: d for d in document["farm"]}
    assert farm["fake-b"]["status"] == "ok" and farm["fake-c"]["status"] == "failed" and farm["fake-c"]["error"]
    assert {r["device"] for r in [document["reference"], *document["bundles"]]} == {"fake-b"}
    assert "failed:" in (lost / "bench.md").read_text()


def test_farm_device_no_node_advertises_is_a_failed_row_and_all_failed_exits_2(cluster, tiny_bundle, tmp_path, capsys):  # noqa: F811
    from edge_sdk.cli import main

    argv = ["bench", str(tiny_bundle), "--steps", "1", "--warmup", "0", "--samples", "0", "--no-memory", "--ray-address", "auto"]
    assert main([*argv, "--devices", "nowhere", "--out", str(tmp_path / "none")]) == 2
    assert "every device failed: nowhere: no node of the cluster advertises the resource device:nowhere" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    assert main(["bench", str(tiny_bundle), "--devices", "fake-a", "--out", str(tmp_path / "x")]) == 2
    assert "--devices needs --ray-address" in capsys.readouterr().err
