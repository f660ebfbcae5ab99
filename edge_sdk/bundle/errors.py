"""Former home of the bundle and backend errors, now in `edge_sdk.errors` (below both layers).

Kept only for `backends/executorch/export.py`, which still imports it from here; once that import reads
`edge_sdk.errors`, delete this module and its entry in tests/test_architecture.py's PENDING_IMPORTS.
"""
from edge_sdk.errors import BackendUnavailableError, BundleError, ExportError

__all__ = ["BackendUnavailableError", "BundleError", "ExportError"]
