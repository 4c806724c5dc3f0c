"""Roofline of MACs per instruction or cycle against arithmetic intensity, with a memory roof
and per-core compute ceilings that are stated (instruction-set) figures, not measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .plot_style import finish, op_style, plt

# MACs one instruction can do on int8 data, per core (Arm ISA: what the widest multiply-
# accumulate instruction of the core's instruction set does), and what a scalar kernel
# (plain C, no SIMD intrinsics, as `ref` is) can do at best.
CEILINGS = {
    "cortex-m0plus": [(0.5, "MULS + ADDS: 1 MAC / 2 instructions (Armv6-M, no MLA)")],
    "cortex-m3": [(1.0, "MLA: 1 MAC / instruction")],
    "cortex-m4": [(2.0, "SMLAD: 2 MACs / instruction (DSP SIMD)"), (1.0, "MLA: 1 MAC / instruction (scalar)")],
    "cortex-m7": [(2.0, "SMLAD: 2 MACs / instruction (DSP SIMD)"), (1.0, "MLA: 1 MAC / instruction (scalar)")],
    "cortex-m33": [(2.0, "SMLAD: 2 MACs / instruction (DSP SIMD)"), (1.0, "MLA: 1 MAC / instruction (scalar)")],
    "cortex-m55": [(16.0, "VMLADAV.S8: 16 MACs / instruction (MVE)"), (2.0, "SMLAD: 2 MACs / instruction")],
}
# Memory roof: a load instruction moves at most 4 bytes (LDR; LDRD's 8 is rare in kernels), and
# the call must touch every weight, input and output byte at least once, so MACs per instruction
# cannot exceed 4 x (MACs per byte touched). Kernels re-read data, so the true roof is lower.
BYTES_PER_LOAD = 4.0
SOURCE = ("ceilings are instruction-set figures per core (widest int8 multiply-accumulate per instruction), "
          f"and the memory roof assumes at most {BYTES_PER_LOAD:g} bytes per load instruction over the bytes "
          "the call must touch once (weights + input + output): stated bounds, not measurements")


def _core(table: pd.DataFrame) -> pd.Series:
    core = table["core"].fillna("").astype(str) if "core" in table else pd.Series("", index=table.index)
    mcpu = table["cflags"].astype(str).str.extract(r"-mcpu=(cortex-m[0-9a-z+]+)")[0].fillna("")
    return core.where(core != "", mcpu).str.replace("+", "plus", regex=False)


def _panels(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame, pd.Series, str]]:
    """(unit, rows, MACs per unit, y label) per kind of count; never mixed in one panel."""
    panels = []
    hw = table[table["metric_unit"] == "cycles"]
    if len(hw):
        panels.append(("cycle", hw, hw["macs"] / hw["metric"], "MACs per cycle (hardware-measured)"))
    emu = table[table["metric_unit"] == "instructions"]
    if len(emu):
        panels.append(("instruction", emu, emu["macs"] / emu["metric"], "MACs per instruction (emulator-count)"))
    if "macs_per_cycle_estimated" in table and table["macs_per_cycle_estimated"].notna().any():
        est = table[table["macs_per_cycle_estimated"].notna()]
        panels.append(("estimated cycle", est, est["macs_per_cycle_estimated"],
                       "MACs per estimated cycle (model-estimate)"))
    return panels


def roofline(table: pd.DataFrame, path: Path) -> Path:
    """One panel per kind of count; colour = operator, marker = series (board / library)."""
    table = table.assign(_core=_core(table))
    panels = _panels(table)
    fig, axes = plt.subplots(1, max(len(panels), 1), squeeze=False, dpi=120,
                             figsize=(6.6 * max(len(panels), 1) + 2.2, 4.8))
    markers = ["o", "s", "^", "D", "v", "P", "X"]
    series = sorted(set(zip(table["board"], table["kernels"])))
    for ax, (unit, sub, y, ylabel) in zip(axes[0], panels):
        for (board, kernels), bsub in sub.groupby(["board", "kernels"], sort=True):
            n = series.index((board, kernels))
            for op, grp in bsub.groupby("op", sort=False):
                color, marker = op_style(op)
                ax.scatter(grp["arith_intensity"], y.loc[grp.index], color=color,
                           marker=markers[n % len(markers)] if len(series) > 1 else marker,
                           s=28, edgecolor="black", linewidth=0.4,
                           label=f"{op} ({board} / {kernels})" if len(series) > 1 else op)
        x_lo = min(0.1, float(sub["arith_intensity"].min()) / 2)
        x_hi = float(sub["arith_intensity"].max()) * 2
        xs = np.logspace(np.log10(x_lo), np.log10(x_hi), 200)
        peaks = {}
        for core in sorted(set(sub["_core"])):
            for peak, text in CEILINGS.get(core, []):
                peaks.setdefault(peak, []).append((core, text))
        top = max(peaks) if peaks else float(y.max()) * 2
        for n, (peak, where) in enumerate(sorted(peaks.items(), reverse=True)):
            roof = np.minimum(xs * BYTES_PER_LOAD, peak)
            ax.plot(xs, roof, color="black", linewidth=1.3 if n == 0 else 0.9,
                    linestyle="-" if n == 0 else "--")
            cores = ", ".join(sorted({c for c, _ in where}))
            ax.annotate(f"{where[0][1]} ({cores})", xy=(x_hi / 1.1, peak * 1.08), ha="right", fontsize=7)
        if peaks:
            ax.annotate(f"memory roof: {BYTES_PER_LOAD:g} B per load", fontsize=7, rotation=0,
                        xy=(x_lo * 1.3, x_lo * 1.3 * BYTES_PER_LOAD * 1.25))
        best = float(y.max())
        ax.axhline(best, color="#777777", linestyle=":", linewidth=1)
        ax.annotate(f"best measured here: {best:.3g} MACs/{unit}", xy=(x_lo * 1.3, best * 1.1), ha="left",
                    va="bottom", fontsize=7, color="#555555")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(float(y.min()) / 2, top * 2)
        ax.set_xlabel("arithmetic intensity (MACs per byte of weights + input + output)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"Roofline: MACs per {unit}", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
    if panels:
        axes[0][-1].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(fig, path)
