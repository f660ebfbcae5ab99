"""What the Kotlin host check (bindings/cpp/android/hostTest) must get, from the C ABI called directly.

Run as a subprocess by tests/test_bindings_kotlin.py (so ExecuTorch's runtime loads in a process of its own):
    python kotlin_check_reference.py LIBMOEBIUS_EDGE CONFIG OUT
It makes the host check's calls with the same arguments, writes the pictures (raw RGBA) and seeded_noise.f32
under OUT, and OUT/errors.json: {case: "code|status|message"}.
"""
from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import numpy as np

import c_abi


def _properties(path: Path) -> dict[str, str]:
    entries = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in entries}


class Reference:
    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        self.errors: dict[str, str] = {}

    def record(self, case: str, status: int) -> None:
        if status == 0:
            self.errors[case] = "no exception"
        else:
            self.errors[case] = f"{status}|{self.lib.moebius_status_name(status).decode()}|{self.lib.moebius_last_error().decode()}"

    def inpaint(self, engine, rgba, side, mask, noise=None, seed=0, out_size=None) -> tuple[int, np.ndarray]:
        out = np.zeros(rgba.size if out_size is None else out_size, np.uint8)
        status = self.lib.moebius_inpaint(
            engine, c_abi.pointer(rgba), rgba.size, side, side, c_abi.pointer(mask), mask.size,
            c_abi.pointer(noise), 0 if noise is None else noise.size, seed, c_abi.pointer(out), out.size,
        )
        return status, out


def main(library: str, config_path: str, out_dir: str) -> int:
    lib = c_abi.load(Path(library))
    config, out = _properties(Path(config_path)), Path(out_dir)
    reference = Reference(lib)
    rgba = np.fromfile(config["image"], np.uint8)
    mask = np.fromfile(config["mask"], np.uint8)
    noise = np.fromfile(config["noise"], np.dtype("<f4")).astype(np.float32)
    seed = int(config["seed"])
    for name in config["bundles"].split(","):
        engine = ctypes.c_void_p()
        assert lib.moebius_open(config[f"{name}.dir"].encode(), 0, ctypes.byref(engine)) == 0, lib.moebius_last_error()
        info = c_abi.Info(struct_size=ctypes.sizeof(c_abi.Info))
        assert lib.moebius_get_info(engine, ctypes.byref(info)) == 0, lib.moebius_last_error()
        side, latents, latent_pixels = info.image_size, info.latent_channels * info.latent_size**2, info.latent_size**2
        for label, arguments in (("noise", dict(noise=noise)), ("seeded", dict(seed=seed))):
            status, picture = reference.inpaint(engine, rgba, side, mask, **arguments)
            assert status == 0, lib.moebius_last_error()
            picture.tofile(out / f"{name}.{label}.rgba")
        if name == config["error_bundle"]:
            zeros = lambda count: np.zeros(count, np.float32)
            small = side // 2
            reference.record("short_rgba", reference.inpaint(engine, rgba[:-1], side, mask)[0])
            reference.record("short_mask", reference.inpaint(engine, rgba, side, mask[:side])[0])
            reference.record("short_noise", reference.inpaint(engine, rgba, side, mask, noise=zeros(10))[0])
            reference.record("wrong_image_size", reference.inpaint(engine, np.zeros(small * small * 4, np.uint8), small, np.zeros(small * small, np.uint8))[0])
            image, hole = zeros(3), zeros(side * side)
            masked, mask_latent = zeros(latents), zeros(latent_pixels)
            reference.record("short_image_tensor", lib.moebius_encode(
                engine, c_abi.pointer(image), image.size, c_abi.pointer(hole), hole.size, c_abi.pointer(masked), masked.size,
                c_abi.pointer(mask_latent), mask_latent.size, None, 0))
            step = lambda x, index: lib.moebius_step(
                engine, c_abi.pointer(x), x.size, c_abi.pointer(masked), masked.size, c_abi.pointer(mask_latent), mask_latent.size,
                index, c_abi.pointer(next_x), next_x.size)
            next_x = zeros(latents)
            reference.record("short_x", step(zeros(5), 0))
            reference.record("step_index_out_of_range", step(zeros(latents), info.steps))
            x, decoded = zeros(7), zeros(3 * side * side)
            reference.record("short_decode_x", lib.moebius_decode(engine, c_abi.pointer(x), x.size, c_abi.pointer(decoded), decoded.size))
            reference.record("closed_engine_inpaint", reference.inpaint(None, rgba, side, mask)[0])
            reference.record("closed_engine_timings", lib.moebius_get_timings(None, ctypes.byref(c_abi.Timings())))
        lib.moebius_close(engine)
    for case in ("missing_bundle", "corrupt_bundle"):
        reference.record(case, lib.moebius_open(config[case].encode(), 0, ctypes.byref(ctypes.c_void_p())))
    pixels, short_mask, pasted = np.zeros(16, np.uint8), np.zeros(3, np.uint8), np.zeros(16, np.uint8)
    reference.record("short_paste_mask", lib.moebius_paste_hole(
        c_abi.pointer(pixels), 16, c_abi.pointer(pixels), 16, c_abi.pointer(short_mask), 3, 2, 2, c_abi.pointer(pasted), 16))
    seeded = np.zeros(1001, np.float32)
    assert lib.moebius_seeded_noise(seed, c_abi.pointer(seeded), seeded.size) == 0
    seeded.astype("<f4").tofile(out / "seeded_noise.f32")
    (out / "errors.json").write_text(json.dumps(reference.errors, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
