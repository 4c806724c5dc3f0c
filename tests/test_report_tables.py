"""The report over hand-made results of two boards (no emulator): files, sections, comparison plot."""

import pandas as pd

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
    assert (out / "board_comparison.png").exists()
    assert "eta_op by board and kernel library" in html
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
