/*
 * Reference int8 convolutions with dilation: taps dilation_h rows and
 * dilation_w columns apart (TFLite's ConvPerChannel / DepthwiseConvPerChannel
 * with dilation factors). Kept apart from conv_s8.c so the undilated
 * reference loops, and their instruction counts, stay as they are. One tap
 * loop serves both: depthwise reads input channel oc / depth_multiplier and
 * a 1HWC filter; the others read a group's C_in / groups channels of an
 * OHWI filter.
 */
#include "kernels.h"
#include "requantize.h"

static int32_t at_least_one(int32_t v)
{
    return v > 1 ? v : 1;
}

static void dilated(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                    const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                    const int32_t *bias, const dims_t *out_dims, int8_t *out, int depthwise)
{
    const int32_t in_c = in_dims->c, out_c = out_dims->c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w;
    const int32_t dh = at_least_one(p->dilation_h), dw = at_least_one(p->dilation_w);
    /* channels summed per tap, and how output channel oc finds its first input channel */
    const int32_t tap_c = depthwise ? 1 : filter_dims->c;
    const int32_t per_group = depthwise ? out_c / in_c : out_c / (in_c / tap_c);
    const int32_t group_step = depthwise ? 1 : tap_c;
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            for (int32_t oc = 0; oc < out_c; oc++) {
                const int32_t first_c = (oc / per_group) * group_step;
                int32_t acc = 0;
                for (int32_t fy = 0; fy < kh; fy++) {
                    const int32_t iy = oy * p->stride_h - p->pad_h + fy * dh;
                    for (int32_t fx = 0; fx < kw; fx++) {
                        const int32_t ix = ox * p->stride_w - p->pad_w + fx * dw;
                        if (iy < 0 || iy >= in_dims->h || ix < 0 || ix >= in_dims->w) {
                            continue; /* padding: the input zero point, contributes nothing */
                        }
                        const int8_t *src = in + (iy * in_dims->w + ix) * in_c + first_c;
                        for (int32_t c = 0; c < tap_c; c++) {
                            const int8_t w = depthwise ? filter[(fy * kw + fx) * out_c + oc]
                                                       : filter[((oc * kh + fy) * kw + fx) * tap_c + c];
                            acc += w * (src[c] + p->input_offset);
                        }
                    }
                }
                out[(oy * out_dims->w + ox) * out_c + oc] = requantize_to_s8(
                    acc + bias[oc], q->multiplier[oc], q->shift[oc], p->output_offset, p->act_min,
                    p->act_max);
            }
        }
    }
}

void ref_dilated_conv_s8(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                         const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                         const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    dilated(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0);
}

void ref_dilated_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q,
                                   const dims_t *in_dims, const int8_t *in,
                                   const dims_t *filter_dims, const int8_t *filter,
                                   const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    dilated(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 1);
}
