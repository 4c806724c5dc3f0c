/*
 * The convolution driver shared by the kernels that fold the input offset
 * into the bias (scalar_s8.c, mve_s8.c): included once by each, after it
 * defines its inner loops, so that they inline into one specialised copy
 * per requantization mode:
 *
 *   dot_2x2(w0, w1, xa, xb, k, acc)  acc[0..3] += (w0.xa, w0.xb, w1.xa, w1.xb)
 *   store_2x2(acc, out_a, oc, out_c, two, mode, p, q)
 *       requantize the tile into out_a[oc], out_a[oc + 1] and (two) the same
 *       channels of the next pixel, out_c bytes further
 *   dw_block(s, wb, b, o, ch, n, c, row, kw, fy0, fy1, fx0, fx1, fold, mode, p, q)
 *       n (<= OPT_DW_BLOCK) channels from ch of one output pixel over the
 *       clipped taps, requantized into o; fold: the offset is in the bias b
 *
 * Standard, grouped and pointwise: the patches of two output pixels (an
 * unpadded 1x1 reads the input pixels in place), then 2-pixel x 2-channel
 * tiles per group. Depthwise: blocks of OPT_DW_BLOCK channels per pixel.
 */
#ifndef OPT_FOLD_CONV_H
#define OPT_FOLD_CONV_H

#include "opt_fallback.h"
#include "opt_im2col.h"

/* The k inputs of pixel number pix: in place for an unpadded 1x1, else its patch in buf. */
static inline __attribute__((always_inline)) const int8_t *
pixel_inputs(int8_t *buf, int direct, const conv_params_t *p, const dims_t *in_dims, const int8_t *in,
             const dims_t *filter_dims, int32_t oy, int32_t ox)
{
    if (direct) {
        return in + (oy * p->stride_h * in_dims->w + ox * p->stride_w) * in_dims->c;
    }
    opt_fill_patch(buf, p, in_dims, in, filter_dims->h, filter_dims->w, filter_dims->c, oy, ox);
    return buf;
}

static inline __attribute__((always_inline)) void
conv_core(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims, const int8_t *in,
          const dims_t *filter_dims, const int8_t *filter, const dims_t *out_dims, int8_t *out,
          opt_rq_mode_t mode)
{
    const int32_t gc = filter_dims->c, k = filter_dims->h * filter_dims->w * gc;
    const int32_t groups = in_dims->c / gc, out_c = out_dims->c, opg = out_c / groups;
    const int32_t n_pix = out_dims->h * out_dims->w;
    const int direct = filter_dims->h == 1 && filter_dims->w == 1 && groups == 1 && p->pad_h == 0 &&
                       p->pad_w == 0;
    int32_t oy = 0, ox = 0;
    for (int32_t pix = 0; pix < n_pix; pix += 2) {
        const int two = pix + 1 < n_pix;
        int8_t *out_a = out + pix * out_c, *out_b = out_a + out_c;
        const int8_t *xa = pixel_inputs(opt_patch[0], direct, p, in_dims, in, filter_dims, oy, ox);
        const int8_t *xb = xa; /* a lone last pixel computes A twice; B's sums are not stored */
        if (++ox == out_dims->w) {
            ox = 0;
            oy++;
        }
        if (two) {
            xb = pixel_inputs(opt_patch[1], direct, p, in_dims, in, filter_dims, oy, ox);
            if (++ox == out_dims->w) {
                ox = 0;
                oy++;
            }
        }
        const int8_t *w = filter;
        for (int32_t g = 0; g < groups; g++, xa += k, xb += k) {
            const int32_t oc_end = (g + 1) * opg;
            int32_t oc = g * opg, acc[4];
            for (; oc + 2 <= oc_end; oc += 2, w += 2 * k) {
                acc[0] = acc[1] = opt_bias_fold[oc];
                acc[2] = acc[3] = opt_bias_fold[oc + 1];
                dot_2x2(w, w + k, xa, xb, k, acc);
                store_2x2(acc, out_a, oc, out_c, two, mode, p, q);
            }
            if (oc < oc_end) { /* a group's odd last channel */
                acc[0] = acc[1] = opt_bias_fold[oc];
                acc[2] = acc[3] = 0;
                dot_2x2(w, w, xa, xb, k, acc);
                out_a[oc] = opt_requant(acc[0], oc, mode, p, q);
                if (two) {
                    out_b[oc] = opt_requant(acc[1], oc, mode, p, q);
                }
                w += k;
            }
        }
    }
}

void opt_conv_s8(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                 const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                 const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
    if (out_dims->c > OPT_MAX_CHANNELS || filter_dims->h * filter_dims->w * in_dims->c > OPT_IM2COL_MAX_K) {
        opt_conv_direct(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out); /* beyond the buffers */
        return;
    }
    opt_fold_bias(bias, filter, out_dims->c, k, p->input_offset);
    switch (opt_rq_prepare(q, p, bias, out_dims->c, k)) {
    case OPT_RQ_FAST:
        conv_core(p, q, in_dims, in, filter_dims, filter, out_dims, out, OPT_RQ_FAST);
        break;
    case OPT_RQ_GENERAL:
        conv_core(p, q, in_dims, in, filter_dims, filter, out_dims, out, OPT_RQ_GENERAL);
        break;
    default:
        conv_core(p, q, in_dims, in, filter_dims, filter, out_dims, out, OPT_RQ_EXACT);
        break;
    }
}

/*
 * Depthwise: for each output pixel, the taps inside the input (clipped, so
 * padding costs nothing), the path's dw_block over each block of
 * OPT_DW_BLOCK channels; pixels whose taps are all inside use the folded bias.
 */
static inline __attribute__((always_inline)) void
dw_core(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims, const int8_t *in,
        const dims_t *filter_dims, const int32_t *bias, const dims_t *out_dims, int8_t *out,
        opt_rq_mode_t mode)
{
    const int32_t c = in_dims->c, in_w = in_dims->w, in_h = in_dims->h, row = in_w * c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w, taps = kh * kw;
    const int32_t cfull = c - c % OPT_DW_BLOCK; /* channels in full blocks */
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = y0 + kh > in_h ? in_h - y0 : kh;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = x0 + kw > in_w ? in_w - x0 : kw;
            int8_t *o = out + (oy * out_dims->w + ox) * c;
            const int8_t *base = in + ((y0 + fy0) * in_w + x0 + fx0) * c;
            const int8_t *wblk = opt_dw_w + (fy0 * kw + fx0) * OPT_DW_BLOCK;
            int32_t ch = 0;
#define DW_BLOCKS(FOLD, B)                                                                         \
    do {                                                                                           \
        for (; ch < cfull; ch += OPT_DW_BLOCK, base += OPT_DW_BLOCK, wblk += OPT_DW_BLOCK * taps) { \
            dw_block(base, wblk, B, o, ch, OPT_DW_BLOCK, c, row, kw, fy0, fy1, fx0, fx1, FOLD, mode, p, q); \
        }                                                                                          \
        if (ch < c) {                                                                              \
            dw_block(base, wblk, B, o, ch, c - ch, c, row, kw, fy0, fy1, fx0, fx1, FOLD, mode, p, q); \
        }                                                                                          \
    } while (0)
            if (fy0 == 0 && fx0 == 0 && fy1 == kh && fx1 == kw) {
                DW_BLOCKS(1, opt_bias_fold);
            } else {
                DW_BLOCKS(0, bias);
            }
#undef DW_BLOCKS
        }
    }
}

void opt_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                           const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                           const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t taps = filter_dims->h * filter_dims->w, c = in_dims->c;
    if (out_dims->c != c || c > OPT_MAX_CHANNELS || taps * ((c + OPT_DW_BLOCK - 1) / OPT_DW_BLOCK * OPT_DW_BLOCK) > OPT_IM2COL_MAX_K) {
        /* depth multiplier > 1, or beyond the buffers */
        opt_dw_direct(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out);
        return;
    }
    opt_dw_prepare(filter, bias, taps, c, p->input_offset);
    switch (opt_rq_prepare(q, p, bias, c, taps)) {
    case OPT_RQ_FAST:
        dw_core(p, q, in_dims, in, filter_dims, bias, out_dims, out, OPT_RQ_FAST);
        break;
    case OPT_RQ_GENERAL:
        dw_core(p, q, in_dims, in, filter_dims, bias, out_dims, out, OPT_RQ_GENERAL);
        break;
    default:
        dw_core(p, q, in_dims, in, filter_dims, bias, out_dims, out, OPT_RQ_EXACT);
        break;
    }
}

#endif
