"""Pareto plots for the block-design search (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

OP_COLOR = {"standard": "#1b6ca8", "depthwise": "#d1495b", "grouped": "#edae49", "pointwise": "#00798c"}
STRUCT_MARKER = {"nwn": "o", "wnw": "s", "plain": "^"}


def pareto(tables: dict[str, pd.DataFrame], path: Path, title: str, label_top: int = 5) -> Path:
    """One row of two panels (energy vs params, energy vs MACs) per cost source in ``tables``."""
    n = len(tables)
    fig, axes = plt.subplots(n, 2, figsize=(11, 4.3 * n), dpi=110, squeeze=False)
    for row, (label, df) in enumerate(tables.items()):
        df = df.dropna(subset=["energy_uj"])
        if not len(df):
            for ax in axes[row]:
                ax.text(0.5, 0.5, f"{label}: no design could be costed", ha="center", transform=ax.transAxes)
            continue
        for col, (cap, front) in enumerate((("params", "front_params"), ("macs", "front_macs"))):
            ax = axes[row][col]
            for (op, structure), grp in df.groupby(["spatial_op", "structure"]):
                fits = grp[grp["fits"].astype(bool)]
                out = grp[~grp["fits"].astype(bool)]
                color, marker = OP_COLOR.get(op, "#555555"), STRUCT_MARKER.get(structure, "D")
                ax.scatter(fits[cap], fits["energy_uj"], color=color, marker=marker, s=34,
                           edgecolor="black", linewidth=0.4, label=f"{structure}, {op} spatial")
                if len(out):
                    ax.scatter(out[cap], out["energy_uj"], facecolor="none", edgecolor=color, marker=marker,
                               s=34, linewidth=0.8)
            f = df[df[front].astype(bool)].sort_values(cap)
            ax.step(f[cap], f["energy_uj"], where="post", color="black", linewidth=1.2, label="Pareto front")
            for i, (_, r) in enumerate(df.dropna(subset=["rank"]).nsmallest(label_top, "rank").iterrows()):
                ax.annotate(f"#{int(r['rank'])} {r['design']}", (r[cap], r["energy_uj"]), fontsize=6.5,
                            xytext=(-8, 10 + 9 * i) if i % 2 else (8, -12 - 9 * i), textcoords="offset points",
                            ha="right" if i % 2 else "left", arrowprops={"arrowstyle": "-", "lw": 0.4})
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("parameters (capacity)" if cap == "params" else "MACs per inference (capacity)")
            ax.set_ylabel(r"predicted energy per block call ($\mu$J)")
            ax.set_title(f"{label}: energy vs {cap}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        handles, labels = axes[row][0].get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        axes[row][0].legend(uniq.values(), uniq.keys(), fontsize=6.5, frameon=False, loc="upper left")
    fig.suptitle(title + "  (hollow: over a budget: flash, RAM, MACs, energy or latency)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
