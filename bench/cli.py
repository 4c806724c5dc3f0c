"""``python -m bench COMMAND``: the command line.

Each command is a function ``main(args: list[str]) -> int`` in its own module,
registered in COMMANDS. ``run`` is a Hydra app (overrides like
``op=depthwise board=qemu_m7``, ``-m`` for sweeps). A BenchError becomes a
one-line message and an exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

from bench.errors import BenchError

# name -> ("module:function", one-line help)
COMMANDS = {
    "run": ("bench.commands.run:run_app",
            "generate, build and run microbenchmarks (Hydra overrides: op=, board=, sweep=, kernels=; -m to sweep)"),
    "build": ("bench.commands.build:main", "generate and build a run's images without a board; sizes against the board's memories"),
    "report": ("analysis.report:main",
               "write eta_op tables, plots and report.md for one or more run folders (globs allowed)"),
    "store": ("bench.commands.store:store_main", "results store (SQLite): store add runs/..., store list"),
    "baseline": ("bench.commands.store:baseline_main", "baseline set runs/... (per board, kernels, sweep), baseline show"),
    "regress": ("bench.commands.regress:main", "compare a run (default: newest) with its baseline; exit 1 on regression"),
    "calibrate": ("bench.commands.calibrate:main", "fit per-class cycle costs to a board's measured cycles (NNLS); held-out error; yaml"),
    "boards": ("bench.farm.inventory:main", "farm inventory vs attached probes and serial ports; flags mismatches"),
    "farm": ("bench.farm.cli:main", "farm run OVERRIDES: jobs on every board at once (locks; --ray for many hosts)"),
    "predict": ("analysis.predict_cli:predict_main", "predicted cost of one shape (board= op= h= c_in= c_out= k=) with expected error"),
    "holdout": ("analysis.predict_cli:holdout_main", "held-out accuracy of the cost predictor per operator (whole shapes left out)"),
    "characterize": ("bench.commands.characterize:main", "adaptive sampling: measure, fit, add the shapes the predictor knows worst, repeat"),
    "list": ("bench.commands.listing:main", "ops, boards, sweeps, kernel libraries, cores, power monitors, budgets, families"),
    "search": ("analysis.design.cli:search_main", "rank block designs for a layer slot on a board: Pareto front of predicted energy vs params/MACs"),
    "profile": ("bench.commands.profile:main",
                "a .tflite layer by layer on a board: each operator bit-exact with the model's data; report"),
    "scale": ("analysis.design.cli:scale_main", "solve PhiNet/XiNet hyperparameters for a board's flash, RAM and MACs/energy/latency budgets"),
}


# Commands that show no progress of their own and can take more than a couple of seconds:
# cli.main runs them under a spinner with the elapsed time (bench.progress.status).
SPINNER = {"search", "scale", "holdout", "predict", "calibrate", "regress", "build"}


def version() -> str:
    """The package version and, from a source checkout, the git commit it runs from."""
    import subprocess
    from pathlib import Path

    from . import __version__

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"mcu-opbench {__version__}" + (f" (git {commit})" if commit else "")


def _usage() -> str:
    lines = ["usage: python -m bench COMMAND [ARGS]   (or --version)", "", "commands:"]
    width = max(map(len, COMMANDS)) + 2
    lines += [f"  {name:<{width}}{text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "examples:",
              "  python -m bench run                                  # all four ops, default sweep, qemu_m7",
              "  python -m bench run op=depthwise board=qemu_m7 sweep=smoke",
              "  python -m bench run -m op=standard,depthwise,grouped,pointwise",
              "  python -m bench run --cfg job                        # show the composed config",
              "  python -m bench report latest                        # again, over the newest run",
              "  python -m bench list                                 # what op=, board=, sweep=, kernels= take",
              "", "python -m bench COMMAND --help describes a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(version())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, func = COMMANDS[command][0].split(":")
    try:
        if command in SPINNER and not {"-h", "--help"} & set(rest):
            from .progress import status

            with status(f"{command}"):
                return int(getattr(importlib.import_module(module), func)(rest) or 0)
        return int(getattr(importlib.import_module(module), func)(rest) or 0)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: results measured so far are in the run folder", file=sys.stderr)
        return 130
