"""Energy per operator call when no power monitor measured it: a model estimate.

E = cycles / f_clk * P_active, with cycles = metric * cycles_per_unit (for an
emulator counting instructions, cycles_per_unit is the stated CPI assumption).
Every parameter comes from the board yaml with its source, so the figure is
reproducible, and it is always labelled ``model-estimate``.
"""

from __future__ import annotations

from typing import Mapping

from bench.errors import ConfigError

PROVENANCE = "model-estimate"


def energy_uj(metric_value: float, model: Mapping, cycles: float | None = None) -> float:
    """Energy per call; ``cycles`` (an estimate from bench.cycle_model), when given,
    replaces metric x cycles_per_unit, so emulated boards are not charged one
    cycle per instruction."""
    try:
        if cycles is None:
            cycles = metric_value * float(model["cycles_per_unit"])
        seconds = cycles / float(model["clock_hz"])
        return seconds * float(model["active_power_mw"]) * 1e-3 * 1e6
    except KeyError as exc:
        raise ConfigError(f"board energy_model lacks {exc.args[0]!r}") from None


def basis(unit: str, model: Mapping, cycles_model: str | None = None,
          estimated_cycles: float | None = None) -> str:
    """What a model-estimate energy was computed from, for results.csv's energy_basis."""
    if estimated_cycles is not None:
        return f"estimated cycles ({cycles_model or 'core cycle model'})"
    return f"{unit} x {model.get('cycles_per_unit')} cycles/{unit.rstrip('s')}"


def describe(model: Mapping) -> str:
    return (f"E = units x {model['cycles_per_unit']} cycles/unit / {float(model['clock_hz']) / 1e6:g} MHz"
            f" x {model['active_power_mw']} mW ({model.get('source', 'no source given')})")
