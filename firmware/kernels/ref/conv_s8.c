/*
 * Reference int8 convolution (standard, grouped and pointwise): the portable
 * truth that every other library is checked against. Follows TFLite's
 * reference_integer_ops::ConvPerChannel loop for loop; taps that fall in the
 * padding are skipped, which equals padding with the input zero point.
 */
#include "kernels.h"
#include "requantize.h"

void ref_conv_s8(const conv_params_t *p, const quant_params_t *q,
                 const dims_t *in_dims, const int8_t *in,
                 const dims_t *filter_dims, const int8_t *filter,
                 const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t in_c = in_dims->c;
    const int32_t group_c = filter_dims->c; /* input channels per group */
    const int32_t groups = in_c / group_c;
    const int32_t out_per_group = out_dims->c / groups;
    const int32_t kh = filter_dims->h, kw = filter_dims->w;

    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            for (int32_t oc = 0; oc < out_dims->c; oc++) {
                const int32_t g = oc / out_per_group;
                int32_t acc = 0;
                for (int32_t fy = 0; fy < kh; fy++) {
                    const int32_t iy = y0 + fy;
                    if (iy < 0 || iy >= in_dims->h) {
                        continue;
                    }
                    for (int32_t fx = 0; fx < kw; fx++) {
                        const int32_t ix = x0 + fx;
                        if (ix < 0 || ix >= in_dims->w) {
                            continue;
                        }
                        const int8_t *src = in + (iy * in_dims->w + ix) * in_c + g * group_c;
                        const int8_t *w = filter + ((oc * kh + fy) * kw + fx) * group_c;
                        for (int32_t ic = 0; ic < group_c; ic++) {
                            acc += w[ic] * (src[ic] + p->input_offset);
                        }
                    }
                }
                acc += bias[oc];
                out[(oy * out_dims->w + ox) * out_dims->c + oc] = requantize_to_s8(
                    acc, q->multiplier[oc], q->shift[oc], p->output_offset,
                    p->act_min, p->act_max);
            }
        }
    }
}
