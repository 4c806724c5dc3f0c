"""benchmarks/kernel_efficiency.py on hand-written results files (no emulator)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "kernel_efficiency.py"


def _module():
    spec = importlib.util.spec_from_file_location("kernel_efficiency", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _results(folder: Path, lib: str, per_mac: dict[str, float], board: str = "qemu_m7") -> None:
    rows = []
    for case_id, ipm in per_mac.items():
        op = {"std": "standard", "pw": "pointwise", "g4": "grouped", "dw": "depthwise"}[case_id.split("_")[0]]
        k = 1 if op == "pointwise" else 3
        macs = 1000
        rows.append({"op": op, "case_id": case_id, "h": 8, "w": 8, "c_in": 32, "c_out": 32, "k": k,
                     "stride": 1, "groups": 4 if op == "grouped" else 1, "macs": macs, "metric": ipm * macs,
                     "status": "ok", "kernels": lib, "kernels_version": "1", "board": board,
                     "cflags": "-O2"})
    (folder / lib).mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / lib / "results.csv", index=False)


def test_table_ratio_and_targets(tmp_path, capsys):
    mod = _module()
    _results(tmp_path, "ref", {"std_a": 6.0, "pw_b": 8.0, "g4_c": 7.0, "dw_d": 30.0})
    _results(tmp_path, "opt", {"std_a": 1.5, "pw_b": 2.0, "g4_c": 2.1, "dw_d": 5.0})
    assert mod.main(["--from-runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| standard | std_a | 1000 | 6.00 | 1.50 | 0.25 |" in out
    targets = mod.targets(mod.load([tmp_path / "ref", tmp_path / "opt"]))
    opt = targets[targets["library"] == "opt"].set_index("class")
    assert opt.loc["standard 3x3", "shapes met"] == "1/1"
    assert opt.loc["pointwise 1x1, C_in >= 32", "shapes met"] == "0/1"  # 2.0 > 1.7
    assert opt.loc["depthwise 3x3", "worst"] == 5.0


def test_across_cores_table(tmp_path, capsys):
    """Several boards (<out>/<board>/<library>/): a per-board section each, then opt against cmsis_nn per core."""
    mod = _module()
    for board, opt_std in (("qemu_m3", 3.0), ("qemu_m55", 0.5)):
        _results(tmp_path / board, "ref", {"std_a": 9.0, "std_b": 8.0, "dw_d": 30.0}, board)
        _results(tmp_path / board, "opt", {"std_a": opt_std, "std_b": 1.0, "dw_d": 5.0}, board)
        _results(tmp_path / board, "cmsis_nn", {"std_a": 2.0, "std_b": 2.0, "dw_d": 4.0}, board)
    assert mod.main(["--from-runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "# Instructions per nominal MAC (qemu_m3;" in out and "# Instructions per nominal MAC (qemu_m55;" in out
    cores = mod.across_cores(mod.load(sorted(p.parent for p in tmp_path.glob("**/results.csv")))).set_index(["board", "op"])
    assert cores.loc[("qemu_m3", "standard"), "opt/cmsis_nn worst"] == 1.5      # std_a: 3.0 / 2.0
    assert cores.loc[("qemu_m55", "standard"), "opt/cmsis_nn worst"] == 0.5     # max(0.25, 0.5)
    assert cores.loc[("qemu_m3", "depthwise"), "opt/cmsis_nn median"] == 1.25


def test_from_runs_without_results_is_a_one_line_error(tmp_path, capsys):
    assert _module().main(["--from-runs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no results.csv under") and err.count("\n") == 1
