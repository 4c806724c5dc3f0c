"""What every report plot shares: the Agg backend, one colour and marker per operator, saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plt", "op_style", "finish", "geomean", "OP_STYLE"]

OP_STYLE = {
    "standard": ("#1b6ca8", "o"), "depthwise": ("#d1495b", "s"),
    "grouped": ("#edae49", "^"), "pointwise": ("#00798c", "D"),
}


def op_style(op: str) -> tuple[str, str]:
    return OP_STYLE.get(op, ("#555555", "x"))


def geomean(s: pd.Series) -> float:
    s = s.dropna()
    s = s[s > 0]
    return float(np.exp(np.log(s).mean())) if len(s) else float("nan")


def finish(fig, path: Path) -> Path:
    """Save with the legend (placed outside the axes) inside the picture, then free the figure."""
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
