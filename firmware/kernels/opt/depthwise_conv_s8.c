/*
 * opt int8 depthwise convolution. Four channels at a time: one LDR brings
 * four input channels of a tap, SXTAB16 widens them with the input offset
 * added, and SMLABB/SMLATT accumulate each channel on its own (SMLAD would
 * add two channels together). The filter is widened to q15 once per call
 * into a per-call buffer laid out [channel block][tap][4], so a tap's four
 * weights are one LDRD. Padding is handled by clipping the tap ranges per
 * output pixel, never inside the tap loop; interior 3x3 pixels take a fully
 * unrolled path.
 */
#include "opt_dsp.h"
#include "opt_fallback.h"
#include "opt_requant.h"

#if OPT_PATH_DSP

#ifndef OPT_DW_MAX_WEIGHTS
#define OPT_DW_MAX_WEIGHTS 4608 /* kh*kw*C of the widened filter (2 bytes each), e.g. 3x3x512 */
#endif

/* Per tap and block of four channels: (w0, w2) and (w1, w3) as q15 pairs. */
static uint32_t opt_dw_w[(OPT_DW_MAX_WEIGHTS + 3) / 2] __attribute__((aligned(8)));

static void widen_filter(const int8_t *filter, int32_t taps, int32_t c)
{
    uint32_t *d = opt_dw_w;
    for (int32_t cb = 0; cb + 4 <= c; cb += 4) {
        const int8_t *w = filter + cb;
        for (int32_t t = 0; t < taps; t++, w += c) {
            const uint32_t x = opt_read32(w);
            d[0] = OPT_SXTB16(x);
            d[1] = OPT_SXTB16_ROR8(x);
            d += 2;
        }
    }
}

#define DW_TAP(src, wp)                                  \
    do {                                                 \
        const uint32_t x_ = opt_read32(src);             \
        const uint32_t xe_ = OPT_SXTAB16(off2, x_);      \
        const uint32_t xo_ = OPT_SXTAB16_ROR8(off2, x_); \
        const uint32_t we_ = (wp)[0], wo_ = (wp)[1];     \
        a0 = OPT_SMLABB(xe_, we_, a0);                   \
        a2 = OPT_SMLATT(xe_, we_, a2);                   \
        a1 = OPT_SMLABB(xo_, wo_, a1);                   \
        a3 = OPT_SMLATT(xo_, wo_, a3);                   \
    } while (0)

static inline __attribute__((always_inline)) void
dw_core(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
        const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
        const int32_t *bias, const dims_t *out_dims, int8_t *out, opt_rq_mode_t mode)
{
    const int32_t c = in_dims->c, in_w = in_dims->w, in_h = in_dims->h;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, taps = kh * kw;
    const int32_t c4 = c & ~3;
    const int32_t row_stride = in_w * c;
    const uint32_t off2 = opt_offset_pair(p->input_offset);
    const int is3x3 = kh == 3 && kw == 3;

    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0;
        const int32_t fy1 = y0 + kh > in_h ? in_h - y0 : kh;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0;
            const int32_t fx1 = x0 + kw > in_w ? in_w - x0 : kw;
            const int8_t *base = in + ((y0 + fy0) * in_w + (x0 + fx0)) * c;
            int8_t *o = out + (oy * out_dims->w + ox) * c;
            const uint32_t *wblk = opt_dw_w;
            const int interior = is3x3 && fy0 == 0 && fx0 == 0 && fy1 == 3 && fx1 == 3;
            for (int32_t ch = 0; ch < c4; ch += 4, wblk += 2 * taps) {
                int32_t a0 = bias[ch], a1 = bias[ch + 1], a2 = bias[ch + 2], a3 = bias[ch + 3];
                const int8_t *s = base + ch;
                if (interior) {
                    const int8_t *r1 = s + row_stride, *r2 = r1 + row_stride;
                    DW_TAP(s, wblk);
                    DW_TAP(s + c, wblk + 2);
                    DW_TAP(s + 2 * c, wblk + 4);
                    DW_TAP(r1, wblk + 6);
                    DW_TAP(r1 + c, wblk + 8);
                    DW_TAP(r1 + 2 * c, wblk + 10);
                    DW_TAP(r2, wblk + 12);
                    DW_TAP(r2 + c, wblk + 14);
                    DW_TAP(r2 + 2 * c, wblk + 16);
                } else {
                    const uint32_t *wrow = wblk + 2 * (fy0 * kw + fx0);
                    for (int32_t fy = fy0; fy < fy1; fy++, s += row_stride, wrow += 2 * kw) {
                        const int8_t *sp = s;
                        const uint32_t *wp = wrow;
                        for (int32_t fx = fx0; fx < fx1; fx++, sp += c, wp += 2) {
                            DW_TAP(sp, wp);
                        }
                    }
                }
                o[ch] = opt_requant(a0, ch, mode, p, q);
                o[ch + 1] = opt_requant(a1, ch + 1, mode, p, q);
                o[ch + 2] = opt_requant(a2, ch + 2, mode, p, q);
                o[ch + 3] = opt_requant(a3, ch + 3, mode, p, q);
            }
            for (int32_t ch = c4; ch < c; ch++) { /* the last c % 4 channels */
                int32_t acc = bias[ch];
                for (int32_t fy = fy0; fy < fy1; fy++) {
                    const int8_t *sp = in + ((y0 + fy) * in_w + x0) * c + ch;
                    const int8_t *wp = filter + fy * kw * c + ch;
                    for (int32_t fx = fx0; fx < fx1; fx++) {
                        acc += wp[fx * c] * (sp[fx * c] + p->input_offset);
                    }
                }
                o[ch] = opt_requant(acc, ch, mode, p, q);
            }
        }
    }
}

void opt_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q,
                           const dims_t *in_dims, const int8_t *in,
                           const dims_t *filter_dims, const int8_t *filter,
                           const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t taps = filter_dims->h * filter_dims->w;
    if (out_dims->c != in_dims->c || taps * (in_dims->c & ~3) > OPT_DW_MAX_WEIGHTS) {
        opt_dw_direct(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out);
        return;
    }
    widen_filter(filter, taps, in_dims->c);
    switch (opt_rq_prepare(q, p, bias, out_dims->c, taps)) {
    case OPT_RQ_FAST:
        dw_core(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, OPT_RQ_FAST);
        break;
    case OPT_RQ_GENERAL:
        dw_core(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, OPT_RQ_GENERAL);
        break;
    default:
        dw_core(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, OPT_RQ_EXACT);
        break;
    }
}

#endif
