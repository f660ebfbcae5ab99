"""`moebius-edge conformance`: the vectors every binding replays (format, and one-line errors)."""
from __future__ import annotations

import json

import numpy as np

from bindings_bundles import tiny_bundle
from edge_sdk.cli import main


def test_vectors_describe_raw_little_endian_files():
    bundle = tiny_bundle("executorch", "fp32")
    index = json.loads((bundle / "conformance" / "vectors.json").read_text())
    assert index["format_version"] == 1 and index["image_size"] == 512 and 0 <= index["step_index"] < index["steps"]
    side, sizes = index["image_size"], {"float32": 4, "int64": 8, "uint8": 1}
    for name, entry in index["tensors"].items():
        file = bundle / "conformance" / entry["file"]
        assert file.stat().st_size == int(np.prod(entry["shape"])) * sizes[entry["dtype"]], name
    tensors = index["tensors"]
    assert tensors["inpaint.image"]["shape"] == [side, side, 4] and tensors["inpaint.mask"]["shape"] == [side, side]
    assert tensors["inpaint.noise"]["shape"] == [1, 4, side // 8, side // 8] and tensors["step.index"]["dtype"] == "int64"
    raw = lambda name: np.fromfile(bundle / "conformance" / tensors[name]["file"], dtype=np.dtype(tensors[name]["dtype"]).newbyteorder("<"))
    assert raw("step.index")[0] == index["step_index"]
    mask, output, image = raw("inpaint.mask"), raw("inpaint.output").reshape(side, side, 4), raw("inpaint.image").reshape(side, side, 4)
    assert set(np.unique(mask)) == {0, 255}
    assert (output[..., 3] == 255).all() and not np.array_equal(output, image)  # the hole was filled


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["conformance", str(tmp_path / "missing")]) == 2
    assert "not a bundle folder" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text("{")
    assert main(["conformance", str(tmp_path), "--sample", "no-such-sample"]) == 2
    err = capsys.readouterr().err
    assert "no bundled sample 'no-such-sample'" in err and len(err.strip().splitlines()) == 1
    assert main(["conformance", str(tmp_path)]) == 2
    assert "not readable JSON" in capsys.readouterr().err
    assert not list(tmp_path.glob(".conformance.*"))  # no half-written folder left behind
