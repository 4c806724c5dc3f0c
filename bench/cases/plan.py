"""The cases of a run, from its config: every subject and the standard
convolutions it is compared with."""

from __future__ import annotations

from typing import Mapping

from bench.cases.spec import CaseSpec, expand_sweep
from bench.errors import ConfigError


def plan_cases(cfg: Mapping) -> list[CaseSpec]:
    """Every case of the run (subjects and their standard references); raises ConfigError."""
    op, sweep = cfg["op"], cfg["sweep"]
    names = list(op["names"])
    if not names:
        raise ConfigError("op.names is empty; choose at least one of standard, depthwise, grouped, pointwise"
                          " (or add, mul, relu6, avgpool, maxpool)")
    shapes = list(sweep.get("shapes") or [])
    if not shapes:
        raise ConfigError(f"sweep {sweep.get('name')!r} lists no shapes")
    return expand_sweep(names, shapes, groups=int(op["groups"]),
                        depth_multiplier=int(op["depth_multiplier"]),
                        padding=str(sweep.get("padding", "same")), seed=int(sweep.get("seed", 0)))
