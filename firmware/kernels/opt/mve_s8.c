/*
 * opt int8 convolutions with Helium (MVE, Cortex-M55), bit-exact with ref.
 *
 * The input offset is folded into the bias and padding taps hold the zero
 * point (opt_im2col.h), so every inner loop multiplies raw int8 by int8.
 *
 * Standard, grouped and pointwise: the 2-pixel x 2-channel tiles of
 * opt_fold_conv.h, whose inner loop here is VMLADAVA.S8 (16 int8 pairs
 * multiplied and added to a scalar accumulator): 4 loads and 4 VMLADAVA per
 * 64 MACs; the last k % 16 run with VCTP-predicated zeroing loads (zero
 * lanes add nothing).
 *
 * Depthwise: channels in vector lanes, four per int32x4 (VLDRB.S32 widens
 * four int8 on load), VMUL + VADD per tap; lanes beyond C are predicated
 * off. Requantization of the four lanes is vectorized in the fast mode:
 * VQRDMULH is SMMULR(2a, m) (identity 2 of opt_requant.h), then the same
 * saturating add, arithmetic shift and clamp as opt_requant.
 */
#include "opt_dsp.h"
#include "opt_im2col.h"

#if OPT_PATH_MVE

#include <arm_mve.h>

/* acc[0..3] += (w0 . xa, w0 . xb, w1 . xa, w1 . xb) over k. */
static inline __attribute__((always_inline)) void
dot_2x2(const int8_t *w0, const int8_t *w1, const int8_t *xa, const int8_t *xb, int32_t k,
        int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    for (int32_t n = k >> 4; n > 0; n--, xa += 16, xb += 16, w0 += 16, w1 += 16) {
        const int8x16_t va = vldrbq_s8(xa), vb = vldrbq_s8(xb);
        const int8x16_t v0 = vldrbq_s8(w0), v1 = vldrbq_s8(w1);
        a00 = vmladavaq_s8(a00, va, v0);
        a01 = vmladavaq_s8(a01, vb, v0);
        a10 = vmladavaq_s8(a10, va, v1);
        a11 = vmladavaq_s8(a11, vb, v1);
    }
    if (k & 15) {
        const mve_pred16_t pr = vctp8q((uint32_t)(k & 15));
        const int8x16_t va = vldrbq_z_s8(xa, pr), vb = vldrbq_z_s8(xb, pr);
        const int8x16_t v0 = vldrbq_z_s8(w0, pr), v1 = vldrbq_z_s8(w1, pr);
        a00 = vmladavaq_s8(a00, va, v0);
        a01 = vmladavaq_s8(a01, vb, v0);
        a10 = vmladavaq_s8(a10, va, v1);
        a11 = vmladavaq_s8(a11, vb, v1);
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Byte offsets of four consecutive opt_rq_t entries, for gathering one field of each. */
static inline uint32x4_t rq_offsets(void)
{
    return vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)sizeof(opt_rq_t));
}

/* Requantize the n (1..4) lanes of channels ch.. and store them to o[ch..]. */
static inline __attribute__((always_inline)) void
requant_store4(int32x4_t acc, int8_t *o, int32_t ch, int32_t n, opt_rq_mode_t mode,
               const conv_params_t *p, const quant_params_t *q, uint32x4_t offs)
{
    if (mode == OPT_RQ_FAST) {
        const opt_rq_t *r = &opt_rq_table[ch];
        const int32x4_t mult = vldrwq_gather_offset_s32(&r->mult, offs);
        const int32x4_t bias_round = vldrwq_gather_offset_s32(&r->bias_round, offs);
        const int32x4_t right = vldrwq_gather_offset_s32(&r->right, offs);
        const int32x4_t x = vqrdmulhq_s32(acc, mult);
        int32x4_t y = vqaddq_s32(x, vaddq_s32(bias_round, vshrq_n_s32(x, 31)));
        y = vshlq_s32(y, vnegq_s32(right)); /* arithmetic shift right by each lane's amount */
        y = vmaxq_s32(vminq_s32(y, vdupq_n_s32(127)), vdupq_n_s32(-128));
        vstrbq_p_s32(o + ch, y, vctp32q((uint32_t)n));
        return;
    }
    int32_t a[4];
    vstrwq_s32(a, acc);
    for (int32_t j = 0; j < n; j++) {
        o[ch + j] = opt_requant(a[j], ch + j, mode, p, q);
    }
}

static inline __attribute__((always_inline)) void
dw_core(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims, const int8_t *in,
        const dims_t *filter_dims, const int32_t *bias, const dims_t *out_dims, int8_t *out,
        opt_rq_mode_t mode)
{
    const int32_t c = in_dims->c, in_w = in_dims->w, in_h = in_dims->h, off = p->input_offset;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, taps = kh * kw;
    const uint32x4_t offs = rq_offsets();
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = y0 + kh > in_h ? in_h - y0 : kh;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = x0 + kw > in_w ? in_w - x0 : kw;
            const int interior = fy0 == 0 && fx0 == 0 && fy1 == kh && fx1 == kw;
            int8_t *o = out + (oy * out_dims->w + ox) * c;
            const int8_t *base = in + ((y0 + fy0) * in_w + x0 + fx0) * c;
            const int8_t *wblk = opt_dw_w + (fy0 * kw + fx0) * 4;
            for (int32_t ch = 0; ch < c; ch += 4, base += 4, wblk += 4 * taps) {
                const int32_t n = c - ch < 4 ? c - ch : 4;
                const mve_pred16_t pr = vctp32q((uint32_t)n);
                int32x4_t acc = vldrwq_z_s32((interior ? opt_bias_fold : bias) + ch, pr);
                const int8_t *srow = base, *wrow = wblk;
                for (int32_t fy = fy0; fy < fy1; fy++, srow += in_w * c, wrow += kw * 4) {
                    const int8_t *s = srow, *wp = wrow;
                    for (int32_t fx = fx0; fx < fx1; fx++, s += c, wp += 4) {
                        int32x4_t x = vldrbq_z_s32(s, pr); /* lanes past C are not read */
                        if (!interior) {
                            x = vaddq_n_s32(x, off);
                        }
                        acc = vaddq_s32(acc, vmulq_s32(x, vldrbq_s32(wp)));
                    }
                }
                requant_store4(acc, o, ch, n, mode, p, q, offs);
            }
        }
    }
}

#include "opt_fold_conv.h"

#endif
