"""The report over hand-made results of two boards (no emulator): files, sections, comparison plot."""

import pandas as pd
import pytest

from analysis.report import write_report
from bench.cases.spec import CaseSpec
from tests.test_analysis_eta import row, slot_cases


def test_two_board_report_from_hand_made_runs(tmp_path):
    for board, dw_cost in (("board_a", 20.0), ("board_b", 8.0)):
        run = tmp_path / board
        run.mkdir()
        rows = []
        for hw, cin in ((8, 16), (12, 32), (16, 8)):
            std, dw, dw_ref, pw = slot_cases(hw, cin, 2 * cin, 3)
            rows += [row(std, 4.0, 8.0, board=board), row(dw_ref, 4.0, 8.0, board=board),
                     row(dw, dw_cost, 2 * dw_cost, board=board), row(pw, 3.0, 6.0, board=board)]
        rows.append(row(CaseSpec("grouped", 8, 8, 16, 32, 3, groups=4, ref_k=3), 1.0, 1.0, board=board,
                        status="output-mismatch"))
        df = pd.DataFrame(rows).drop(columns=["run", "clock_hz", "cycles_per_unit"])
        df.to_csv(run / "results.csv", index=False)
    out = tmp_path / "report"
    md_path = write_report([tmp_path / "board_a", tmp_path / "board_b"], out)
    md = md_path.read_text()
    html = (out / "report.html").read_text()
    assert (out / "eta_op_overview.png").exists()
    # The answer first: one sentence per board, then the per-operator chart as the first figure.
    result = html.split("<h2>Result</h2>")[1].split("<h2>")[0]
    for board, dw in (("board_a", 0.2), ("board_b", 0.5)):
        # pointwise costs 3 nJ/MAC against the standard conv's 4 in every slot: eta 1.33
        assert f"On {board}, pointwise does a MAC most cheaply (geometric-mean η_op 1.33" in result
        assert "cheapest in 3 of 3 layer slots" in result
        assert f"depthwise {dw:.2f}" in result
    assert result.index("<li>") < result.index("<img") and html.index("<img") == html.index(
        "<img alt='eta_op per operator")
    assert "<details>" in html and html.index("<details>") > html.index("<h2>Plots</h2>")
    summary = pd.read_csv(out / "summary.csv").set_index(["board", "op"])
    assert summary.loc[("board_a", "depthwise"), "eta_geomean"] == pytest_approx(4.0 / 20.0)
    assert summary.loc[("board_b", "depthwise"), "eta_geomean"] == pytest_approx(4.0 / 8.0)
    warnings = md.split("## Warnings")[1].split("\n## ")[0]
    assert warnings.count("g4_8x8x16_o32_k3s1s") == 2        # one per run, listed and excluded
    assert "g4_8x8x16_o32_k3s1s" not in set(pd.read_csv(out / "eta_op.csv")["case_id"])
    tex = (out / "summary.tex").read_text()
    assert "board\\_a" in tex and "\\toprule" in tex


def pytest_approx(v):
    import pytest

    return pytest.approx(v, rel=1e-9)


def test_repeated_runs_of_the_same_cases_are_deduplicated_with_a_note(tmp_path):
    from analysis.load import load_results

    std, dw, dw_ref, pw = slot_cases(8, 16, 32, 3)
    for n, cost in ((1, 20.0), (2, 22.0)):  # the second (newer) run measured depthwise 10 % dearer
        run = tmp_path / f"run{n}"
        run.mkdir()
        rows = [row(std, 4.0, 8.0), row(dw_ref, 4.0, 8.0), row(dw, cost, cost), row(pw, 3.0, 6.0)]
        pd.DataFrame(rows).drop(columns=["run", "clock_hz", "cycles_per_unit"]).to_csv(run / "results.csv", index=False)
    results = load_results([tmp_path / "run1", tmp_path / "run2"])
    assert len(results) == 4 and set(results["run"]) == {str(tmp_path / "run2")}
    assert results.set_index("case_id").loc[dw.case_id, "metric"] == 22.0 * dw.macs
    (note,) = results.attrs["notes"]
    assert note.startswith("4 case(s) were measured in more than one run") and "10.00%" in note


def test_report_command_writes_a_fresh_folder_and_never_overwrites(tmp_path, monkeypatch):
    from analysis.report import fresh_report_dir, main
    from bench.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "2026-01-01" / "10-00-00_all_b1_ref"
    run.mkdir(parents=True)
    std, dw, dw_ref, pw = slot_cases(8, 16, 32, 3)
    rows = [row(std, 4.0, 8.0), row(dw_ref, 4.0, 8.0), row(dw, 20.0, 20.0), row(pw, 3.0, 6.0)]
    pd.DataFrame(rows).drop(columns=["run", "clock_hz", "cycles_per_unit"]).to_csv(run / "results.csv", index=False)
    assert main(["latest"]) == 0
    (first,) = (tmp_path / "runs" / "reports").glob("*/*")
    assert first.name.endswith("_10-00-00_all_b1_ref") and (first / "report.html").exists()
    second = fresh_report_dir([run])  # same second: a suffix, never the same folder
    assert second != first and not second.exists()
    with pytest.raises(ConfigError, match="already holds a report"):
        main([str(run), "--out", str(first)])
