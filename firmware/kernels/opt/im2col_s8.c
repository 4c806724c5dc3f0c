/*
 * What the scalar and MVE opt kernels share (scalar_s8.c, mve_s8.c): raw
 * int8 im2col patches whose padding holds the input zero point, the bias
 * with the input offset folded in, and the depthwise filter regrouped in
 * blocks of four channels. See opt_im2col.h.
 */
#include <string.h>

#include "opt_im2col.h"

#if OPT_PATH_SCALAR || OPT_PATH_MVE

#if OPT_PATH_MVE
#include <arm_mve.h>

/* A patch is made of short runs (a tap's channels): 16 bytes per predicated
 * step cost less than a library call each. Lanes past n are not accessed. */
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n > 0; n -= 16, src += 16, dst += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
    }
}

static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n)
{
    const int8x16_t v = vdupq_n_s8(value);
    for (; n > 0; n -= 16, dst += 16) {
        vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
    }
}
#else
static inline void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) { memcpy(dst, src, (size_t)n); }
static inline void fill_bytes(int8_t *dst, int8_t value, int32_t n) { memset(dst, value, (size_t)n); }
#endif

int8_t opt_patch[2][OPT_IM2COL_MAX_K] __attribute__((aligned(4)));
int32_t opt_bias_fold[OPT_MAX_CHANNELS];
int8_t opt_dw_w[OPT_IM2COL_MAX_K] __attribute__((aligned(4)));

/* bias + off * (sum of the channel's k weights), for rows of k weights. */
void opt_fold_bias(const int32_t *bias, const int8_t *filter, int32_t n, int32_t k, int32_t off)
{
    for (int32_t oc = 0; oc < n; oc++, filter += k) {
        int32_t s = 0;
        for (int32_t i = 0; i < k; i++) {
            s += filter[i];
        }
        opt_bias_fold[oc] = bias[oc] + off * s;
    }
}

/* Pixel (oy, ox)'s patch, group after group ([g][fy][fx][gc], the filter's order). */
void opt_fill_patch(int8_t *dst, const conv_params_t *p, const dims_t *in_dims, const int8_t *in,
                    int32_t kh, int32_t kw, int32_t gc, int32_t oy, int32_t ox)
{
    const int32_t in_c = in_dims->c, groups = in_c / gc;
    const int8_t pad = (int8_t)(-p->input_offset); /* the zero point: x + off == 0 */
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    if (groups == 1 && y0 >= 0 && x0 >= 0 && y0 + kh <= in_dims->h && x0 + kw <= in_dims->w) {
        const int32_t n = kw * in_c; /* interior: one contiguous run per filter row */
        const int8_t *row = in + (y0 * in_dims->w + x0) * in_c;
        for (int32_t fy = 0; fy < kh; fy++, row += in_dims->w * in_c, dst += n) {
            copy_bytes(dst, row, n);
        }
        return;
    }
    for (int32_t g = 0; g < groups; g++) {
        for (int32_t fy = 0; fy < kh; fy++) {
            const int32_t iy = y0 + fy;
            for (int32_t fx = 0; fx < kw; fx++, dst += gc) {
                const int32_t ix = x0 + fx;
                if (iy < 0 || iy >= in_dims->h || ix < 0 || ix >= in_dims->w) {
                    fill_bytes(dst, pad, gc);
                } else {
                    copy_bytes(dst, in + (iy * in_dims->w + ix) * in_c + g * gc, gc);
                }
            }
        }
    }
}

/* Depthwise: the filter regrouped into opt_dw_w, and the offset folded over all taps. */
void opt_dw_prepare(const int8_t *filter, const int32_t *bias, int32_t taps, int32_t c, int32_t off)
{
    int8_t *d = opt_dw_w;
    for (int32_t cb = 0; cb < c; cb += OPT_DW_BLOCK) {
        for (int32_t t = 0; t < taps; t++, d += OPT_DW_BLOCK) {
            for (int32_t j = 0; j < OPT_DW_BLOCK; j++) {
                d[j] = cb + j < c ? filter[t * c + cb + j] : 0;
            }
        }
    }
    for (int32_t ch = 0; ch < c; ch++) {
        int32_t s = 0;
        for (int32_t t = 0; t < taps; t++) {
            s += filter[t * c + ch];
        }
        opt_bias_fold[ch] = bias[ch] + off * s;
    }
}

#endif
