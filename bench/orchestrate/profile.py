"""Profile one model on one board: every layer as a bit-exact, timed case.

Plain functions over a plain config (no Hydra here). The layers come from
bench/profile (model reading, whole-model reference activations, one case
per operator); the matched standard convolutions for eta_op and the
what-if standard convs for depthwise-separable pairs are ordinary sweep
cases (bench/cases/generate.py, seeded weights: cost depends on shape, not values).
Everything runs in the same images, so every ratio is taken within one run.

Writes to the run folder: results.csv (one row per case, as ``run`` does),
layers.csv (every operator of the model, supported or not), whatif.csv,
profile.json (model, sample input, board, clock and RAM), models/ (the
model). The command then writes the report (analysis/profile_report.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from bench import paths
from bench.build.images import compiler_version, plan_images, too_large
from bench.build.settings import build_settings
from bench.cases.generate import GeneratedCase, generate
from bench.errors import ConfigError
from bench.collect import run_decisions
from bench.collect.run_folder import run_folder_lock
from bench.orchestrate import config_schema
from bench.orchestrate.pipeline import attach_cycle_estimator, outcome, run_images
from bench.profile import activations
from bench.profile.layers import ModelLayers, extract_layers, what_if_standard
from bench.profile.memory import live_activation_bytes
from bench.profile.model_reader import read_model
from bench.targets import make_target

log = logging.getLogger(__name__)


@dataclass
class ProfileRun:
    run_dir: Path
    layers: ModelLayers
    cases: int = 0
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def board_ram_bytes(board: Mapping) -> int:
    """Bytes of the region the board places activations in (the RAM a model's tensors live in)."""
    region = board["placement"]["activations"]
    return int(board["memory"][region]["size_kb"]) * 1024


def plan(model_path: Path, sample: str | None, seed: int) -> tuple[ModelLayers, dict]:
    """Layers of the model with their cases, and the facts about the model run.

    The facts include ``live_bytes``: per operator, the activations alive while it runs."""
    graph = read_model(model_path)
    raw = graph.path.read_bytes()
    x = activations.sample_input(graph, seed=seed, path=sample)
    acts = activations.run_all_tensors(raw, x)
    digest = activations.inputs_digest(raw, x)
    layers = extract_layers(graph, acts, digest)
    facts = {
        "model": str(graph.path), "model_sha256": hashlib.sha256(raw).hexdigest(),
        "subgraphs": graph.subgraphs, "operators": len(graph.operators),
        "sample": str(sample) if sample else f"seeded uniform int8 (seed {seed})",
        "data_hash": digest, "live_bytes": live_activation_bytes(graph),
    }
    return layers, facts


def drop_oversized(layers: ModelLayers, settings) -> None:
    """A layer too big for the board's memories is listed as unsupported, saying why; the rest still run."""
    for layer in layers.layers:
        problem = layer.case and too_large(layer.spec, settings)
        if problem:
            layer.case, layer.status, layer.reason = None, "unsupported", problem


def extra_cases(layers: ModelLayers, cache: Path) -> tuple[list[GeneratedCase], list[dict]]:
    """The standard convs eta_op and the what-if table compare against, deduplicated."""
    wanted: dict[str, object] = {}
    for layer in layers.layers:
        spec = layer.spec
        if spec is not None and spec.op in ("depthwise", "grouped", "pointwise"):
            ref = spec.reference()
            if ref is not spec:
                wanted.setdefault(ref.case_id, ref)
    whatif = []
    by_index = {layer.index: layer for layer in layers.layers}
    for dw, pw in layers.separable_pairs:
        if by_index[dw].spec is None or by_index[pw].spec is None:  # one of them cannot run here
            continue
        std = what_if_standard(by_index[dw].spec, by_index[pw].spec)
        whatif.append({"depthwise_layer": dw, "pointwise_layer": pw,
                       "standard_case_id": std.case_id if std else ""})
        if std is not None:
            wanted.setdefault(std.case_id, std)
    return [generate(spec, cache) for spec in wanted.values()], whatif


def layers_table(layers: ModelLayers, live_bytes: Mapping[int, int]) -> pd.DataFrame:
    rows = []
    for layer in layers.layers:
        spec = layer.spec
        ref = spec.reference() if spec is not None else None
        rows.append({
            "layer": layer.index, "tflite_op": layer.op_name, "status": layer.status,
            "op": spec.op if spec else "", "case_id": spec.case_id if spec else "",
            "input_shapes": " ".join("x".join(map(str, s)) for s in layer.input_shapes),
            "output_shapes": " ".join("x".join(map(str, s)) for s in layer.output_shapes),
            "kernel": f"{spec.kh}x{spec.kw}" if spec else "", "stride": f"{spec.sh}x{spec.sw}" if spec else "",
            "dilation": f"{spec.dh}x{spec.dw}" if spec else "", "padding": spec.padding if spec else "",
            "activation": layer.activation, "macs": layer.macs, "weight_bytes": layer.weight_bytes,
            "activation_bytes": layer.activation_bytes, "live_bytes": live_bytes.get(layer.index, 0),
            "ref_case_id": ref.case_id if ref is not None and ref is not spec else "",
            "reason": layer.reason,
        })
    return pd.DataFrame(rows)


def run_profile(cfg: Mapping, model_path: Path, run_dir: Path, *, sample: str | None = None,
                seed: int = 0, clock_hz: float | None = None) -> ProfileRun:
    """Profile ``model_path`` into ``run_dir`` (held for the run); ``clock_hz`` for latency
    (default: the board's energy_model.clock_hz)."""
    config_schema.validate(cfg)   # every bad key or value named before any work
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_folder_lock(run_dir):
        return _profile_locked(cfg, Path(model_path), run_dir, sample, seed, clock_hz)


def _profile_locked(cfg: Mapping, model_path: Path, run_dir: Path, sample: str | None, seed: int,
                    clock_hz: float | None) -> ProfileRun:
    started = time.perf_counter()
    board = cfg["board"]
    settings = build_settings(cfg)   # raises on an unusable kernel library path
    target = make_target(board)
    attach_cycle_estimator(target, cfg)  # cycles_estimated per layer, as `run` has them
    compiler_version()
    cache = paths.cache_dir()

    t0 = time.perf_counter()
    layers, facts = plan(model_path, sample, seed)
    drop_oversized(layers, settings)
    refs, whatif = extra_cases(layers, cache)
    refs = [g for g in refs if not too_large(g.spec, settings)]
    cases = layers.cases() + refs
    if not cases:
        raise ConfigError(f"{model_path}: no operator of this model can run as a case "
                          "(see layers.csv for each operator's reason)")
    timings = {"plan_s": time.perf_counter() - t0}

    (run_dir / "results.csv").unlink(missing_ok=True)  # a profile into a used folder starts afresh
    (run_dir / "models").mkdir(exist_ok=True)
    shutil.copyfile(model_path, run_dir / "models" / Path(model_path).name)
    layers_table(layers, facts.pop("live_bytes")).to_csv(run_dir / "layers.csv", index=False)
    pd.DataFrame(whatif, columns=["depthwise_layer", "pointwise_layer", "standard_case_id"]).to_csv(
        run_dir / "whatif.csv", index=False)
    clock_hz = float(clock_hz or board["energy_model"]["clock_hz"])
    facts.update(board=board["name"], kernels=cfg["kernels"]["name"], core=board.get("core", ""),
                 clock_hz=clock_hz, ram_bytes=board_ram_bytes(board),
                 ram_region=board["placement"]["activations"], energy_model=board["energy_model"])
    (run_dir / "profile.json").write_text(json.dumps(facts, indent=2, default=str))

    # One energy basis for the whole profile (written to run_decisions.json, as for `run`).
    decisions = run_decisions.decide(cfg, sum(g.spec.macs for g in cases), target, run_dir)
    cfg = {**cfg, "run": {**cfg["run"], "instruction_mix": decisions["instruction_mix"]}}
    images = plan_images([g.spec for g in cases], settings, jobs=int(cfg["run"]["jobs"]))
    result = ProfileRun(run_dir, layers, cases=len(cases))
    t1 = time.perf_counter()
    run_images(images, cases, settings, target, cfg, run_dir, f"profile {board['name']}", cache)
    timings["build_and_run_s"] = time.perf_counter() - t1
    result.ok, result.failed = outcome(run_dir)

    timings["total_s"] = time.perf_counter() - started
    result.timings = timings
    (run_dir / "timings.json").write_text(json.dumps(timings, indent=2))
    return result
