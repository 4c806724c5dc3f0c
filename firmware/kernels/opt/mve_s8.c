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
 * Depthwise: channels in vector lanes, eight per pass (VLDRB.S16 widens
 * eight int8 on load, VMULLB/VMULLT give the even and odd channels' int32
 * products), lanes beyond C predicated off. Requantization of four lanes at
 * a time is vectorized in the fast mode:
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

/*
 * The fast requantization (opt_requant.h) of four lanes whose channels are
 * r + ch_off[i] (lanes off in pr are not read): VQRDMULH is SMMULR(2a, m),
 * then the same saturating add, arithmetic shift and clamp.
 */
static inline __attribute__((always_inline)) int32x4_t
requant_fast4(int32x4_t acc, const opt_rq_t *r, uint32x4_t ch_off, mve_pred16_t pr)
{
    const uint32x4_t offs = vmulq_n_u32(ch_off, (uint32_t)sizeof(opt_rq_t));
    const int32x4_t mult = vldrwq_gather_offset_z_s32(&r->mult, offs, pr);
    const int32x4_t bias_round = vldrwq_gather_offset_z_s32(&r->bias_round, offs, pr);
    const int32x4_t right = vldrwq_gather_offset_z_s32(&r->right, offs, pr);
    const int32x4_t x = vqrdmulhq_s32(acc, mult);
    const int32x4_t y = vqaddq_s32(x, vaddq_s32(bias_round, vshrq_n_s32(x, 31)));
    const int32x4_t z = vshlq_s32(y, vnegq_s32(right)); /* arithmetic shift right by each lane's amount */
    return vmaxq_s32(vminq_s32(z, vdupq_n_s32(127)), vdupq_n_s32(-128));
}

/*
 * A 2x2 tile's four outputs: in the fast mode one vector, lanes (A, oc),
 * (A, oc + 1), (B, oc), (B, oc + 1), scattered to out_a + {0, 1, out_c,
 * out_c + 1}; else (or a lone last pixel) one at a time.
 */
static inline __attribute__((always_inline)) void
store_2x2(const int32_t *acc, int8_t *out_a, int32_t oc, int32_t out_c, int two, opt_rq_mode_t mode,
          const conv_params_t *p, const quant_params_t *q)
{
    if (mode == OPT_RQ_FAST && two) {
        const int32x4_t v = vsetq_lane_s32(acc[3], vsetq_lane_s32(acc[1], vsetq_lane_s32(acc[2],
                                                                  vdupq_n_s32(acc[0]), 1), 2), 3);
        const uint32x4_t ch_off = vandq_u32(vidupq_n_u32(0, 1), vdupq_n_u32(1)); /* 0 1 0 1 */
        vstrbq_scatter_offset_s32(out_a + oc, vaddq_u32(ch_off, vmulq_n_u32(vshrq_n_u32(vidupq_n_u32(0, 1), 1), (uint32_t)out_c)),
                                  requant_fast4(v, &opt_rq_table[oc], ch_off, vctp32q(4)));
        return;
    }
    opt_store_2x2_each(acc, out_a, oc, out_c, two, mode, p, q);
}

/*
 * Requantize four lanes holding channels ch + lane[i] and store them to
 * o[ch + lane[i]]; lanes with lane[i] >= n (past the last channel) are left.
 */
static inline __attribute__((always_inline)) void
requant_lanes(int32x4_t acc, int8_t *o, int32_t ch, uint32x4_t lane, int32_t n, opt_rq_mode_t mode,
              const conv_params_t *p, const quant_params_t *q)
{
    const mve_pred16_t pr = vcmphiq_u32(vdupq_n_u32((uint32_t)n), lane);
    if (mode == OPT_RQ_FAST) {
        vstrbq_scatter_offset_p_s32(o + ch, lane, requant_fast4(acc, &opt_rq_table[ch], lane, pr), pr);
        return;
    }
    int32_t a[4];
    uint32_t l[4];
    vstrwq_s32(a, acc);
    vstrwq_u32(l, lane);
    for (int32_t j = 0; j < 4; j++) {
        if ((int32_t)l[j] < n) {
            o[ch + l[j]] = opt_requant(a[j], ch + (int32_t)l[j], mode, p, q);
        }
    }
}

/*
 * One block of eight channels (n of them real) of one output pixel, over taps
 * [fy0, fy1) x [fx0, fx1) from base (the first tap's channel ch) and wblk
 * (its weights), eight channels per pass: VLDRB.S16 widens eight inputs and
 * eight weights, VMULLB and VMULLT multiply the even and the odd channels
 * into two int32x4 sums. A full block (n == 8) loads without a predicate (a
 * predicated load costs a VPST more). fold: every tap inside the input, the
 * offset is in the bias b.
 */
static inline __attribute__((always_inline)) void
dw_block(const int8_t *base, const int8_t *wblk, const int32_t *b, int8_t *o, int32_t ch, int32_t n,
         int32_t c, int32_t row, int32_t kw, int32_t fy0, int32_t fy1, int32_t fx0, int32_t fx1,
         const int fold, opt_rq_mode_t mode, const conv_params_t *p, const quant_params_t *q)
{
    const int full = n == 8; /* a constant where the driver passes a full block */
    const uint32x4_t even = vidupq_n_u32(0, 2), odd = vaddq_n_u32(even, 1);
    const int16_t off = (int16_t)p->input_offset;
    const mve_pred16_t pr = vctp16q((uint32_t)n);
    int32x4_t acc_e, acc_o;
    if (full) {
        acc_e = vldrwq_gather_shifted_offset_s32(b + ch, even);
        acc_o = vldrwq_gather_shifted_offset_s32(b + ch, odd);
    } else {
        acc_e = vldrwq_gather_shifted_offset_z_s32(b + ch, even, vcmphiq_u32(vdupq_n_u32((uint32_t)n), even));
        acc_o = vldrwq_gather_shifted_offset_z_s32(b + ch, odd, vcmphiq_u32(vdupq_n_u32((uint32_t)n), odd));
    }
    for (int32_t fy = fy0; fy < fy1; fy++, base += row, wblk += kw * 8) {
        const int8_t *s = base, *wp = wblk;
        for (int32_t fx = fx0; fx < fx1; fx++, s += c, wp += 8) {
            int16x8_t x = full ? vldrbq_s16(s) : vldrbq_z_s16(s, pr); /* lanes past C are not read */
            if (!fold) {
                x = vaddq_n_s16(x, off);
            }
            const int16x8_t w = vldrbq_s16(wp);
            acc_e = vaddq_s32(acc_e, vmullbq_int_s16(x, w));
            acc_o = vaddq_s32(acc_o, vmulltq_int_s16(x, w));
        }
    }
    requant_lanes(acc_e, o, ch, even, n, mode, p, q);
    requant_lanes(acc_o, o, ch, odd, n, mode, p, q);
}

#include "opt_fold_conv.h"

#endif
