"""int8 calibration of the Moebius step graph (installed as `edge_sdk.calibration`).

The calibration package owns the data, the policy and the evidence; the backends apply the recipe this
package writes when they export. ExecuTorch and Core ML share one path, this package's `pt2e` (torchao PT2E
with XNNPACK's int8 configs; coremltools converts the quantized program); TensorRT quantizes with
nvidia-modelopt and ONNX Runtime with `onnxruntime.quantization`, each reading the recipe's layers and ranges.

- `dataset`: step-graph inputs recorded along real fp32 sampling trajectories, cached by content hash.
- `policy`: which layers may go to int8, which stay out by default, and why.
- `observers`: how an activation range is chosen (min–max, percentile, MSE).
- `pt2e`: a recipe applied to the step graph with torchao PT2E and XNNPACK's configs (`quantize_step_graph`).
- `fake_quant`: the step graph with per-layer switchable quantizers, for the search.
- `sensitivity`: per-layer sensitivity and the mixed-precision choice that meets a PSNR target.
- `drift`: per-step and final-image error of a step graph against the fp32 trajectories.
- `recipe`: the backend-neutral JSON recipe (load, validate, save).
- `report`: report.json, report.md, grid.png, drift.png.
- `calibrate`: all of the above in order (the `moebius-edge calibrate` command).
- `ray_recording`: the recording of `calibrate` spread over Ray workers (`--ray-address`).

Shared with the rest of the SDK, and so below it: the mask generator (`edge_sdk.mask_generator`), the image
metrics (`edge_sdk.image_metrics`) and atomic writes (`edge_sdk.atomic_files`).
"""
