"""Instruction classes for Thumb-2 (Armv7E-M), decoded with capstone.

Every executed instruction falls in exactly one class, so a histogram's total
is the instruction count the emulators report. The classes follow what costs
differ on Cortex-M cores (conf/cores/*.yaml): loads and stores by width and
multiple, ALU, multiply / MAC / 64-bit multiply, DSP SIMD and saturation,
divide, FPU, branches (taken or not is only known at run time, see
``BlockInfo``), IT and the rest. Besides the classes, ``EXTRAS`` counts
things a cost model needs that are not instructions: registers moved by
load/store-multiple and instructions that load the PC.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import capstone
from capstone import arm_const

CLASSES = (
    "load_byte", "load_half", "load_word", "load_double", "load_multiple",
    "store_byte", "store_half", "store_word", "store_double", "store_multiple",
    "alu", "mul", "mac", "mul_long", "dsp_simd", "divide",
    "fpu", "fpu_div_sqrt", "fpu_load_store",
    "branch_taken", "branch_not_taken", "it", "other",
)
CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}

# Not instructions (not part of the total): extra work inside classified ones.
EXTRAS = ("load_multiple_regs", "store_multiple_regs", "pc_loads")

_GROUPS = {
    "load_byte": "LDRB LDRSB LDRBT LDRSBT LDREXB LDAB LDAEXB",
    "load_half": "LDRH LDRSH LDRHT LDRSHT LDREXH LDAH LDAEXH",
    "load_word": "LDR LDRT LDREX LDA LDAEX",
    "load_double": "LDRD LDREXD LDAEXD",
    "load_multiple": "LDM LDMDA LDMDB LDMIB POP",
    "store_byte": "STRB STRBT STREXB STLB STLEXB",
    "store_half": "STRH STRHT STREXH STLH STLEXH",
    "store_word": "STR STRT STREX STL STLEX",
    "store_double": "STRD STREXD STLEXD",
    "store_multiple": "STM STMDA STMDB STMIB PUSH",
    "mul": "MUL SMULBB SMULBT SMULTB SMULTT SMULWB SMULWT SMMUL SMMULR",
    "mac": "MLA MLS SMLABB SMLABT SMLATB SMLATT SMLAWB SMLAWT SMMLA SMMLAR SMMLS SMMLSR",
    "mul_long": "SMULL UMULL SMLAL UMLAL UMAAL SMLALBB SMLALBT SMLALTB SMLALTT",
    # DSP extension: SIMD arithmetic, dual MACs, packing, and saturation.
    "dsp_simd": (
        "SADD16 SADD8 SASX SSAX SSUB16 SSUB8 UADD16 UADD8 UASX USAX USUB16 USUB8 "
        "QADD16 QADD8 QASX QSAX QSUB16 QSUB8 UQADD16 UQADD8 UQASX UQSAX UQSUB16 UQSUB8 "
        "SHADD16 SHADD8 SHASX SHSAX SHSUB16 SHSUB8 UHADD16 UHADD8 UHASX UHSAX UHSUB16 UHSUB8 "
        "SMLAD SMLADX SMLSD SMLSDX SMUAD SMUADX SMUSD SMUSDX SMLALD SMLALDX SMLSLD SMLSLDX "
        "SXTB16 SXTAB16 UXTB16 UXTAB16 SEL USAD8 USADA8 PKHBT PKHTB SSAT16 USAT16 "
        "SSAT USAT QADD QSUB QDADD QDSUB"),
    "divide": "SDIV UDIV",
    "fpu_div_sqrt": "VDIV VSQRT",
    "fpu_load_store": "VLDR VSTR VLDMIA VLDMDB VSTMIA VSTMDB VPUSH VPOP",
    "it": "IT",
    "other": ("NOP HINT YIELD WFE WFI SEV DMB DSB ISB CSDB MRS MSR CPS SVC BKPT UDF "
              "PLD PLDW PLI CLREX TT TTT TTA TTAT SG"),
}
_BRANCHES = {"B", "BL", "BX", "BLX", "BXNS", "BLXNS", "CBZ", "CBNZ", "TBB", "TBH"}
_CONDITIONAL_ALWAYS = {"CBZ", "CBNZ"}


def _name_by_id() -> dict[int, str]:
    return {getattr(arm_const, n): n[len("ARM_INS_"):] for n in dir(arm_const) if n.startswith("ARM_INS_")}


@lru_cache(maxsize=None)
def _class_of_name() -> dict[str, str]:
    table = {}
    for cls, names in _GROUPS.items():
        for n in names.split():
            table[n] = cls
    return table


_ID_NAME = _name_by_id()
_CC_AL = {arm_const.ARM_CC_AL, arm_const.ARM_CC_INVALID}
_PC = arm_const.ARM_REG_PC


@dataclass(frozen=True)
class BlockInfo:
    """A straight-line block as the emulator executes it, classified once."""

    address: int
    size: int
    n_insns: int
    counts: tuple[int, ...]     # per CLASSES, with the final branch left out when conditional
    extras: tuple[int, ...]     # per EXTRAS
    cond_branch_fallthrough: int  # address reached when the final conditional branch is not taken, else -1


def _disassembler() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    return md


# One disassembler per thread: the pipeline runs images in parallel threads and
# capstone releases the GIL inside cs_disasm, so a shared handle could race.
_LOCAL = threading.local()


def classify(insn) -> tuple[str, bool]:
    """(class, is_conditional_branch) of one capstone instruction (detail on)."""
    name = _ID_NAME.get(insn.id, "")
    if name in _BRANCHES:
        conditional = name in _CONDITIONAL_ALWAYS or insn.cc not in _CC_AL
        return ("branch_not_taken" if conditional else "branch_taken"), conditional
    cls = _class_of_name().get(name)
    if cls is not None:
        return cls, False
    if name.startswith("V") or name.startswith("F"):
        return "fpu", False
    if name in ("", "INVALID"):
        return "other", False
    # Everything left in Armv7E-M is single-cycle data processing (moves,
    # add/sub, logic, shifts, compares, bitfield, extend, CLZ, RBIT, REV...).
    # Writing the PC with one (MOV PC / ADD PC) is a taken branch.
    if _writes_pc(insn):
        return "branch_taken", False
    return "alu", False


def _writes_pc(insn) -> bool:
    try:
        return _PC in insn.regs_access()[1]
    except capstone.CsError:
        return False


def analyse_block(code: bytes, address: int) -> BlockInfo:
    """Classify the instructions of one executed block (``code`` as in memory at ``address``)."""
    md = getattr(_LOCAL, "md", None)
    if md is None:
        md = _LOCAL.md = _disassembler()
    counts = [0] * len(CLASSES)
    extras = [0] * len(EXTRAS)
    n = 0
    end = address
    fallthrough = -1
    pending = None  # a conditional branch seen but not yet known to be the block's last
    for insn in md.disasm(code, address):
        if pending is not None:
            # Execution continued past it inside one block: it fell through.
            counts[CLASS_INDEX["branch_not_taken"]] += 1
            pending = None
        cls, conditional = classify(insn)
        name = _ID_NAME.get(insn.id, "")
        if cls in ("load_multiple", "store_multiple"):
            regs = len(insn.operands) - (0 if name in ("POP", "PUSH") else 1)
            extras[EXTRAS.index(f"{cls}_regs")] += regs
        if cls.startswith("load") and _writes_pc(insn):
            extras[EXTRAS.index("pc_loads")] += 1
        end = insn.address + insn.size
        n += 1
        if conditional:
            pending = insn
        else:
            counts[CLASS_INDEX[cls]] += 1
    if pending is not None:
        # Taken or not is decided by where execution goes next (counted at run time).
        fallthrough = end
    if end != address + len(code):
        raise ValueError(f"capstone decoded {end - address} of {len(code)} bytes at {address:#x}")
    return BlockInfo(address, len(code), n, tuple(counts), tuple(extras), fallthrough)
