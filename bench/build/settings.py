"""Build settings of a run, from its config: CPU flags, memories and
placement, kernel library, and the runner's repetition defines."""

from __future__ import annotations

from typing import Mapping

from bench.build import kernel_libs
from bench.build.images import BuildSettings
from bench.errors import ConfigError


def build_settings(cfg: Mapping) -> BuildSettings:
    board, build = cfg["board"], cfg["build"]
    library = kernel_libs.library_build(cfg["kernels"])  # e.g. a user's CMSIS-NN tree; raises if unusable
    return BuildSettings(
        board=board["name"], firmware_dir=board["firmware_dir"],
        cpu_flags=tuple(board["cpu_flags"]), opt_level=str(build["opt_level"]),
        extra_flags=tuple(build.get("extra_flags") or ()), kernels=cfg["kernels"]["name"],
        memory=board["memory"], placement=board["placement"], stack_bytes=int(board["stack_bytes"]),
        warmup=int(board["warmup"]), reps=int(board["reps"]),
        defines=tuple(board.get("defines") or ()) + repeat_defines(cfg)  # board.repeat, power windows
        + library.defines,
        extra_sources=library.extra_sources, include_dirs=library.include_dirs,
    )


def repeat_defines(cfg: Mapping) -> tuple[str, ...]:
    """-D flags for the runner's repetition policy (firmware/runner/main.c).

    ``board.repeat`` {target_rse, max_reps, budget_ms} turns on adaptive
    repetitions (``board.reps`` is then the minimum); without it the runner
    does exactly ``board.reps`` calls, as emulators need. A power monitor's
    ``min_window_ms`` keeps each window long enough for its sample rate, and
    its ``baseline_ms`` adds an idle window (the core spinning) before the
    first case, whose power the host subtracts.
    """
    board = cfg["board"]
    out: list[str] = []
    rep = board.get("repeat") or {}
    if rep:
        try:
            rse = float(rep["target_rse"])
            max_reps = int(rep.get("max_reps", board["reps"]))
            budget_ms = int(rep.get("budget_ms", 0) or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"board {board['name']}: bad repeat settings {rep!r} ({exc})") from None
        if not 0 < rse < 1:
            raise ConfigError(f"board {board['name']}: repeat.target_rse must be between 0 and 1, not {rse}")
        if max_reps < int(board["reps"]):
            raise ConfigError(f"board {board['name']}: repeat.max_reps ({max_reps}) is below reps ({board['reps']})")
        out += [f"-DBENCH_RSE_PPM={max(1, int(round(rse * 1e6)))}", f"-DBENCH_MAX_REPS={max_reps}"]
        if budget_ms > 0:
            out.append(f"-DBENCH_BUDGET_MS={budget_ms}")
    power = cfg.get("power") or {}
    if power.get("kind", "none") != "none" and int(power.get("min_window_ms", 0) or 0) > 0:
        out.append(f"-DBENCH_MIN_WINDOW_MS={int(power['min_window_ms'])}")
    if power.get("kind", "none") != "none" and int(power.get("baseline_ms", 0) or 0) > 0:
        out.append(f"-DBENCH_IDLE_MS={int(power['baseline_ms'])}")
    return tuple(out)
