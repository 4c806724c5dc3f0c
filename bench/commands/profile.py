"""``python -m bench profile MODEL.tflite [OVERRIDE ...]``: a model, layer by layer.

Every operator of a converter-produced int8 .tflite becomes a single-operator
case with the model's weights, quantization and geometry, fed the activation
it sees when the whole model runs in the reference interpreter, and checked
bit for bit against the interpreter's output of that layer. Overrides are
Hydra's, as for ``run`` (board=, kernels=, build.opt_level=, ...).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from bench.commands.build import compose
from bench.errors import BenchError

USAGE = """usage: python -m bench profile MODEL.tflite [OVERRIDE ...] [--sample X.npy] [--seed N]
                                [--out DIR] [--clock-mhz F]

Benchmark every layer of an int8 .tflite on a board; write results.csv, layers.csv,
profile.md / profile.html / profile.csv and profile_cycles.png to the run folder.

  python -m bench profile ../shared/models/kws_ref_model.tflite board=qemu_m7 kernels=opt
  python -m bench profile model.tflite board=qemu_m7 kernels=cmsis_nn CMSIS_NN_PATH=... --clock-mhz 120

--sample   the model input as a .npy (default: seeded uniform int8; the data each layer
           sees is still the model's own, computed by the interpreter from it)
--clock-mhz  clock for the latency column (default: the board's energy_model.clock_hz)"""


def _parse(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench profile", add_help=False)
    parser.add_argument("model")
    parser.add_argument("--sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    parser.add_argument("--clock-mhz", type=float)
    try:
        ns, rest = parser.parse_known_args(args)
    except SystemExit:
        raise BenchError("usage: python -m bench profile MODEL.tflite [OVERRIDE ...] (see --help)") from None
    bad = [a for a in rest if "=" not in a]
    if bad:
        raise BenchError(f"unexpected argument(s) {' '.join(bad)}; overrides look like board=qemu_m7")
    return ns, rest


def _run_dir(model: Path, cfg: dict) -> Path:
    stamp = time.strftime("%Y-%m-%d/%H-%M-%S")
    return Path("runs") / "profile" / f"{stamp}_{model.stem}_{cfg['board']['name']}_{cfg['kernels']['name']}"


def _log_to(run_dir: Path) -> None:
    """As for `run`: warnings and errors in the terminal, everything (banners too) in run.log."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    terminal, file = logging.StreamHandler(), logging.FileHandler(run_dir / "run.log")
    terminal.setLevel(logging.WARNING)
    for handler in (terminal, file):
        handler.setFormatter(fmt)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.handlers[:] = [terminal, file]


def main(args: list[str]) -> int:
    if not args or any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    from analysis.profile_report import write_profile_report
    from bench.orchestrate.profile import run_profile

    ns, overrides = _parse(args)
    cfg = compose(overrides)
    model = Path(ns.model)
    run_dir = Path(ns.out) if ns.out else _run_dir(model, cfg)
    _log_to(run_dir)
    result = run_profile(cfg, model, run_dir, sample=ns.sample, seed=ns.seed,
                         clock_hz=ns.clock_mhz * 1e6 if ns.clock_mhz else None)
    t0 = time.perf_counter()
    report = write_profile_report(run_dir)
    print(f"{result.ok}/{result.cases} cases bit-exact and measured in "
          f"{result.timings['total_s'] + time.perf_counter() - t0:.1f} s; report: {report}")
    for line in result.failed:
        print(f"  not ok: {line}", file=sys.stderr)
    return 0 if not result.failed else 1
