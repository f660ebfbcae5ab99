"""Core ML export: each graph → `torch.export` → `coremltools.convert` → an ML program (`.mlpackage`).

- fp16: the fp32 programs converted with fp16 compute precision (iOS 18 / macOS 15 ML programs).
- w8: the fp16 packages with int8 weights (`coremltools.optimize.coreml.linear_quantize_weights`,
  symmetric per output channel), all three graphs.
- int8 (W8A8): the step graph quantized in torch with PT2E from the recipe (`quantize.py`); coremltools
  converts its quantize/dequantize pairs into Core ML's quantize/dequantize ops. VAE graphs fp16.
Core ML's own activation quantization and prediction need macOS; exporting and inspecting work anywhere.
"""
from __future__ import annotations

import collections
import shutil
import time
from pathlib import Path

import torch

from edge_sdk.backends.base import ExportResult, Progress, ProgramCache
from edge_sdk.deploy.graph_contract import GRAPH_NAMES, io_names

SUFFIX = ".mlpackage"


def convert(program: torch.export.ExportedProgram, input_names, output_names):
    """An ML program from an exported program, with the bundle's input and output names."""
    import coremltools as ct

    model = ct.convert(
        program.run_decompositions({}),
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS18,
        compute_precision=ct.precision.FLOAT16,
        skip_model_load=True,
    )
    spec = model.get_spec()
    for feature, name in zip(spec.description.input, input_names):
        if feature.name != name:
            ct.utils.rename_feature(spec, feature.name, name)
    for feature, name in zip(spec.description.output, output_names):
        if feature.name != name:
            ct.utils.rename_feature(spec, feature.name, name)
    return ct.models.MLModel(spec, weights_dir=model.weights_dir, skip_model_load=True)


def quantize_weights(model):
    import coremltools.optimize.coreml as cto

    config = cto.OptimizationConfig(
        global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel")
    )
    return cto.linear_quantize_weights(model, config=config)


def save_package(model, path: Path) -> None:
    # coremltools insists on the .mlpackage suffix, so the temporary name keeps it.
    partial = path.with_name(f".partial-{path.name}")
    shutil.rmtree(partial, ignore_errors=True)
    model.save(str(partial))
    partial.replace(path)


def program_operations(spec) -> collections.Counter:
    """Count of MIL op types in an ML program spec (nested blocks included)."""
    counts: collections.Counter = collections.Counter()

    def visit(block):
        for op in block.operations:
            counts[op.type] += 1
            for inner in op.blocks:
                visit(inner)

    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            visit(block)
    return counts


def describe_package(path: Path) -> dict:
    """Inputs, outputs and op types of a saved `.mlpackage` (no model load: works on Linux)."""
    import coremltools as ct

    spec = ct.utils.load_spec(str(path))

    def features(items):
        out = []
        for feature in items:
            array = feature.type.multiArrayType
            out.append({"name": feature.name, "shape": [int(d) for d in array.shape], "dtype": ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(array.dataType)})
        return out

    return {
        "inputs": features(spec.description.input),
        "outputs": features(spec.description.output),
        "operations": dict(sorted(program_operations(spec).items())),
        "specification_version": spec.specificationVersion,
    }


def export_graphs(graphs, precision: str, recipe, out_dir: Path, *, programs: ProgramCache, calibration, progress: Progress) -> ExportResult:
    inputs = graphs.example_inputs()
    exported = {name: None for name in GRAPH_NAMES}
    seconds, details = {}, {"minimum_deployment_target": "iOS18", "compute_precision": "fp16"}
    graph_precisions = {name: ("w8" if precision == "w8" else "fp16") for name in GRAPH_NAMES}
    if precision == "int8":
        from edge_sdk.backends.coreml.quantize import pt2e_step_program

        start = time.perf_counter()
        progress("step: quantizing in torch with PT2E from the recipe (W8A8)")
        exported["step"], details["quantization"] = pt2e_step_program(graphs, recipe, inputs["step"], calibration)
        graph_precisions["step"] = "int8"
        seconds["quantize_step"] = time.perf_counter() - start
    files, packages = {}, {}
    for name in GRAPH_NAMES:
        start = time.perf_counter()
        progress(f"{name}: converting with coremltools (ML program, fp16)")
        names_in, names_out = io_names(graphs, name)
        if exported[name] is not None:
            model = convert(exported[name], names_in, names_out)
        else:  # the fp16 package is the starting point of the w8 one too: convert once per ProgramCache
            model = programs.memo(("coreml-fp16", name), lambda: convert(programs.program(name), names_in, names_out))
        if precision == "w8":
            progress(f"{name}: int8 weights (linear_quantize_weights, symmetric per channel)")
            model = quantize_weights(model)
        files[name] = f"{name}{SUFFIX}"
        save_package(model, out_dir / files[name])
        packages[name] = describe_package(out_dir / files[name])
        seconds[f"convert_{name}"] = time.perf_counter() - start
    details["packages"] = {
        name: {"inputs": p["inputs"], "outputs": p["outputs"], "operation_count": sum(p["operations"].values()),
               "quantization_ops": {k: v for k, v in p["operations"].items() if "quantize" in k}}
        for name, p in packages.items()
    }
    return ExportResult(files=files, graph_precisions=graph_precisions, details=details, seconds=seconds)
