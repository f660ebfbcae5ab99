"""Scale-out on Ray: batch inpainting over datasets, distributed calibration recording, a device farm for
the benchmark (the recording itself is `edge_sdk.calibration.ray_recording`). Ray is optional: only these
modules and that one import it, lazily, through `edge_sdk.ray_runtime.require_ray`."""
