"""The command line itself: --version, list, run --help, one error line and no folder left
behind for a request that fails validation (no emulator needed)."""

import subprocess
import sys

from bench import paths
from bench.cli import COMMANDS


def bench(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_version_and_list():
    proc = bench("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("mcu-opbench ")
    proc = bench("list")
    assert proc.returncode == 0
    for heading, item in (("boards", "qemu_m7"), ("sweeps", "smoke"), ("kernel libraries", "opt"),
                          ("cores", "cortex-m7"), ("operator sets", "depthwise")):
        assert heading in proc.stdout and item in proc.stdout, heading
    assert "list" in COMMANDS


def test_run_help_lists_only_what_run_takes():
    proc = bench("run", "--help")
    assert proc.returncode == 0
    groups = {line.split(":")[0].strip() for line in proc.stdout.split("config groups")[1].split("\n\n")[0]
              .splitlines()[1:]}
    assert groups == {"op", "board", "sweep", "kernels", "power"}
    assert "budget" not in proc.stdout and "family" not in proc.stdout


def test_invalid_request_prints_one_error_and_leaves_nothing(tmp_path):
    run_dir = tmp_path / "runs" / "x"
    proc = bench("run", "op=grouped", "op.groups=8", "sweep=smoke", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("groups=8 must divide c_in=12") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and not run_dir.exists()


def test_bad_override_is_one_line_naming_the_choices():
    proc = bench("run", "sweep=smok")
    assert proc.returncode == 2
    sweeps = ", ".join(sorted(p.stem for p in (paths.conf_dir() / "sweep").glob("*.yaml")))
    assert proc.stderr.strip().splitlines() == [
        f"error: In 'config': Could not find 'sweep/smok'; Available options in 'sweep': {sweeps}"]
