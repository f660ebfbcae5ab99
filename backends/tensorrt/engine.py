"""Building a TensorRT engine from a bundle's ONNX file with the `tensorrt` Python API.

Only where `tensorrt` imports (an NVIDIA GPU machine or a Jetson); the export elsewhere prints the
equivalent `trtexec` line instead. Not exercised on the CPU-only machines this SDK is tested on.
"""
from __future__ import annotations

from pathlib import Path

from edge_sdk.atomic_files import write_atomic
from edge_sdk.errors import ExportError


def build_engine(onnx_path: Path, engine_path: Path, timing_cache_path: Path, input_specs: list[dict]) -> None:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # Strongly typed: the ONNX types and Q/DQ nodes decide each layer's precision (no builder precision flags).
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    cache_bytes = timing_cache_path.read_bytes() if timing_cache_path.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    profile = builder.create_optimization_profile()
    for spec in input_specs:
        shape = tuple(spec["shape"])
        profile.set_shape(spec["name"], shape, shape, shape)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT could not build an engine for {onnx_path.name}")
    write_atomic(engine_path, lambda temporary: temporary.write_bytes(bytes(serialized)))
    timing_cache_path.write_bytes(bytes(config.get_timing_cache().serialize()))
