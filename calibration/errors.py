"""Calibration's user-facing errors: one-line messages the CLI prints before exiting with code 2."""
from edge_sdk.errors import EdgeSDKError


class CalibrationError(EdgeSDKError):
    """Bad calibration input: an empty image folder, masks that do not match, impossible settings."""


class RecipeError(EdgeSDKError):
    """A recipe file that cannot be read or does not follow the recipe format."""
