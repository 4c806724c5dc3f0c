"""Where images run: emulators and boards. Each target turns an ELF into framed records."""

from __future__ import annotations

from typing import Mapping

from bench.errors import ConfigError
from bench.targets.base import RunOutcome, Target


def make_target(board: Mapping) -> Target:
    kind = board["target"]["kind"]
    if kind == "qemu":
        from bench.targets.qemu import QemuTarget
        return QemuTarget(board)
    if kind == "pyocd":
        from bench.targets.pyocd_target import PyOCDTarget
        return PyOCDTarget(board)
    if kind == "renode":
        from bench.targets.renode import RenodeTarget
        return RenodeTarget(board)
    raise ConfigError(f"board {board['name']}: unknown target kind {kind!r}; valid kinds: qemu, pyocd, renode")


__all__ = ["RunOutcome", "Target", "make_target"]
