"""Every command of the README's "Using it" block runs as written, so a README example cannot
fail again (issue 17: `op=grouped op.groups=8 sweep=smoke` did).

Placeholders are filled from the runs the block itself makes (in a fresh folder):
`runs/<run>` is the newest single run, `runs/multirun/<date>/<time>` the newest multirun.
To stay fast, `run` lines without a `sweep=` get `sweep=smoke`; every other line runs as
written. Lines that need what is not here (a real board's cycles, Renode) must stop with one
clear error line naming what is missing.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.qemu

# Text the one error line must contain when a line's hardware or program is absent.
NEEDS = {
    "board=renode_h743": ("renode", "renode not found"),
    "<board run>": (None, "measured cycles"),
}


def readme_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Using it", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


LINES = readme_lines()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, have_qemu_toolchain):
    ws = tmp_path_factory.mktemp("readme")
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "BENCH_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "bench-cache")}
    return ws, env


def _newest(pattern: str, ws: Path) -> str:
    found = sorted((p for p in ws.glob(pattern) if p.is_dir()), key=lambda p: p.stat().st_mtime)
    assert found, f"nothing matches {pattern}: an earlier README line should have made it"
    return str(found[-1].relative_to(ws))


def _fill(line: str, ws: Path) -> list[str]:
    filled = line
    if "runs/multirun/<date>/<time>" in filled:
        filled = filled.replace("runs/multirun/<date>/<time>", _newest("runs/multirun/*/*", ws))
    for placeholder in ("runs/<run>", "runs/<board run>"):
        if placeholder in filled:
            filled = filled.replace(placeholder, _newest("runs/2*/*", ws))
    assert "<" not in filled, f"unknown placeholder in README line: {line}"
    args = shlex.split(filled)
    assert args[:3] == ["python", "-m", "bench"], line
    out = [sys.executable, "-m", "bench", *args[3:]]
    command = args[3] if len(args) > 3 else ""
    if command == "run" and "--help" not in out and not any(a.startswith("sweep=") for a in out):
        out.append("sweep=smoke")
    return out


@pytest.mark.parametrize("line", LINES, ids=[f"{n:02d}" for n in range(len(LINES))])
def test_readme_line(line, workspace):
    ws, env = workspace
    need = next((v for k, v in NEEDS.items() if k in line), None)
    proc = subprocess.run(_fill(line, ws), cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    if need and not (need[0] and shutil.which(need[0])):
        errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
        assert proc.returncode != 0 and need[1] in proc.stderr, out[-3000:]
        assert len(errors) == 1, f"the error should be printed once:\n{proc.stderr}"
        return
    if " holdout " in f" {line} ":  # exit 1 = the accuracy target is not met on so few shapes: a result
        assert proc.returncode in (0, 1) and "target" in proc.stdout, out[-3000:]
        return
    assert proc.returncode == 0, out[-3000:]
