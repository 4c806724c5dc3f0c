/*
 * opt int8 convolutions for cores without the DSP extension (Cortex-M0+,
 * M3): plain 32-bit multiply-accumulates, laid out so that each MAC is two
 * byte loads and one MLA (M3) or MULS + ADD (M0+).
 *
 * Emulating SMLAD's packed halfwords in C (what conv_s8.c compiles to without
 * DSP) costs more than the reference loops, so these cores get their own
 * kernels. The input offset is folded into the bias once per call:
 * sum w * (x + off) = sum w * x + off * sum w. Padding taps of the column are
 * filled with the input zero point (x + off == 0), so the fold holds for them
 * too and the inner loop is a pure int8 x int8 dot product. Depthwise edge
 * pixels, whose taps are clipped, add the offset explicitly.
 *
 * Standard, grouped and pointwise: the 2-pixel x 2-channel tiles of
 * opt_fold_conv.h, whose inner loop here is 4 accumulators, 4 byte loads and
 * 4 MACs per k. Depthwise: four channels per pass over the taps.
 */
#include "opt_dsp.h"
#include "opt_im2col.h"

#if OPT_PATH_SCALAR

/* acc[0..3] += (w0 . xa, w0 . xb, w1 . xa, w1 . xb) over k. */
static inline __attribute__((always_inline)) void
dot_2x2(const int8_t *w0, const int8_t *w1, const int8_t *xa, const int8_t *xb, int32_t k,
        int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    for (int32_t i = 0; i < k; i++) {
        const int32_t x0 = xa[i], x1 = xb[i], v0 = w0[i], v1 = w1[i];
        a00 += v0 * x0;
        a01 += v0 * x1;
        a10 += v1 * x0;
        a11 += v1 * x1;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/*
 * Four channels (or the last 1..3) of one output pixel over taps [fy0, fy1) x
 * [fx0, fx1). FOLD: the offset is in the bias (every tap inside the input).
 */
#define DW_BLOCK(FOLD, NCH)                                                             \
    do {                                                                                \
        int32_t a[4];                                                                   \
        for (int32_t j = 0; j < (NCH); j++) {                                           \
            a[j] = (FOLD) ? opt_bias_fold[ch + j] : bias[ch + j];                       \
        }                                                                               \
        const int8_t *srow = in + ((y0 + fy0) * in_w + x0 + fx0) * c + ch;              \
        const int8_t *wrow = wblk + (fy0 * kw + fx0) * 4;                               \
        for (int32_t fy = fy0; fy < fy1; fy++, srow += in_w * c, wrow += kw * 4) {      \
            const int8_t *s = srow, *wp = wrow;                                         \
            for (int32_t fx = fx0; fx < fx1; fx++, s += c, wp += 4) {                   \
                for (int32_t j = 0; j < (NCH); j++) {                                   \
                    a[j] += wp[j] * ((FOLD) ? s[j] : s[j] + off);                       \
                }                                                                       \
            }                                                                           \
        }                                                                               \
        for (int32_t j = 0; j < (NCH); j++) {                                           \
            o[ch + j] = opt_requant(a[j], ch + j, mode, p, q);                          \
        }                                                                               \
    } while (0)

static inline __attribute__((always_inline)) void
dw_core(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims, const int8_t *in,
        const dims_t *filter_dims, const int32_t *bias, const dims_t *out_dims, int8_t *out,
        opt_rq_mode_t mode)
{
    const int32_t c = in_dims->c, in_w = in_dims->w, in_h = in_dims->h, off = p->input_offset;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, taps = kh * kw, c4 = c & ~3;
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = y0 + kh > in_h ? in_h - y0 : kh;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = x0 + kw > in_w ? in_w - x0 : kw;
            const int interior = fy0 == 0 && fx0 == 0 && fy1 == kh && fx1 == kw;
            int8_t *o = out + (oy * out_dims->w + ox) * c;
            const int8_t *wblk = opt_dw_w;
            int32_t ch = 0;
            for (; ch < c4; ch += 4, wblk += 4 * taps) {
                if (interior) {
                    DW_BLOCK(1, 4);
                } else {
                    DW_BLOCK(0, 4);
                }
            }
            if (ch < c) {
                if (interior) {
                    DW_BLOCK(1, c - c4);
                } else {
                    DW_BLOCK(0, c - c4);
                }
            }
        }
    }
}
#undef DW_BLOCK

#include "opt_fold_conv.h"

#endif
