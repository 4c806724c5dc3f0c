"""Decisions that hold for a whole run, written into its folder when it starts.

Some choices depend on the run as a whole: whether the instruction mix is made
(and so whether energy comes from estimated cycles or from a stated CPI), the
metric's unit and provenance, the energy model. Taken again on resume from the
cases still to run, they could change half-way: one run with two energy
bases, and η_op empty for every pair that straddles them. So they are taken
once, from every planned case, written to ``run_decisions.json`` and read back
when the folder is resumed; a resume only carries rows over from a run folder
whose decisions are the same (bench/store/resume.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping

from bench.errors import ConfigError

log = logging.getLogger(__name__)

DECISIONS_FILE = "run_decisions.json"


def decide(cfg: Mapping, total_macs: int, target, run_dir: Path) -> dict:
    """The run's decisions: read back from ``run_dir`` when it is resumed and has them,
    else taken and written. ``total_macs``: of every planned case, carried over or not."""
    fresh = {
        "instruction_mix": instruction_mix(cfg, total_macs),
        "metric_unit": target.unit,
        "provenance": target.provenance,
        "energy_model": dict(cfg["board"].get("energy_model") or {}),
        "power": (cfg.get("power") or {}).get("kind", "none"),
        # The QEMU cycle plugin's model when the run estimates cycles (energy comes from them).
        "cycles_model": getattr(getattr(target, "estimator", None), "model_name", None),
    }
    recorded = read(run_dir) if (cfg.get("run") or {}).get("resume") else None
    if recorded is not None:
        asked = (cfg.get("run") or {}).get("instruction_mix", "auto")
        if asked != "auto" and asked != recorded.get("instruction_mix"):
            raise ConfigError(f"run.instruction_mix={asked}: {run_dir} was started with instruction_mix="
                              f"{recorded.get('instruction_mix')}; resume it with that, or start a new run folder")
        changed = [k for k in fresh if k != "instruction_mix" and recorded.get(k) != fresh[k]]
        if changed:
            raise ConfigError(f"{run_dir} was started with other {', '.join(changed)} "
                              f"({', '.join(f'{k}={recorded.get(k)!r}' for k in changed)}); "
                              "results of one run must share them: start a new run folder")
        if recorded["instruction_mix"] != fresh["instruction_mix"]:
            log.info("resume: keeping this run's instruction_mix=%s, decided when it started",
                     recorded["instruction_mix"])
        return recorded
    (run_dir / DECISIONS_FILE).write_text(json.dumps(fresh, indent=1, sort_keys=True, default=str))
    return fresh


def read(run_dir: Path) -> dict | None:
    try:
        data = json.loads((Path(run_dir) / DECISIONS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("instruction_mix"), bool) else None


def instruction_mix(cfg: Mapping, macs: int) -> bool:
    """run.instruction_mix, with auto decided from the MACs of every planned case."""
    run = cfg["run"]
    mode = run.get("instruction_mix", "auto")
    if isinstance(mode, bool):
        return mode
    if mode != "auto":
        raise ConfigError(f"run.instruction_mix={mode!r}: use auto, true or false")
    limit = float(run.get("instruction_mix_max_macs", 2e7))
    if macs > limit:
        log.info("instruction mix skipped: %.3g MACs in this run > run.instruction_mix_max_macs=%.3g "
                 "(it runs ~25x slower than QEMU); run.instruction_mix=true makes it, energy then "
                 "comes from estimated cycles", macs, limit)
    return macs <= limit
