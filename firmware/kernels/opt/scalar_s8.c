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

static inline __attribute__((always_inline)) void
store_2x2(const int32_t *acc, int8_t *out_a, int32_t oc, int32_t out_c, int two, opt_rq_mode_t mode,
          const conv_params_t *p, const quant_params_t *q)
{
    opt_store_2x2_each(acc, out_a, oc, out_c, two, mode, p, q);
}

/*
 * Channels ch..ch+3 (n of them real, 1..4) of one output pixel over taps
 * [fy0, fy1) x [fx0, fx1): s is the first tap's channel ch, wb its weights
 * (blocks of four, opt_im2col.h). FOLD: every tap inside the input, the
 * offset is in the bias b. Four named accumulators: an array would live on
 * the stack.
 */
static inline __attribute__((always_inline)) void
dw_block(const int8_t *s, const int8_t *wb, const int32_t *b, int8_t *o, int32_t ch, int32_t n,
         int32_t c, int32_t row, int32_t kw, int32_t fy0, int32_t fy1, int32_t fx0, int32_t fx1,
         const int fold, opt_rq_mode_t mode, const conv_params_t *p, const quant_params_t *q)
{
    const int32_t off = fold ? 0 : p->input_offset;
    int32_t a0 = b[ch], a1 = n > 1 ? b[ch + 1] : 0, a2 = n > 2 ? b[ch + 2] : 0, a3 = n > 3 ? b[ch + 3] : 0;
    for (int32_t fy = fy0; fy < fy1; fy++, s += row, wb += kw * 4) {
        const int8_t *x = s, *w = wb;
        for (int32_t fx = fx0; fx < fx1; fx++, x += c, w += 4) {
            a0 += w[0] * (x[0] + off);
            if (n == 4) { /* full block: the other three unconditionally */
                a1 += w[1] * (x[1] + off);
                a2 += w[2] * (x[2] + off);
                a3 += w[3] * (x[3] + off);
            } else { /* the last 1..3 channels: never read past the pixel */
                a1 += n > 1 ? w[1] * (x[1] + off) : 0;
                a2 += n > 2 ? w[2] * (x[2] + off) : 0;
            }
        }
    }
    o[ch] = opt_requant(a0, ch, mode, p, q);
    if (n > 1) {
        o[ch + 1] = opt_requant(a1, ch + 1, mode, p, q);
    }
    if (n > 2) {
        o[ch + 2] = opt_requant(a2, ch + 2, mode, p, q);
    }
    if (n > 3) {
        o[ch + 3] = opt_requant(a3, ch + 3, mode, p, q);
    }
}

#include "opt_fold_conv.h"

#endif
