"""``python -m bench characterize``: adaptive sampling of a board's cost surface.

Measure a small space-filling design of layer slots, fit the cost predictor,
then repeatedly measure the candidate slots where the predictor is least sure
and refit, until the held-out error meets the target or the budget is spent.

- Candidates: a grid of slots (map size, channels, expansion, kernel size,
  stride), filtered by a MAC ceiling so that one round stays short.
- Initial design: greedy max-min distance in a normalised log space.
- Uncertainty of a candidate: jackknife spread, i.e. how much the predictions
  of the leave-one-shape-out fits disagree on it; the next batch is the most
  uncertain candidates, kept apart from each other by the same distance.
- Stop: leave-one-shape-out error meets the target (share within +-10 %) *and*
  the last batch, predicted before it was measured, met it too; or the round
  budget is spent.

This module measures (it calls bench.orchestrate.pipeline.run_benchmark); the fitting and
the error figures come from analysis/, which only reads the rounds' results.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import ConfigError

log = logging.getLogger("bench.commands.characterize")

HW = (6, 8, 12, 16, 20, 24, 32, 48, 64)
CHANNELS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192)
EXPANSION = (1, 2)
KERNELS = (1, 3, 5, 7)
STRIDES = (1, 2)
MAX_STANDARD_MACS = 12_000_000   # keeps a round to seconds on QEMU


def candidate_slots(max_macs: int = MAX_STANDARD_MACS, groups: int = 4) -> list[dict]:
    """Every grid slot whose matched standard conv stays under max_macs and which every op can fill."""
    slots = []
    for hw, cin, e, k, s in itertools.product(HW, CHANNELS, EXPANSION, KERNELS, STRIDES):
        cout = cin * e
        if cin % groups or cout % groups or cout > 256:
            continue
        out = -(-hw // s)
        if out * out * cout * k * k * cin > max_macs:
            continue
        slots.append({"h": hw, "c_in": cin, "c_out": cout, "k": k, "stride": s})
    return slots


def _embed(slots: list[dict]) -> np.ndarray:
    """Slots as points in [0, 1]^5 (log map, log channels, expansion, kernel, stride)."""
    x = np.array([[np.log(s["h"]), np.log(s["c_in"]), np.log(s["c_out"] / s["c_in"]), s["k"], s["stride"]]
                  for s in slots], float)
    lo, hi = x.min(axis=0), x.max(axis=0)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def _space_filling(points: np.ndarray, n: int, taken: list[int] | None = None,
                   score: np.ndarray | None = None) -> list[int]:
    """Greedy picks: the highest score (default: distance) weighted by distance to what is taken."""
    taken = list(taken or [])
    picks: list[int] = []
    for _ in range(min(n, len(points) - len(taken))):
        if taken or picks:
            ref = points[taken + picks]
            dist = np.min(np.linalg.norm(points[:, None, :] - ref[None, :, :], axis=2), axis=1)
        else:
            dist = np.linalg.norm(points - points.mean(axis=0), axis=1)
        value = dist if score is None else score * (0.25 + dist)
        value[taken + picks] = -np.inf
        picks.append(int(np.argmax(value)))
    return picks


def _slot_key(slot: dict) -> tuple:
    return (slot["h"], slot["c_in"], slot["c_out"], slot["k"], slot["stride"])


def compose_config(overrides: list[str]) -> dict:
    """The same config ``python -m bench run`` would compose, as plain containers."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from bench import paths

    with initialize_config_dir(config_dir=str(paths.conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=False)


def _resolve(cfg: dict) -> dict:
    from omegaconf import OmegaConf

    cfg = {k: v for k, v in cfg.items() if k != "hydra"}
    return OmegaConf.to_container(OmegaConf.create(cfg), resolve=True)


def measure_round(cfg: dict, slots: list[dict], run_dir: Path) -> Path:
    from omegaconf import OmegaConf

    from bench.orchestrate.pipeline import run_benchmark

    round_cfg = json.loads(json.dumps(cfg))
    round_cfg["sweep"]["shapes"] = slots
    round_cfg["sweep"]["name"] = "characterize-adaptive"
    round_cfg["run"]["report"] = False
    round_cfg = _resolve(round_cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(round_cfg), run_dir / "config.resolved.yaml")
    summary = run_benchmark(round_cfg, run_dir)
    log.info("%s: %d/%d cases ok", run_dir, summary.ok, summary.cases)
    return run_dir


def _shape_of_slot(slot: dict, op: str, groups: int, depth_multiplier: int) -> dict:
    from bench.cases.spec import case_for_slot

    spec = case_for_slot(op, slot, groups=groups, depth_multiplier=depth_multiplier, padding="same", seed=0)
    return {"h": spec.h, "w": spec.w, "c_in": spec.c_in, "c_out": spec.c_out, "k": spec.k,
            "stride": spec.stride, "groups": spec.groups, "padding": spec.padding}


def characterize(board: str, op: str, kernels: str, *, rounds: int, init: int, batch: int,
                 target: float, out: Path, extra: list[str] | None = None) -> dict:
    from analysis.load import load_results
    from analysis.predictor import FORMS, _apply, _design, _fit, _fit_value, error_summary, usable_rows

    cfg = compose_config([f"board={board}", f"op={op}", f"kernels={kernels}", *(extra or [])])
    if list(cfg["op"]["names"]) != [op]:
        raise ConfigError(f"characterize fits one operator; op={op} lists {cfg['op']['names']}")
    groups, dm = int(cfg["op"]["groups"]), int(cfg["op"]["depth_multiplier"])
    pool, seen = [], set()
    for slot in candidate_slots(groups=groups):  # slots that give the op the same shape count once
        key = tuple(sorted(_shape_of_slot(slot, op, groups, dm).items()))
        if key not in seen:
            seen.add(key)
            pool.append(slot)
    points = _embed(pool)
    measured: list[int] = []
    history = []
    next_picks = _space_filling(points, init)
    predicted_before: dict[int, float] = {}
    failed: list[dict] = []
    excluded: set[int] = set()
    for rnd in range(rounds):
        slots = [pool[i] for i in next_picks]
        run_dir = measure_round(cfg, slots, out / f"round{rnd:02d}")
        measured += next_picks
        results = load_results([out])
        # A slot whose case failed (output mismatch, crash) is a kernel bug, not a cost to
        # learn: record it and drop the candidates with the same channel counts, so the
        # search does not keep spending rounds on the same failure.
        bad = results[(results["status"] != "ok") & (results["op"] == op)
                      & results["run"].astype(str).str.endswith(run_dir.name)]
        for r in bad.itertuples():
            failed.append({"case_id": r.case_id, "status": r.status, "round": rnd})
            if r.status != "output-mismatch":
                continue  # a crash or lost line says nothing about the neighbouring shapes
            for i, slot in enumerate(pool):
                if slot["c_in"] == r.c_in and (op == "depthwise" or slot["c_out"] == r.c_out):
                    excluded.add(i)
        if len(bad):
            print(f"round {rnd}: {len(bad)} {op} case(s) failed and are not used: "
                  + ", ".join(f"{c} ({s})" for c, s in zip(bad["case_id"], bad["status"]))
                  + "; candidates with the channels of an output mismatch are dropped")
        rows = usable_rows(results)
        rows = rows[(rows["board"] == board) & (rows["kernels"] == kernels) & (rows["op"] == op)]
        fitted = _fit_value(rows, "metric", FORMS)
        if fitted is None:  # nothing usable yet: spread the next batch instead
            history.append({"round": rnd, "run": str(run_dir), "shapes": 0, "added": slots})
            print(f"round {rnd}: no usable {op} case yet")
            if rnd == rounds - 1:
                history[-1]["stopped"] = "round budget spent"
                break
            next_picks = [i for i in _space_filling(points, batch, taken=measured) if i not in excluded]
            predicted_before = {}
            continue
        form, coef_all, errors, shapes, y, _ = fitted
        X = _design(form, shapes)
        loo = error_summary(errors)
        # Out-of-sample check: the batch just measured, predicted by the previous round's fit.
        batch_err = []
        for i in next_picks:
            if i in predicted_before:
                shape = _shape_of_slot(pool[i], op, groups, dm)
                match = (shapes[list(shape)] == pd.Series(shape)).all(axis=1).to_numpy()
                if match.any():
                    batch_err.append(predicted_before[i] / y[match][0] - 1.0)
        fresh = error_summary(np.array(batch_err)) if batch_err else None
        step = {"round": rnd, "run": str(run_dir), "shapes": int(len(y)), "form": form,
                "added": [pool[i] for i in next_picks],
                "held_out": loo, "new_batch_predicted_before_measuring": fresh}
        history.append(step)
        print(f"round {rnd}: {len(y)} shapes; leave-one-shape-out within 10 %: "
              f"{_pct(loo['within_10pct'])}, within 5 %: {_pct(loo['within_5pct'])}"
              + (f"; new batch predicted before measuring, within 10 %: {_pct(fresh['within_10pct'])}"
                 if fresh else ""))
        done = (loo["within_10pct"] is not None and loo["within_10pct"] >= target
                and (fresh is None or fresh["within_10pct"] >= target) and rnd > 0)
        if done or rnd == rounds - 1:
            step["stopped"] = "target met" if done else "round budget spent"
            break
        # Jackknife spread of every unmeasured candidate.
        coefs = []
        for held in range(len(y)):
            keep = np.arange(len(y)) != held
            coefs.append(_fit(form, X[keep], y[keep]))
        unmeasured = [i for i in range(len(pool)) if i not in measured and i not in excluded]
        cand_shapes = pd.DataFrame([_shape_of_slot(pool[i], op, groups, dm) for i in unmeasured])
        Xc = _design(form, cand_shapes)
        preds = np.array([_apply(form, c, Xc) for c in coefs])
        centre = _apply(form, coef_all, Xc)
        spread = np.max(np.abs(preds / np.maximum(centre, 1e-9) - 1.0), axis=0)
        score = np.full(len(pool), -np.inf)
        score[unmeasured] = spread
        local = _space_filling(points, batch, taken=measured, score=score)  # -inf: never picked
        local = [i for i in local if i not in excluded and np.isfinite(score[i])]
        next_picks = [i for i in local if i in set(unmeasured)]
        predicted_before = {i: float(centre[unmeasured.index(i)]) for i in next_picks}
    summary = {"board": board, "op": op, "kernels": kernels, "target_within_10pct": target,
               "candidates": len(pool), "failed_cases": failed, "rounds": history}
    (out / "characterize.json").write_text(json.dumps(summary, indent=1))
    from analysis.report import write_report
    write_report([out], out)
    return summary


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench characterize",
        description="adaptive sampling: measure a small design, fit the predictor, measure where it is "
                    "least sure, repeat until the held-out error target or the round budget",
        epilog="example: python -m bench characterize board=qemu_m7 op=depthwise rounds=4 init=8 batch=4")
    parser.add_argument("settings", nargs="*", help="board= op= kernels= rounds= init= batch= target= out=; "
                        "other key=value pairs are passed to the config as Hydra overrides")
    ns = parser.parse_args(args)
    kv, extra = {}, []
    for item in ns.settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"expected key=value, got {item!r}")
        if key in ("board", "op", "kernels", "rounds", "init", "batch", "target", "out"):
            kv[key] = value
        else:
            extra.append(item)
    op = kv.get("op", "standard")
    board = kv.get("board", "qemu_m7")
    out = Path(kv.get("out") or Path("runs") / "characterize" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{op}_{board}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    summary = characterize(board, op, kv.get("kernels", "ref"), rounds=int(kv.get("rounds", 4)),
                           init=int(kv.get("init", 8)), batch=int(kv.get("batch", 4)),
                           target=float(kv.get("target", 0.95)), out=out, extra=extra)
    last = summary["rounds"][-1]
    print(f"{last.get('stopped')}: {last['shapes']} shapes measured in {len(summary['rounds'])} round(s); "
          f"results, characterize.json and report in {out}")
    return 0
