"""Power monitors: energy per operator call measured on the supply of a real board.

A monitor samples the current into the MCU supply while the board's window
GPIO (firmware/boards/<board>/board.c: board_window_begin/end) marks each
timed region. ``bench.power.base`` turns samples and window edges into one
energy figure per window; the drivers speak each instrument's serial
protocol:

- ``lpm01a``: ST X-NUCLEO-LPM01A PowerShield (ASCII commands on its VCP)
- ``ppk2``: Nordic Power Profiler Kit II (ppk2-api when installed, else the
  same serial commands spoken directly)

Chosen by the ``power`` config group (conf/power/{none,lpm01a,ppk2}.yaml).
Without a monitor the energy column is the board yaml's model estimate
(bench/power/energy.py), labelled ``model-estimate``; with one it is labelled
``hardware-measured``.
"""

from __future__ import annotations

from typing import Any, Mapping

from bench.errors import ConfigError
from bench.power.base import PowerMonitor, PowerMonitorError, Window, WindowIntegrator

PROVENANCE = "hardware-measured"

# Columns this package adds to results.csv (bench/collect/results.py COLUMNS).
COLUMNS = ["metric_median", "metric_sd", "metric_rse", "energy_sample_hz", "energy_windows",
           "energy_window_samples", "energy_baseline_mw"]


def make_monitor(power: Mapping | None) -> PowerMonitor | None:
    """The monitor a ``power`` config asks for, not yet opened; None for power=none."""
    if not power or power.get("kind", "none") == "none":
        return None
    kind = power["kind"]
    if kind == "lpm01a":
        from bench.power.lpm01a import PowerShield
        return PowerShield(power)
    if kind == "ppk2":
        from bench.power.ppk2 import PPK2
        return PPK2(power)
    raise ConfigError(f"unknown power monitor kind {kind!r}; valid: none, lpm01a, ppk2")


def attach(target: Any, cfg: Mapping) -> None:
    """Give the target the monitor ``cfg['power']`` asks for (none: nothing to do)."""
    power = cfg.get("power") or {}
    if power.get("kind", "none") == "none":
        return
    if not hasattr(target, "attach_monitor"):
        raise ConfigError(f"power={power.get('kind')} needs a real board; board {cfg['board']['name']} "
                          f"runs on a {cfg['board']['target']['kind']} target (use power=none)")
    target.attach_monitor(make_monitor(power))


def row_columns(m: Any, target: Any) -> dict:
    """Repeatability and measured-energy columns for one case's results row.

    ``m.extra`` holds the result line's fields beyond the classic ones: med,
    sd, rse_ppm from the runner, and pm_* fields the target added from the
    power monitor (window energy, samples, rate, idle baseline).
    """
    extra = getattr(m, "extra", None) or {}
    if not m.measured:
        return {}
    cols: dict = {}
    digits = target.metric_decimals
    if "med" in extra:
        cols["metric_median"] = round(target.counter_to_metric(int(extra["med"]) - m.overhead_ticks), digits)
        cols["metric_sd"] = round(target.counter_to_metric(int(extra.get("sd", 0))), max(digits, 1))
        cols["metric_rse"] = int(extra.get("rse_ppm", 0)) / 1e6
    if "pm_energy_j" in extra:
        hz = float(extra["pm_sample_hz"])
        samples = int(extra["pm_samples"])
        baseline_w = float(extra.get("pm_baseline_w", 0.0))
        window_j = float(extra["pm_energy_j"]) - baseline_w * samples / hz
        cols.update(energy_uj=window_j / m.reps * 1e6, energy_provenance=PROVENANCE, energy_basis="power monitor",
                    energy_sample_hz=hz, energy_windows=1, energy_window_samples=samples,
                    energy_baseline_mw=round(baseline_w * 1e3, 6) if "pm_baseline_w" in extra else "")
    elif getattr(target, "monitor", None) is not None:
        cols.update(energy_uj="", energy_provenance="not-measured", energy_basis="")
    return cols


__all__ = ["PROVENANCE", "PowerMonitor", "PowerMonitorError", "Window", "WindowIntegrator", "make_monitor", "attach", "row_columns", "COLUMNS"]
