"""Bundles: one directory per exported model (manifest, three graphs, a test vector), and loading one.

    bundle = edge_sdk.load("bundles/tiny-executorch-fp32")   # hashes checked, runtime opened
    result = bundle.inpaint("photo.jpg", "mask.png", seed=0)

Export with `export_bundle(graphs, backend, precision, out_dir, recipe=...)`; check with `verify_bundle`.
"""
from edge_sdk.errors import BackendUnavailableError, BundleError, ExportError

__all__ = ["BundleError", "BackendUnavailableError", "ExportError", "export_bundle", "load", "read_bundle", "verify_bundle"]


def __getattr__(name):
    if name == "export_bundle":
        from edge_sdk.bundle.export import export_bundle

        return export_bundle
    if name == "load":
        from edge_sdk.bundle.inpaint_bundle import load

        return load
    if name == "read_bundle":
        from edge_sdk.bundle.manifest import read_bundle

        return read_bundle
    if name == "verify_bundle":
        from edge_sdk.bundle.verify import verify_bundle

        return verify_bundle
    raise AttributeError(f"module 'edge_sdk.bundle' has no attribute {name!r}")
