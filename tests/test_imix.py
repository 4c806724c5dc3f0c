"""Instruction classes, block accounting, and the mix against QEMU's own count.

The classifier tests use encodings produced by arm-none-eabi-as (hard-coded,
so they run without a toolchain). The end-to-end tests build real images,
run them in QEMU through the pipeline and check that every case's histogram
totals QEMU's instruction count.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.timing import instruction_classes as ic


def thumb(*halfword_groups: str) -> bytes:
    """objdump-style hex ('f9b10002' = two halfwords) to little-endian bytes."""
    out = b""
    for group in halfword_groups:
        for i in range(0, len(group), 4):
            out += int(group[i:i + 4], 16).to_bytes(2, "little")
    return out


ENCODINGS = [
    ("7808", "load_byte"), ("f9b10002", "load_half"), ("6848", "load_word"), ("e9d12300", "load_double"),
    ("7008", "store_byte"), ("8008", "store_half"), ("f8410c04", "store_word"), ("e9c12300", "store_double"),
    ("b570", "store_multiple"), ("1888", "alu"), ("fb01f002", "mul"), ("fb013002", "mac"),
    ("fb113002", "mac"), ("fb820103", "mul_long"), ("fb213002", "dsp_simd"), ("f3010007", "dsp_simd"),
    ("fa2ff081", "dsp_simd"), ("fb91f0f2", "divide"), ("ee300a81", "fpu"), ("ee800a81", "fpu_div_sqrt"),
    ("ed900a00", "fpu_load_store"), ("f7fffffe", "branch_taken"), ("bf08", "it"), ("bf00", "other"),
]


@pytest.mark.parametrize("code, cls", ENCODINGS)
def test_classify(code, cls):
    info = ic.analyse_block(thumb(code), 0x1000)
    assert info.n_insns == 1
    assert info.counts[ic.CLASS_INDEX[cls]] == 1, [c for c, n in zip(ic.CLASSES, info.counts) if n]


def test_multiples_count_registers_and_pc_loads():
    info = ic.analyse_block(thumb("b570", "bd30"), 0x1000)   # push {r4-r6,lr}; pop {r4,r5,pc}
    extras = dict(zip(ic.EXTRAS, info.extras))
    assert extras == {"load_multiple_regs": 3, "store_multiple_regs": 4, "pc_loads": 1}
    assert info.counts[ic.CLASS_INDEX["load_multiple"]] == 1


def test_final_conditional_branch_is_left_to_run_time():
    # adds r0, r1, r2; bne.n -> fallthrough address known, branch not counted statically
    info = ic.analyse_block(thumb("1888", "d1fd"), 0x2000)
    assert info.n_insns == 2 and sum(info.counts) == 1
    assert info.cond_branch_fallthrough == 0x2004


def test_it_block_predicated_instructions_count_as_their_class():
    info = ic.analyse_block(thumb("bf08", "4608"), 0x3000)   # it eq; moveq r0, r1
    assert info.counts[ic.CLASS_INDEX["it"]] == 1 and info.counts[ic.CLASS_INDEX["alu"]] == 1
    assert info.cond_branch_fallthrough == -1


def test_partial_decode_is_an_error():
    with pytest.raises(ValueError):
        ic.analyse_block(b"\x00", 0x1000)


# -- end to end: Unicorn's histogram vs QEMU's count ---------------------------------

def _run(tmp_path: Path, *overrides: str) -> Path:
    """A run with the Unicorn mix on and the plugin's estimate off: the linear class model's path."""
    cmd = [sys.executable, "-m", "bench", "run", f"hydra.run.dir={tmp_path}", "run.report=false",
           "run.instruction_mix=true", "run.cycles=false", *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path


@pytest.mark.qemu
@pytest.mark.parametrize("kernels", ["ref", "opt"])
def test_histogram_total_equals_qemu_count(kernels, tmp_path, have_qemu_toolchain, isolated_cache):
    run = _run(tmp_path, "sweep=smoke", "op=all", f"kernels={kernels}")
    results = pd.read_csv(run / "results.csv").set_index("case_id")
    mix = pd.read_csv(run / "instruction_mix.csv").set_index("case_id")
    assert set(mix.index) == set(results.index)
    assert (mix["check"] == "ok").all(), mix["check"]
    classes = list(ic.CLASSES)
    assert (mix[classes] >= 0).all().all()
    total = mix[classes].sum(axis=1)
    assert (total == mix["instructions"]).all()
    # QEMU: timer ticks at icount shift 7 -> instructions within +-1
    diff = (results["metric"] - total.reindex(results.index)).abs()
    assert (diff <= 1).all(), diff
    assert (mix["branch_taken"] > 0).all() and (mix["branch_not_taken"] > 0).all()
    if kernels == "opt":
        assert (mix.loc[mix.index.str.startswith("std"), "dsp_simd"] > 0).all()  # SMLAD inner loop
    # the cycle estimate sits next to the count, labelled, and the energy comes from it
    assert (results["cycles_estimated_provenance"] == "model-estimate").all()
    assert (results["cycles_model"] == "cortex-m7").all()
    assert (results["instructions"] == results["metric"]).all()
    energy = results["cycles_estimated"] / 480e6 * 0.330 * 1e6
    assert (energy - results["energy_uj"]).abs().max() < 1e-6 * energy.max()


@pytest.mark.qemu
def test_mix_is_cached_by_elf(tmp_path, have_qemu_toolchain, isolated_cache):
    _run(tmp_path / "a", "sweep=smoke", "op=pointwise")
    cached = sorted((isolated_cache / "imix").glob("*.json"))
    assert cached
    before = [p.stat().st_mtime_ns for p in cached]
    _run(tmp_path / "b", "sweep=smoke", "op=pointwise")
    assert [p.stat().st_mtime_ns for p in cached] == before
    a = pd.read_csv(tmp_path / "a" / "instruction_mix.csv").sort_values("case_id").reset_index(drop=True)
    b = pd.read_csv(tmp_path / "b" / "instruction_mix.csv").sort_values("case_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.qemu
def test_region_wait_states_count_data_reads(tmp_path, have_qemu_toolchain, isolated_cache):
    plain = _run(tmp_path / "plain", "sweep=smoke", "op=depthwise")
    waits = _run(tmp_path / "waits", "sweep=smoke", "op=depthwise",
                 "+board.cycle_model={core: cortex-m7, data_wait_cycles: {FLASH: 2.0}}")
    mix = pd.read_csv(waits / "instruction_mix.csv").set_index("case_id")
    loads = (mix[["load_byte", "load_half", "load_word", "load_multiple_regs"]].sum(axis=1)
             + 2 * mix["load_double"])        # LDRD is two reads
    assert "reads_FLASH" in mix and (mix["reads_FLASH"] > 0).all()
    assert (mix["reads_FLASH"] <= loads).all()
    a = pd.read_csv(plain / "results.csv").set_index("case_id")["cycles_estimated"]
    b = pd.read_csv(waits / "results.csv").set_index("case_id")["cycles_estimated"]
    assert ((b - a) - 2.0 * mix["reads_FLASH"].reindex(a.index)).abs().max() <= 1


def test_memory_spans_are_page_aligned_and_merged():
    from bench.timing.instruction_mix import _spans
    spans = _spans({"ITCM": {"origin": 0x400, "size_kb": 63}, "DTCM": {"origin": 0x20000000, "size_kb": 128},
                    "NEXT": {"origin": 0x20020000, "size_kb": 4}})
    assert spans == [(0x400, 0x10000), (0x20000000, 0x20021000)]


@pytest.mark.qemu
def test_mix_runs_the_hard_float_stm32h743_image(have_qemu_toolchain, isolated_cache):
    """The nucleo_h743 ELF (FPv5-D16, its own board layer) runs under Unicorn: the
    board code is never executed and the runner's f64 statistics are emulated."""
    import yaml

    from bench import paths
    from bench.timing.instruction_mix import analyse_elf
    proc = subprocess.run([sys.executable, "-m", "bench", "build", "board=nucleo_h743", "sweep=smoke",
                           "op=pointwise"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    elfs = [Path(line.split("elf:", 1)[1].strip()) for line in proc.stdout.splitlines() if "elf:" in line]
    assert elfs
    memory = yaml.safe_load((paths.conf_dir() / "board" / "nucleo_h743.yaml").read_text())["memory"]
    for elf in elfs:
        mix = analyse_elf(elf, memory, timeout_s=300)
        assert mix.exit_code == 0 and mix.banner["board"] == "nucleo_h743"
        assert mix.cases and all(c.check == "ok" and c.instructions > 0 for c in mix.cases.values())
        assert all(sum(c.classes.values()) == c.instructions for c in mix.cases.values())


@pytest.mark.qemu
def test_idle_and_minimum_windows_do_not_confuse_the_windows(tmp_path, have_qemu_toolchain, isolated_cache):
    """Power-monitor builds add an idle window (many counter reads before the
    overhead pairs) and a minimum window length; the mix still equals QEMU's count."""
    run = _run(tmp_path, "sweep=smoke", "op=pointwise",
               'board.defines=["-DBENCH_IDLE_MS=5","-DBENCH_MIN_WINDOW_MS=2"]')
    results = pd.read_csv(run / "results.csv").set_index("case_id")
    mix = pd.read_csv(run / "instruction_mix.csv").set_index("case_id")
    assert (mix["check"] == "ok").all(), mix["check"]
    assert ((results["metric"] - mix["instructions"].reindex(results.index)).abs() <= 1).all()
