"""The module-swapping step the rewrites share: replace every submodule of one kind by its rewritten form."""
from __future__ import annotations

from typing import Callable, Optional

from torch import nn


def swap_modules(
    module: nn.Module, kind: type, rewrite: Callable[[nn.Module], nn.Module], where: Optional[Callable[[nn.Module], bool]] = None
) -> nn.Module:
    """Replace, in place, every submodule of `module` that is a `kind` (and passes `where`, if given) by
    `rewrite(submodule)`; returns `module`."""
    for owner in list(module.modules()):
        for name, child in list(owner.named_children()):
            if isinstance(child, kind) and (where is None or where(child)):
                setattr(owner, name, rewrite(child))
    return module
