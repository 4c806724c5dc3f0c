"""eta_op reports for one or several runs: tables (CSV, Markdown, LaTeX), plots,
report.md and a self-contained report.html (images embedded as base64).

``write_run_report(run_dir)`` is what ``python -m bench run`` calls at the end
of a run; ``write_report(patterns, out_dir)`` serves several runs at once.
Every figure says where it comes from: hardware-measured, emulator-count or
model-estimate, and no ratio mixes two of them.
"""

from __future__ import annotations

import argparse
import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from bench.cases.spec import OPS as CONV_OPS

from bench.progress import Progress

from . import plots, roofline
from .eta import eta_table, operator_summary, trends
from .headline import operator_rows, sentences
from .load import find_runs, load_results, run_config

TABLE_COLUMNS = ["board", "kernels", "op", "case_id", "macs", "metric", "metric_unit", "metric_per_mac",
                 "energy_per_mac_nj", "ref_case_id", "eta_op", "same_as_standard", "eta_provenance"]
HEADLINE_COLUMNS = ["series", "op", "cases", "eta_geomean", "eta_min", "eta_max", "metric_per_mac_median",
                    "metric_unit", "eta_provenance"]
SUMMARY_COLUMNS = ["board", "kernels", "op", "cases", "same_as_standard_cases", "eta_geomean", "eta_min", "eta_max",
                   "eta_slope_channels", "eta_slope_map", "eta_slope_kernel", "eta_provenance",
                   "eta_metric_geomean", "eta_metric_provenance"]
COST_COLUMNS = ["board", "kernels", "op", "metric_per_mac_median", "metric_unit",
                "macs_per_instruction_median", "macs_per_cycle_median", "macs_per_cycle_estimated_median",
                "latency_per_mac_ns_median",
                "weight_bytes_max", "peak_activation_bytes_max"]
CASE_COST_COLUMNS = ["board", "kernels", "op", "case_id", "macs", "metric_per_mac", "macs_per_instruction",
                     "macs_per_cycle", "macs_per_cycle_estimated", "latency_per_mac_ns", "latency_basis",
                     "weight_bytes", "peak_activation_bytes", "arith_intensity"]
MIN_SHAPES_FOR_PREDICTOR = 5

PROVENANCE_TEXT = {
    "hardware-measured": "read from a real board's counter or power monitor",
    "emulator-count": "counted by an emulator (instructions; no emulator models cycles)",
    "model-estimate": "computed from counts with a stated model (board yaml energy model, or the cost predictor)",
}


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    folded: bool = False  # per-case detail: rendered closed (<details>) at the end of the report  # ("p", text) | ("list", [text]) | ("table", df) | ("img", path, alt)

    def p(self, text: str) -> "Section":
        self.blocks.append(("p", text))
        return self

    def items(self, items: list[str]) -> "Section":
        self.blocks.append(("list", items))
        return self

    def table(self, df: pd.DataFrame) -> "Section":
        self.blocks.append(("table", df))
        return self

    def img(self, path: Path, alt: str) -> "Section":
        self.blocks.append(("img", path, alt))
        return self


def write_run_report(run_dir: Path) -> Path:
    return write_report([run_dir], run_dir)


def write_report(patterns: Iterable[str | Path], out_dir: Path) -> Path:
    """Write tables, plots, report.md and report.html to out_dir; returns report.md's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = ["tables", "overview", "eta_op_by_slot", "eta_op_vs_channels", "energy_per_mac", "roofline",
             "predictor", "report.md / report.html"]
    with Progress(total=len(steps), description="report") as progress:
        def step(n: int) -> None:
            if n:
                progress.advance()
            progress.current(steps[n])

        step(0)
        results = load_results(patterns)
        table = eta_table(results)
        summary = operator_summary(table)
        trend = trends(table)
        table.to_csv(out_dir / "eta_op.csv", index=False)
        summary.to_csv(out_dir / "summary.csv", index=False)
        trend.to_csv(out_dir / "trends.csv", index=False)
        _latex(summary[SUMMARY_COLUMNS], out_dir / "summary.tex",
               r"Operator efficiency $\eta_{op}=E_S/E_{op}$ per MAC, per board, kernel library and operator "
               r"(geometric mean, range, log-log slope against $C_{in}$, $H\cdot W$ and $k$).", "tab:eta-summary")
        _latex(table[TABLE_COLUMNS], out_dir / "eta_op.tex", r"$\eta_{op}$ per case.", "tab:eta-cases")
        figures = []
        conv = table[table["op"].isin(CONV_OPS)]
        if len(conv):
            step(1)
            figures.append((plots.overview(table, out_dir / "eta_op_overview.png"),
                            "eta_op per operator (geometric mean, min to max) and cost per MAC, per board "
                            "and kernel library"))
        if (conv["op"] != "standard").any():
            step(2)
            figures.append((plots.eta_by_slot(table, out_dir / "eta_op_by_slot.png"),
                            "eta_op of each operator in each layer slot of the sweep, slots by size"))
            step(3)
            figures.append((plots.eta_vs_channels(table, out_dir / "eta_op_vs_channels.png"),
                            "eta_op against input channels, one line per kernel size"))
        if len(conv):
            step(4)
            figures.append((plots.energy_per_mac(table, out_dir / "energy_per_mac.png"),
                            "Energy per MAC against the layer slot's size, per operator"))
        if len(table):
            step(5)
            figures.append((roofline.roofline(table, out_dir / "roofline.png"),
                            "MACs per instruction or cycle against arithmetic intensity, with the memory "
                            "roof and the core's instruction-set ceilings"))
        step(6)
        predictor = _predictor_section(results)
        step(7)
        sections = _sections(results, table, summary, trend, figures, predictor)
        md_path = out_dir / "report.md"
        md_path.write_text(render_markdown(sections, out_dir))
        (out_dir / "report.html").write_text(render_html(sections))
        progress.advance()
    return md_path


# -- content ------------------------------------------------------------------
def _sections(results, table, summary, trend, figures, predictor) -> list[Section]:
    result = _result(results, table, figures)
    sections = [result, _warnings(results, table)]
    s = Section("Summary per operator")
    s.p("eta_op (from energy per MAC): geometric mean, min and max over the cases; `eta_slope_*` is the "
        "log-log slope of eta_op against c_in, h*w and the matched standard conv's k (+0.5: eta_op grows "
        "about 1.4x when that axis doubles), with the energy's provenance. `eta_metric_geomean` is the same "
        "ratio from the metric per MAC (instructions or cycles) with the metric's provenance; the two differ "
        "when the energy model is not proportional to the metric. Cases that are the standard conv under "
        "another name (a pointwise conv in a 1x1 slot) are counted in `same_as_standard_cases`, not in the "
        "statistics. Also in summary.csv / summary.tex.")
    s.table(summary[SUMMARY_COLUMNS])
    sections.append(s)
    s = Section("Cost, throughput and memory per operator")
    s.p("Medians over the cases. metric_per_mac and MACs per instruction are emulator-count figures when "
        "the unit is instructions, hardware-measured when it is cycles. `macs_per_cycle` is from measured "
        "cycles only; `macs_per_cycle_estimated` is from the core's estimated cycles (model-estimate, see Provenance). "
        "Latency per MAC of an emulated board is a model-estimate: estimated cycles (or instructions x "
        "stated CPI when no estimate exists) over the board energy model's stated clock. "
        "Memory: int8 weights plus int32 bias (flash), and peak activations = input + output tensors of the call.")
    s.table(summary[COST_COLUMNS])
    sections.append(s)
    sections.append(predictor)
    if len(figures) > 1:
        s = Section("Plots")
        s.p(f"Roofline: {roofline.SOURCE}.")
        for path, alt in figures[1:]:
            s.img(path, alt)
        sections.append(s)
    sections += [_configuration(results), _provenance(results), _rule()]
    if len(trend):
        s = Section("How eta_op moves with channels, map size and kernel size", folded=True)
        s.p("Geometric-mean eta_op of the cases at each value of one axis (the others vary). trends.csv.")
        s.table(trend)
        sections.append(s)
    s = Section("eta_op per case", folded=True)
    s.p("Also eta_op.csv (every column) and eta_op.tex.")
    s.table(_constant_columns_once(table[TABLE_COLUMNS], s))
    sections.append(s)
    s = Section("Latency, throughput and memory per case", folded=True)
    s.table(_constant_columns_once(table[CASE_COST_COLUMNS], s))
    sections.append(s)
    return sections


def _result(results: pd.DataFrame, table: pd.DataFrame, figures) -> Section:
    """The answer first: one sentence per board (and kernel library), the per-operator table and
    chart, and notes on what was merged or left out."""
    s = Section("Result")
    rows = operator_rows(table)
    if len(rows):
        s.items(sentences(table, rows))
        # Estimated cycles per MAC beside the counted metric where the run made them: the cost the
        # overview figure shows and the energy (so eta_op) comes from.
        extra = ["cycles_estimated_per_mac"] if "cycles_estimated_per_mac" in rows else []
        s.table(rows[HEADLINE_COLUMNS[:-1] + extra + HEADLINE_COLUMNS[-1:]])
    elif not table["op"].isin(CONV_OPS).any():
        s.p("These runs measure no convolution, so there is no eta_op (it compares convolutions); "
            "each operator's cost is in the tables below.")
    else:
        s.p("No convolution has an eta_op in these runs (no matched standard conv measured).")
    if figures:
        s.img(*figures[0])
    for note in results.attrs.get("notes", []):
        s.p(note)
    return s


def _constant_columns_once(df: pd.DataFrame, section: Section) -> pd.DataFrame:
    """Columns with one value in every row (a provenance, a basis, a unit) are said once above the
    table instead of in each row."""
    constant = [c for c in df.columns if len(df) > 1 and df[c].nunique(dropna=False) == 1
                and c not in ("board", "kernels", "op")]
    if constant:
        section.p("In every row: " + "; ".join(f"{c} = `{df[c].iloc[0]}`" for c in constant) + ".")
    return df.drop(columns=constant)


def _configuration(results: pd.DataFrame) -> Section:
    from bench.power.energy import describe

    s = Section("Configuration")
    items = []
    for run in results["run"].unique():
        sub = results[results["run"] == run]
        cfg = run_config(Path(run))
        line = (f"`{run}`: board **{', '.join(sub['board'].unique())}**, kernels "
                f"**{', '.join(sub['kernels'].unique())}**, compiler "
                f"`{', '.join(map(str, sub['compiler'].dropna().unique()))}`, flags "
                f"`{', '.join(map(str, sub['cflags'].dropna().unique()))}`, {len(sub)} cases")
        if cfg:
            sweep, op = cfg.get("sweep") or {}, cfg.get("op") or {}
            line += f"; sweep `{sweep.get('name')}`, ops {list(op.get('names') or [])}"
            model = (cfg.get("board") or {}).get("energy_model")
            if model:
                try:
                    line += f"; energy model: {describe(model)}"
                except KeyError:
                    pass
        items.append(line)
    return s.items(items)


def _provenance(results: pd.DataFrame) -> Section:
    s = Section("Provenance")
    counts = (results.groupby(["board", "kernels", "metric_unit", "provenance", "energy_provenance"], dropna=False)
              .size().reset_index(name="cases"))
    s.table(counts)
    kinds = sorted(set(results["provenance"].dropna()) | set(results["energy_provenance"].dropna())
                   | {"model-estimate"})
    s.items([f"**{k}**: {PROVENANCE_TEXT.get(k, 'see the run configuration')}" for k in kinds])
    s.items(_timing_basis(results))
    s.p("Which figure is which: the metric (and metric per MAC, MACs per instruction or cycle) has the "
        "metric's provenance; energy and eta_op have the energy's provenance; latency from an instruction "
        "count is a model-estimate (stated clock and CPI); every predictor output is a model-estimate. "
        "A ratio is only taken between two figures of the same provenance, unit, board, kernel library "
        "and flags. Emulators count instructions, not cycles.")
    return s


def _timing_basis(results: pd.DataFrame) -> list[str]:
    """One line per timing model behind cycles_estimated: its basis and validation status."""
    from bench.errors import BenchError
    from bench.timing import core_model

    if "cycles_model" not in results:
        return []
    lines = []
    for name in sorted(results["cycles_model"].dropna().astype(str).unique()):
        core = name.split()[0]
        try:
            lines.append(f"**cycles_estimated** ({name}, model-estimate): {core_model.basis_line(core)}")
        except BenchError:
            lines.append(f"**cycles_estimated** ({name}, model-estimate): linear instruction-class model "
                         "from a Unicorn instruction mix (conf/cores/linear)")
    return lines


def _rule() -> Section:
    return Section("Rule").p(
        "eta_op = E_S / E_op per MAC. E_S is the standard convolution with the same board, kernel "
        "library (and library version), compiler and flags, input map, output channels, stride and padding, and kernel size `ref_k` "
        "(the case's own k; for pointwise, the kernel size of the layer slot it fills). "
        "Ratios are taken only between figures of one provenance. Above 1: the operator's MAC "
        "costs less than a standard convolution's.")


def _warnings(results: pd.DataFrame, table: pd.DataFrame) -> Section:
    s = Section("Warnings")
    failed = results[results["status"] != "ok"]
    if len(failed):
        s.p(f"{len(failed)} case(s) excluded from every table, plot and fit (output check failed or no "
            "trusted result):")
        s.table(failed[["run", "case_id", "status", "detail"]])
    else:
        s.p("No failed cases: every case's output matched the TFLite reference output bit for bit.")
    no_energy = results[(results["status"] == "ok") & results["energy_uj"].isna()]
    if len(no_energy):
        s.p(f"{len(no_energy)} ok case(s) have no energy figure and no eta_op: "
            + ", ".join(no_energy["case_id"].astype(str)))
    missing_ref = table[table["eta_op"].isna() & table["op"].isin(CONV_OPS)]
    if len(missing_ref):
        s.p(f"{len(missing_ref)} case(s) have no matched standard conv of the same provenance in these runs "
            "(no eta_op): " + ", ".join(missing_ref["case_id"].astype(str)))
    builds = results.dropna(subset=["cflags"]).groupby(["board", "kernels"])["cflags"].nunique()
    for (board, kernels), n in builds.items():
        if n > 1:
            s.p(f"{board} / {kernels}: {n} different compiler flag sets are loaded; eta_op pairs only cases "
                "built with the same flags.")
    return s


def _predictor_section(results: pd.DataFrame) -> Section:
    from bench.errors import BenchError

    from .predict_cli import holdout_table
    from .predictor import fit_predictor

    s = Section("Cost predictor: held-out accuracy (model-estimate)")
    ok = results[results["status"] == "ok"]
    shapes = ok.groupby(["board", "kernels", "op"]).size()
    if not len(shapes) or shapes.min() < MIN_SHAPES_FOR_PREDICTOR:
        return s.p(f"Not fitted: an operator has fewer than {MIN_SHAPES_FOR_PREDICTOR} measured shapes "
                   "(use sweep=default or sweep=characterize).")
    try:
        table = holdout_table(fit_predictor(results))
    except BenchError as exc:
        return s.p(f"Not fitted: {exc}")
    s.p("Each shape is left out of the fit in turn and predicted from the others (analysis/predictor.py, "
        "`python -m bench holdout`). Share of held-out shapes within +-10 % / +-5 % of the measured metric.")
    return s.table(table[["board", "kernels", "op", "form", "metric_unit", "provenance", "metric_shapes",
                          "metric_within_10pct", "metric_within_5pct", "metric_median_abs",
                          "metric_max_abs", "meets_target"]])


# -- rendering ----------------------------------------------------------------
def _fmt(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".3g") if len(df) else "_(none)_"


def render_markdown(sections: list[Section], out_dir: Path, title: str = "Operator efficiency report") -> str:
    lines = [f"# {title}", ""]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        if sec.folded:
            lines += ["<details><summary>show the table</summary>", ""]
        for block in sec.blocks:
            kind = block[0]
            if kind == "p":
                lines += [block[1], ""]
            elif kind == "list":
                lines += [f"- {item}" for item in block[1]] + [""]
            elif kind == "table":
                lines += [_fmt(block[1]), ""]
            elif kind == "img":
                path = Path(block[1])
                rel = path.relative_to(out_dir) if path.is_relative_to(out_dir) else path
                lines += [f"![{block[2]}]({rel})", ""]
        if sec.folded:
            lines += ["</details>", ""]
    return "\n".join(lines)


def _inline_md(text: str) -> str:
    """The little Markdown used in the text blocks (**bold**, `code`) as HTML."""
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#eef}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #ddd}code{background:#f4f4f4}figcaption{font-size:13px;color:#555}
.scroll{overflow-x:auto;max-width:100%}li{margin:0.3em 0}.result li{font-size:15px}
details summary{cursor:pointer;color:#1b6ca8;margin:0.5em 0}"""


def _html_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "<p><i>(none)</i></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for v in rec:
            if isinstance(v, float):
                cells.append(f'<td class="num">{"" if pd.isna(v) else f"{v:.3g}"}</td>')
            elif isinstance(v, (int,)) and not isinstance(v, bool):
                cells.append(f'<td class="num">{v}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table></div>")


def render_html(sections: list[Section], title: str = "Operator efficiency report") -> str:
    """One self-contained file: every image is embedded as a base64 data URI."""
    t = html.escape(title)
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + t + "</title>",
             f"<style>{CSS}</style></head><body><h1>{t}</h1>"]
    for sec in sections:
        parts.append(f"<section class='{html.escape(sec.title.split()[0].lower())}'>"
                     f"<h2>{html.escape(sec.title)}</h2>")
        if sec.folded:
            parts.append(f"<details><summary>show the table ({html.escape(sec.title)})</summary>")
        for block in sec.blocks:
            kind = block[0]
            if kind == "p":
                parts.append(f"<p>{_inline_md(block[1])}</p>")
            elif kind == "list":
                parts.append("<ul>" + "".join(f"<li>{_inline_md(i)}</li>" for i in block[1]) + "</ul>")
            elif kind == "table":
                parts.append(_html_table(block[1]))
            elif kind == "img":
                data = base64.b64encode(Path(block[1]).read_bytes()).decode()
                parts.append(f"<figure><img alt='{html.escape(block[2])}' src='data:image/png;base64,{data}'>"
                             f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
        parts.append("</details></section>" if sec.folded else "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _latex(df: pd.DataFrame, path: Path, caption: str, label: str) -> Path:
    """A booktabs LaTeX table (pandas Styler): numbers to 3 significant digits."""
    df = df.copy()
    df.columns = [str(c).replace("_", r"\_") for c in df.columns]
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].astype(str).str.replace("_", r"\_", regex=False)
    styler = df.style.hide(axis="index").format(precision=3, na_rep="--",
                                                 formatter={c: "{:.3g}" for c in df.select_dtypes("float").columns})
    path.write_text(styler.to_latex(caption=caption, label=label, hrules=True, position="htbp"))
    return path


def fresh_report_dir(runs: list[Path], root: Path = Path("runs") / "reports") -> Path:
    """runs/reports/<date>/<time>_<what>: a new folder each time, never one that exists."""
    from datetime import datetime

    what = Path(runs[0]).name if len(runs) == 1 else f"{len(runs)}_runs"
    now = datetime.now()
    base = root / now.strftime("%Y-%m-%d") / f"{now.strftime('%H-%M-%S')}_{what}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}_{n}")
    return out


def main(args: list[str]) -> int:
    """``python -m bench report RUN...``: run references are paths, not config values, so this
    command takes them as arguments rather than Hydra overrides (docs/analysis.md)."""
    from bench.errors import ConfigError

    from .headline import print_summary

    parser = argparse.ArgumentParser(prog="python -m bench report",
                                     description="eta_op tables (CSV, Markdown, LaTeX), plots, report.md and a "
                                                 "self-contained report.html for one or more runs")
    parser.add_argument("runs", nargs="+",
                        help="run folders, multirun folders, globs, `latest` (the newest run) or results-store ids")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: a new runs/reports/<date>/<time>_<run or N_runs>)")
    parser.add_argument("--force", action="store_true", help="replace a report that --out already holds")
    ns = parser.parse_args(args)
    runs = find_runs(ns.runs)
    out = ns.out or fresh_report_dir(runs)
    if (out / "report.md").exists() and not ns.force:
        raise ConfigError(f"{out} already holds a report; choose another --out, or add --force to replace it")
    md = write_report(runs, out)
    print_summary(pd.read_csv(out / "eta_op.csv"))
    for note in load_results(runs).attrs.get("notes", []):  # e.g. repeated runs of the same cases
        print(f"note: {note}")
    print(f"report: {md}\n        {md.with_suffix('.html')}")
    return 0
