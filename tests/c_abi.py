"""The C ABI (bindings/cpp/include/moebius_edge.h, version 2) through ctypes, with every signature declared."""
from __future__ import annotations

import ctypes
from pathlib import Path

_ptr, _size, _i32, _u32, _i64, _u64 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_uint32, ctypes.c_int64, ctypes.c_uint64


class Info(ctypes.Structure):
    _fields_ = [
        ("struct_size", _u32),
        ("image_size", _i32),
        ("latent_size", _i32),
        ("latent_channels", _i32),
        ("steps", _i32),
        ("strength", ctypes.c_float),
        ("guidance_scale", ctypes.c_float),
        ("backend", ctypes.c_char_p),
        ("precision", ctypes.c_char_p),
        ("model", ctypes.c_char_p),
        ("start_signal", ctypes.c_float),
        ("start_noise", ctypes.c_float),
    ]


class Timings(ctypes.Structure):
    _fields_ = [(name, ctypes.c_double) for name in ("open_ms", "encode_ms", "denoise_ms", "step_min_ms", "step_mean_ms", "step_max_ms", "decode_ms", "paste_ms", "total_ms")] + [("steps", _i32)]


_SIGNATURES = {
    "moebius_abi_version": (_i32, []),
    "moebius_last_error": (ctypes.c_char_p, []),
    "moebius_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "moebius_open": (ctypes.c_int, [ctypes.c_char_p, _u32, ctypes.POINTER(_ptr)]),
    "moebius_close": (None, [_ptr]),
    "moebius_get_info": (ctypes.c_int, [_ptr, _ptr]),
    "moebius_inpaint": (ctypes.c_int, [_ptr, _ptr, _size, _i32, _i32, _ptr, _size, _ptr, _size, _u64, _ptr, _size]),
    "moebius_get_timings": (ctypes.c_int, [_ptr, _ptr]),
    "moebius_get_step_times": (ctypes.c_int, [_ptr, _ptr, _size, ctypes.POINTER(_size)]),
    "moebius_encode": (ctypes.c_int, [_ptr, _ptr, _size, _ptr, _size, _ptr, _size, _ptr, _size, _ptr, _size]),
    "moebius_step": (ctypes.c_int, [_ptr, _ptr, _size, _ptr, _size, _ptr, _size, _i64, _ptr, _size]),
    "moebius_decode": (ctypes.c_int, [_ptr, _ptr, _size, _ptr, _size]),
    "moebius_paste_hole": (ctypes.c_int, [_ptr, _size, _ptr, _size, _ptr, _size, _i32, _i32, _ptr, _size]),
    "moebius_seeded_noise": (ctypes.c_int, [_u64, _ptr, _size]),
}


def load(library: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(library))
    for name, (result, arguments) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = result, arguments
    return lib


def pointer(array) -> ctypes.c_void_p | None:
    """A numpy array's data (None stays NULL)."""
    return None if array is None else array.ctypes.data_as(ctypes.c_void_p)
