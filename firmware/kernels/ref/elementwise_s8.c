/*
 * Reference int8 element-wise operators with TFLite's integer semantics
 * (reference_integer_ops add.h / mul.h, and the quantized ReluX of
 * activations): per-tensor zero points, Q31 multipliers and shifts computed
 * on the host as the interpreter's Prepare does (bench/cases/elementwise.py).
 * Shared by every kernel library unless it brings its own.
 */
#include "kernels.h"
#include "requantize.h"

void ref_add_s8(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2,
                int32_t size, int8_t *out)
{
    const int32_t scale = 1 << p->left_shift;
    for (int32_t i = 0; i < size; i++) {
        /* Both inputs to a common scale with 20 bits of headroom, then sum. */
        const int32_t a = requantize((in1[i] + p->input1_offset) * scale,
                                     p->input1_multiplier, p->input1_shift);
        const int32_t b = requantize((in2[i] + p->input2_offset) * scale,
                                     p->input2_multiplier, p->input2_shift);
        out[i] = requantize_to_s8(a + b, p->output_multiplier, p->output_shift,
                                  p->output_offset, p->act_min, p->act_max);
    }
}

void ref_mul_s8(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2,
                int32_t size, int8_t *out)
{
    for (int32_t i = 0; i < size; i++) {
        const int32_t prod = (in1[i] + p->input1_offset) * (in2[i] + p->input2_offset);
        out[i] = requantize_to_s8(prod, p->output_multiplier, p->output_shift,
                                  p->output_offset, p->act_min, p->act_max);
    }
}

void ref_relu6_s8(const elementwise_params_t *p, const int8_t *in, int32_t size, int8_t *out)
{
    /* act_min / act_max are the quantized 0 and 6 (clipped to int8). */
    for (int32_t i = 0; i < size; i++) {
        out[i] = requantize_to_s8(in[i] + p->input1_offset, p->output_multiplier, p->output_shift,
                                  p->output_offset, p->act_min, p->act_max);
    }
}
