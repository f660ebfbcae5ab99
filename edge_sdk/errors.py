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
