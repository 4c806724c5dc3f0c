"""calibrate --pipeline: the pipeline model's parts, from a real QEMU run, fitted to board cycles.

No board is attached here, so the board's cycles are synthetic: known weights
applied to the parts the plugin reported for real emulated cases.
The fit must recover them, and an emulated run with the fitted file must
report cycles from it.
"""

import subprocess
import sys

import pandas as pd
import pytest

from bench.commands.calibrate import main as calibrate_main
from bench.timing.cycle_parts import parse_parts

pytestmark = pytest.mark.qemu

TRUE = {"static_scale": 1.15, "branch_scale": 2.0, "mispredict_cycles": 6.0, "stall_scale": 0.8}


def run(out, *overrides):
    cmd = [sys.executable, "-m", "bench", "run", f"hydra.run.dir={out}", "run.report=false", "store.path=null",
           "sweep=smoke", "op=all", *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pd.read_csv(out / "results.csv")


def test_pipeline_fit_recovers_known_weights_and_is_applied(tmp_path, have_qemu_toolchain, isolated_cache, capsys):
    emulated = tmp_path / "emulated"
    emu = pd.concat([run(emulated / k, f"kernels={k}") for k in ("ref", "opt")], ignore_index=True)
    parts = pd.DataFrame([parse_parts(t) for t in emu["cycles_parts"]])
    assert (parts["static"] > 0).all() and (parts["mispredicts"] > 0).any()
    # Exact synthetic cycles: with noise the weakly determined parts (few stall
    # cycles on some images) could come back off by more than the tolerance.
    cycles = (TRUE["static_scale"] * parts["static"] + TRUE["branch_scale"] * parts["branch"]
              + TRUE["mispredict_cycles"] * parts["mispredicts"] + TRUE["stall_scale"] * parts["stall"])
    board = tmp_path / "board"
    board.mkdir()
    emu.assign(board="nucleo_h743", compiler="arm-none-eabi-gcc 12.2.1", metric=cycles, metric_median=cycles,
               metric_unit="cycles", provenance="hardware-measured").to_csv(board / "results.csv", index=False)

    out = tmp_path / "fit.yaml"
    assert calibrate_main([str(board), "--pipeline", str(emulated / "ref"), str(emulated / "opt"),
                           "--core", "cortex-m7", "--out", str(out)]) == 0
    assert "held-out mean |error|" in capsys.readouterr().out
    import yaml
    doc = yaml.safe_load(out.read_text())
    for name, want in TRUE.items():
        if doc["weights"][name]["basis"] == "fitted":
            assert abs(doc["weights"][name]["value"] - want) <= 0.01 * want, (name, doc["weights"][name])
    assert doc["weights"]["static_scale"]["basis"] == "fitted"
    assert doc["error"]["holdout_mean_abs_pct"] < 0.1

    fitted = run(tmp_path / "fitted", "kernels=ref", f"+board.timing.fitted={out}")
    assert fitted["cycles_model"].str.contains("fitted to nucleo_h743").all()
    ref = emu[emu["kernels"] == "ref"].set_index("case_id")
    want = cycles[emu["kernels"] == "ref"].set_axis(ref.index)
    got = fitted.set_index("case_id")["cycles_estimated"]
    assert ((got - want.reindex(got.index)).abs() <= 0.01 * want.reindex(got.index)).all()


def test_pipeline_fit_needs_matching_cases(tmp_path):
    from bench.errors import BenchError
    from bench.timing.calibrate_pipeline import observations

    (tmp_path / "b").mkdir()
    (tmp_path / "e").mkdir()
    pd.DataFrame({"case_id": ["a"], "status": ["ok"], "metric_unit": ["cycles"], "metric": [10.0],
                  "board": ["x"], "compiler": ["c"], "kernels": ["ref"]}).to_csv(tmp_path / "b/results.csv", index=False)
    pd.DataFrame({"case_id": ["z"], "status": ["ok"], "kernels": ["ref"], "cycles_model": ["m"],
                  "cycles_parts": ["static=1;branch=0;mispredicts=0;stall=0"]}).to_csv(tmp_path / "e/results.csv",
                                                                                    index=False)
    with pytest.raises(BenchError, match="no case id is in both"):
        observations([tmp_path / "b"], [tmp_path / "e"])
