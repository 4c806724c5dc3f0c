/*
 * Thumb-2 (Armv6-M / Armv7E-M / Armv8-M mainline) decoder to the instruction
 * classes the timing models need: which class, which registers are read
 * (normally, early such as addresses and shifted operands, or late such as
 * store data and accumulators) and written, and how the instruction can end a
 * block. Encodings from the Armv7-M Architecture Reference Manual (DDI 0403),
 * chapter A5 (Thumb instruction set encoding). Floating point, coprocessor
 * and MVE encodings are classed by their top bits only.
 */
#ifndef TIMING_THUMB_DECODE_H
#define TIMING_THUMB_DECODE_H

#include <stdint.h>

/* Keep in step with CLASS_NAMES in bench/timing/core_model.py. */
enum insn_class {
    C_ALU, C_ALU_SHIFT, C_SHIFT, C_MUL, C_MAC, C_MUL_LONG, C_MAC_LONG,
    C_DSP, C_DSP_MAC, C_SAT, C_EXTEND, C_EXTEND16, C_DIV,
    C_LOAD, C_LOAD_NARROW, C_LOAD_DOUBLE, C_LOAD_MULTIPLE,
    C_STORE, C_STORE_REG, C_STORE_DOUBLE, C_STORE_MULTIPLE,
    C_BRANCH, C_BRANCH_COND, C_BRANCH_INDIRECT, C_CALL, C_TABLE_BRANCH,
    C_IT, C_NOP, C_BARRIER, C_SYSTEM,
    C_FPU, C_FPU_DIV, C_FPU_LOAD, C_FPU_STORE,
    C_MVE, C_MVE_MAC, C_MVE_LOAD, C_MVE_STORE,
    C_COUNT
};

enum { END_NONE, END_DIRECT, END_COND, END_INDIRECT };

typedef struct {
    uint8_t cls;
    uint8_t wide;        /* 32-bit encoding */
    uint8_t nregs;       /* registers moved by LDM/STM/PUSH/POP */
    uint8_t end;         /* END_*: how it changes the flow */
    uint16_t src;        /* registers read at the normal stage */
    uint16_t early;      /* read one stage early: addresses, shifted operands */
    uint16_t late;       /* read late: store data, accumulators */
    uint16_t dst;        /* registers written (PC excluded) */
    uint32_t target;     /* direct branch target (END_DIRECT / END_COND) */
} decoded_t;

#define R(n) ((uint16_t)(1u << ((n) & 15)))

static inline int thumb_is_wide(uint16_t hw1)
{
    return (hw1 >> 11) >= 0x1d;
}

static inline int32_t sext(uint32_t v, int bits)
{
    return (int32_t)(v << (32 - bits)) >> (32 - bits);
}

static void decode16(uint16_t h, uint32_t pc, decoded_t *d)
{
    unsigned rd = h & 7, rn = (h >> 3) & 7, rm = (h >> 6) & 7;
    d->cls = C_ALU;
    if ((h >> 13) == 0) {                 /* shift imm, add/sub, mov/cmp/add/sub imm8 */
        unsigned op = (h >> 11) & 3;
        if ((h >> 11) == 3) {             /* add/sub register or imm3 */
            d->src = R(rn) | ((h & 0x400) ? 0 : R(rm));
            d->dst = R(rd);
        } else if ((h >> 13) == 0 && op < 3 && !(h & 0x2000)) {
            d->cls = C_SHIFT;
            d->src = R(rn);
            d->dst = R(rd);
        }
        return;
    }
    if ((h >> 13) == 1) {                 /* 001xx: MOV/CMP/ADD/SUB imm8 */
        unsigned r = (h >> 8) & 7, op = (h >> 11) & 3;
        d->src = op == 0 ? 0 : R(r);
        d->dst = op == 1 ? 0 : R(r);
        return;
    }
    if ((h >> 10) == 0x10) {              /* data processing */
        unsigned op = (h >> 6) & 15;
        d->src = R(rd) | R(rn);
        d->dst = (op == 8 || op == 10 || op == 11) ? 0 : R(rd);  /* TST CMP CMN */
        if (op == 9) d->src = R(rn);                           /* RSB #0 */
        if (op == 15) d->src = R(rn);                          /* MVN */
        if (op == 2 || op == 3 || op == 4 || op == 7) d->cls = C_SHIFT;
        if (op == 13) d->cls = C_MUL;
        return;
    }
    if ((h >> 10) == 0x11) {              /* special data, BX/BLX */
        unsigned op = (h >> 8) & 3, dn = ((h >> 4) & 8) | rd, m = (h >> 3) & 15;
        if (op == 3) {
            d->cls = (h & 0x80) ? C_CALL : C_BRANCH_INDIRECT;
            d->src = R(m);
            d->end = END_INDIRECT;
            if (h & 0x80) d->dst = R(14);
            return;
        }
        d->src = R(m) | (op == 2 ? 0 : R(dn));
        if (op != 1) {
            if (dn == 15) {
                d->cls = C_BRANCH_INDIRECT;
                d->end = END_INDIRECT;
            } else {
                d->dst = R(dn);
            }
        }
        return;
    }
    if ((h >> 11) == 9) {                 /* LDR literal */
        d->cls = C_LOAD;
        d->dst = R((h >> 8) & 7);
        return;
    }
    if ((h >> 12) == 5) {                 /* load/store register offset */
        unsigned op = (h >> 9) & 7;
        d->early = R(rn) | R(rm);
        if (op < 3) {
            d->cls = C_STORE_REG;
            d->late = R(rd);
        } else {
            d->cls = op == 4 ? C_LOAD : C_LOAD_NARROW;
            d->dst = R(rd);
        }
        return;
    }
    if ((h >> 13) == 3 || (h >> 12) == 8) {   /* LDR/STR(B) imm5, LDRH/STRH imm5 */
        int load = (h >> 11) & 1, narrow = (h >> 12) == 8 || (h & 0x1000);
        d->early = R(rn);
        if (load) {
            d->cls = narrow ? C_LOAD_NARROW : C_LOAD;
            d->dst = R(rd);
        } else {
            d->cls = C_STORE;
            d->late = R(rd);
        }
        return;
    }
    if ((h >> 12) == 9) {                 /* SP-relative */
        unsigned t = (h >> 8) & 7;
        d->early = R(13);
        if (h & 0x800) {
            d->cls = C_LOAD;
            d->dst = R(t);
        } else {
            d->cls = C_STORE;
            d->late = R(t);
        }
        return;
    }
    if ((h >> 12) == 10) {                /* ADR, ADD SP imm */
        d->src = (h & 0x800) ? R(13) : 0;
        d->dst = R((h >> 8) & 7);
        return;
    }
    if ((h >> 12) == 11) {                /* miscellaneous */
        unsigned op = (h >> 5) & 0x7f;
        if ((op & 0x7c) == 0x00) {        /* ADD/SUB SP, #imm */
            d->src = d->dst = R(13);
        } else if ((h & 0x0500) == 0x0100) {  /* CBZ/CBNZ */
            d->cls = C_BRANCH_COND;
            d->src = R(rd);
            d->end = END_COND;
            d->target = pc + 4 + ((((h >> 9) & 1) << 6) | (((h >> 3) & 0x1f) << 1));
        } else if ((op & 0x78) == 0x10) { /* SXTH SXTB UXTH UXTB */
            d->cls = C_EXTEND;
            d->early = R(rn);
            d->dst = R(rd);
        } else if ((op & 0x70) == 0x20) { /* PUSH */
            unsigned n = __builtin_popcount(h & 0x1ff);
            d->cls = C_STORE_MULTIPLE;
            d->nregs = n;
            d->early = R(13);
            d->late = (h & 0xff) | ((h & 0x100) ? R(14) : 0);
            d->dst = R(13);
        } else if ((op & 0x70) == 0x60) { /* POP */
            unsigned n = __builtin_popcount(h & 0x1ff);
            d->cls = C_LOAD_MULTIPLE;
            d->nregs = n;
            d->early = R(13);
            d->dst = (h & 0xff) | R(13);
            if (h & 0x100) {
                d->end = END_INDIRECT;
            }
        } else if ((op & 0x78) == 0x50) { /* REV REV16 REVSH */
            d->cls = C_DSP;
            d->early = R(rn);
            d->dst = R(rd);
        } else if ((h & 0xff00) == 0xbf00) {
            d->cls = (h & 0xf) ? C_IT : C_NOP;
        } else if ((h & 0xff00) == 0xbe00) {
            d->cls = C_SYSTEM;            /* BKPT (semihosting) */
        } else {
            d->cls = C_SYSTEM;            /* CPS */
        }
        return;
    }
    if ((h >> 12) == 12) {                /* LDM/STM */
        unsigned n = __builtin_popcount(h & 0xff), b = (h >> 8) & 7;
        d->nregs = n;
        d->early = R(b);
        if (h & 0x800) {
            d->cls = C_LOAD_MULTIPLE;
            d->dst = (h & 0xff) | R(b);
        } else {
            d->cls = C_STORE_MULTIPLE;
            d->late = h & 0xff;
            d->dst = R(b);
        }
        return;
    }
    if ((h >> 12) == 13) {                /* B<cond>, UDF, SVC */
        if (((h >> 9) & 7) == 7) {
            d->cls = C_SYSTEM;
            return;
        }
        d->cls = C_BRANCH_COND;
        d->end = END_COND;
        d->target = pc + 4 + (uint32_t)(sext(h & 0xff, 8) << 1);
        return;
    }
    /* 11100: B */
    d->cls = C_BRANCH;
    d->end = END_DIRECT;
    d->target = pc + 4 + (uint32_t)(sext(h & 0x7ff, 11) << 1);
}

static void decode_coproc(uint16_t h1, uint16_t h2, decoded_t *d)
{
    /* FP (coprocessors 10/11) and MVE. Loads/stores: 110x xxxx. */
    unsigned cp = (h2 >> 8) & 15;
    int mve = (cp == 14 || cp == 15) || (h1 & 0xef00) == 0xef00 || (h1 >> 12) == 0xf;
    if (((h1 >> 9) & 7) == 6) {           /* LDC/STC class: VLDR/VSTR/VLDM/VSTM, MVE VLDR/VSTR */
        int load = (h1 >> 4) & 1;
        d->early = R(h1 & 15);
        if (mve && cp != 10 && cp != 11)
            d->cls = load ? C_MVE_LOAD : C_MVE_STORE;
        else
            d->cls = load ? C_FPU_LOAD : C_FPU_STORE;
        return;
    }
    if (mve && cp != 10 && cp != 11) {
        /* Multiplies go down the multiply/float pipe: VMUL.I (vector), VMLADAV/VMLAV
         * and the by-scalar VMLA/VMLAS family (EExx with bit 12 of hw2 clear). */
        int vmul = (h1 & 0xef80) == 0xef00 && (h2 & 0x0f10) == 0x0910;
        d->cls = vmul || (h1 & 0xff80) == 0xee80 || (h2 & 0x0f00) == 0x0e00 ? C_MVE_MAC : C_MVE;
        return;
    }
    if ((h1 & 0xffb0) == 0xee80 && (h2 & 0x0e50) == 0x0a00)
        d->cls = C_FPU_DIV;               /* VDIV */
    else
        d->cls = C_FPU;
    if ((h1 & 0xffe0) == 0xee00 && (h2 & 0x0f10) == 0x0a10)
        d->dst = R(h2 >> 12);             /* VMOV core <- S (approx.) */
}

static void decode32(uint16_t h1, uint16_t h2, uint32_t pc, decoded_t *d)
{
    unsigned rn = h1 & 15, rd = (h2 >> 8) & 15, rm = h2 & 15, rt = h2 >> 12;
    d->wide = 1;
    d->cls = C_ALU;
    if ((h1 & 0xfe40) == 0xe800) {        /* LDM/STM (and RFE/SRS) */
        unsigned n = __builtin_popcount(h2);
        d->nregs = n;
        d->early = R(rn);
        if (h1 & 0x10) {
            d->cls = C_LOAD_MULTIPLE;
            d->dst = (h2 & 0x7fff) | ((h1 & 0x20) ? R(rn) : 0);
            if (h2 & 0x8000) d->end = END_INDIRECT;
        } else {
            d->cls = C_STORE_MULTIPLE;
            d->late = h2;
            d->dst = (h1 & 0x20) ? R(rn) : 0;
        }
        return;
    }
    if ((h1 & 0xfe40) == 0xe840) {        /* dual, exclusive, table branch */
        unsigned op1 = (h1 >> 7) & 3, op2 = (h1 >> 4) & 3;
        d->early = R(rn);
        if (op1 == 1 && op2 == 1 && (h2 & 0xffe0) == 0xf000) {
            d->cls = C_TABLE_BRANCH;
            d->early |= R(rm);
            d->end = END_INDIRECT;
            return;
        }
        if (op1 == 0 && op2 == 0) { d->cls = C_STORE; d->late = R(rt); d->dst = R(rd); return; }
        if (op1 == 0 && op2 == 1) { d->cls = C_LOAD; d->dst = R(rt); return; }
        if (op1 == 1 && op2 == 0) { d->cls = C_STORE; d->late = R(rt); d->dst = R(rm); return; }
        if (op1 == 1 && op2 == 1) { d->cls = C_LOAD_NARROW; d->dst = R(rt); return; }
        if (h1 & 0x10) {
            d->cls = C_LOAD_DOUBLE;
            d->dst = R(rt) | R(rd) | ((h1 & 0x20) ? R(rn) : 0);
        } else {
            d->cls = C_STORE_DOUBLE;
            d->late = R(rt) | R(rd);
            d->dst = (h1 & 0x20) ? R(rn) : 0;
        }
        return;
    }
    if ((h1 & 0xfe00) == 0xea00) {        /* data processing, shifted register */
        unsigned op = (h1 >> 5) & 15, s = (h1 >> 4) & 1;
        unsigned imm = ((h2 >> 10) & 0x1c) | ((h2 >> 6) & 3), type = (h2 >> 4) & 3;
        int shifted = imm != 0 || type != 0;
        int no_rn = (op == 2 || op == 3) && rn == 15;           /* MOV/MVN (and shifts) */
        d->src = no_rn ? 0 : R(rn);
        d->dst = (rd == 15 && s) ? 0 : R(rd);
        if (shifted) {
            d->cls = (no_rn && op == 2) ? C_SHIFT : C_ALU_SHIFT;
            d->early = R(rm);
        } else {
            d->src |= R(rm);
        }
        if (op == 6) {                    /* PKHBT/PKHTB */
            d->cls = C_EXTEND16;
            d->early = R(rm);
        }
        return;
    }
    if ((h1 & 0xec00) == 0xec00) {        /* coprocessor, FP, MVE */
        decode_coproc(h1, h2, d);
        return;
    }
    if ((h1 & 0xf800) == 0xf000) {
        if (h2 & 0x8000) {                /* branches and miscellaneous control */
            unsigned op1 = (h2 >> 12) & 7;
            uint32_t s = (h1 >> 10) & 1, j1 = (h2 >> 13) & 1, j2 = (h2 >> 11) & 1;
            if ((op1 & 5) == 0) {
                if (((h1 >> 7) & 7) != 7) {   /* B<cond>.W */
                    uint32_t off = (s << 20) | (j2 << 19) | (j1 << 18) | ((h1 & 0x3f) << 12) | ((h2 & 0x7ff) << 1);
                    d->cls = C_BRANCH_COND;
                    d->end = END_COND;
                    d->target = pc + 4 + (uint32_t)sext(off, 21);
                } else if ((h1 & 0x7f0) == 0x3b0) {
                    d->cls = C_BARRIER;   /* DSB DMB ISB */
                } else if ((h1 & 0x7ff) == 0x3af) {
                    d->cls = C_NOP;       /* hints */
                } else {
                    d->cls = C_SYSTEM;    /* MSR MRS */
                    if ((h1 & 0x7e0) == 0x3e0) d->dst = R(rd);
                    else d->src = R(rn);
                }
                return;
            }
            uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
            uint32_t off = (s << 24) | (i1 << 23) | (i2 << 22) | ((h1 & 0x3ff) << 12) | ((h2 & 0x7ff) << 1);
            d->target = pc + 4 + (uint32_t)sext(off, 25);
            d->end = END_DIRECT;
            d->cls = (op1 & 4) ? C_CALL : C_BRANCH;
            if (op1 & 4) d->dst = R(14);
            return;
        }
        if (!(h1 & 0x200)) {              /* modified immediate */
            unsigned op = (h1 >> 5) & 15, s = (h1 >> 4) & 1;
            int rotated = ((h1 >> 10) & 1) || ((h2 >> 12) & 7);
            d->src = ((op == 2 || op == 3) && rn == 15) ? 0 : R(rn);
            d->dst = (rd == 15 && s) ? 0 : R(rd);
            d->cls = rotated ? C_ALU_SHIFT : C_ALU;
            if (rotated) { d->early = d->src; d->src = 0; }
            return;
        }
        {                                  /* plain binary immediate */
            unsigned op = (h1 >> 4) & 31;
            d->dst = R(rd);
            d->src = (op == 4 || rn == 15) ? 0 : R(rn);
            if (op == 12) d->src = R(rd);                         /* MOVT keeps the low half */
            if (op == 16 || op == 18 || op == 24 || op == 26) {  /* SSAT USAT (16) */
                d->cls = C_SAT;
                d->early = d->src;
                d->src = 0;
            } else if (op == 20 || op == 28 || op == 22) {        /* SBFX UBFX BFI/BFC */
                d->cls = C_ALU_SHIFT;
                d->early = d->src | (op == 22 ? R(rd) : 0);
                d->src = 0;
            }
            return;
        }
    }
    /* 11111: loads/stores single, data processing register, multiplies. */
    if ((h1 & 0xfe00) == 0xf800) {
        unsigned size = (h1 >> 5) & 3;
        int load = (h1 >> 4) & 1;
        int reg_offset = !(h1 & 0x80) && !(h2 & 0x800) && rn != 15;
        int writeback = !(h1 & 0x80) && (h2 & 0x900) == 0x900;
        d->early = R(rn) | (reg_offset ? R(rm) : 0);
        if (!load) {
            d->cls = reg_offset ? C_STORE_REG : C_STORE;
            d->late = R(rt);
        } else if (rt == 15 && size != 2) {
            d->cls = C_NOP;               /* PLD/PLI */
        } else {
            d->cls = size == 2 ? C_LOAD : C_LOAD_NARROW;
            if (rt == 15) d->end = END_INDIRECT; else d->dst = R(rt);
        }
        if (writeback) d->dst |= R(rn);
        return;
    }
    if ((h1 & 0xff00) == 0xfa00) {        /* data processing (register) */
        unsigned op1 = (h1 >> 4) & 15, op2 = (h2 >> 4) & 15;
        d->dst = R(rd);
        if (!(op1 & 8) && op2 == 0) {     /* shift by register */
            d->cls = C_SHIFT;
            d->src = R(rn) | R(rm);
        } else if (!(op1 & 8) && (op2 & 8)) {  /* extend (and add) */
            int b16 = (op1 >> 1) == 1;
            d->cls = b16 ? C_EXTEND16 : C_EXTEND;
            d->early = R(rm);
            d->src = rn == 15 ? 0 : R(rn);
        } else if ((op1 & 8) && !(op2 & 8)) {  /* parallel add/sub */
            d->cls = C_DSP;
            d->src = R(rn) | R(rm);
        } else {                           /* QADD..., REV, RBIT, SEL, CLZ */
            d->cls = C_DSP;
            d->src = R(rn) | R(rm);
            if (op1 == 9 || op1 == 11) { d->early = R(rm); d->src = 0; }
            if (op1 == 11 && op2 == 8) d->cls = C_ALU;           /* CLZ */
        }
        return;
    }
    if ((h1 & 0xff80) == 0xfb00) {        /* multiply, multiply-accumulate, USAD8 */
        unsigned op1 = (h1 >> 4) & 7;
        d->src = R(rn) | R(rm);
        d->dst = R(rd);
        if (rt != 15) d->late = R(rt);
        if (op1 == 0) d->cls = rt == 15 ? C_MUL : C_MAC;
        else if (op1 == 1 || op1 == 3) d->cls = rt == 15 ? C_MUL : C_MAC;   /* SMULxy/SMLAxy, SMULWy/SMLAWy */
        else if (op1 == 2 || op1 == 4) d->cls = C_DSP_MAC;                  /* SMUAD/SMLAD, SMUSD/SMLSD */
        else if (op1 == 5 || op1 == 6) d->cls = rt == 15 ? C_MUL : C_MAC;   /* SMMUL/SMMLA/SMMLS */
        else d->cls = C_DSP;                                                 /* USAD8/USADA8 */
        return;
    }
    if ((h1 & 0xff80) == 0xfb80) {        /* long multiply, divide */
        unsigned op1 = (h1 >> 4) & 7, op2 = (h2 >> 4) & 15;
        d->src = R(rn) | R(rm);
        if (op1 == 1 || op1 == 3) {
            d->cls = C_DIV;
            d->dst = R(rd);
            return;
        }
        d->dst = R(rt) | R(rd);
        if (op1 == 0 || op1 == 2) {
            d->cls = C_MUL_LONG;
        } else {
            d->cls = (op1 == 4 && (op2 & 0xe) == 0xc) || op1 == 5 ? C_DSP_MAC : C_MAC_LONG;
            d->late = R(rt) | R(rd);
        }
        return;
    }
    d->cls = C_SYSTEM;
}

/* Decode the instruction at pc from its bytes (2 or 4). */
static inline void thumb_decode(const uint8_t *b, int size, uint32_t pc, decoded_t *d)
{
    uint16_t h1 = (uint16_t)(b[0] | (b[1] << 8));
    *d = (decoded_t){0};
    if (size >= 4 && thumb_is_wide(h1)) {
        uint16_t h2 = (uint16_t)(b[2] | (b[3] << 8));
        decode32(h1, h2, pc, d);
    } else {
        decode16(h1, pc, d);
    }
    d->dst &= 0x7fff;
    if (d->cls == C_LOAD_MULTIPLE && d->end == END_INDIRECT) d->cls = C_LOAD_MULTIPLE;
}

#endif
