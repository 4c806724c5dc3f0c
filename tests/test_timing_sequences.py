"""Validation of the cycle plugin's core models against published figures.

Each sequence is timed the way the published experiments were: N copies
between ISBs, the difference of 14 and 4 copies over 10 (quinapalus'
Cortex-M7 method), or 1 copy against none for sequences a Technical
Reference Manual times as a whole. The expected value of every row names
where it is published. Cortex-M4/M3 figures are the TRMs' own numbers;
Cortex-M7 figures are what the published rules (LLVM's Arm-contributed
Cortex-M7 machine model and the public dual-issue notes, see
conf/cores/cortex-m7.yaml) give, since Arm publishes no M7 table.
"""

from __future__ import annotations

import shutil

import pytest

from bench.timing.sequence import Seq, per_copy

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None
                       or shutil.which("gcc") is None, reason="needs arm-none-eabi-gcc, qemu-system-arm and gcc"),
]

WHOLE = (0, 1)   # one copy against none: the TRM's "N cycles total"

# (name, body, counts, {core: (expected cycles per copy, source)})
M4_TRM = "Cortex-M4 TRM r0p1 3.3.2 / Cortex-M3 TRM r2p0 3.3.1 load/store timings"
M4_TABLE = "Cortex-M4 TRM r0p1 Table 3-1"
M3_TABLE = "Cortex-M3 TRM r2p0 Table 3-1"
LLVM = "LLVM ARMScheduleM7.td"
NOTES = "public M7 dual-issue notes (REFERENCE.md)"
CASES = [
    ("ldr_ldr", "ldr r0,[r1]; ldr r1,[r2]", WHOLE,
     {"cortex-m4": (3, M4_TRM + ": 'LDR R0,[R1]; LDR R1,[R2]: normally three cycles total'"),
      "cortex-m3": (3, M4_TRM),
      "cortex-m7": (1, LLVM + ": two load pipes, independent loads pair")}),
    ("ldr_ldr_ldr", "ldr r0,[r1,r8]; ldr r1,[r2]; ldr r2,[r3,#4]", WHOLE,
     {"cortex-m4": (4, M4_TRM + ": 'LDR R0,[R1,R5]; LDR R1,[R2]; LDR R2,[R3,#4]: normally four cycles total'"),
      "cortex-m3": (4, M4_TRM),
      "cortex-m7": (2, LLVM + ": two loads per cycle")}),
    ("ldr_str", "ldr r0,[r1,r8]; str r0,[r3,#20]", WHOLE,
     {"cortex-m4": (3, M4_TRM + ": 'LDR R0,[R1,R2]; STR R0,[R3,#20]: normally three cycles total'"),
      "cortex-m7": (1, LLVM + ": load and store pipes pair; store data read late")}),
    ("ldr_str_reg", "ldr r0,[r1,r8]; str r1,[r3,r8]", WHOLE,
     {"cortex-m4": (3, M4_TRM + ": 'LDR R0,[R1,R2]; STR R1,[R3,R2]: normally three cycles total'")}),
    ("alu_then_address", "add r1, r2, #0; ldr r0, [r1]", WHOLE,
     {"cortex-m4": (4, M4_TRM + ": address from a preceding data-processing result stalls one cycle (1 + 1 + 2)"),
      "cortex-m7": (3, LLVM + ": ALU latency 1, load address read at issue (M7Read_ISS)")}),
    ("ldrd", "ldrd r0, r1, [r2]", (4, 14),
     {"cortex-m4": (3, M4_TRM + ": LDRD 1+N, not pipelined"),
      "cortex-m7": (1, LLVM + ": t2LDRDi single issue, one cycle")}),
    ("ldrb", "ldrb r0, [r1]", (4, 14),
     {"cortex-m4": (1, M4_TRM + ": LDR after LDR pipelines (address independent)"),
      "cortex-m7": (0.5, LLVM + ": two load pipes")}),
    ("ldrb_use", "ldrb r0, [r1]; add r2, r0, #1", (4, 14),
     {"cortex-m4": (3, M4_TABLE + ": LDRB 2 + ADD 1"),
      "cortex-m7": (2, LLVM + ": byte loads latency 2 (M7SlowLoad)")}),
    ("ldm4", "ldm r1, {r4-r7}", (4, 14),
     {"cortex-m4": (5, M4_TABLE + ": LDM 1+N"), "cortex-m3": (5, M3_TABLE + ": LDM 1+N")}),
    ("smlad_chain", "smlad r0, r1, r2, r0", (4, 14),
     {"cortex-m4": (1, M4_TABLE + ": SMLAD 1"),
      "cortex-m7": (1, LLVM + ": MAC latency 2, accumulator read a cycle late (ReadMAC 1)")}),
    ("smlabb_chain", "smlabb r0, r1, r2, r0", (4, 14),
     {"cortex-m4": (1, M4_TABLE + ": SMLABB 1"), "cortex-m3": (2, M3_TABLE + ": MLA-class 2"),
      "cortex-m7": (1, LLVM + ": one MAC pipe")}),
    ("sxtb16_pair", "sxtb16 r0, r1; sxtb16 r2, r3", (4, 14),
     {"cortex-m4": (2, M4_TABLE + ": SXTB16 1 each"),
      "cortex-m7": (2, NOTES + ": extend counts as shifted, one per cycle; DSP only from the older slot")}),
    ("add_pair", "add r0, r1, r2; add r3, r4, r5", (4, 14),
     {"cortex-m4": (2, M4_TABLE + ": ADD 1"), "cortex-m7": (1, LLVM + ": IssueWidth 2, two ALUs")}),
    ("add_shifted_pair", "add r0, r1, r2, lsl #2; add r3, r4, r5, lsl #2", (4, 14),
     {"cortex-m4": (2, M4_TABLE + ": ADD with shifted operand 1"),
      "cortex-m7": (2, NOTES + ": only one shifted-operand instruction per cycle")}),
    ("load_then_shifted_use", "ldr r0, [r1]; add r2, r3, r0, lsl #2", (4, 14),
     {"cortex-m7": (2, NOTES + ": a shifted operand's input is needed a cycle early")}),
    ("loop_end", "mov r0, #{n}; 1: subs r0, #1; bne 1b", (4, 14),
     {"cortex-m4": (3, "Cortex-M4 TRM Table 3-1 (SUBS 1, B taken 1+P) with P = 1 measured (compendium.i-0.nl)"),
      "cortex-m7": (1, LLVM + " + conf/cores/cortex-m7.yaml: predicted taken branch pairs, no refill (assumption)")}),
]


M55 = "LLVM ARMScheduleM55.td pipeline diagrams (MVE: two beats, overlap across pipes)"
CASES += [
    ("mve_ld_add_mul_st", "vldrw.u32 q0, [r1]; vadd.i32 q1, q2, q3; vmul.i32 q4, q5, q6; vstrw.32 q7, [r2]", (4, 14),
     {"cortex-m55": (5, M55 + ": 'VLDR;VADD;VMUL;VSTR' in 5 cycles")}),
    ("mve_two_loads", "vldrw.u32 q0, [r1]; vldrb.u32 q1, [r2]; vadd.i32 q2, q3, q4; vstrw.32 q5, [r3]", (4, 14),
     {"cortex-m55": (6, M55 + ": 'VLDR;VLDRB;VADD;VSTR' in 6 cycles, the loads cannot overlap")}),
    ("mve_add_mul", "vadd.i32 q1, q2, q3; vmul.i32 q4, q5, q6", (4, 14),
     {"cortex-m55": (2, M55 + ": integer and multiply pipes overlap")}),
    ("mve_add_add", "vadd.i32 q1, q2, q3; vadd.i32 q4, q5, q6", (4, 14),
     {"cortex-m55": (4, M55 + ": same pipe, two beats each")}),
    ("m0plus_ldr_add", "ldr r0, [r1]; adds r2, r3, r4", (4, 14),
     {"cortex-m0plus": (3, "Cortex-M0+ TRM Table 3-1: LDR 2, ADDS 1")}),
    ("m0plus_loop", "movs r0, #{n}; 1: subs r0, #1; bne 1b", (4, 14),
     {"cortex-m0plus": (3, "Cortex-M0+ TRM Table 3-1: SUBS 1, B<cond> taken 2")}),
]


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m3", "cortex-m7", "cortex-m55", "cortex-m0plus"])
def test_sequences_match_published_figures(core, tmp_path):
    cases = [(name, body, counts, want[core]) for name, body, counts, want in CASES if core in want]
    seqs = [Seq(name, body, counts=counts, repeat="{n}" not in body) for name, body, counts, _ in cases]
    got = per_copy(seqs, {"name": "sequences", "core": core, "placement": {}}, tmp_path)
    wrong = [f"{name}: model {got[name]:g}, published {value:g} ({source})"
             for name, _, _, (value, source) in cases if got[name] != value]
    assert not wrong, "\n".join(wrong)


def test_unaligned_wide_branch_target_costs_a_cycle_on_m4(tmp_path):
    """compendium.i-0.nl: a taken branch to an unaligned 32-bit instruction costs one more cycle."""
    aligned = Seq("aligned", "mov r0, #{n}; .balign 4; 1: add.w r2, r3, r4; subs r0, #1; bne 1b", repeat=False)
    unaligned = Seq("unaligned", "mov r0, #{n}; .balign 4; nop; 1: add.w r2, r3, r4; subs r0, #1; bne 1b",
                    repeat=False)
    got = per_copy([aligned, unaligned], {"name": "sequences", "core": "cortex-m4", "placement": {}}, tmp_path)
    assert got["unaligned"] - got["aligned"] == 1
