"""Errors about bundles and backends: user-facing, one line each (the CLI prints them and exits 2)."""
from edge_sdk.errors import EdgeSDKError


class BundleError(EdgeSDKError):
    """A bundle directory that is missing, incomplete, changed or from an unknown format version."""


class BackendUnavailableError(EdgeSDKError):
    """A backend or runtime that this machine cannot provide (the message says why and what would)."""


class ExportError(EdgeSDKError):
    """An export request that cannot be carried out (unsupported precision, missing recipe, ...)."""
