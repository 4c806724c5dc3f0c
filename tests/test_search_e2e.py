"""From an eta_op run on QEMU to a ranked, plotted block search (the issue's 'done when', on the emulator)."""

import pandas as pd
import pytest

from bench.cli import main


@pytest.mark.qemu
def test_search_from_a_smoke_run(tmp_path, have_qemu_toolchain, isolated_cache, capsys):
    run = tmp_path / "run"
    assert main(["run", "op=all", "sweep=smoke", "board=qemu_m7", "run.report=false", "store.path=null",
                 f"hydra.run.dir={run}"]) == 0
    out = tmp_path / "search"
    assert main(["search", "board=qemu_m7", "slot.h=8", "slot.c_in=8", "slot.c_out=8", "budget.ram_kb=4",
                 "--runs", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top 15 by rank" in printed
    assert "cost model fitted on" in printed and f"from {run} (" in printed and "named" in printed
    designs = pd.read_csv(out / "designs.csv")
    ranked = designs.dropna(subset=["rank"])
    assert len(ranked) and ranked["energy_uj"].gt(0).all()
    assert (designs.loc[~designs["fits"], "why_not"].str.contains("RAM")).any()   # 4 KB excludes the wide ones
    assert (out / "pareto.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "model-estimate" in report and "Not benchmarkable (no firmware operator)" in report
    assert list((out / "sweep").glob("*.yaml"))

    # nothing fits: said, with what the smallest design needs, and the report is still written
    none = tmp_path / "none"
    assert main(["search", "board=qemu_m7", "slot.h=8", "slot.c_in=8", "slot.c_out=8", "budget.ram_kb=0.01",
                 "measure_top=false", "--runs", str(run), "--out", str(none)]) == 1
    printed = capsys.readouterr().out
    assert "no design fits the budgets" in printed and "The smallest design" in printed
    assert "## Nothing fits" in (none / "report.md").read_text() and (none / "pareto.png").exists()

    # several slots (a network's stages): one search each plus the best design per slot
    multi = tmp_path / "multi"
    assert main(["search", "board=qemu_m7", "slots=[{h: 8, c_in: 8, c_out: 8}, {h: 4, c_in: 16, c_out: 16}]",
                 "measure_top=false", "--runs", str(run), "--out", str(multi)]) == 0
    best = pd.read_csv(multi / "best_per_slot.csv")
    assert list(best["slot"]) == ["8x8x8>8 s1", "4x4x16>16 s1"] and best["best qemu_m7/ref"].notna().all()
    assert (multi / "4x4x16to16_s1" / "pareto.png").exists()


@pytest.mark.qemu
def test_block_sweeps_run_and_pair_with_predictions(tmp_path, have_qemu_toolchain, isolated_cache):
    """The sweep files written for a block run as printed, and their cases pair with the block's convs."""
    import shlex

    import torch

    from analysis.design.blocks import TemplateBlock
    from analysis.design.complexity import count
    from analysis.design.cost import cost_source
    from analysis.design.measure import predicted_vs_measured, sweep_files
    from analysis.load import load_results

    with torch.device("meta"):
        cx = count(TemplateBlock(8, 8, 1, "wnw", 2, "depthwise", 3), (8, 6, 6))
    commands = sweep_files(cx, tmp_path / "sweeps", "blk")
    assert [c.split()[4] for _, c in commands] == ["op=depthwise", "op=pointwise", "op=elementwise"]
    for i, (_, cmd) in enumerate(commands):
        args = shlex.split(cmd)[3:]          # drop "python -m bench"
        assert main(args + ["run.report=false", "store.path=null", f"hydra.run.dir={tmp_path}/run{i}"]) == 0
    results = load_results([tmp_path / f"run{i}" for i in range(len(commands))])
    table, summary = predicted_vs_measured(cx, results, cost_source(results), "qemu_m7", "ref", fit_results=results)
    assert summary["measured_conv_layers"] == summary["conv_layers"] == 3
    assert summary["not_benchmarkable"] == ""
    assert summary["measured_elementwise_layers"] == summary["elementwise_layers"] == 1  # the residual add
    add = table[table["op"] == "add"].iloc[0]
    assert add["source"].startswith("per-unit fit") and add["measured_uj"] > 0
    assert add["measured_metric"] > 0 and add["predicted_metric"] > 0  # same unit: instructions
    assert abs(summary["metric_rel_error"]) < 0.5     # fitted on these very cases: a plumbing check, not accuracy
