"""What a model must tell its user (random weights, a small model's limits): once per process in Python.

The CLI prints the same text as a `moebius-edge: note:` line on each run and silences this warning.
"""
from __future__ import annotations

import warnings


class ModelNotice(UserWarning):
    """A fact about the model's output quality that the user must know."""


_TOLD: set[str] = set()


def warn_once(message: str) -> None:
    if message not in _TOLD:
        _TOLD.add(message)
        warnings.warn(message, ModelNotice, stacklevel=3)
