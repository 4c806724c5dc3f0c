"""Comparison logic, exit codes, JUnit validity and step detection (no emulator needed)."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench import cli
from bench.store.regress import compare_case, compare_runs, exit_code
from bench.collect.results import COLUMNS
from bench.store.steps import detect_steps, potts_l1


def row(case_id="std_8x8x8_o16_k3s1s", metric=1000.0, lo=None, hi=None, prov="emulator-count",
        status="ok", unit="instructions", op="standard"):
    return {"case_id": case_id, "op": op, "status": status, "metric": str(metric),
            "metric_min": str(metric if lo is None else lo), "metric_max": str(metric if hi is None else hi),
            "metric_unit": unit, "provenance": prov, "detail": ""}


# -- one case -----------------------------------------------------------------------


def test_emulator_identical_is_unchanged():
    assert compare_case(row(), row()).verdict == "unchanged"


def test_emulator_one_instruction_slower_is_a_regression():
    v = compare_case(row(metric=708967), row(metric=708968))
    assert v.verdict == "regression" and v.delta == 1 and v.threshold == 0


def test_emulator_faster_is_an_improvement():
    v = compare_case(row(metric=1000), row(metric=900))
    assert v.verdict == "improvement" and v.rel == pytest.approx(-0.1)


HW = "hardware-measured"


def test_hardware_noisy_but_unchanged():
    # 1.5 % apart, each run spread over +-3 %: inside the noise and under min_rel.
    base = row(metric=10000, lo=9700, hi=10300, prov=HW, unit="cycles")
    cur = row(metric=10150, lo=9850, hi=10450, prov=HW, unit="cycles")
    assert compare_case(base, cur).verdict == "unchanged"


def test_hardware_change_inside_spread_but_over_min_rel_is_unchanged():
    # +5 % exceeds min_rel (2 %) but not the spread (+-8 %): noise, not a regression.
    base = row(metric=10000, lo=9200, hi=10800, prov=HW, unit="cycles")
    cur = row(metric=10500, lo=9700, hi=11300, prov=HW, unit="cycles")
    v = compare_case(base, cur)
    assert v.verdict == "unchanged" and v.threshold == pytest.approx(1600)


def test_hardware_slower_beyond_noise_and_min_rel():
    base = row(metric=10000, lo=9990, hi=10010, prov=HW, unit="cycles")
    cur = row(metric=10500, lo=10490, hi=10510, prov=HW, unit="cycles")
    v = compare_case(base, cur)
    assert v.verdict == "regression" and v.threshold == pytest.approx(200)  # 2 % of 10000


def test_hardware_small_change_with_no_spread_stays_under_min_rel():
    base = row(metric=10000, prov=HW, unit="cycles")
    assert compare_case(base, row(metric=10100, prov=HW, unit="cycles")).verdict == "unchanged"
    assert compare_case(base, row(metric=9500, prov=HW, unit="cycles")).verdict == "improvement"


def test_failed_case_missing_case_new_case_and_incomparable():
    assert compare_case(row(), row(status="output-mismatch")).verdict == "failed"
    assert compare_case(row(), None).verdict == "missing"
    assert compare_case(None, row()).verdict == "new"
    assert compare_case(row(), row(prov=HW, unit="cycles")).verdict == "incomparable"


def test_exit_code_only_on_regression_or_failure():
    base = {"a": row("a", 100), "b": row("b", 200)}
    assert exit_code(compare_runs(base, {"a": row("a", 100), "b": row("b", 200)})) == 0
    assert exit_code(compare_runs(base, {"a": row("a", 90), "b": row("b", 200)})) == 0   # improvement
    assert exit_code(compare_runs(base, {"a": row("a", 100)})) == 0                      # b missing: reported
    assert exit_code(compare_runs(base, {"a": row("a", 101), "b": row("b", 200)})) == 1
    assert exit_code(compare_runs(base, {"a": row("a", 100), "b": row("b", status="timeout")})) == 1


def test_measured_energy_is_a_second_figure():
    def hw(metric, energy, prov="hardware-measured"):
        return {**row("a", metric=metric, lo=metric, hi=metric, prov=HW, unit="cycles"),
                "energy_uj": str(energy), "energy_provenance": prov}
    same_cycles_more_energy = compare_runs({"a": hw(1000, 10.0)}, {"a": hw(1000, 11.0)})
    assert [(v.name, v.verdict) for v in same_cycles_more_energy] == [("a", "unchanged"), ("a.energy", "regression")]
    assert exit_code(same_cycles_more_energy) == 1
    within = compare_runs({"a": hw(1000, 10.0)}, {"a": hw(1000, 10.3)})    # +3 % < 5 %
    assert [v.verdict for v in within] == ["unchanged", "unchanged"]
    modelled = compare_runs({"a": hw(1000, 10.0, "model-estimate")}, {"a": hw(1000, 20.0, "model-estimate")})
    assert [v.name for v in modelled] == ["a"]                               # a model is not compared


# -- step detection -----------------------------------------------------------------


def test_steps_exact_series():
    steps = detect_steps([100, 100, 100, 120, 120, 120, 120])
    assert [(s.index, s.before, s.after) for s in steps] == [(3, 100, 120)]
    assert detect_steps([5.0] * 8) == []
    assert potts_l1([1, 1, 9, 9], gamma=0.5) == [0, 2]


def test_steps_noisy_series_finds_one_step_and_ignores_jitter():
    import numpy as np
    rng = np.random.default_rng(1)
    y = np.r_[1000 + rng.normal(0, 4, 12), 1060 + rng.normal(0, 4, 9)]
    steps = detect_steps(y, noise=4.0)
    assert len(steps) == 1 and steps[0].index == 12
    assert detect_steps(1000 + rng.normal(0, 4, 20), noise=4.0) == []


# -- through the command line, with a store -----------------------------------------


def write_run(folder: Path, rows: list[dict], sweep="smoke", board="qemu_m7") -> Path:
    folder.mkdir(parents=True)
    with (folder / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**{k: "" for k in COLUMNS}, "board": board, "kernels": "ref",
                        "compiler": "gcc 12", **r})
    (folder / "config.resolved.yaml").write_text(
        f"board: {{name: {board}}}\nkernels: {{name: ref}}\nsweep: {{name: {sweep}}}\n"
        "op: {names: [standard]}\n")
    (folder / "store_meta.json").write_text(json.dumps({"git_commit": "abc", "git_dirty": 0,
                                                        "git_recorded": "run-end"}))
    return folder


def test_cli_exit_codes_markdown_and_junit(tmp_path, capsys):
    db = str(tmp_path / "results.sqlite")
    base = write_run(tmp_path / "r0", [row("a", 100), row("b", 200)])
    same = write_run(tmp_path / "r1", [row("a", 100), row("b", 200)])
    slower = write_run(tmp_path / "r2", [row("a", 100), row("b", 230)])
    assert cli.main(["store", "--db", db, "add", str(base), str(same), str(slower)]) == 0
    assert cli.main(["regress", "--db", db, str(same)]) == 2          # no baseline yet
    assert cli.main(["baseline", "--db", db, "set", str(base)]) == 0
    assert cli.main(["regress", "--db", db, str(same)]) == 0
    capsys.readouterr()
    assert cli.main(["regress", "--db", db]) == 1                      # newest = slower
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "b " in out and "+15.00%" in out
    md = (slower / "regress.md").read_text()
    assert "FAIL" in md and "`b`" in md
    suite = ET.parse(slower / "regress.junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_commit"] == "abc" and props["baseline"] == str(base.resolve())
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["b"]
    # The step appeared in r2, after two runs at 200.
    assert "first seen: #3" in out
    capsys.readouterr()
    assert cli.main(["regress", "--db", db, "--steps"]) == 0
    steps = capsys.readouterr().out
    assert "over 3 run(s)" in steps and "200 -> 230 (+15.00%)" in steps
    assert sum(line.startswith("b ") for line in steps.splitlines()) == 1


def test_store_keeps_provenance_and_reingests(tmp_path):
    from bench.store.db import Store
    run = write_run(tmp_path / "r0", [row("a", 100)])
    with Store(tmp_path / "s.sqlite") as store:
        first = store.add_run(run)
        again = store.add_run(run)
        assert first.id == again.id and len(store.runs()) == 1
        assert (again.git_commit, again.toolchain, again.sweep) == ("abc", "gcc 12", "smoke")
        assert store.results(again.id)["a"]["metric"] == "100"


def test_segment_costs_match_brute_force():
    import numpy as np
    from bench.store.steps import segment_costs
    y = np.random.default_rng(3).normal(0, 1, 30).round(2)
    fast = segment_costs(y)
    for i in range(30):
        for j in range(i, 30):
            seg = y[i:j + 1]
            assert fast[i, j] == pytest.approx(np.abs(seg - np.median(seg)).sum(), abs=1e-9)


def test_estimated_cycles_are_a_third_figure_compared_exactly():
    def est(cycles, model="cortex-m7 pipeline model (QEMU plugin)"):
        return {**row("a", metric=1000), "cycles_estimated": str(cycles), "cycles_model": model}
    one_more = compare_runs({"a": est(800)}, {"a": est(801)})
    assert [(v.name, v.verdict) for v in one_more] == [("a", "unchanged"), ("a.cycles", "regression")]
    assert exit_code(one_more) == 1
    assert [v.verdict for v in compare_runs({"a": est(800)}, {"a": est(799)})] == ["unchanged", "improvement"]
    other_model = compare_runs({"a": est(800, "cortex-m4 pipeline model (QEMU plugin)")}, {"a": est(900)})
    assert [v.name for v in other_model] == ["a"]          # another model's estimate is not compared
