"""Scale-out on Ray: batch inpainting over datasets, distributed calibration recording, a device farm for
the benchmark. Ray is optional: only these modules import it, lazily, through `ray_runtime.require_ray`."""
