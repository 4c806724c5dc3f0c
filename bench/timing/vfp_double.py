"""Double-precision VFP instructions that Unicorn's Cortex-M7 lacks, done in Python.

Unicorn 2.1.4 models the Cortex-M7 FPU as single precision only, so an image
built for FPv5-D16 (the STM32H743's ``-mfpu=fpv5-d16``) stops at the first
``.f64`` instruction. The runner uses doubles only outside the timed windows
(repetition statistics), so the instruction-mix run emulates those few
instructions here, from capstone's decoding, and carries on. Instruction
counts of the timed regions are unaffected.
"""

from __future__ import annotations

import math
import struct

import capstone
from capstone import arm_const as cs

from bench.timing.instruction_classes import _ID_NAME

_FP_REG_FIRST_D = cs.ARM_REG_D0
_FP_REG_FIRST_S = cs.ARM_REG_S0


def _md() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    return md


class DoubleVfp:
    """An UC_HOOK_INSN_INVALID handler; capstone and Unicorn number D/S registers alike."""

    def __init__(self, pc_reg: int, fpscr_reg: int):
        self.md = _md()
        self.pc_reg, self.fpscr_reg = pc_reg, fpscr_reg
        self.emulated = 0

    # register access -------------------------------------------------------
    @staticmethod
    def _is_d(reg: int) -> bool:
        return _FP_REG_FIRST_D <= reg < _FP_REG_FIRST_D + 32

    def _get(self, uc, op, as_int: str | None = None):
        if op.type == cs.ARM_OP_FP:
            return float(op.fp)
        if op.type == cs.ARM_OP_IMM:
            return float(op.imm)
        raw = uc.reg_read(op.reg)
        if self._is_d(op.reg):
            return struct.unpack("<d", struct.pack("<Q", raw & (2**64 - 1)))[0]
        raw &= 0xFFFFFFFF
        if as_int == "u32":
            return float(raw)
        if as_int == "s32":
            return float(raw - (1 << 32) if raw & 0x80000000 else raw)
        return struct.unpack("<f", struct.pack("<I", raw))[0]

    def _set(self, uc, op, value: float, as_int: str | None = None) -> None:
        if self._is_d(op.reg):
            uc.reg_write(op.reg, struct.unpack("<Q", struct.pack("<d", value))[0])
        elif as_int:
            lo, hi = (0, 2**32 - 1) if as_int == "u32" else (-(2**31), 2**31 - 1)
            v = 0 if math.isnan(value) else int(min(max(value, lo), hi))
            uc.reg_write(op.reg, v & 0xFFFFFFFF)
        else:
            uc.reg_write(op.reg, struct.unpack("<I", struct.pack("<f", value))[0])

    # the hook -----------------------------------------------------------------
    def __call__(self, uc, _user=None) -> bool:
        pc = uc.reg_read(self.pc_reg)
        insn = next(self.md.disasm(bytes(uc.mem_read(pc, 4)), pc), None)
        if insn is None or not self.execute(uc, insn):
            return False
        uc.reg_write(self.pc_reg, (pc + insn.size) | 1)
        self.emulated += 1
        return True

    def execute(self, uc, insn) -> bool:
        name = _ID_NAME.get(insn.id, "")
        # capstone names a few VFP encodings by their pre-UAL aliases
        name = {"FCONSTD": "VMOV", "FCONSTS": "VMOV", "FADDD": "VADD", "FADDS": "VADD",
                "FSUBD": "VSUB", "FSUBS": "VSUB", "FCMPZD": "VCMP", "FCMPZS": "VCMP"}.get(name, name)
        ops = list(insn.operands)
        if insn.cc not in (cs.ARM_CC_AL, cs.ARM_CC_INVALID):
            return False  # predicated VFP (inside IT) is not handled
        arith = {"VADD": lambda a, b: a + b, "VSUB": lambda a, b: a - b,
                 "VMUL": lambda a, b: a * b, "VNMUL": lambda a, b: -(a * b),
                 "VDIV": lambda a, b: a / b if b else math.copysign(math.inf, a) if a else math.nan}
        acc = {"VMLA": 1, "VFMA": 1, "VMLS": -1, "VFMS": -1}
        if name in arith and len(ops) == 3:
            self._set(uc, ops[0], arith[name](self._get(uc, ops[1]), self._get(uc, ops[2])))
        elif name in acc and len(ops) == 3:
            d = self._get(uc, ops[0])
            self._set(uc, ops[0], d + acc[name] * self._get(uc, ops[1]) * self._get(uc, ops[2]))
        elif name in ("VNEG", "VABS", "VSQRT", "VMOV") and len(ops) == 2:
            v = self._get(uc, ops[1])
            v = {"VNEG": -v, "VABS": abs(v), "VSQRT": math.sqrt(v) if v >= 0 else math.nan}.get(name, v)
            self._set(uc, ops[0], v)
        elif name in ("VCVT", "VCVTR") and len(ops) == 2:
            types = insn.mnemonic.split(".")[1:]   # e.g. vcvt.u32.f64 -> [u32, f64]
            if len(types) != 2:
                return False
            dst_t, src_t = types
            v = self._get(uc, ops[1], src_t if src_t in ("u32", "s32") else None)
            if dst_t in ("u32", "s32"):
                v = float(round(v)) if name == "VCVTR" else float(math.trunc(v)) if math.isfinite(v) else v
                self._set(uc, ops[0], v, dst_t)
            else:
                self._set(uc, ops[0], v)
        elif name in ("VCMP", "VCMPE") and len(ops) in (1, 2):
            a = self._get(uc, ops[0])
            b = self._get(uc, ops[1]) if len(ops) > 1 else 0.0
            nzcv = 0b0011 if math.isnan(a) or math.isnan(b) else 0b0110 if a == b else 0b1000 if a < b else 0b0010
            fpscr = uc.reg_read(self.fpscr_reg)
            uc.reg_write(self.fpscr_reg, (fpscr & 0x0FFFFFFF) | (nzcv << 28))
        else:
            return False
        return True
