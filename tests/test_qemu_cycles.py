"""The cycle estimate on real QEMU runs: every case gets one, deterministic, switchable off."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.timing.qemu_cycles import WindowReader

pytestmark = pytest.mark.qemu


def bench_run(out: Path, *overrides: str) -> pd.DataFrame:
    cmd = [sys.executable, "-m", "bench", "run", f"hydra.run.dir={out}", "run.report=false", "store.path=null",
           *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cycle plugin counted" not in proc.stderr     # plugin and QEMU timer agree on every window
    return pd.read_csv(out / "results.csv").sort_values("case_id").reset_index(drop=True)


def test_every_case_gets_deterministic_estimated_cycles(tmp_path, have_qemu_toolchain, isolated_cache):
    a = bench_run(tmp_path / "a", "op=all", "sweep=smoke")
    b = bench_run(tmp_path / "b", "op=all", "sweep=smoke", "run.jobs=1")     # other image split
    assert (a["status"] == "ok").all()
    assert a["cycles_estimated"].notna().all() and (a["cycles_estimated"] > 0).all()
    assert (a["cycles_estimated_provenance"] == "model-estimate").all()
    assert a["cycles_model"].str.startswith("cortex-m7 pipeline model").all()
    assert a["energy_basis"].str.startswith("estimated cycles").all()
    energy = a["cycles_estimated"] / 480e6 * 0.330 * 1e6          # qemu_m7's stated clock and power
    assert (abs(a["energy_uj"] - energy) <= 1e-6 * energy).all()
    # Same image: identical (checked by the first run's own determinism below). Another
    # image grouping moves the code, and QEMU splits blocks at other places: the
    # estimate may move by a few cycles, never more than 1e-4.
    assert ((a["cycles_estimated"] - b["cycles_estimated"]).abs() <= 1e-4 * a["cycles_estimated"]).all()
    again = bench_run(tmp_path / "again", "op=all", "sweep=smoke")
    assert a["cycles_estimated"].tolist() == again["cycles_estimated"].tolist()
    # A dual-issue M7 model: fewer cycles than instructions on these kernels, and not a constant CPI.
    cpi = a["cycles_estimated"] / a["instructions"]
    assert (cpi < 1).all() and cpi.nunique() > 1
    m4 = bench_run(tmp_path / "m4", "op=all", "sweep=smoke", "board.core=cortex-m4")
    assert (m4["cycles_estimated"] > a["cycles_estimated"]).all()   # single issue, 2-cycle loads


def test_switch_turns_the_estimate_off(tmp_path, have_qemu_toolchain, isolated_cache):
    off = bench_run(tmp_path / "off", "op=depthwise", "sweep=smoke", "run.cycles=false")
    assert "cycles_estimated" not in off or off["cycles_estimated"].isna().all()
    assert off["energy_basis"].str.startswith("instructions x").all()


def test_window_reader_pairs_by_the_firmware_pattern(tmp_path):
    """The file may run ahead of the UART: positions come from the read pattern, not the file size."""
    path = tmp_path / "w.txt"
    overhead = [f"S {10 * i} {20 * i}" for i in range(16)]       # 8 empty windows of 10 insns, 20 cycles
    case = ["S 1000 2000", "S 1110 2220", "S 3000 5000", "S 3130 5260"]   # reps=2: 110/220 and 130/260
    path.write_text("\n".join(overhead + case + ["S 9999 9999"]) + "\n")
    reader = WindowReader(path)
    reader.on_overhead()
    est = reader.on_case(2)
    assert (est.instructions, est.cycles) == (120 - 10, 240 - 20)
    assert reader.on_case(5) is None                       # out of step: no estimate rather than a wrong one
    idle = WindowReader(path)
    idle.on_overhead(idle_ticks=5)
    assert idle.on_case(2) is None


def test_missing_host_compiler_is_a_clear_error(monkeypatch, tmp_path):
    from bench.errors import ToolchainError
    from bench.timing import plugin_build

    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(ToolchainError, match="run.cycles=false"):
        plugin_build.plugin_path(tmp_path)


def test_every_core_model_loads_and_names_its_sources():
    from bench.timing import core_model

    for core in ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"):
        model = core_model.load(core)
        text = core_model.param_text(model, {"timing": {"fetch_wait": {"FLASH": 1}}, "placement": {"code": "FLASH"}})
        assert "fetch_wait 1" in text and text.count("\nclass ") == len(core_model.CLASS_NAMES)
    assert "50 of 50 entries are assumptions" in core_model.describe(core_model.load("cortex-m33"))


def test_bad_model_entries_are_config_errors(tmp_path, monkeypatch):
    from bench.errors import ConfigError
    from bench.timing import core_model

    with pytest.raises(ConfigError, match="no timing model for core 'cortex-m99'"):
        core_model.load("cortex-m99")
    model = core_model.load("cortex-m4")
    model["classes"]["alu"] = {**model["classes"]["alu"], "source": "a blog"}
    with pytest.raises(ConfigError, match="class alu names source 'a blog'"):
        core_model.validate(model, "test")


def test_data_wait_states_charge_every_access_to_the_region(tmp_path, have_qemu_toolchain, isolated_cache):
    """Weights, input and literals sit in FLASH on qemu_m7: 2 wait states per access there add
    exactly 2 x the reads Unicorn counts in that region (an independent count)."""
    plain = bench_run(tmp_path / "plain", "op=depthwise", "sweep=smoke").set_index("case_id")
    waits = bench_run(tmp_path / "waits", "op=depthwise", "sweep=smoke",
                      "+board.timing.data_wait={FLASH: 2}").set_index("case_id")
    unicorn = bench_run(tmp_path / "mix", "op=depthwise", "sweep=smoke", "run.instruction_mix=true",
                        "+board.cycle_model={core: cortex-m7, data_wait_cycles: {FLASH: 2.0}}")
    reads = pd.read_csv(tmp_path / "mix" / "instruction_mix.csv").set_index("case_id")["reads_FLASH"]
    assert (reads > 0).all() and len(unicorn) == len(plain)
    extra = waits["cycles_estimated"] - plain["cycles_estimated"]
    assert (extra == 2 * reads.reindex(extra.index)).all()
