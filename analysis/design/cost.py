"""Cost of a design on a board: the sum over its layers of predicted energy and latency.

Each convolution (and a linear layer, as a pointwise conv on a 1x1 map) is
costed by the board's fitted predictor (``analysis.predictor``). Where the
predictor has no model for an operator, the eta_op table is used, in this
order: (1) the predictor's standard conv of the same input, C_out, k and
stride, per MAC, divided by the operator's measured eta_op (geometric mean on
that board and library) and times the layer's MACs: eta_op's own definition,
E_op = E_S / eta_op per MAC (``EtaScaledCost``); (2) without a standard-conv
model, the median measured energy (and metric) per MAC of the operator
(``EtaTableCost``). Element-wise and pooling layers are not costed by the
search (their firmware operators exist, see analysis/design/measure.py, but the
conv predictor has no model for them): their operation counts are reported
next to the total so a reader sees what the figure leaves out.

Every layer row carries where its numbers come from (``source``,
``provenance``, ``inputs_provenance``) and the predictor's expected relative
error; the design total states the mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.errors import BenchError

from .complexity import CONV_CLASSES, Complexity, Layer

TABLE_PROVENANCE = "eta-table-estimate"
COSTED = ("predictor", "predicted standard / eta_op", "per-MAC table")


NUMERIC = ("energy_uj", "metric", "macs", "h", "w", "c_in", "c_out", "k", "stride", "groups", "ref_k",
           "clock_hz", "cycles_per_unit")


def numeric(results: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as numbers: a header-only results.csv read alongside others turns them to objects."""
    results = results.copy()
    for col in NUMERIC:
        if col in results and results[col].dtype == object:
            results[col] = pd.to_numeric(results[col], errors="coerce")
    return results


class EtaTableCost:
    """Per-MAC medians of measured cases: the fallback where only eta_op tables exist."""

    def __init__(self, results: pd.DataFrame):
        from analysis.eta import eta_table

        results = numeric(results)
        table = eta_table(results)
        if not len(table):
            raise BenchError("no usable measured cases to build an eta_op cost table from")
        for col in ("clock_hz", "cycles_per_unit"):
            if col not in table:
                table[col] = np.nan
        etas = table.assign(eta_op=pd.to_numeric(table["eta_op"], errors="coerce")).dropna(subset=["eta_op"])
        etas = etas[etas["eta_op"] > 0]
        self._eta = (etas.groupby(["board", "kernels", "op"])["eta_op"]
                     .agg(eta_geomean=lambda s: float(np.exp(np.log(s).mean())), cases="count"))
        self._rows = (table.groupby(["board", "kernels", "op"])
                      .agg(energy_per_mac_nj=("energy_per_mac_nj", "median"),
                           metric_per_mac=("metric_per_mac", "median"),
                           metric_unit=("metric_unit", "first"),
                           inputs_provenance=("provenance", "first"),
                           cases=("case_id", "count"),
                           spread=("energy_per_mac_nj", lambda s: float(s.max() / s.min() - 1) if len(s) else np.nan),
                           clock_hz=("clock_hz", "first"), cycles_per_unit=("cycles_per_unit", "first")))

    def boards(self) -> list[str]:
        return sorted({b for b, _, _ in self._rows.index})

    def kernels(self, board: str) -> list[str]:
        return sorted({k for b, k, _ in self._rows.index if b == board})

    def ops(self, board: str, kernels: str) -> list[str]:
        return sorted(o for b, k, o in self._rows.index if b == board and k == kernels)

    def eta(self, board: str, kernels: str, op: str) -> tuple[float, int] | None:
        """Geometric-mean eta_op and the number of cases behind it, or None."""
        try:
            row = self._eta.loc[(board, kernels, op)]
        except KeyError:
            return None
        return (float(row["eta_geomean"]), int(row["cases"])) if np.isfinite(row["eta_geomean"]) else None

    def predict(self, board, kernels, op, h, w, c_in, c_out, k, stride=1, groups=1) -> dict:
        try:
            row = self._rows.loc[(board, kernels, op)]
        except KeyError:
            raise BenchError(f"no measured {op} cases for board={board} kernels={kernels}") from None
        out = -(-h // stride) * -(-w // stride)
        macs = out * c_out * k * k * (c_in // groups)
        metric = macs * row.metric_per_mac
        latency = None
        if np.isfinite(row.clock_hz):
            cpu = row.cycles_per_unit if np.isfinite(row.cycles_per_unit) else 1.0
            latency = metric * (1.0 if row.metric_unit == "cycles" else cpu) / row.clock_hz
        return {"metric": metric, "metric_unit": row.metric_unit, "energy_uj": macs * row.energy_per_mac_nj * 1e-3,
                "latency_s": latency, "provenance": TABLE_PROVENANCE, "inputs_provenance": row.inputs_provenance,
                # per-MAC cost varies with shape; the spread of the measured cases bounds the error
                "expected_rel_error": float(row.spread), "macs": macs}


class EtaScaledCost:
    """E_op = E_S / eta_op per MAC: the predictor's standard conv scaled by a measured eta_op."""

    def __init__(self, predictor, table: EtaTableCost):
        self.predictor, self.table = predictor, table

    def predict(self, board, kernels, op, h, w, c_in, c_out, k, stride=1, groups=1) -> dict:
        eta, cases = self.table.eta(board, kernels, op)
        ref = self.predictor.predict(board, kernels, "standard", h, w, c_in, c_out, k, stride, 1)
        ratio = (c_in // groups) / c_in / eta           # MACs of the op over MACs of the standard conv, / eta
        out = dict(ref)
        for key in ("metric", "energy_uj", "latency_s"):
            if ref.get(key) is not None:
                out[key] = ref[key] * ratio
        out["provenance"] = f"{ref.get('provenance', '')} / eta_op"
        out["eta_op"] = eta
        # the predictor's error plus eta_op's spread over shapes, which this cannot see: stated, not hidden
        out["expected_rel_error"] = None
        out["note"] = f"standard conv predicted, divided by eta_op {eta:.3g} (geomean of {cases} measured cases)"
        return out


@dataclass
class CostSource:
    """The predictor (may be None) and the table fallback for one results set."""

    predictor: object | None
    table: EtaTableCost | None
    note: str = ""

    def boards(self) -> list[str]:
        found = set()
        for src in (self.predictor, self.table):
            if src is not None:
                found |= set(src.boards())
        return sorted(found)

    def kernels(self, board: str) -> list[str]:
        found = set()
        for src in (self.predictor, self.table):
            if src is not None and hasattr(src, "kernels"):
                found |= set(src.kernels(board))
        return sorted(found)

    def has(self, board: str, kernels: str) -> bool:
        """Any operator costed for this board and kernel library (predictor or table)."""
        return any(src is not None and src.ops(board, kernels) for src in (self.predictor, self.table))

    def for_op(self, board: str, kernels: str, op: str):
        if self.predictor is not None and op in self.predictor.ops(board, kernels):
            return self.predictor, "predictor"
        if self.table is not None and self.predictor is not None and op != "standard" \
                and "standard" in self.predictor.ops(board, kernels) and self.table.eta(board, kernels, op):
            return EtaScaledCost(self.predictor, self.table), "predicted standard / eta_op"
        if self.table is not None and op in self.table.ops(board, kernels):
            return self.table, "per-MAC table"
        return None, "none"


def cost_source(results: pd.DataFrame, predictor=None) -> CostSource:
    """Fit the predictor on ``results`` (unless one is given) and build the table fallback."""
    note = ""
    results = numeric(results)
    if predictor is None:
        try:
            from analysis.predictor import fit_predictor
            predictor = fit_predictor(results)
        except BenchError as exc:
            note = f"predictor not fitted ({exc}); eta_op table used"
    try:
        table = EtaTableCost(results)
    except BenchError:
        table = None
    if predictor is None and table is None:
        raise BenchError("neither a predictor nor an eta_op table could be built from these results")
    return CostSource(predictor, table, note)


def _query(layer: Layer) -> dict:
    if layer.op == "linear":
        return dict(op="pointwise", h=1, w=1, c_in=layer.c_in, c_out=layer.c_out, k=1, stride=1, groups=1)
    return dict(op=layer.op, h=layer.h, w=layer.w, c_in=layer.c_in, c_out=layer.c_out, k=layer.k,
                stride=layer.stride, groups=layer.groups)


def _predict(source: CostSource, board: str, kernels: str, q: dict) -> tuple[dict | None, str]:
    """A conv or linear layer's prediction and the label of what made it (None: no model)."""
    model, label = source.for_op(board, kernels, q["op"])
    if model is None:
        return None, f"no model for {q['op']} on {board}/{kernels}"
    return model.predict(board, kernels, **q), label


def layer_costs(cx: Complexity, source: CostSource, board: str, kernels: str) -> pd.DataFrame:
    """One row per layer: counts plus predicted energy and latency (NaN when not costed)."""
    rows = []
    for layer in cx.layers:
        row = {"name": layer.name, "op": layer.op, "macs": layer.macs, "params": layer.params,
               "flash_bytes": layer.flash_bytes, "elem_ops": layer.elem_ops, "live_bytes": layer.live_bytes,
               "energy_uj": np.nan, "latency_s": np.nan, "metric": np.nan, "metric_unit": "",
               "source": "not costed", "provenance": "", "inputs_provenance": "", "expected_rel_error": np.nan}
        if layer.is_conv or layer.op == "linear":
            p, label = _predict(source, board, kernels, _query(layer))
            if p is None:
                row["source"] = label
            else:
                row.update(energy_uj=p.get("energy_uj") if p.get("energy_uj") is not None else np.nan,
                           latency_s=p.get("latency_s") if p.get("latency_s") is not None else np.nan,
                           metric=p.get("metric"), metric_unit=p.get("metric_unit", ""), source=label,
                           provenance=p.get("provenance", ""), inputs_provenance=p.get("inputs_provenance", ""),
                           expected_rel_error=p.get("expected_rel_error") if p.get("expected_rel_error")
                           is not None else np.nan)
        else:
            row["source"] = "not costed: the predictor has no model for this operator"
        rows.append(row)
    return pd.DataFrame(rows)


def energy_latency(cx: Complexity, source: CostSource, board: str, kernels: str,
                   cache: dict | None = None) -> tuple[float, float]:
    """``design_cost``'s energy and latency totals without its tables, each layer shape predicted once
    per ``cache`` (the scale solver calls this for every candidate network)."""
    cache = {} if cache is None else cache
    energy, latency = [], []
    for layer in cx.layers:
        if not (layer.is_conv or layer.op == "linear"):
            continue
        q = _query(layer)
        key = tuple(q.values())
        if key not in cache:
            p, label = _predict(source, board, kernels, q)
            cache[key] = (p.get("energy_uj"), p.get("latency_s")) if p is not None and label in COSTED \
                else (None, None)
        e, t = cache[key]
        if e is not None and np.isfinite(e):
            energy.append(e)
        if t is not None and np.isfinite(t):
            latency.append(t)
    return (float(sum(energy)) if energy else np.nan), (float(sum(latency)) if latency else np.nan)


def design_cost(cx: Complexity, source: CostSource, board: str, kernels: str) -> dict:
    """Totals for one design on one board and kernel library, with the provenance mix.

    ``expected_rel_error`` of the total is the energy-weighted mean of the layers'
    that state one (errors of one board's model are correlated between layers, so
    they are not assumed to cancel); ``error_known_share`` is the share of the
    energy it covers (eta_op-scaled layers state none).
    """
    t = layer_costs(cx, source, board, kernels)
    weighted = t["source"].isin(COSTED)
    costed = t[weighted]
    convs = t[t["op"].isin(CONV_CLASSES + ("linear",))]
    energy = float(costed["energy_uj"].sum()) if len(costed) else np.nan
    err, known = np.nan, np.nan
    if len(costed) and energy > 0:
        e = costed["energy_uj"].fillna(0)
        has = costed["expected_rel_error"].notna()
        known = float(e[has].sum() / e.sum())
        if has.any() and e[has].sum() > 0:
            err = float((costed.loc[has, "expected_rel_error"] * e[has]).sum() / e[has].sum())
    missing = convs[~convs["source"].isin(COSTED)]
    sources = "; ".join(f"{n} layer(s) by {s}" for s, n in costed["source"].value_counts().items())
    return {
        "energy_uj": energy,
        "latency_s": float(costed["latency_s"].sum(min_count=1)) if len(costed) else np.nan,
        "expected_rel_error": err,
        "error_known_share": known,      # share of the energy whose layers state an expected error
        "uncosted_elem_ops": int(t.loc[~weighted, "elem_ops"].sum()),
        "uncosted_convs": len(missing),
        "cost_sources": sources,
        "provenance": ", ".join(sorted(set(costed["provenance"]) - {""})),
        "inputs_provenance": ", ".join(sorted(set(costed["inputs_provenance"]) - {""})),
    }
