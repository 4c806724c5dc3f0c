"""Types and ranges of the run's config, checked before anything is generated or built.

The sections a run reads numbers from (op, sweep and its shapes, run, the
board's repetitions) are declared as dataclasses and merged with OmegaConf's
structured configs, the type checking Hydra's ConfigStore schemas use: a value
that does not convert to the declared type, a missing key or an unknown one
is reported with its full key, the value given and what is allowed, as one
ConfigError, not a traceback from deep inside the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bench.cases.spec import ALL_OPS, OLD_SLOT_KEYS, PADDINGS, SLOT_KEYS
from bench.errors import ConfigError

MAX_REPS = 100_000      # the runner keeps one uint64 per timed call in RAM
MAX_WARMUP = 1_000_000


@dataclass
class ShapeSchema:
    h: int = MISSING
    c_in: int = MISSING
    c_out: int = MISSING
    k: int = MISSING
    stride: int = 1
    w: Optional[int] = None            # defaults to h


@dataclass
class SweepSchema:
    name: str = MISSING
    padding: str = "same"
    seed: int = 0
    shapes: List[Any] = MISSING        # each checked as a ShapeSchema, to name its index


@dataclass
class OpSchema:
    name: str = MISSING
    names: List[str] = MISSING
    groups: int = 1
    depth_multiplier: int = 1


@dataclass
class RunSchema:
    jobs: int = 2
    timeout_s: float = 60.0
    report: Any = True                 # true, false or always
    resume: Any = False                # true, false or a run folder
    instruction_mix: Any = "auto"      # auto, true or false
    instruction_mix_max_macs: float = 2e7
    cycles: Any = True                 # the QEMU cycle plugin's estimate: true or false


@dataclass
class RepsSchema:                      # the part of board/<name>.yaml the runner is built with
    warmup: int = MISSING
    reps: int = MISSING


# What a user may write, for the message: full key -> allowed values in words.
ALLOWED = {
    "sweep.name": "a name", "sweep.padding": " or ".join(PADDINGS), "sweep.seed": "an integer",
    "sweep.shapes": "a list of shapes {h, w (default h), c_in, c_out, k, stride (default 1)}",
    "shape": "integers >= 1 for h, w (default h), c_in, c_out, k and stride",
    "op.names": f"a list of {', '.join(ALL_OPS)}", "op.groups": "an integer >= 1",
    "op.depth_multiplier": "an integer >= 1",
    "run.jobs": "an integer >= 1", "run.timeout_s": "a number of seconds > 0",
    "run.report": "true, false or always", "run.resume": "true, false or a run folder",
    "run.instruction_mix": "auto, true or false", "run.cycles": "true or false", "run.instruction_mix_max_macs": "a number >= 0",
    "board.reps": f"an integer 1..{MAX_REPS}", "board.warmup": f"an integer 0..{MAX_WARMUP}",
}


def validate(cfg: Mapping) -> None:
    """Raise ConfigError naming the first bad key, its value and what is allowed."""
    shapes = (cfg.get("sweep") or {}).get("shapes") if isinstance(cfg.get("sweep"), Mapping) else None
    if shapes is not None and not isinstance(shapes, (list, tuple)):
        _bad("sweep.shapes", shapes)
    op = _typed("op", OpSchema, cfg.get("op"))
    sweep = _typed("sweep", SweepSchema, cfg.get("sweep"))
    run = _typed("run", RunSchema, cfg.get("run"))
    board = _typed("board", RepsSchema, cfg.get("board"))

    for name in op.names:
        if name not in ALL_OPS:
            _bad("op.names", name)
    for key in ("groups", "depth_multiplier"):
        if getattr(op, key) < 1:
            _bad(f"op.{key}", getattr(op, key))
    if sweep.padding not in PADDINGS:
        _bad("sweep.padding", sweep.padding)
    if not sweep.shapes:
        _bad("sweep.shapes", sweep.shapes)
    for i, shape in enumerate(sweep.shapes):
        _check_shape(i, shape)
    if run.jobs < 1:
        _bad("run.jobs", run.jobs)
    if not run.timeout_s > 0:
        _bad("run.timeout_s", run.timeout_s)
    if run.report not in (True, False, "always"):
        _bad("run.report", run.report)
    if not isinstance(run.resume, (bool, str)) or run.resume == "":
        _bad("run.resume", run.resume)
    if run.instruction_mix not in ("auto", True, False):
        _bad("run.instruction_mix", run.instruction_mix)
    if run.instruction_mix_max_macs < 0:
        _bad("run.instruction_mix_max_macs", run.instruction_mix_max_macs)
    if not isinstance(run.cycles, bool):
        _bad("run.cycles", run.cycles)
    if not 1 <= board.reps <= MAX_REPS:
        _bad("board.reps", board.reps)
    if not 0 <= board.warmup <= MAX_WARMUP:
        _bad("board.warmup", board.warmup)


def _check_shape(i: int, shape: Any) -> None:
    key = f"sweep.shapes[{i}]"
    if not isinstance(shape, Mapping):
        raise ConfigError(f"{key}={shape!r}: not a shape; allowed: {ALLOWED['sweep.shapes']}")
    shape = {OLD_SLOT_KEYS.get(k, k): v for k, v in dict(shape).items()}  # hw/cin/cout: older sweeps
    typed = _typed(key, ShapeSchema, shape, allowed=ALLOWED["shape"], strict=True)
    for name in SLOT_KEYS:
        value = getattr(typed, name)
        if value is not None and value < 1:
            raise ConfigError(f"{key}.{name}={value}: must be >= 1; allowed: {ALLOWED['shape']}")


def _typed(section: str, schema, node: Any, allowed: str | None = None, strict: bool = False):
    """The section as the schema's dataclass. Sections are open (a board yaml, or a
    plugin's run.* settings, hold more than we check); a shape is strict, so a
    misspelt key is named rather than ignored."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"{section}={node!r}: not a mapping of settings")
    if not strict:
        node = {k: node[k] for k in schema.__dataclass_fields__ if k in node}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.create(dict(node)))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        key = exc.key if isinstance(exc.key, str) else (exc.full_key or "?").split(".")[0]
        full = f"{section}.{key}"
        value = node.get(key, "<missing>") if isinstance(key, str) else "?"
        reason = str(exc.msg).splitlines()[0] if exc.msg else type(exc).__name__
        hint = allowed or ALLOWED.get(full, ALLOWED.get(f"{section.split('[')[0]}.{key}", ""))
        raise ConfigError(f"{full}={value!r}: {reason}" + (f"; allowed: {hint}" if hint else "")) from None


def _bad(key: str, value: Any) -> None:
    raise ConfigError(f"{key}={value!r} is not allowed; allowed: {ALLOWED[key]}")
