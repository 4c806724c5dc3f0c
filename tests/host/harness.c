/*
 * Host (x86) driver for one kernel library, built with sanitizers by
 * tests/test_kernels_host.py. Reads one case from stdin, runs the library's
 * kernel for the case's operator, writes the int8 output to stdout.
 *
 * stdin: int32 header {op, in h w c, filter h w c, out h w c, input_offset,
 * output_offset, stride_h, stride_w, pad_h, pad_w, act_min, act_max}, then
 * int8 input, int8 filter, int32 bias, int32 multiplier, int32 shift.
 * Every tensor is malloc'ed at its exact size so ASan sees any overrun.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"

static void *read_exact(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL || fread(p, 1, n, stdin) != n) {
        fprintf(stderr, "short read (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

int main(void)
{
    int32_t h[19];
    if (fread(h, sizeof h, 1, stdin) != 1) {
        fprintf(stderr, "no header\n");
        return 2;
    }
    const dims_t in_dims = {h[1], h[2], h[3]}, filter_dims = {h[4], h[5], h[6]},
                 out_dims = {h[7], h[8], h[9]};
    const conv_params_t p = {h[10], h[11], h[12], h[13], h[14], h[15], h[16], h[17], 1, 1};
    const size_t in_n = (size_t)in_dims.h * in_dims.w * in_dims.c;
    const size_t out_n = (size_t)out_dims.h * out_dims.w * out_dims.c;
    const size_t f_n = (size_t)filter_dims.h * filter_dims.w * filter_dims.c *
                       (h[0] == 1 ? 1 : (size_t)out_dims.c);
    int8_t *in = read_exact(in_n);
    int8_t *filter = read_exact(f_n);
    int32_t *bias = read_exact(4 * (size_t)out_dims.c);
    int32_t *mult = read_exact(4 * (size_t)out_dims.c);
    int32_t *shift = read_exact(4 * (size_t)out_dims.c);
    int8_t *out = malloc(out_n);
    const quant_params_t q = {mult, shift};
    conv_fn fns[4] = {bench_kernels.standard, bench_kernels.depthwise, bench_kernels.grouped,
                      bench_kernels.pointwise};
    if (h[0] < 0 || h[0] > 3) {
        fprintf(stderr, "bad op %d\n", h[0]);
        return 2;
    }
    (void)h[18];
    fns[h[0]](&p, &q, &in_dims, in, &filter_dims, filter, bias, &out_dims, out);
    fwrite(out, 1, out_n, stdout);
    free(in);
    free(filter);
    free(bias);
    free(mult);
    free(shift);
    free(out);
    return 0;
}
