"""The active emulation: the one piece the emulation's core (``core.Emulation``) and its extensions (IAM, events)
share. The core pushes itself here on entry; an extension reads it here, so neither imports the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batch_lustre.emulation.core import Emulation

_ACTIVE: list[Emulation] = []


def active() -> Emulation:
    """The innermost active emulation."""
    if not _ACTIVE:
        raise RuntimeError("no Emulation is active: use `with Emulation(...) as emu:`")
    return _ACTIVE[-1]


def enter(emulation: Emulation) -> None:
    _ACTIVE.append(emulation)


def leave(emulation: Emulation) -> None:
    _ACTIVE.remove(emulation)
