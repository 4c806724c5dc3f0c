"""Resume: kill a real ``python -m bench run`` mid-sweep, resume it, re-run a finished sweep."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# One image per case (run.jobs=5): rows are written when an image ends and its records pass
# their checks, so the run is killed between images. Work grows 16x from the smallest case to
# the largest, so the small images finish well before the large ones.
SHAPES = "[" + ",".join(f"{{h:32,c_in:32,c_out:{c},k:5}}" for c in (256, 128, 64, 32, 16)) + "]"


def bench_run(run_dir: Path, store: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench", "run", "op=standard", "sweep.name=resume_test",
            f"sweep.shapes={SHAPES}", "run.jobs=5", "run.report=false", "++run.instruction_mix=false",
            f"hydra.run.dir={run_dir}", f"store.path={store}", *extra]


def rows(run_dir: Path) -> list[dict]:
    with (run_dir / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.qemu
def test_killed_run_resumes_without_redoing_finished_cases(tmp_path, have_qemu_toolchain, isolated_cache):
    env = {**{k: v for k, v in os.environ.items() if k != "BENCH_STORE"}, "BENCH_CACHE_DIR": str(isolated_cache)}
    runs = tmp_path / "runs"
    store = runs / "results.sqlite"
    r1 = runs / "r1"
    proc = subprocess.Popen(bench_run(r1, store), env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240   # generation under a loaded machine
    done_before_kill = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if (r1 / "results.csv").exists():
            done_before_kill = len(rows(r1))
            if done_before_kill >= 1:
                break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)      # the job and its QEMU, no clean-up
    proc.wait(10)
    assert 1 <= done_before_kill < 5, f"could not kill mid-run ({done_before_kill} cases done)"
    killed_rows = {r["case_id"]: r for r in rows(r1)}
    assert not (r1 / "timings.json").exists()          # it really did not finish

    # Resume in place: only the missing cases run; the finished rows are kept as they were.
    out = subprocess.run(bench_run(r1, store, "run.resume=true"), env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    log = (r1 / "run.log").read_text() if (r1 / "run.log").exists() else out.stderr
    assert f"{len(killed_rows)} of 5 cases already finished, {5 - len(killed_rows)} to run" in log
    final = rows(r1)
    assert sorted(r["case_id"] for r in final) == sorted({r["case_id"] for r in final})  # no duplicates
    assert len(final) == 5 and all(r["status"] == "ok" for r in final)
    for r in final:
        if r["case_id"] in killed_rows:
            assert r == killed_rows[r["case_id"]]
    carried = json.loads((r1 / "resumed.json").read_text())["carried_over"]
    assert set(carried) == set(killed_rows)

    # A finished sweep, asked again into a new folder: nothing runs, every row carried over.
    r2 = runs / "r2"
    out = subprocess.run(bench_run(r2, store, "run.resume=true"), env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    log = (r2 / "run.log").read_text() if (r2 / "run.log").exists() else out.stderr
    assert "all 5 cases already finished" in log and "nothing to run" in log
    assert json.loads((r2 / "timings.json").read_text()).get("emulate_s", 0) == 0
    assert not list((r2 / "models").glob("*.tflite"))
    assert {r["case_id"]: r["metric"] for r in rows(r2)} == {r["case_id"]: r["metric"] for r in final}


def test_case_keys_change_with_firmware_inputs():
    from bench.orchestrate.pipeline import build_settings, plan_cases
    from bench.store.resume import case_keys
    from omegaconf import OmegaConf
    from hydra import compose, initialize_config_dir
    from bench import paths

    with initialize_config_dir(str(paths.conf_dir()), version_base="1.3"):
        cfg = OmegaConf.to_container(compose("config", ["sweep=smoke", "op=standard"]), resolve=True)
        slower = OmegaConf.to_container(compose("config", ["sweep=smoke", "op=standard", "build.opt_level=-O1"]),
                                        resolve=True)
    specs = plan_cases(cfg)
    a = case_keys(specs, cfg, build_settings(cfg))
    b = case_keys(specs, slower, build_settings(slower))
    assert a == case_keys(specs, cfg, build_settings(cfg))     # stable
    assert set(a) == set(b) and all(a[k] != b[k] for k in a)    # flags are part of a case's identity
