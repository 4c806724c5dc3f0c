/*
 * Runner core: for each generated case, fill the output with a poison
 * pattern, run the kernel BENCH_WARMUP times, then time single calls inside
 * one power-monitor window, and compare the output with the golden output
 * from the TFLite reference interpreter. One framed line per case.
 *
 * Repetitions: BENCH_REPS timed calls when BENCH_RSE_PPM is 0 (the default,
 * and what emulators use: deterministic counts need one). With
 * BENCH_RSE_PPM > 0 (boards), calls continue past BENCH_REPS until the
 * relative standard error of the mean per-call count is at most
 * BENCH_RSE_PPM / 1e6, or BENCH_MAX_REPS calls, or BENCH_BUDGET_MS of
 * counted time, whichever comes first. BENCH_MIN_WINDOW_MS (for a power
 * monitor sampling at a few kHz) keeps calling until the window is at least
 * that long, even past BENCH_MAX_REPS; only the first BENCH_MAX_REPS calls
 * are kept for the median and spread, every call counts in sum and reps.
 *
 * Idle baseline for a power monitor: with BENCH_IDLE_MS > 0 the first
 * window, before any case, is the core spinning on the counter for that
 * long (the C line reports its length as idle_ticks). The host subtracts
 * that power from each case's window. The result line keeps the fields the
 * host has always read (reps, sum, min, max) and adds med (median), sd
 * (sample standard deviation) and rse_ppm (achieved), all in counter ticks.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench_case.h"
#include "board.h"
#include "kernels.h"
#include "protocol.h"

#ifndef BENCH_WARMUP
#define BENCH_WARMUP 1
#endif
#ifndef BENCH_REPS
#define BENCH_REPS 3
#endif
#ifndef BENCH_RSE_PPM
#define BENCH_RSE_PPM 0
#endif
#ifndef BENCH_MAX_REPS
#define BENCH_MAX_REPS BENCH_REPS
#endif
#ifndef BENCH_BUDGET_MS
#define BENCH_BUDGET_MS 0
#endif
#ifndef BENCH_MIN_WINDOW_MS
#define BENCH_MIN_WINDOW_MS 0
#endif
#ifndef BENCH_IDLE_MS
#define BENCH_IDLE_MS 0
#endif
#if BENCH_MAX_REPS < BENCH_REPS
#error "BENCH_MAX_REPS must be at least BENCH_REPS"
#endif
#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "unknown"
#endif
#ifndef BENCH_BOARD
#define BENCH_BOARD "unknown"
#endif
#ifndef BENCH_IMAGE
#define BENCH_IMAGE "unknown"
#endif
/* The host's hash of everything the image was built from: the banner names the
 * exact build, so a stale or swapped ELF is told apart from the planned one. */
#ifndef BENCH_BUILD
#define BENCH_BUILD "unknown"
#endif
#define FIRMWARE_VERSION "1.0"
#define POISON 0x5A

/*
 * Element-wise and pooling ops go through adapters with the conv signature,
 * so the timed call of a convolution is exactly what it was before they
 * existed. An adapter reads its op's parameters from the current case (set
 * before the window) and costs a few instructions per call, inside the
 * element-wise case's own count. For ADD / MUL ``filter`` is the second input.
 */
static const bench_case_t *current_case;

static int32_t elements(const dims_t *d)
{
    return d->h * d->w * d->c;
}

static void run_add(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                    const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                    const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (void)p, (void)q, (void)filter_dims, (void)bias, (void)out_dims;
    bench_kernels.add(&current_case->ew, in, filter, elements(in_dims), out);
}

static void run_mul(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                    const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                    const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (void)p, (void)q, (void)filter_dims, (void)bias, (void)out_dims;
    bench_kernels.mul(&current_case->ew, in, filter, elements(in_dims), out);
}

static void run_relu6(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                      const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                      const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (void)p, (void)q, (void)filter_dims, (void)filter, (void)bias, (void)out_dims;
    bench_kernels.relu6(&current_case->ew, in, elements(in_dims), out);
}

static void run_avgpool(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                        const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                        const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (void)p, (void)q, (void)filter_dims, (void)filter, (void)bias;
    bench_kernels.avgpool(&current_case->pool, in_dims, in, out_dims, out);
}

static void run_maxpool(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                        const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                        const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (void)p, (void)q, (void)filter_dims, (void)filter, (void)bias;
    bench_kernels.maxpool(&current_case->pool, in_dims, in, out_dims, out);
}

static void run_softmax(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                        const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                        const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (void)p, (void)q, (void)filter_dims, (void)filter, (void)bias, (void)out_dims;
    bench_kernels.softmax(&current_case->softmax, in_dims->h * in_dims->w, in_dims->c, in, out);
}

static conv_fn kernel_for(const bench_case_t *c)
{
    /* Dilated layers have their own entries, so an undilated call is unchanged. */
    const int dilated = c->params.dilation_h > 1 || c->params.dilation_w > 1;
    switch (c->op) {
    case OP_STANDARD: return dilated ? bench_kernels.dilated_conv : bench_kernels.standard;
    case OP_DEPTHWISE: return dilated ? bench_kernels.dilated_depthwise : bench_kernels.depthwise;
    case OP_GROUPED: return dilated ? bench_kernels.dilated_conv : bench_kernels.grouped;
    case OP_POINTWISE: return dilated ? bench_kernels.dilated_conv : bench_kernels.pointwise;
    case OP_ADD: return run_add;
    case OP_MUL: return run_mul;
    case OP_RELU6: return run_relu6;
    case OP_AVGPOOL: return run_avgpool;
    case OP_MAXPOOL: return run_maxpool;
    case OP_FULLY_CONNECTED: return bench_kernels.fully_connected;
    case OP_SOFTMAX: return run_softmax;
    }
    return NULL;
}

static void run_once(conv_fn fn, const bench_case_t *c)
{
    fn(&c->params, &c->quant, &c->in_dims, c->input, &c->filter_dims, c->filter,
       c->bias, &c->out_dims, bench_output);
}

/* Cost of an empty timed window, reported so the host can subtract it. */
static uint64_t counter_overhead(void)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 8; i++) {
        uint64_t t0 = board_counter_read();
        uint64_t t1 = board_counter_read();
        if (t1 - t0 < best) {
            best = t1 - t0;
        }
    }
    return best;
}

/* Per-call counts of the current case, for the median and spread. */
static uint64_t samples[BENCH_MAX_REPS];

static uint64_t isqrt_u64(uint64_t v)
{
    uint64_t r = 0, bit = 1ull << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

static uint64_t median_of(uint64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) { /* insertion sort: n is small and this runs after the window */
        uint64_t x = v[i];
        uint32_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#if BENCH_RSE_PPM > 0
/* Enough repetitions? Welford's running mean and variance, in double. */
static int precise_enough(uint32_t n, double mean, double m2)
{
    if (n < 2 || mean <= 0.0) {
        return 0;
    }
    double target = (double)BENCH_RSE_PPM * 1e-6 * mean;
    return m2 / (double)(n - 1) / (double)n <= target * target;
}
#endif

static int run_case(uint32_t index, const bench_case_t *c)
{
    const size_t out_len = (size_t)c->out_dims.h * c->out_dims.w * c->out_dims.c;
    current_case = c;
    conv_fn fn = kernel_for(c);
    uint64_t sum = 0, min = UINT64_MAX, max = 0;
    uint32_t n = 0;
#if BENCH_RSE_PPM > 0
    double mean = 0.0, m2 = 0.0;
    const uint64_t budget = (uint64_t)BENCH_BUDGET_MS * (board_counter_hz() / 1000u);
#endif
    const uint64_t min_window = (uint64_t)BENCH_MIN_WINDOW_MS * (board_counter_hz() / 1000u);

    memset(bench_output, POISON, out_len);
    for (int i = 0; i < BENCH_WARMUP; i++) {
        run_once(fn, c);
    }
    board_window_begin();
    for (;;) {
        uint64_t t0 = board_counter_read();
        run_once(fn, c);
        uint64_t dt = board_counter_read() - t0;
        if (n < BENCH_MAX_REPS) {
            samples[n] = dt;
        }
        n++;
        sum += dt;
        min = dt < min ? dt : min;
        max = dt > max ? dt : max;
#if BENCH_RSE_PPM > 0
        double delta = (double)dt - mean;
        mean += delta / (double)n;
        m2 += delta * ((double)dt - mean);
#endif
        if (n < BENCH_REPS) {
            continue;
        }
#if BENCH_RSE_PPM > 0
        int enough = n >= BENCH_MAX_REPS || precise_enough(n, mean, m2) || (budget && sum >= budget);
#else
        int enough = n >= BENCH_REPS;
#endif
        if (enough && sum >= min_window) {
            break;
        }
    }
    board_window_end();

    uint32_t bad = 0;
    int32_t first_bad = -1;
    for (size_t i = 0; i < out_len; i++) {
        if (bench_output[i] != c->golden[i]) {
            if (first_bad < 0) {
                first_bad = (int32_t)i;
            }
            bad++;
        }
    }

    /* Spread from the stored samples (two passes: no overflow, no drift). */
    const uint32_t kept = n < BENCH_MAX_REPS ? n : BENCH_MAX_REPS;
    double avg = 0.0, ss = 0.0;
    for (uint32_t i = 0; i < kept; i++) {
        avg += (double)samples[i];
    }
    avg /= (double)kept;
    for (uint32_t i = 0; i < kept; i++) {
        double d = (double)samples[i] - avg;
        ss += d * d;
    }
    uint64_t sd = kept > 1 ? isqrt_u64((uint64_t)(ss / (double)(kept - 1))) : 0;
    uint64_t rse_ppm = (kept > 1 && avg > 0.0)
        ? isqrt_u64((uint64_t)(ss / (double)(kept - 1) / (double)kept / (avg * avg) * 1e12)) : 0;
    uint64_t med = median_of(samples, kept);

    line_begin('R');
    line_u64("idx", index);
    line_str("id", c->id);
    line_u64("reps", n);
    line_u64("sum", sum);
    line_u64("min", min);
    line_u64("max", max);
    line_u64("ok", bad == 0);
    line_u64("bad", bad);
    line_i32("first_bad", first_bad);
    line_u64("med", med);
    line_u64("sd", sd);
    line_u64("rse_ppm", rse_ppm);
    line_end();
    return bad == 0;
}

int main(void)
{
    board_init();

    line_begin('B');
    line_str("fw", FIRMWARE_VERSION);
    line_str("image", BENCH_IMAGE);
    line_str("build", BENCH_BUILD);
    line_str("board", BENCH_BOARD);
    line_u64("core_hz", board_core_hz());
    line_str("counter", board_counter_name());
    line_u64("counter_hz", board_counter_hz());
    line_str("kernels", bench_kernels.name);
    line_str("kernels_version", bench_kernels.version);
    line_str("cc", __VERSION__);
    line_str("cflags", BENCH_CFLAGS);
    line_u64("warmup", BENCH_WARMUP);
    line_u64("reps", BENCH_REPS);
    line_u64("max_reps", BENCH_MAX_REPS);
    line_u64("rse_target_ppm", BENCH_RSE_PPM);
    line_u64("min_window_ms", BENCH_MIN_WINDOW_MS);
    line_u64("idle_ms", BENCH_IDLE_MS);
    line_u64("cases", bench_case_count);
    line_end();

    uint64_t idle_ticks = 0;
#if BENCH_IDLE_MS > 0
    {
        const uint64_t want = (uint64_t)BENCH_IDLE_MS * (board_counter_hz() / 1000u);
        board_window_begin();
        const uint64_t t0 = board_counter_read();
        do {
            idle_ticks = board_counter_read() - t0;
        } while (idle_ticks < want);
        board_window_end();
    }
#endif

    line_begin('C');
    line_u64("overhead", counter_overhead());
    line_u64("idle_ticks", idle_ticks);
    line_end();

    uint32_t failed = 0;
    for (uint32_t i = 0; i < bench_case_count; i++) {
        failed += !run_case(i, &bench_cases[i]);
    }

    line_begin('E');
    line_u64("cases", bench_case_count);
    line_u64("failed", failed);
    line_end();
    board_exit(0);
}
