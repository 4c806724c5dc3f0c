"""``python -m bench search`` and ``python -m bench scale``.

Both compose a Hydra config from conf/ (search.yaml or scale.yaml with the
board, kernels, budget and family groups) with the compose API, read the
board's results from runs/ (``runs=`` or ``--runs``), fit the cost predictor
and write a ranked table, a plot and report.md to an output folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

from bench import paths
from bench.errors import BenchError, ConfigError

from . import plots, report
from .complexity import count
from .cost import cost_source, layer_costs, numeric


# -- shared ------------------------------------------------------------------------
def _parse(prog: str, description: str, args: list[str], examples: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     epilog="examples:\n  " + "\n  ".join(examples),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. board=qemu_m7 budget.ram_kb=256")
    parser.add_argument("--runs", nargs="+", help="run folders or globs with the board's results (default: runs/)")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    return parser.parse_args(args), []


def compose(config_name: str, overrides: list[str]) -> dict:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(paths.conf_dir()), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"{config_name} config: {exc}".splitlines()[0]) from None
    return OmegaConf.to_container(cfg, resolve=True)


def board_limits(board: dict, budget: dict) -> tuple[float, float, list[str]]:
    """Flash and RAM limits in bytes: the budget's, else the board's weights and activations regions."""
    mem, place = board.get("memory", {}), board.get("placement", {})
    notes = []

    def region(role: str) -> float:
        name = place.get(role)
        if name not in mem:
            raise ConfigError(f"board {board.get('name')}: no memory region for placement.{role}; "
                              f"give budget.{'flash_kb' if role == 'weights' else 'ram_kb'}")
        notes.append(f"{'flash' if role == 'weights' else 'RAM'} limit: board region {name} "
                     f"({mem[name]['size_kb']} KB, placement.{role})")
        return float(mem[name]["size_kb"]) * 1024

    flash = float(budget["flash_kb"]) * 1024 if budget.get("flash_kb") is not None else region("weights")
    ram = float(budget["ram_kb"]) * 1024 if budget.get("ram_kb") is not None else region("activations")
    return flash, ram, notes


def _board_yaml(name: str) -> dict:
    path = paths.conf_dir() / "board" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"no conf/board/{name}.yaml")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def _results(patterns: list[str], boards: set[str]) -> pd.DataFrame:
    from analysis.load import load_results

    results = numeric(load_results(patterns))
    results = results[results["board"].isin(boards)]
    if not len(results):
        raise BenchError(f"no results for board(s) {', '.join(sorted(boards))} under {', '.join(patterns)}; "
                         f"run python -m bench run board={sorted(boards)[0]} first")
    return results


RUN_RULE = ("runs named as run folders are used as given; under a folder of runs, each board and kernel "
            "library takes the one run with the most measured cases (ties: the newest)")


def energy_model(rows: pd.DataFrame) -> str:
    """Which emulated-energy model a run's rows use: cycle estimates (newer runs) or instruction counts."""
    if "cycles_estimated" in rows and rows["cycles_estimated"].notna().any():
        return "cycle-estimate"
    return "instruction-based"


def select_runs(results: pd.DataFrame, patterns: list[str],
                targets: list[tuple[str, str]]) -> tuple[pd.DataFrame, list[str]]:
    """The results the cost model is fitted on, chosen by RUN_RULE, and one line per run used.

    One run per board and kernel library keeps one energy model and one firmware build in a
    fit. Named run folders are the user's explicit choice: all of them are used, and a mix of
    energy models among them is an error rather than a silent drop.
    """
    explicit = {str(Path(m)) for p in patterns for m in (glob.glob(str(p)) or [p])
                if (Path(m) / "results.csv").exists()}
    ok = results[(results["status"] == "ok") & results["energy_uj"].notna()] if "status" in results else results
    chosen, lines = set(), []
    for board, kernels in targets:
        mine = ok[(ok["board"] == board) & (ok["kernels"] == kernels)]
        runs = mine.groupby("run").size()
        if not len(runs):
            have = sorted(set(ok.loc[ok["board"] == board, "kernels"]))
            raise BenchError(f"no measured results for board={board} kernels={kernels} under {', '.join(patterns)}; "
                             f"have kernels {', '.join(have) or 'none'} for {board}")
        named = [r for r in runs.index if r in explicit]
        if named:
            pick = named
            models = {r: energy_model(mine[mine["run"] == r]) for r in pick}
            if len(set(models.values())) > 1:
                raise ConfigError("the given runs mix two emulated-energy models ("
                                  + "; ".join(f"{r}: {m}" for r, m in models.items())
                                  + "); a cost model fitted on both is off by their ratio: give runs of one")
        else:
            best = max(runs.index, key=lambda r: (runs[r], Path(r).stat().st_mtime if Path(r).exists() else 0, r))
            pick = [best]
        for r in pick:
            lines.append(f"{board}/{kernels}: {runs[r]} measured cases from {r} ({energy_model(mine[mine['run'] == r])}"
                         f"{', named' if r in explicit else ''}; {len(runs) - len(pick)} other run(s) left out)")
        chosen |= set(pick)
    return results[results["run"].isin(chosen)], lines


def _as_list(v) -> list[str]:
    return [str(v)] if isinstance(v, (str, Path)) else [str(x) for x in v]


def _out_dir(given, kind: str, tag: str) -> Path:
    if given:
        out = Path(given)
    else:
        out = Path("runs") / kind / time.strftime("%Y-%m-%d") / f"{time.strftime('%H-%M-%S')}_{tag}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _print_table(df: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4g}".format):
        print(df.to_string(index=False))


# -- search ------------------------------------------------------------------------
def search_main(args: list[str]) -> int:
    ns, _ = _parse("python -m bench search", "rank block designs for a layer slot on a board (Pareto front of "
                   "predicted energy against parameters and MACs under flash and RAM limits)", args,
                   ["python -m bench search board=qemu_m7 budget.flash_kb=256 budget.ram_kb=128",
                    "python -m bench search board=qemu_m7 kernels=ref compare=qemu_m7/opt budget.macs=2e6",
                    "python -m bench search slot.h=16 slot.c_in=64 slot.c_out=64 --runs 'runs/2026-*/*'"])
    cfg = compose("search", ns.overrides)
    if ns.cfg:
        print(OmegaConf.to_yaml(cfg))
        return 0
    from .search import Slot

    board, kernels = cfg["board"]["name"], cfg["kernels"]["name"]
    targets = [(board, kernels, cfg["board"])]
    if cfg.get("compare"):
        if "/" not in str(cfg["compare"]):
            raise ConfigError(f"compare={cfg['compare']!r}: give board/kernels, e.g. compare={board}/opt")
        cb, ck = str(cfg["compare"]).split("/", 1)
        targets.append((cb, ck, _board_yaml(cb)))
    runs = _as_list(ns.runs or cfg["runs"])
    all_results = _results(runs, {b for b, _, _ in targets})
    results, fit_runs = select_runs(all_results, runs, [(b, k) for b, k, _ in targets])
    source = cost_source(results)
    print(f"cost model fitted on ({RUN_RULE}):\n  " + "\n  ".join(fit_runs or ["no run of these boards"]))
    warning = "cost model fitted on: " + "; ".join(fit_runs) + f" (rule: {RUN_RULE}; give runs=[run folders] to choose)"
    for b, k, _ in targets:
        if not source.has(b, k):
            raise BenchError(f"no results for board={b} kernels={k} under {', '.join(runs)}; "
                             f"have kernels {source.kernels(b) or 'none'} for {b}")
    slots = cfg.get("slots") or [cfg["slot"]]
    out = _out_dir(ns.out or cfg.get("out"), "search", f"{board}_{kernels}")
    OmegaConf.save(OmegaConf.create(cfg), out / "config.yaml")
    best = []
    for sl in slots:
        # h as in sweeps and predict (hw: the key before issue 17); the search's slots are square
        slot = Slot(int(sl["h"] if "h" in sl else sl["hw"]), int(sl["c_in"]), int(sl["c_out"]), int(sl.get("stride", 1)))
        slot_out = out if len(slots) == 1 else out / slot.label.replace(" ", "_").replace(">", "to")
        slot_out.mkdir(parents=True, exist_ok=True)
        best.append(_search_slot(cfg, slot, targets, results, all_results, source, warning, slot_out))
    if len(slots) > 1:
        summary = pd.DataFrame(best)
        summary.to_csv(out / "best_per_slot.csv", index=False)
        (out / "report.md").write_text(report.slots_md(cfg, summary))
        print("\nbest design per slot:")
        _print_table(summary)
        print(f"\nreport: {out / 'report.md'}")
    return 0 if all(row["designs_fit"] for row in best) else 1


def _search_slot(cfg, slot, targets, results, all_results, source, warning, out) -> dict:
    """Search one slot; write its tables, plot and report.md to ``out``; return its best designs."""
    from .measure import predicted_vs_measured, sweep_files
    from .search import baseline_designs, compare_rankings, evaluate, smallest_design, template_designs

    board, kernels = targets[0][0], targets[0][1]
    sp = cfg["space"]
    designs = template_designs(slot, sp["structures"], sp["spatial_ops"], sp["kernel_sizes"], sp["ratios"],
                               sp["pw_ops"], int(sp["groups"])) + baseline_designs(slot, sp["baselines"])
    bud = cfg["budget"]
    tables, notes, limits = {}, [warning] if warning else [], {}
    for b, k, byaml in targets:
        flash, ram, n = board_limits(byaml, bud)
        notes += [f"{b}: {x}" for x in n]
        limits[f"{b}/{k}"] = {"flash_bytes": flash, "peak_ram_bytes": ram, "macs": bud.get("macs"),
                              "energy_uj": bud.get("energy_uj"),
                              "latency_s": bud["latency_ms"] / 1e3 if bud.get("latency_ms") else None}
        tables[f"{b}/{k}"] = evaluate(designs, slot, source, b, k, flash, ram, macs=bud.get("macs"),
                                      energy_uj=bud.get("energy_uj"), latency_s=limits[f"{b}/{k}"]["latency_s"])
    label = f"{board}/{kernels}"
    main = tables[label]
    nothing = None
    if not main["fits"].astype(bool).any():
        nothing = smallest_design(main, limits[label])
        print(f"slot {slot.label}, {label}: no design fits the budgets. {nothing}")
    main.to_csv(out / "designs.csv", index=False)
    png = plots.pareto(tables, out / "pareto.png", f"Block designs for slot {slot.label}", label_top=3)
    comparison, tau = None, None
    if len(tables) > 1:
        other = [x for x in tables if x != label][0]
        tables[other].to_csv(out / f"designs_{other.replace('/', '_')}.csv", index=False)
        comparison, tau = compare_rankings(main, tables[other], label, other)
        comparison.to_csv(out / "ranking_comparison.csv", index=False)
    top = main.dropna(subset=["rank"]).head(1)
    measured = None
    if len(top) and cfg.get("measure_top", True):
        design = next(d for d in designs if d.name == top.iloc[0]["design"])
        with torch.device("meta"):
            cx = count(design.build(), (slot.c_in, slot.hw, slot.hw))
        layer_costs(cx, source, board, kernels).to_csv(out / "top_design_layers.csv", index=False)
        sweeps = sweep_files(cx, out, f"top_{design.name.replace('-', '_').replace('.', 'p')}")
        measured_results = all_results
        if cfg.get("measure_runs"):
            measured_results = _results(_as_list(cfg["measure_runs"]), {board})
        pvm, summary = predicted_vs_measured(cx, measured_results, source, board, kernels, fit_results=results)
        pvm.drop(columns=[c for c in ("case",) if c in pvm]).to_csv(out / "top_design_measured.csv", index=False)
        measured = (design.name, pvm, summary, sweeps)
    report_path = out / "report.md"
    report_path.write_text(report.search_md(cfg, slot, source, notes, tables, label, comparison, tau, measured,
                                            png, out, int(cfg["top"]), nothing))
    print(f"slot {slot.label}, {label}: {int(main['fits'].sum())}/{len(main)} designs fit; "
          f"top {cfg['top']} by rank:")
    _print_table(main[report.SEARCH_COLUMNS].head(int(cfg["top"])))
    if comparison is not None:
        print(f"\nranking on {label} vs {[x for x in tables if x != label][0]}: Kendall tau = {tau:.3f}")
    if measured:
        s = measured[2]
        print(f"\ntop design {measured[0]}: {s['measured_conv_layers']}/{s['conv_layers']} conv layers and "
              f"{s['measured_elementwise_layers']}/{s['elementwise_layers']} element-wise/pooling layers measured; "
              f"not benchmarkable: {s['not_benchmarkable'] or 'none'}")
    print(f"\nreport: {report_path}\nplot:   {png}")
    row = {"slot": slot.label, "designs_fit": int(main["fits"].sum()), "designs": len(main)}
    for name, df in tables.items():
        ranked = df.dropna(subset=["rank"])
        row[f"best {name}"] = ranked["design"].iloc[0] if len(ranked) else ""
        row[f"energy_uj {name}"] = ranked["energy_uj"].iloc[0] if len(ranked) else np.nan
    if comparison is not None:
        row["kendall_tau"] = tau
    return row


# -- scale -------------------------------------------------------------------------
def scale_main(args: list[str]) -> int:
    ns, _ = _parse("python -m bench scale", "solve PhiNet (alpha, beta, t0) or XiNet (alpha, gamma), as micromind "
                   "builds them, for a board's budgets; counts in closed form, the answer checked on the traced "
                   "network", args,
                   ["python -m bench scale family=xinet board=qemu_m7 budget.flash_kb=256 budget.ram_kb=64 budget.macs=10e6",
                    "python -m bench scale family=phinet budget=m7_2mb_512k 'family.resolutions=[80,96,112]'",
                    "python -m bench scale family=xinet budget.ram_kb=128 budget.energy_uj=5e4 kernels=opt"])
    cfg = compose("scale", ns.overrides)
    if ns.cfg:
        print(OmegaConf.to_yaml(cfg))
        return 0
    from .scale import Budget, Problem, closed_complexity, solve, verify

    started = time.time()
    board, kernels, fam, bud = cfg["board"]["name"], cfg["kernels"]["name"], cfg["family"], cfg["budget"]
    flash, ram, notes = board_limits(cfg["board"], bud)
    budget = Budget(flash, ram, macs=bud.get("macs"), energy_uj=bud.get("energy_uj"),
                    latency_s=bud["latency_ms"] / 1e3 if bud.get("latency_ms") else None)
    source = _scale_source(cfg, ns, board, kernels, notes,
                           required=budget.energy_uj is not None or budget.latency_s is not None)
    fixed = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (fam.get("fixed") or {}).items()}
    needs_cost = budget.energy_uj is not None or budget.latency_s is not None
    problem = Problem(fam["name"], budget, {k: tuple(map(float, v)) for k, v in fam["bounds"].items()}, fixed,
                      tuple(int(r) for r in fam["resolutions"]), int(fam.get("in_channels", 3)), cfg["objective"],
                      int(fam.get("grid", 5)), int(fam.get("refine", 0)), source if needs_cost else None, board,
                      kernels)
    t0 = time.time()
    answer, grid = solve(problem)
    solved = time.time() - t0
    # the answer's energy and latency are predicted whenever the board has results, budget or not
    problem = dataclasses.replace(problem, source=source)
    check = verify(problem, answer)
    elapsed = time.time() - started
    out = _out_dir(ns.out or cfg.get("out"), "scale", f"{fam['name']}_{board}")
    OmegaConf.save(OmegaConf.create(cfg), out / "config.yaml")
    grid.to_csv(out / "grid.csv", index=False)
    (out / "answer.json").write_text(json.dumps(_no_nan({"answer": answer, "verified": check,
                                                         "budget": budget.items()}),
                                                indent=1, default=_jsonable, allow_nan=False))
    usage = _against_budgets(check, budget.items())
    plan = pd.DataFrame(check["plan"])
    if source is not None:
        layer_costs(closed_complexity(problem, answer), source, board, kernels).to_csv(out / "network_layers.csv",
                                                                                       index=False)
    timing = {"solve_s": solved, "total_s": elapsed}
    report_path = out / "report.md"
    report_path.write_text(report.scale_md(cfg, problem, answer, check, usage, plan, grid, notes, timing))
    hyper = ", ".join(f"{k}={answer[k]:g}" for k in ("alpha", "beta", "t0", "gamma") if k in answer)
    print(f"{fam['name']} on {board}/{kernels}: {hyper}, resolution {answer['resolution']}")
    mm = check["micromind_check"]
    print(f"micromind: {check['micromind']}  -> "
          + (f"its network, counted by the same rules: {'equal' if mm['equal'] else 'DIFFERENT'} "
             f"(params {mm['params']:,}, MACs {mm['macs']:,}, peak RAM {mm['ram_bytes']:,} B)" if mm["compared"]
             else f"not compared ({mm['why']})"))
    _print_table(usage)
    status = "fits every budget" if check["fits"] else "DOES NOT FIT"
    within = "within 5 %" if check["within_5pct"] else "NOT within 5 % (rounding step too coarse here; see report)"
    agree = "equal" if check["closed_form_matches"] else "DIFFER (a bug: report it)"
    print(f"closed form ({answer['closed_form_evaluations']} evaluations, {solved:.2f} s) and the traced torch "
          f"network: {agree}; {status}; binding budget {check['binding']} used {check['binding_usage']:.1%} "
          f"({within}); {elapsed:.1f} s in all")
    for n in notes:
        print(f"note: {n}")
    print(f"report: {report_path}")
    return 0 if check["fits"] and check["closed_form_matches"] and check["micromind_check"].get("equal", True) else 1


def _against_budgets(check: dict, limits: dict) -> pd.DataFrame:
    """Each figure of the verified network (closed form and traced) against its budget, with provenance."""
    closed = check["closed_form"]
    counted = "counted (exact int8 deployment rules)"
    pred = (f"predicted: {check.get('provenance') or 'model-estimate'} from {check.get('inputs_provenance') or '?'} "
            f"inputs ({check.get('cost_sources', '')}; convolutions only, {check.get('uncosted_elem_ops', 0)} "
            "element-wise operations not costed)")
    rows = []
    for key, label in (("params", "params"), ("macs", "MACs"), ("flash_bytes", "int8 flash (bytes)"),
                       ("ram_bytes", "peak RAM, int8 activations (bytes)"), ("latency_s", "latency (ms)"),
                       ("energy_uj", "energy (uJ)")):
        value = check.get(key, np.nan)
        limit = limits.get(key)
        predicted = key in ("latency_s", "energy_uj")
        if predicted and not np.isfinite(value):
            source = "not predicted: no results of this board and kernel library (runs=...)"
        else:
            source = pred if predicted else counted
        rows.append({"quantity": label, "closed form": _fmt(key, closed.get(key, np.nan)),
                     "traced": _fmt(key, value), "budget": _fmt(key, limit),
                     "usage": f"{value / limit:.1%}" if limit and np.isfinite(value) else "-",
                     "binding": "yes" if key == check["binding"] else "", "source": source})
    return pd.DataFrame(rows)


def _fmt(key: str, v) -> str:
    """Counts exact, latency in ms, energy to 4 digits; '-' where there is no figure."""
    if v is None or not np.isfinite(v):
        return "-"
    if key == "latency_s":
        return f"{v * 1e3:.4g}"
    if key == "energy_uj":
        return f"{v:.4g}"
    return f"{int(v):,}"


def _scale_source(cfg, ns, board, kernels, notes, required: bool):
    """The board's cost model for scale: required by an energy/latency budget, else used to predict
    the answer's energy and latency when results exist (cost_network)."""
    if not required and not cfg.get("cost_network", True):
        return None
    runs = _as_list(ns.runs or cfg["runs"])
    try:
        all_results = _results(runs, {board})
        results, fit_runs = select_runs(all_results, runs, [(board, kernels)])
        source = cost_source(results)
    except BenchError as exc:
        if required:
            raise
        notes.append(f"energy and latency not predicted: {exc}")
        return None
    notes.append(f"cost model fitted on ({RUN_RULE}): " + "; ".join(fit_runs))
    return source


def _no_nan(v):
    """Plain JSON: NaN (not costed) becomes null."""
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_no_nan(x) for x in v]
    if isinstance(v, (float, np.floating)) and not np.isfinite(v):
        return None
    return v


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return str(v)
