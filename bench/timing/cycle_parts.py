"""The parts of an estimate (static schedule, branch refills, mispredicts, carried
stalls) and a board's pipeline fit applied to them.

Shared by the plugin's window reader (``qemu_cycles``), the fit
(``calibrate_pipeline``) and runs that use a fit (``timing.fitted``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import yaml

from bench.errors import ConfigError

PARTS = ("static", "branch", "mispredicts", "stall")   # mispredicts is a count, the others cycles
WEIGHTS = {"static": "static_scale", "branch": "branch_scale", "mispredicts": "mispredict_cycles",
           "stall": "stall_scale"}


def parse_parts(text: str) -> dict:
    """``static=..;branch=..;..`` (results.csv's cycles_parts) back to numbers."""
    out = {}
    for item in str(text).split(";"):
        key, _, value = item.partition("=")
        if key in PARTS:
            out[key] = float(value)
    return out


def load_fit(path: Path) -> dict:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"fitted timing model {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "pipeline-fit":
        raise ConfigError(f"{path} is not a pipeline fit (python -m bench calibrate --pipeline writes one)")
    return doc


def apply(fitted: Mapping, parts: Mapping) -> float:
    """Cycles of one case from its parts with the fitted weights."""
    return sum(float(fitted["weights"][WEIGHTS[p]]["value"]) * float(parts[p]) for p in PARTS)
