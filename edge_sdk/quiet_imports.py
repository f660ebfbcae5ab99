"""Silence what third-party libraries print while being imported, before they are imported.

torchao warns about GPU kernels a CPU build lacks, torch's pytree about enum registrations inside torchao,
and diffusers about torchao checkpoint types: none of it concerns an inpainting user. Only those loggers
are quietened (to errors); a user's own logging configuration is left alone.
"""
from __future__ import annotations

import logging
import os

NOISY_LOGGERS = ("torchao", "torch.utils._pytree", "diffusers", "accelerate")


def quiet_third_party_imports() -> None:
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # not configured by the user
            logger.setLevel(logging.ERROR)
