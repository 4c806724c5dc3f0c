"""Estimated cycles from an instruction-class histogram: a per-core linear model.

Superseded for emulated runs by the sequence-aware pipeline model of the QEMU
cycle plugin (bench/timing, conf/cores/<core>.yaml): this linear model is what
``calibrate`` fits to a real board's DWT cycles from a Unicorn instruction
mix, and what ``run.instruction_mix=true`` adds when the plugin is off. Its
tables are ``conf/cores/linear/<core>.yaml``.

cycles = sum(count[class] * cost[class]) + sum(extra[k] * cost[k])
         + instructions * code_wait_cycles_per_instruction
         + sum(data reads from region r * data_wait_cycles[r])

Class costs are plain data in ``conf/cores/<core>.yaml`` (each with its
basis: the core's TRM or a stated assumption), or a fitted model written by
``bench.calibrate`` (``conf/cores/fitted/<board>__<toolchain>.yaml``). The
memory terms come from the board yaml: ``cycle_model.code_wait_cycles_per_instruction``
and ``cycle_model.data_wait_cycles: {REGION: cycles per data read}`` (default
0: TCM, SSRAM or cache hits; a non-zero region makes the mix count its reads). Every figure is labelled
``model-estimate``: no emulator models cycles (see docs/emulation.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import yaml

from bench import paths
from bench.errors import ConfigError
from bench.timing.instruction_classes import CLASSES, EXTRAS

PROVENANCE = "model-estimate"


def cores_dir() -> Path:
    return paths.conf_dir() / "cores" / "linear"


def load_model(path: Path) -> dict:
    try:
        model = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cycle model {path}: {exc}") from None
    validate(model, str(path))
    model.setdefault("name", path.stem)
    return model


def validate(model: Mapping, where: str) -> None:
    classes = model.get("classes") or {}
    missing = [c for c in CLASSES if c not in classes]
    if missing:
        raise ConfigError(f"cycle model {where} has no cost for {', '.join(missing)}")
    for name, entry in {**classes, **(model.get("extras") or {})}.items():
        if float(entry["cycles"]) < 0:
            raise ConfigError(f"cycle model {where}: negative cost for {name}")


def model_for_board(board: Mapping) -> dict | None:
    """The board's cycle model: a fitted one if the board names it, else its core's; None if neither."""
    settings = board.get("cycle_model") or {}
    fitted = settings.get("fitted")
    if fitted:
        path = Path(fitted)
        if not path.is_absolute():
            path = cores_dir() / "fitted" / path
        if path.exists():
            return load_model(path)
    core = settings.get("core") or board.get("core")
    if not core:
        return None
    path = cores_dir() / f"{core}.yaml"
    if not path.exists():
        return None
    return load_model(path)


def cost_vector(model: Mapping) -> tuple[list[float], list[float]]:
    classes = model["classes"]
    extras = model.get("extras") or {}
    return ([float(classes[c]["cycles"]) for c in CLASSES],
            [float(extras[e]["cycles"]) if e in extras else 0.0 for e in EXTRAS])


def estimate_cycles(mix: Mapping, model: Mapping, board: Mapping | None = None) -> float:
    """Cycles per call for a mix as stored by instruction_mix (classes, extras, instructions)."""
    class_costs, extra_costs = cost_vector(model)
    cycles = sum(float(mix["classes"].get(c, 0)) * k for c, k in zip(CLASSES, class_costs))
    cycles += sum(float(mix["extras"].get(e, 0)) * k for e, k in zip(EXTRAS, extra_costs))
    settings = (board or {}).get("cycle_model") or {}
    cycles += float(settings.get("code_wait_cycles_per_instruction", 0.0)) * float(mix["instructions"])
    for region, wait in (settings.get("data_wait_cycles") or {}).items():
        if float(wait) > 0:
            reads = mix["extras"].get(f"reads_{region}")
            if reads is None:
                raise ConfigError(f"data_wait_cycles for {region}, but the mix counted no reads there")
            cycles += float(wait) * float(reads)
    return cycles


def describe(model: Mapping) -> str:
    return f"{model.get('name', model.get('core', '?'))}: {model.get('reference', '')}".strip()


_MODELS: dict[str, dict | None] = {}


def _cached_model(board: Mapping) -> dict | None:
    key = repr((board.get("name"), board.get("core"), board.get("cycle_model")))
    if key not in _MODELS:
        _MODELS[key] = model_for_board(board)
    return _MODELS[key]


def row_fields(per_call: float, unit: str, board: Mapping, mix: Mapping | None) -> dict:
    """results.csv columns: instructions, estimated cycles (labelled), measured cycles."""
    out: dict = {}
    if unit == "cycles":
        out["cycles_measured"] = per_call
    if unit == "instructions":
        out["instructions"] = round(per_call)   # emulator counts are whole instructions
    elif mix:
        out["instructions"] = mix["instructions"]
    model = _cached_model(board) if mix else None
    if model is not None:
        out["cycles_estimated"] = round(estimate_cycles(mix, model, board))
        out["cycles_estimated_provenance"] = PROVENANCE
        out["cycles_model"] = model.get("name", "")
    return out
