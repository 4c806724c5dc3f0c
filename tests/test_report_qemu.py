"""Reports, predictor and adaptive sampling on results of real QEMU runs (small sweeps)."""

import base64
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from analysis.load import load_results
from analysis.predictor import Predictor, fit_predictor
from analysis.report import write_run_report
from bench.commands.characterize import compose_config

pytestmark = pytest.mark.qemu

# Six small slots: enough shapes for leave-one-shape-out, seconds on QEMU.
SMALL_SLOTS = [
    {"h": 6, "c_in": 8, "c_out": 8, "k": 3, "stride": 1},
    {"h": 8, "c_in": 16, "c_out": 32, "k": 3, "stride": 1},
    {"h": 8, "c_in": 8, "c_out": 16, "k": 5, "stride": 2},
    {"h": 10, "c_in": 12, "c_out": 12, "k": 3, "stride": 1},
    {"h": 12, "c_in": 8, "c_out": 8, "k": 1, "stride": 1},
    {"h": 12, "c_in": 4, "c_out": 8, "k": 3, "stride": 2},
    {"h": 7, "c_in": 24, "c_out": 24, "k": 3, "stride": 1},
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "bench-cache"))
        yield


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, env, have_qemu_toolchain):
    run = tmp_path_factory.mktemp("smoke")
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "sweep=smoke", f"hydra.run.dir={run}"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, env, have_qemu_toolchain):
    from omegaconf import OmegaConf

    from bench.commands.characterize import _resolve
    from bench.orchestrate.pipeline import run_benchmark

    run = tmp_path_factory.mktemp("small")
    cfg = compose_config(["sweep=smoke"])
    cfg["sweep"]["shapes"] = SMALL_SLOTS
    cfg = _resolve(cfg)
    OmegaConf.save(OmegaConf.create(cfg), run / "config.resolved.yaml")
    summary = run_benchmark(cfg, run)
    assert summary.ok == summary.cases
    return run


def test_run_writes_self_contained_html_and_markdown(smoke_run):
    html = (smoke_run / "report.html").read_text()
    md = (smoke_run / "report.md").read_text()
    for section in ("Result", "Configuration", "Provenance", "Rule", "Warnings", "Summary per operator", "Plots"):
        assert f"## {section}" in md and f"<h2>{section}</h2>" in html
    # The answer first: the sentence and the per-operator chart, per-case tables folded at the end.
    assert html.index("<h2>Result</h2>") < html.index("does a MAC most cheaply") < html.index("<img")
    assert html.index("<img") == html.index("<img alt='eta_op per operator")
    assert html.index("<details>") > html.index("<h2>Plots</h2>")
    assert "<h2>eta_op per case</h2>\n<details>" in html
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) >= 4
    assert all(base64.b64decode(img)[:4] == b"\x89PNG" for img in images)
    assert "src='http" not in html and 'src="' not in html   # nothing outside the file
    assert "emulator-count" in md and "model-estimate" in md
    for name in ("eta_op.csv", "summary.csv", "trends.csv", "summary.tex", "eta_op.tex",
                 "eta_op_overview.png", "eta_op_vs_channels.png", "roofline.png"):
        assert (smoke_run / name).exists(), name
    assert "\\begin{tabular}" in (smoke_run / "summary.tex").read_text()


def test_report_lists_and_excludes_failed_cases(smoke_run, tmp_path):
    results = pd.read_csv(smoke_run / "results.csv", dtype={"detail": str})
    victim = results[results["op"] == "depthwise"].index[0]
    results.loc[victim, "status"] = "mismatch"
    results.loc[victim, "detail"] = "3 outputs differ"
    (tmp_path / "results.csv").write_text(results.to_csv(index=False))
    write_run_report(tmp_path)
    md = (tmp_path / "report.md").read_text()
    warnings = md.split("## Warnings")[1].split("## ")[0]
    assert results.loc[victim, "case_id"] in warnings and "excluded" in warnings
    eta = pd.read_csv(tmp_path / "eta_op.csv")
    assert results.loc[victim, "case_id"] not in set(eta["case_id"])


def test_report_command_over_two_runs(smoke_run, small_run, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench", "report", str(smoke_run), str(small_run),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    eta = pd.read_csv(tmp_path / "eta_op.csv")
    assert eta["run"].nunique() == 2
    assert (tmp_path / "report.html").exists()


def test_predictor_on_emulator_counts_meets_target(small_run, tmp_path):
    results = load_results([small_run])
    pred = fit_predictor(results)
    assert pred.boards() == ["qemu_m7"]
    assert pred.ops("qemu_m7", "ref") == ["depthwise", "grouped", "pointwise", "standard"]
    for op in pred.ops("qemu_m7", "ref"):
        assert pred.model("qemu_m7", "ref", op).held_out["within_10pct"] >= 0.95, op
    # A measured case is predicted close to its count; the JSON copy answers the same.
    row = results[(results["op"] == "standard") & (results["status"] == "ok")].iloc[0]
    out = Predictor.load(pred.save(tmp_path / "p.json")).predict(
        "qemu_m7", "ref", "standard", int(row.h), int(row.w), int(row.c_in), int(row.c_out), int(row.k),
        int(row.stride))
    assert out["metric"] == pytest.approx(row.metric, rel=0.02)
    assert out["inputs_provenance"] == "emulator-count" and out["provenance"] == "model-estimate"
    # Latency of an emulated board: the instruction-mix cycle estimate over the stated clock.
    assert "estimated cycles" in out["latency_basis"]
    assert 0.2 < out["latency_s"] * 480e6 / out["metric"] < 2.0

    proc = subprocess.run([sys.executable, "-m", "bench", "holdout", str(small_run)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "target" in proc.stdout and "met" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "bench", "predict", "board=qemu_m7", "op=depthwise", "h=16",
                           "c_in=32", "c_out=32", "k=3", "--runs", str(small_run), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["metric"] > 0 and answer["expected_rel_error"] is not None


def test_characterize_adds_shapes_and_stops(tmp_path, env, have_qemu_toolchain):
    out = tmp_path / "char"
    proc = subprocess.run([sys.executable, "-m", "bench", "characterize", "board=qemu_m7", "op=pointwise",
                           "rounds=2", "init=5", "batch=2", f"out={out}"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / "characterize.json").read_text())
    rounds = summary["rounds"]
    assert 1 <= len(rounds) <= 2 and rounds[-1]["stopped"] in ("target met", "round budget spent")
    assert len(rounds[0]["added"]) == 5
    if len(rounds) == 2:
        assert rounds[1]["shapes"] > rounds[0]["shapes"]
        assert rounds[1]["new_batch_predicted_before_measuring"]["shapes"] == 2
    assert (out / "report.html").exists()
