"""Per-core pipeline timing models as data: ``conf/cores/<core>.yaml``.

A model gives, per instruction class of the QEMU cycle plugin
(``qemu_plugin/thumb_decode.h``), the issue cycles, result latency, how it
pairs in a dual-issue core, the execution units it takes and how early its
result can be read, plus core-wide pipeline and branch parameters. Every
entry names a source (a key of the file's ``sources``) or says
``assumption``. ``inherits: <core>`` starts from another core's table
(``inherited_basis: assumption`` marks every inherited entry as assumed).

``param_text`` turns a model (and the board's memory wait states) into the
plugin's compact parameter file; ``describe`` is the one-line basis a report
prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import yaml

from bench import paths
from bench.errors import ConfigError

# Order and names shared with class_names[] in qemu_plugin/cycles.c.
CLASS_NAMES = (
    "alu", "alu_shift", "shift", "mul", "mac", "mul_long", "mac_long",
    "dsp", "dsp_mac", "sat", "extend", "extend16", "div",
    "load", "load_narrow", "load_double", "load_multiple",
    "store", "store_reg", "store_double", "store_multiple",
    "branch", "branch_cond", "branch_indirect", "call", "table_branch",
    "it", "nop", "barrier", "system",
    "fpu", "fpu_div", "fpu_load", "fpu_store",
    "mve", "mve_mac", "mve_load", "mve_store",
)
UNITS = ("alu", "shift", "load", "store", "mac", "simd", "branch", "fpu", "mve")
PIPELINE_KEYS = ("width", "late_adv", "ldst_pipeline", "it_fold", "fetch_wait")
BRANCH_KEYS = ("predictor", "taken", "not_taken", "wide_unaligned", "predicted_taken", "mispredict", "indirect")
PAIR = {"single": 0, "any": 1, "older": 2}
ASSUMPTION = "assumption"


def cores_dir() -> Path:
    return paths.conf_dir() / "cores"


def available_cores() -> list[str]:
    return sorted(p.stem for p in cores_dir().glob("*.yaml"))


def load(core: str) -> dict:
    """The merged model of a core (following ``inherits``); raises ConfigError."""
    path = cores_dir() / f"{core}.yaml"
    if not path.exists():
        raise ConfigError(f"no timing model for core {core!r} (conf/cores/{core}.yaml); "
                          f"models exist for {', '.join(available_cores())}")
    try:
        own = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"timing model {path}: {exc}") from None
    if own.get("inherits"):
        base = load(str(own["inherits"]))
        if own.get("inherited_basis") == ASSUMPTION:   # the base core's figures only assumed to carry over
            for section in ("classes", "pipeline", "units", "branches"):
                base[section] = {k: {**v, "source": ASSUMPTION, "note": f"{base['core']} value: {v.get('note', '')}"}
                                 for k, v in base[section].items()}
        model = {**base, **{k: v for k, v in own.items() if k not in ("sources", "classes", "pipeline",
                                                                     "units", "branches")}}
        for section in ("sources", "classes", "pipeline", "units", "branches"):
            model[section] = {**(base.get(section) or {}), **(own.get(section) or {})}
    else:
        model = own
    model["core"] = core
    validate(model, str(path))
    return model


def validate(model: Mapping, where: str) -> None:
    sources = model.get("sources") or {}

    def check_source(name: str, entry: Mapping) -> None:
        src = entry.get("source")
        if src != ASSUMPTION and src not in sources:
            raise ConfigError(f"timing model {where}: {name} names source {src!r}, not one of "
                              f"{sorted(sources)} or {ASSUMPTION!r}")

    classes = model.get("classes") or {}
    missing = [c for c in CLASS_NAMES if c not in classes]
    if missing:
        raise ConfigError(f"timing model {where} has no entry for class(es) {', '.join(missing)}")
    for name, entry in classes.items():
        if name not in CLASS_NAMES:
            raise ConfigError(f"timing model {where}: unknown class {name!r}")
        check_source(f"class {name}", entry)
        if entry.get("pair", "any") not in PAIR:
            raise ConfigError(f"timing model {where}: class {name} pair must be one of {sorted(PAIR)}")
        for unit in entry.get("units") or []:
            if unit not in UNITS:
                raise ConfigError(f"timing model {where}: class {name} uses unknown unit {unit!r}")
        for key in ("issue", "lat", "per_reg", "early_pen", "beats"):
            if int(entry.get(key, 0)) < 0:
                raise ConfigError(f"timing model {where}: class {name} has a negative {key}")
    for section, keys in (("pipeline", PIPELINE_KEYS), ("branches", BRANCH_KEYS), ("units", UNITS)):
        table = model.get(section) or {}
        for key in keys:
            if key not in table:
                raise ConfigError(f"timing model {where}: {section}.{key} is missing")
            check_source(f"{section}.{key}", table[key])


def fetch_wait(board: Mapping) -> int:
    """Wait states per instruction fetched from the region holding the kernel code.

    From ``board.timing.fetch_wait: {REGION: cycles}`` (TCM and cache hits: 0;
    internal flash: its wait states at the board's clock unless an
    accelerator/cache hit is assumed, which the board yaml states).
    """
    waits = (board.get("timing") or {}).get("fetch_wait") or {}
    placement = board.get("placement") or {}
    region = placement.get("kernel_code") or placement.get("code")
    return int(waits.get(region, 0))


def data_waits(board: Mapping) -> list[tuple[int, int, int]]:
    """(start, end, cycles) of every memory region with data wait states.

    From ``board.timing.data_wait: {REGION: cycles per access}`` (TCM: 0;
    internal flash read through its accelerator or a D-cache hit: 0 as a
    stated assumption; flash without them: its wait states at the board's
    clock). Every data access into such a region costs that many cycles more.
    """
    waits = (board.get("timing") or {}).get("data_wait") or {}
    memory = board.get("memory") or {}
    out = []
    for region, cycles in waits.items():
        if int(cycles) <= 0:
            continue
        if region not in memory:
            raise ConfigError(f"board timing.data_wait names {region!r}, not a memory region of the board "
                              f"({', '.join(memory)})")
        lo = int(memory[region]["origin"])
        out.append((lo, lo + int(memory[region]["size_kb"]) * 1024, int(cycles)))
    return out


def param_text(model: Mapping, board: Mapping | None = None) -> str:
    """The plugin's parameter file: one ``key value`` per line, classes as rows."""
    lines = [f"# {model['core']}: generated from conf/cores/{model['core']}.yaml by bench.timing.core_model"]
    pipeline = {k: int(model["pipeline"][k]["value"]) for k in PIPELINE_KEYS}
    if board is not None:
        pipeline["fetch_wait"] += fetch_wait(board)
    lines += [f"{k} {v}" for k, v in pipeline.items()]
    lines += [f"{k} {int(model['branches'][k]['value'])}" for k in BRANCH_KEYS]
    lines += [f"cap.{u} {int(model['units'][u]['value'])}" for u in UNITS]
    lines += [f"dwait {lo:#x} {hi:#x} {cycles}" for lo, hi, cycles in data_waits(board or {})]
    for name in CLASS_NAMES:
        c = model["classes"][name]
        mask = sum(1 << UNITS.index(u) for u in c.get("units") or [])
        lines.append(f"class {name} {int(c.get('issue', 1))} {int(c.get('per_reg', 0))} {int(c.get('lat', 1))} "
                     f"{PAIR[c.get('pair', 'any')]} {mask} {int(c.get('early_pen', 0))} {int(c.get('beats', 0))}")
    return "\n".join(lines) + "\n"


def describe(model: Mapping) -> str:
    """One line: which model, from what, how much of it is assumed."""
    entries = [*model["classes"].values(), *model["pipeline"].values(), *model["branches"].values()]
    assumed = sum(1 for e in entries if e.get("source") == ASSUMPTION)
    return (f"{model['core']} pipeline model ({model.get('reference', '')}); "
            f"{assumed} of {len(entries)} entries are assumptions")


def basis_line(core: str) -> str:
    """What a report says about a core's estimated cycles: basis and validation, one line."""
    model = load(core)
    return f"{describe(model)}. Validation: {model.get('validation', 'none recorded')}."
