"""User-facing errors: each carries a one-line message the CLI prints before exiting with code 2."""


class EdgeSDKError(Exception):
    """A mistake in what the user passed (a file, a setting), not a bug in the SDK."""


class ConfigError(EdgeSDKError):
    pass


class CheckpointError(EdgeSDKError):
    pass


class InputImageError(EdgeSDKError):
    pass


class OutputPathError(EdgeSDKError):
    """An output that cannot be written where the user asked (a folder, a read-only place, the input itself)."""


# Bundles and backends: defined here, below both, because backends raise them and bundles import backends.
class BundleError(EdgeSDKError):
    """A bundle directory that is missing, incomplete, changed or from an unknown format version."""


class BackendUnavailableError(EdgeSDKError):
    """A backend or runtime that this machine cannot provide (the message says why and what would)."""


class ExportError(EdgeSDKError):
    """An export request that cannot be carried out (unsupported precision, missing recipe, ...)."""
