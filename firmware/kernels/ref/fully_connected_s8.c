/*
 * Reference int8 FULLY_CONNECTED with TFLite's integer semantics
 * (reference_integer_ops FullyConnected / FullyConnectedPerChannel): each
 * output is the dot product of one weight row with the input row, plus the
 * bias, requantized. int8 weights are symmetric (zero point 0), so the only
 * offset is the input's. Shared by every kernel library unless it brings its own.
 */
#include "kernels.h"
#include "requantize.h"

void ref_fully_connected_s8(const conv_params_t *p, const quant_params_t *q,
                            const dims_t *in_dims, const int8_t *in,
                            const dims_t *filter_dims, const int8_t *filter,
                            const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    const int32_t depth = filter_dims->c, batches = in_dims->w, out_c = out_dims->c;
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *row = in + b * depth;
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int8_t *w = filter + oc * depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < depth; d++) {
                acc += w[d] * (row[d] + p->input_offset);
            }
            acc += bias ? bias[oc] : 0;
            out[b * out_c + oc] = requantize_to_s8(acc, q->multiplier[oc], q->shift[oc],
                                                   p->output_offset, p->act_min, p->act_max);
        }
    }
}
