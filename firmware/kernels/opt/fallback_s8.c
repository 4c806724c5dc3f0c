/*
 * Plain-loop kernels every opt build falls back to for a call beyond its
 * scratch buffers (or a depthwise depth multiplier > 1): correct, not fast,
 * exact requantization (requantize.h).
 */
#include "opt_fallback.h"
#include "requantize.h"

/* Standard/grouped/pointwise as direct loops: correct, not fast. */
void opt_conv_direct(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                     const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                     const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t in_c = in_dims->c, gc = filter_dims->c, opg = out_dims->c / (in_c / gc);
    const int32_t kh = filter_dims->h, kw = filter_dims->w;
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            for (int32_t oc = 0; oc < out_dims->c; oc++) {
                const int32_t g = oc / opg;
                int32_t acc = bias[oc];
                for (int32_t fy = 0; fy < kh; fy++) {
                    const int32_t iy = oy * p->stride_h - p->pad_h + fy;
                    for (int32_t fx = 0; fx < kw; fx++) {
                        const int32_t ix = ox * p->stride_w - p->pad_w + fx;
                        if (iy < 0 || iy >= in_dims->h || ix < 0 || ix >= in_dims->w) {
                            continue;
                        }
                        const int8_t *s = in + (iy * in_dims->w + ix) * in_c + g * gc;
                        const int8_t *w = filter + ((oc * kh + fy) * kw + fx) * gc;
                        for (int32_t c = 0; c < gc; c++) {
                            acc += w[c] * (s[c] + p->input_offset);
                        }
                    }
                }
                out[(oy * out_dims->w + ox) * out_dims->c + oc] = requantize_to_s8(
                    acc, q->multiplier[oc], q->shift[oc], p->output_offset, p->act_min, p->act_max);
            }
        }
    }
}

/* Depthwise (any depth multiplier) as plain loops. */
void opt_dw_direct(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                       const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                       const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t in_c = in_dims->c, mult = out_dims->c / in_c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w;
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = y0 + kh > in_dims->h ? in_dims->h - y0 : kh;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = x0 + kw > in_dims->w ? in_dims->w - x0 : kw;
            for (int32_t oc = 0; oc < out_dims->c; oc++) {
                const int32_t ic = oc / mult;
                int32_t acc = bias[oc];
                for (int32_t fy = fy0; fy < fy1; fy++) {
                    for (int32_t fx = fx0; fx < fx1; fx++) {
                        acc += filter[(fy * kw + fx) * out_dims->c + oc] *
                               (in[((y0 + fy) * in_dims->w + x0 + fx) * in_c + ic] + p->input_offset);
                    }
                }
                out[(oy * out_dims->w + ox) * out_dims->c + oc] = requantize_to_s8(
                    acc, q->multiplier[oc], q->shift[oc], p->output_offset, p->act_min, p->act_max);
            }
        }
    }
}

