/*
 * Reference int8 depthwise convolution, following TFLite's
 * reference_integer_ops::DepthwiseConvPerChannel: output channel
 * oc = ic * depth_multiplier + m reads only input channel ic.
 */
#include "kernels.h"
#include "requantize.h"

void ref_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q,
                           const dims_t *in_dims, const int8_t *in,
                           const dims_t *filter_dims, const int8_t *filter,
                           const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t in_c = in_dims->c;
    const int32_t mult = out_dims->c / in_c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w;

    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            for (int32_t ic = 0; ic < in_c; ic++) {
                for (int32_t m = 0; m < mult; m++) {
                    const int32_t oc = ic * mult + m;
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
                            acc += filter[(fy * kw + fx) * out_dims->c + oc] *
                                   (in[(iy * in_dims->w + ix) * in_c + ic] + p->input_offset);
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
}
