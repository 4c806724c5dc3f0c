/*
 * opt int8 convolution (standard, grouped, pointwise): im2col into a q15
 * buffer for two output pixels, then a 2-channel x 2-pixel matrix multiply
 * with SMLAD. See README.md in this folder for the choices and their cost.
 */
#include <string.h>

#include "opt_dsp.h"
#include "opt_fallback.h"
#include "opt_requant.h"

#if OPT_PATH_DSP

#ifndef OPT_IM2COL_MAX_K
#define OPT_IM2COL_MAX_K 4608 /* kh*kw*C_in/groups per output pixel, e.g. 3x3x512 */
#endif

/*
 * Two im2col columns (pixels A and B) interleaved in blocks of four q15
 * values: A[0..3] B[0..3] A[4..7] B[4..7] ..., so that one pointer and two
 * LDRDs feed both pixels. Within a block the values are in SMLAD order (see
 * widen_block).
 */
static int16_t opt_col[2 * OPT_IM2COL_MAX_K] __attribute__((aligned(8)));

/*
 * Widen n (a multiple of 4) int8 inputs to q15 with the input offset added,
 * into consecutive blocks of the interleaved column. Each four bytes
 * x0 x1 x2 x3 become x0 x2 x1 x3: the order in which SMLAD pairs them with
 * SXTB16-extracted weights (w0, w2) and (w1, w3), so the weights need no
 * reordering.
 */
static inline void widen_blocks(const int8_t *src, int16_t *dst, int32_t n, uint32_t off2)
{
    uint32_t *d = (uint32_t *)(void *)dst;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    /* Eight at a time: 2 LDR, 4 SXTAB16, 2 STRD and the branch (10 for 8). */
    int32_t n8 = n >> 3;
    if (n8 > 0) {
        uint32_t x0, x1, e;
        __asm__ volatile(
            "1:\n\t"
            "ldr     %[x0], [%[s]], #4\n\t"
            "ldr     %[x1], [%[s]], #4\n\t"
            "sxtab16 %[e], %[o], %[x0]\n\t"
            "sxtab16 %[x0], %[o], %[x0], ror #8\n\t"
            "strd    %[e], %[x0], [%[d]], #16\n\t"
            "sxtab16 %[e], %[o], %[x1]\n\t"
            "sxtab16 %[x1], %[o], %[x1], ror #8\n\t"
            "strd    %[e], %[x1], [%[d]], #16\n\t"
            "subs    %[n], %[n], #1\n\t"
            "bne     1b\n\t"
            : [s] "+r"(src), [d] "+r"(d), [n] "+r"(n8), [x0] "=&r"(x0), [x1] "=&r"(x1), [e] "=&r"(e)
            : [o] "r"(off2)
            : "cc", "memory");
    }
    n &= 7;
#endif
    for (int32_t i = n >> 2; i > 0; i--) {
        const uint32_t x = opt_read32(src);
        src += 4;
        d[0] = OPT_SXTAB16(off2, x);
        d[1] = OPT_SXTAB16_ROR8(off2, x);
        d += 4;
    }
}

static inline void zero_blocks(int16_t *dst, int32_t n)
{
    uint32_t *d = (uint32_t *)(void *)dst;
    for (int32_t i = n >> 2; i > 0; i--) {
        d[0] = 0;
        d[1] = 0;
        d += 4;
    }
}

/* Index of column element i in the interleaved layout (one pixel's half). */
static inline int32_t col_index(int32_t i, int32_t k4)
{
    static const uint8_t order[4] = {0, 2, 1, 3};
    return (i >> 2) * 8 + (i < k4 ? order[i & 3] : (i & 3));
}

/* A call's convolution geometry, as the column and matrix code see it. */
typedef struct {
    int32_t kh, kw;
    int32_t gc;         /* input channels per group, in the input tensor */
    int32_t tap_c;      /* column (and filter row) elements per tap: gc, or gc rounded up to 4 */
    int32_t k;          /* filter row length: kh*kw*tap_c */
    int32_t groups;
    int32_t col_stride; /* int16 elements from one group's column pair to the next */
    int32_t il;         /* filter repacked with channel pairs interleaved in 4-byte chunks */
    uint32_t off2;      /* input offset in both halfwords */
    const int8_t *in_end;
} conv_geom_t;

/* widen_blocks of tap_c elements that may run past the end of the input (last pixel only). */
static void widen_tail_safe(const int8_t *s, int16_t *d, const conv_geom_t *gm)
{
    const int32_t full = gm->gc & ~3; /* tap_c == full + 4 */
    int8_t tmp[4] __attribute__((aligned(4))) = {0, 0, 0, 0};
    widen_blocks(s, d, full, gm->off2);
    memcpy(tmp, s + full, (size_t)(gm->gc - full));
    widen_blocks(tmp, d + 2 * full, 4, gm->off2);
}

/*
 * One pixel's half of the columns of every group: the kh*kw*gc inputs of
 * output pixel (oy, ox) per group, offset added, padding taps zero (the
 * reference skips them, which is the same sum). Group g's column starts at
 * dst + g * col_stride. When tap_c > gc (a repacked filter) each tap also
 * widens the next tap_c - gc channels, which meet zero weights.
 */
static void fill_columns(int16_t *dst, const conv_geom_t *gm, const conv_params_t *p,
                         const dims_t *in_dims, const int8_t *in, int32_t oy, int32_t ox)
{
    const int32_t in_c = in_dims->c, groups = gm->groups, gc = gm->gc, tap_c = gm->tap_c;
    const int32_t kh = gm->kh, kw = gm->kw, col_stride = gm->col_stride;
    const uint32_t off2 = gm->off2;
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    if (gc == 4 && tap_c == 4 && y0 >= 0 && x0 >= 0 && y0 + kh <= in_dims->h &&
        x0 + kw <= in_dims->w) { /* interior, four channels per group: a block each */
        const int32_t gstep = col_stride / 2; /* in words */
        const int8_t *row = in + (y0 * in_dims->w + x0) * in_c;
        int16_t *d = dst;
        for (int32_t fy = kh; fy > 0; fy--, row += in_dims->w * in_c) {
            const int8_t *s = row; /* taps of a row are consecutive pixels */
            for (int32_t fx = kw; fx > 0; fx--, d += 8) {
                uint32_t *dg = (uint32_t *)(void *)d;
                for (int32_t g = groups; g > 0; g--, s += 4, dg += gstep) {
                    const uint32_t x = opt_read32(s);
                    dg[0] = OPT_SXTAB16(off2, x);
                    dg[1] = OPT_SXTAB16_ROR8(off2, x);
                }
            }
        }
        return;
    }
    if ((tap_c & 3) == 0) { /* every tap of every group starts a block */
        int16_t *d = dst; /* tap position inside each group's column */
        for (int32_t fy = 0; fy < kh; fy++) {
            const int32_t iy = y0 + fy;
            const int row_in = iy >= 0 && iy < in_dims->h;
            if (row_in && gc == in_c && tap_c == gc && x0 >= 0 && x0 + kw <= in_dims->w) {
                widen_blocks(in + (iy * in_dims->w + x0) * in_c, d, kw * in_c, off2);
                d += 2 * kw * in_c;
                continue;
            }
            for (int32_t fx = 0; fx < kw; fx++, d += 2 * tap_c) {
                const int32_t ix = x0 + fx;
                int16_t *dg = d;
                if (!row_in || ix < 0 || ix >= in_dims->w) {
                    for (int32_t g = 0; g < groups; g++, dg += col_stride) {
                        zero_blocks(dg, tap_c);
                    }
                    continue;
                }
                const int8_t *s = in + (iy * in_dims->w + ix) * in_c;
                if (gc == 4) { /* one block per group: no inner loop */
                    for (int32_t g = 0; g < groups; g++, dg += col_stride, s += 4) {
                        const uint32_t x = opt_read32(s);
                        uint32_t *dw = (uint32_t *)(void *)dg;
                        dw[0] = OPT_SXTAB16(off2, x);
                        dw[1] = OPT_SXTAB16_ROR8(off2, x);
                    }
                    continue;
                }
                if (tap_c == 4) { /* gc 1..3 repacked to one block per group */
                    for (int32_t g = 0; g < groups; g++, dg += col_stride, s += gc) {
                        uint32_t x = 0;
                        if (s + 4 <= gm->in_end) {
                            x = opt_read32(s);
                        } else { /* the image's last pixel: do not read past the input */
                            memcpy(&x, s, (size_t)gc);
                        }
                        uint32_t *dw = (uint32_t *)(void *)dg;
                        dw[0] = OPT_SXTAB16(off2, x);
                        dw[1] = OPT_SXTAB16_ROR8(off2, x);
                    }
                    continue;
                }
                if (tap_c == gc) {
                    for (int32_t g = 0; g < groups; g++, dg += col_stride, s += gc) {
                        widen_blocks(s, dg, gc, off2);
                    }
                    continue;
                }
                for (int32_t g = 0; g < groups; g++, dg += col_stride, s += gc) {
                    if (s + tap_c > gm->in_end) {
                        widen_tail_safe(s, dg, gm);
                    } else {
                        widen_blocks(s, dg, tap_c, off2);
                    }
                }
            }
        }
        return;
    }
    /* Taps straddle blocks: element by element (odd group widths, filter not repacked). */
    const int32_t off = p->input_offset, k4 = (kh * kw * gc) & ~3;
    for (int32_t g = 0; g < groups; g++, dst += col_stride) {
        int32_t i = 0;
        for (int32_t fy = 0; fy < kh; fy++) {
            const int32_t iy = y0 + fy;
            for (int32_t fx = 0; fx < kw; fx++) {
                const int32_t ix = x0 + fx;
                if (iy < 0 || iy >= in_dims->h || ix < 0 || ix >= in_dims->w) {
                    for (int32_t c = 0; c < gc; c++, i++) {
                        dst[col_index(i, k4)] = 0;
                    }
                } else {
                    const int8_t *s = in + (iy * in_dims->w + ix) * in_c + g * gc;
                    for (int32_t c = 0; c < gc; c++, i++) {
                        dst[col_index(i, k4)] = (int16_t)(s[c] + off);
                    }
                }
            }
        }
    }
}

/*
 * fill_columns for the common case, inlined: one group, the whole patch
 * inside the input, so each filter row is one contiguous run of kw*C_in.
 */
static inline __attribute__((always_inline)) void
fill_pixel(int16_t *dst, const conv_geom_t *gm, const conv_params_t *p, const dims_t *in_dims,
           const int8_t *in, int32_t oy, int32_t ox)
{
    const int32_t in_c = in_dims->c;
    if (gm->groups == 1 && gm->tap_c == in_c) {
        const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
        if (y0 >= 0 && x0 >= 0 && y0 + gm->kh <= in_dims->h && x0 + gm->kw <= in_dims->w) {
            const int32_t n = gm->kw * in_c, stride = in_dims->w * in_c;
            const int8_t *row = in + (y0 * in_dims->w + x0) * in_c;
            for (int32_t fy = gm->kh; fy > 0; fy--, row += stride, dst += 2 * n) {
                widen_blocks(row, dst, n, gm->off2);
            }
            return;
        }
    }
    fill_columns(dst, gm, p, in_dims, in, oy, ox);
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/*
 * n (>= 1) steps of eight k for two channels (rows w0, w1) and two pixels
 * (the interleaved column at *pc): 4 LDRD, 4 LDR, 8 SXTB16, 16 SMLAD and the
 * loop branch, 34 instructions for 32 MACs. Written by hand because GCC 12
 * neither pairs the column loads into LDRD nor folds the pointer updates
 * into the loads.
 */
static inline __attribute__((always_inline)) void
dot8_2x2(int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11, const int8_t **w0,
         const int8_t **w1, const uint64_t **pc, int32_t n)
{
    uint32_t xa0, xa1, xb0, xb1, w, we;
#define OPT_DOT4                                              \
    "ldrd   %[xa0], %[xa1], [%[pc]], #8\n\t"                  \
    "ldrd   %[xb0], %[xb1], [%[pc]], #8\n\t"                  \
    "ldr    %[w], [%[w0]], #4\n\t"                            \
    "sxtb16 %[we], %[w]\n\t"                                  \
    "sxtb16 %[w], %[w], ror #8\n\t"                           \
    "smlad  %[a00], %[we], %[xa0], %[a00]\n\t"                \
    "smlad  %[a01], %[we], %[xb0], %[a01]\n\t"                \
    "smlad  %[a00], %[w], %[xa1], %[a00]\n\t"                 \
    "smlad  %[a01], %[w], %[xb1], %[a01]\n\t"                 \
    "ldr    %[w], [%[w1]], #4\n\t"                            \
    "sxtb16 %[we], %[w]\n\t"                                  \
    "sxtb16 %[w], %[w], ror #8\n\t"                           \
    "smlad  %[a10], %[we], %[xa0], %[a10]\n\t"                \
    "smlad  %[a11], %[we], %[xb0], %[a11]\n\t"                \
    "smlad  %[a10], %[w], %[xa1], %[a10]\n\t"                 \
    "smlad  %[a11], %[w], %[xb1], %[a11]\n\t"
    __asm__ volatile(
        "1:\n\t" OPT_DOT4 OPT_DOT4
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [a00] "+r"(*a00), [a01] "+r"(*a01), [a10] "+r"(*a10), [a11] "+r"(*a11),
          [pc] "+r"(*pc), [w0] "+r"(*w0), [w1] "+r"(*w1), [n] "+r"(n),
          [xa0] "=&r"(xa0), [xa1] "=&r"(xa1), [xb0] "=&r"(xb0), [xb1] "=&r"(xb1),
          [w] "=&r"(w), [we] "=&r"(we)
        :
        : "cc", "memory");
}

/* One step of four k (the k % 8 == 4 remainder), same registers as dot8_2x2. */
static inline __attribute__((always_inline)) void
dot4_2x2(int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11, const int8_t **w0,
         const int8_t **w1, const uint64_t **pc)
{
    uint32_t xa0, xa1, xb0, xb1, w, we;
    __asm__ volatile(
        OPT_DOT4
        : [a00] "+r"(*a00), [a01] "+r"(*a01), [a10] "+r"(*a10), [a11] "+r"(*a11),
          [pc] "+r"(*pc), [w0] "+r"(*w0), [w1] "+r"(*w1),
          [xa0] "=&r"(xa0), [xa1] "=&r"(xa1), [xb0] "=&r"(xb0), [xb1] "=&r"(xb1),
          [w] "=&r"(w), [we] "=&r"(we)
        :
        : "memory");
}

/*
 * The same for a repacked filter whose channel pair is interleaved in 4-byte
 * chunks (w0[0..3] w1[0..3] w0[4..7] ...): one LDRD brings both channels'
 * weights, 32 instructions for 32 MACs.
 */
#define OPT_DOT4_IL                                           \
    "ldrd   %[xa0], %[xa1], [%[pc]], #8\n\t"                  \
    "ldrd   %[xb0], %[xb1], [%[pc]], #8\n\t"                  \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                     \
    "sxtb16 %[we], %[wa]\n\t"                                 \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                         \
    "smlad  %[a00], %[we], %[xa0], %[a00]\n\t"                \
    "smlad  %[a01], %[we], %[xb0], %[a01]\n\t"                \
    "smlad  %[a00], %[wa], %[xa1], %[a00]\n\t"                \
    "smlad  %[a01], %[wa], %[xb1], %[a01]\n\t"                \
    "sxtb16 %[we], %[wb]\n\t"                                 \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                         \
    "smlad  %[a10], %[we], %[xa0], %[a10]\n\t"                \
    "smlad  %[a11], %[we], %[xb0], %[a11]\n\t"                \
    "smlad  %[a10], %[wb], %[xa1], %[a10]\n\t"                \
    "smlad  %[a11], %[wb], %[xb1], %[a11]\n\t"

static inline __attribute__((always_inline)) void
dot8_2x2_il(int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11, const int8_t **w,
            const uint64_t **pc, int32_t n)
{
    uint32_t xa0, xa1, xb0, xb1, wa, wb, we;
    __asm__ volatile(
        "1:\n\t" OPT_DOT4_IL OPT_DOT4_IL
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [a00] "+r"(*a00), [a01] "+r"(*a01), [a10] "+r"(*a10), [a11] "+r"(*a11),
          [pc] "+r"(*pc), [w] "+r"(*w), [n] "+r"(n),
          [xa0] "=&r"(xa0), [xa1] "=&r"(xa1), [xb0] "=&r"(xb0), [xb1] "=&r"(xb1),
          [wa] "=&r"(wa), [wb] "=&r"(wb), [we] "=&r"(we)
        :
        : "cc", "memory");
}

static inline __attribute__((always_inline)) void
dot4_2x2_il(int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11, const int8_t **w,
            const uint64_t **pc)
{
    uint32_t xa0, xa1, xb0, xb1, wa, wb, we;
    __asm__ volatile(
        OPT_DOT4_IL
        : [a00] "+r"(*a00), [a01] "+r"(*a01), [a10] "+r"(*a10), [a11] "+r"(*a11),
          [pc] "+r"(*pc), [w] "+r"(*w),
          [xa0] "=&r"(xa0), [xa1] "=&r"(xa1), [xb0] "=&r"(xb0), [xb1] "=&r"(xb1),
          [wa] "=&r"(wa), [wb] "=&r"(wb), [we] "=&r"(we)
        :
        : "memory");
}
#undef OPT_DOT4_IL
#undef OPT_DOT4
#endif

/*
 * acc[0..3] += (w0, w1) . (A, B) over k elements: w0/w1 int8 filter rows,
 * col the interleaved column pair. Per four k: 2 weight LDRs, 4 SXTB16,
 * 2 LDRDs, 8 SMLAD for 16 MACs.
 */
static inline __attribute__((always_inline)) void
dot_2x2(const int8_t *w0, const int8_t *w1, const int16_t *col, int32_t k, int32_t *acc,
        const int tail, const int il)
{
    /* il: w0 is a channel pair interleaved in 4-byte chunks (w1 unused) */
    const int32_t wstep = il ? 8 : 4;
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const uint64_t *pc = (const uint64_t *)(const void *)col;
#define DOT_STEP()                                                         \
    do {                                                                   \
        const uint64_t xa_ = pc[0], xb_ = pc[1];                           \
        pc += 2;                                                           \
        const uint32_t xa0 = (uint32_t)xa_, xa1 = (uint32_t)(xa_ >> 32);   \
        const uint32_t xb0 = (uint32_t)xb_, xb1 = (uint32_t)(xb_ >> 32);   \
        const uint32_t wa = opt_read32(w0);                                \
        const uint32_t wb = opt_read32(il ? w0 + 4 : w1);                  \
        w0 += wstep;                                                       \
        w1 += 4;                                                           \
        const uint32_t wa_e = OPT_SXTB16(wa), wa_o = OPT_SXTB16_ROR8(wa);  \
        a00 = OPT_SMLAD(wa_e, xa0, a00);                                   \
        a01 = OPT_SMLAD(wa_e, xb0, a01);                                   \
        a00 = OPT_SMLAD(wa_o, xa1, a00);                                   \
        a01 = OPT_SMLAD(wa_o, xb1, a01);                                   \
        const uint32_t wb_e = OPT_SXTB16(wb), wb_o = OPT_SXTB16_ROR8(wb);  \
        a10 = OPT_SMLAD(wb_e, xa0, a10);                                   \
        a11 = OPT_SMLAD(wb_e, xb0, a11);                                   \
        a10 = OPT_SMLAD(wb_o, xa1, a10);                                   \
        a11 = OPT_SMLAD(wb_o, xb1, a11);                                   \
    } while (0)
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    if (k >= 8) {
        if (il) {
            dot8_2x2_il(&a00, &a01, &a10, &a11, &w0, &pc, k >> 3);
        } else {
            dot8_2x2(&a00, &a01, &a10, &a11, &w0, &w1, &pc, k >> 3);
        }
    }
#else
    for (int32_t i = k >> 3; i > 0; i--) {
        DOT_STEP();
        DOT_STEP();
    }
#endif
    if (tail == 1 || (tail == 2 && (k & 4))) {
        DOT_STEP();
    }
    if (tail == 2) { /* k % 4 != 0: filter not repacked */
        const int16_t *t = (const int16_t *)(const void *)pc;
        for (int32_t j = 0; j < (k & 3); j++) {
            const int32_t xa = t[j], xb = t[4 + j], va = w0[j], vb = w1[j];
            a00 += va * xa;
            a01 += va * xb;
            a10 += vb * xa;
            a11 += vb * xb;
        }
    }
#undef DOT_STEP
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

static inline __attribute__((always_inline)) void
conv_core(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
          const int8_t *in, const conv_geom_t *gm, const int8_t *filter,
          const int32_t *bias, const dims_t *out_dims, int8_t *out, opt_rq_mode_t mode,
          const int tail)
{
    const int32_t groups = gm->groups, k = gm->k, col_stride = gm->col_stride;
    const int32_t out_c = out_dims->c, opg = out_c / groups;
    const int32_t n_pix = out_dims->h * out_dims->w;
    const uint32_t off2 = gm->off2;
    const int direct_1x1 = gm->kh == 1 && gm->kw == 1 && groups == 1 && p->pad_h == 0 &&
                           p->pad_w == 0 && (k & 3) == 0 && k == in_dims->c;
    int32_t oy = 0, ox = 0;

    for (int32_t pix = 0; pix < n_pix; pix += 2) {
        const int two = pix + 1 < n_pix;
        int8_t *out_a = out + pix * out_c, *out_b = out_a + out_c;
        if (direct_1x1) { /* 1x1, no padding, one group: the column is the input pixel */
            const int8_t *src = in + (oy * p->stride_h * in_dims->w + ox * p->stride_w) * k;
            widen_blocks(src, opt_col, k, off2);
            if (++ox == out_dims->w) {
                ox = 0;
                oy++;
            }
            if (two) {
                src = in + (oy * p->stride_h * in_dims->w + ox * p->stride_w) * k;
                widen_blocks(src, opt_col + 4, k, off2);
                if (++ox == out_dims->w) {
                    ox = 0;
                    oy++;
                }
            }
        } else {
            fill_pixel(opt_col, gm, p, in_dims, in, oy, ox);
            if (++ox == out_dims->w) {
                ox = 0;
                oy++;
            }
            if (two) { /* a lone last pixel leaves B stale: its sums are not stored */
                fill_pixel(opt_col + 4, gm, p, in_dims, in, oy, ox);
                if (++ox == out_dims->w) {
                    ox = 0;
                    oy++;
                }
            }
        }
        const int16_t *col = opt_col;
        const int8_t *w = filter;
        for (int32_t g = 0; g < groups; g++, col += col_stride) {
            const int32_t oc_end = (g + 1) * opg;
            int32_t oc = g * opg;
            int32_t acc[4];
            if ((two || gm->il) && opg >= 2) { /* interleaved pairs must be read as pairs */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
                if (two && mode == OPT_RQ_FAST && tail != 2 && k >= 8) {
                    /* The hot loop, kept to few live values: the SMLAD step
                     * needs 14 registers, everything else is spilled around it. */
                    const int32_t *bp = bias + oc;
                    const opt_rq_t *rq = opt_rq_table + oc;
                    int8_t *oa = out_a + oc;
                    const int32_t k8 = k >> 3;
                    const int il = gm->il;
                    for (int32_t n = opg >> 1; n > 0; n--) {
                        int32_t a00 = bp[0], a01 = a00, a10 = bp[1], a11 = a10;
                        const uint64_t *pc = (const uint64_t *)(const void *)col;
                        bp += 2;
                        if (il) { /* w runs over the pair block: 2k bytes */
                            dot8_2x2_il(&a00, &a01, &a10, &a11, &w, &pc, k8);
                            if (tail == 1) {
                                dot4_2x2_il(&a00, &a01, &a10, &a11, &w, &pc);
                            }
                        } else {
                            const int8_t *w1 = w + k;
                            dot8_2x2(&a00, &a01, &a10, &a11, &w, &w1, &pc, k8);
                            if (tail == 1) {
                                dot4_2x2(&a00, &a01, &a10, &a11, &w, &w1, &pc);
                            }
                            w = w1;
                        }
                        int32_t x = opt_smmulr(a00 * 2, rq[0].mult);
                        oa[0] = opt_ssat8(OPT_QADD(x, rq[0].bias_round + (x >> 31)) >> rq[0].right);
                        x = opt_smmulr(a01 * 2, rq[0].mult);
                        oa[out_c] = opt_ssat8(OPT_QADD(x, rq[0].bias_round + (x >> 31)) >> rq[0].right);
                        x = opt_smmulr(a10 * 2, rq[1].mult);
                        oa[1] = opt_ssat8(OPT_QADD(x, rq[1].bias_round + (x >> 31)) >> rq[1].right);
                        x = opt_smmulr(a11 * 2, rq[1].mult);
                        oa[out_c + 1] = opt_ssat8(OPT_QADD(x, rq[1].bias_round + (x >> 31)) >> rq[1].right);
                        rq += 2;
                        oa += 2;
                    }
                    oc += opg & ~1;
                } else
#endif
                for (; oc + 2 <= oc_end; oc += 2, w += 2 * k) {
                    acc[0] = acc[1] = bias[oc];
                    acc[2] = acc[3] = bias[oc + 1];
                    dot_2x2(w, w + k, col, k, acc, tail, gm->il);
                    out_a[oc] = opt_requant(acc[0], oc, mode, p, q);
                    out_a[oc + 1] = opt_requant(acc[2], oc + 1, mode, p, q);
                    if (two) {
                        out_b[oc] = opt_requant(acc[1], oc, mode, p, q);
                        out_b[oc + 1] = opt_requant(acc[3], oc + 1, mode, p, q);
                    }
                }
            }
            for (; oc < oc_end; oc++, w += k) { /* odd channel, or the lone last pixel */
                acc[0] = acc[1] = bias[oc];
                acc[2] = acc[3] = 0;
                dot_2x2(w, w, col, k, acc, tail, 0); /* odd rows are not interleaved */
                out_a[oc] = opt_requant(acc[0], oc, mode, p, q);
                if (two) {
                    out_b[oc] = opt_requant(acc[1], oc, mode, p, q);
                }
            }
        }
    }
}

/*
 * Filter repacked for the call (see README.md): each tap's gc weights padded
 * with zeros to tap_c (a multiple of 4), and each pair of output channels in
 * a group interleaved in 4-byte chunks so that one LDRD loads both (a group's
 * odd last channel stays a plain row). Rows follow each other in the order
 * conv_core consumes them. Only when it fits; else the filter is read as
 * stored.
 */
#ifndef OPT_PACKED_FILTER_BYTES
#define OPT_PACKED_FILTER_BYTES 16384
#endif
static int8_t opt_wpack[OPT_PACKED_FILTER_BYTES] __attribute__((aligned(8)));

static void pack_filter(const int8_t *filter, int32_t out_c, int32_t groups, int32_t taps,
                        int32_t gc, int32_t tap_c, int32_t k, int32_t sg)
{
    const int32_t opg = out_c / groups;     /* output channels per (packed) group */
    const int32_t orig_opg = opg / sg;      /* per original group */
    if (tap_c == gc && sg == 1) { /* rows already block-aligned: move 4-byte chunks */
        uint32_t *d = (uint32_t *)(void *)opt_wpack;
        for (int32_t g = 0; g < groups; g++) {
            int32_t j = 0;
            for (; j + 2 <= opg; j += 2, filter += 2 * k) {
                for (int32_t e = 0; e < k; e += 4) {
                    d[0] = opt_read32(filter + e);
                    d[1] = opt_read32(filter + k + e);
                    d += 2;
                }
            }
            if (j < opg) {
                for (int32_t e = 0; e < k; e += 4) {
                    *d++ = opt_read32(filter + e);
                }
                filter += k;
            }
        }
        return;
    }
    memset(opt_wpack, 0, (size_t)out_c * k);
    for (int32_t oc = 0; oc < out_c; oc++) {
        const int32_t j = oc % opg; /* channel within its group */
        const int paired = j < (opg & ~1);
        int8_t *base = opt_wpack + (paired ? oc - (j & 1) : oc) * k;
        const int32_t slot = j & 1;
        const int32_t lane = ((oc / orig_opg) % sg) * gc; /* its channels inside a merged group */
        for (int32_t t = 0; t < taps; t++) {
            for (int32_t c = 0; c < gc; c++) {
                const int32_t e = t * tap_c + lane + c;
                base[paired ? (e >> 2) * 8 + slot * 4 + (e & 3) : e] = *filter++;
            }
        }
    }
}

void opt_conv_s8(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                 const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                 const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    conv_geom_t gm;
    gm.kh = filter_dims->h;
    gm.kw = filter_dims->w;
    gm.gc = filter_dims->c;
    gm.groups = in_dims->c / gm.gc;
    gm.tap_c = gm.gc;
    gm.k = gm.kh * gm.kw * gm.gc;
    gm.off2 = opt_offset_pair(p->input_offset);
    gm.in_end = in + in_dims->h * in_dims->w * in_dims->c;
    const int32_t taps = gm.kh * gm.kw;
    gm.il = 0;
    {
        /* One or two channels per group: merge 4/gc consecutive groups into one of
         * four channels with block-diagonal weights (the same MACs as padding
         * each group to four lanes, but one column fill and one loop per merge). */
        const int32_t sg = (gm.gc == 1 || gm.gc == 2) && gm.groups % (4 / gm.gc) == 0 ? 4 / gm.gc : 1;
        const int32_t tap_c = (gm.gc + 3) & ~3, k = taps * tap_c, pgroups = gm.groups / sg;
        /* Repacking costs about one instruction per weight byte (more when padding
         * taps); the interleaved pairs save two per 32 MACs: worth it from 32 output
         * pixels, and always needed for odd group widths. */
        const int worth = (gm.gc & 3) || out_dims->h * out_dims->w >= 32;
        if (worth && out_dims->c * k <= OPT_PACKED_FILTER_BYTES && pgroups * k <= OPT_IM2COL_MAX_K) {
            pack_filter(filter, out_dims->c, pgroups, taps, gm.gc, tap_c, k, sg);
            filter = opt_wpack;
            gm.groups = pgroups;
            gm.gc = sg > 1 ? 4 : gm.gc;
            gm.tap_c = tap_c;
            gm.k = k;
            gm.il = 1;
        }
    }
    gm.col_stride = 2 * ((gm.k + 3) & ~3);
    if (gm.groups * ((gm.k + 3) & ~3) > OPT_IM2COL_MAX_K) {
        opt_conv_direct(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out);
        return;
    }
    const opt_rq_mode_t mode = opt_rq_prepare(q, p, bias, out_dims->c, gm.k);
    /* Specialisations: the fast requantization by k mod 8 (0, 4, other); the
     * other modes (rare) share the general remainder handling. */
#define CONV_CORE(m, t) conv_core(p, q, in_dims, in, &gm, filter, bias, out_dims, out, m, t)
    if (mode == OPT_RQ_FAST) {
        if ((gm.k & 7) == 0) {
            CONV_CORE(OPT_RQ_FAST, 0);
        } else if ((gm.k & 3) == 0) {
            CONV_CORE(OPT_RQ_FAST, 1);
        } else {
            CONV_CORE(OPT_RQ_FAST, 2);
        }
    } else if (mode == OPT_RQ_GENERAL) {
        CONV_CORE(OPT_RQ_GENERAL, 2);
    } else {
        CONV_CORE(OPT_RQ_EXACT, 2);
    }
#undef CONV_CORE
}

#endif
