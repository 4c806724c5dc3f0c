/*
 * QEMU TCG plugin: estimated core cycles of a timed window, from a
 * sequence-aware per-core timing model (bench/timing, docs/emulation.md).
 *
 * At translation time each block is decoded (thumb_decode.h) and scheduled
 * once with the core's pipeline model: issue width and which instructions
 * pair, result latencies, operands read early (addresses, shifted operands)
 * or late (store data, accumulators), multi-cycle instructions (LDM/STM 1+N,
 * divide), load/store pipelining and IT folding. At run time one callback
 * per executed block adds that static cost, the stall carried in from the
 * previous block's pending results, and the branch cost decided by where
 * execution went next (taken, not taken, mispredicted). Entries of the
 * board's counter-read function (mark=ADDR) write the running totals
 * "S <instructions> <cycles>" to the out= file; the host pairs them into
 * windows exactly as the firmware pairs its counter reads.
 *
 * Written against the QEMU 7.2 plugin API (version 1); the few API calls used
 * are declared here because Debian ships no qemu-plugin.h.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "thumb_decode.h"

/* ---- QEMU plugin API (qemu-plugin.h, API version 1) ---------------------- */
typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int, void *);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t, void *);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, qemu_plugin_vcpu_tb_trans_cb_t);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *, qemu_plugin_vcpu_udata_cb_t,
                                          enum qemu_plugin_cb_flags, void *);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, qemu_plugin_udata_cb_t, void *);
typedef uint32_t qemu_plugin_meminfo_t;
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int, qemu_plugin_meminfo_t, uint64_t, void *);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *, qemu_plugin_vcpu_mem_cb_t,
                                      enum qemu_plugin_cb_flags, enum qemu_plugin_mem_rw, void *);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- the model's parameters (written by bench/timing/core_model.py) ----- */
enum { U_ALU, U_SHIFT, U_LOAD, U_STORE, U_MAC, U_SIMD, U_BRANCH, U_FPU, U_MVE, U_COUNT };

typedef struct {
    int issue;      /* cycles the instruction occupies issue (>= 1; 0 = folded) */
    int per_reg;    /* extra issue half-cycles per register (LDM/STM): 2 = one cycle each */
    int lat;        /* result latency, cycles after issue */
    int pair;       /* 0: issues alone, 1: either slot, 2: only as the older of a pair */
    int units;      /* bitmask of U_* it occupies in its issue cycle */
    int early_pen;  /* extra cycles before its result can be read early */
    int beats;      /* MVE: cycles it holds its units (the next may overlap the last beat) */
} class_param_t;

static struct {
    int width;
    int cap[U_COUNT];
    int late_adv;            /* late operands may arrive this many cycles after issue */
    int ldst_pipeline;       /* M3/M4: LDR/STR after LDR saves a cycle */
    int it_fold;             /* IT folds into a preceding 16-bit instruction */
    int taken, not_taken;    /* extra cycles of a taken / not-taken branch (no predictor) */
    int wide_unaligned;      /* extra cycle when the branch target is an unaligned 32-bit insn */
    int predictor;           /* 1: dynamic 2-bit prediction, costs below apply */
    int predicted_taken, mispredict, indirect;
    int fetch_wait;          /* wait states per instruction fetch beat (code region) */
    int n_dwait;             /* data regions with wait states: every access there adds them */
    struct { uint64_t lo, hi; int cycles; } dwait[8];
    class_param_t cls[C_COUNT];
} M;

static const char *class_names[C_COUNT] = {
    "alu", "alu_shift", "shift", "mul", "mac", "mul_long", "mac_long",
    "dsp", "dsp_mac", "sat", "extend", "extend16", "div",
    "load", "load_narrow", "load_double", "load_multiple",
    "store", "store_reg", "store_double", "store_multiple",
    "branch", "branch_cond", "branch_indirect", "call", "table_branch",
    "it", "nop", "barrier", "system",
    "fpu", "fpu_div", "fpu_load", "fpu_store",
    "mve", "mve_mac", "mve_load", "mve_store",
};

static int load_params(const char *path)
{
    FILE *f = fopen(path, "r");
    char key[64];
    if (!f) return -1;
    M.width = 1;
    while (fscanf(f, "%63s", key) == 1) {
        int v[7];
        if (key[0] == '#') {                       /* comment: skip the line */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {}
            continue;
        }
        if (!strcmp(key, "dwait")) {
            unsigned long long lo, hi;
            int cyc;
            if (fscanf(f, "%llx %llx %d", &lo, &hi, &cyc) != 3 || M.n_dwait >= 8) {
                fclose(f);
                return -1;
            }
            M.dwait[M.n_dwait].lo = lo;
            M.dwait[M.n_dwait].hi = hi;
            M.dwait[M.n_dwait++].cycles = cyc;
            continue;
        }
        if (!strcmp(key, "class")) {
            char name[64];
            if (fscanf(f, "%63s %d %d %d %d %d %d %d", name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 8) {
                fclose(f);
                return -1;
            }
            for (int c = 0; c < C_COUNT; c++)
                if (!strcmp(name, class_names[c]))
                    M.cls[c] = (class_param_t){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
            continue;
        }
        if (fscanf(f, "%d", &v[0]) != 1) {
            fclose(f);
            return -1;
        }
        if (!strncmp(key, "cap.", 4)) {
            static const char *units[U_COUNT] = {"alu", "shift", "load", "store", "mac", "simd", "branch", "fpu", "mve"};
            for (int u = 0; u < U_COUNT; u++)
                if (!strcmp(key + 4, units[u])) M.cap[u] = v[0];
        }
#define P(name) else if (!strcmp(key, #name)) M.name = v[0];
        P(width) P(late_adv) P(ldst_pipeline) P(it_fold) P(taken) P(not_taken) P(wide_unaligned)
        P(predictor) P(predicted_taken) P(mispredict) P(indirect) P(fetch_wait)
#undef P
    }
    fclose(f);
    return 0;
}

/* ---- per-block static schedule ----------------------------------------- */
#define ENTRY_MAX 6
typedef struct tb_info {
    /* hot: read on every execution */
    uint32_t cycles, n;
    uint32_t target, fall;          /* END_COND / END_DIRECT */
    uint64_t pc;
    uint8_t end, mark, has_exit, n_entry;
    uint8_t pred;                   /* 2-bit counter for the block's branch */
    uint8_t enter_cost;             /* extra cycles when a taken branch lands here (refill, unaligned) */
    uint8_t wide_unaligned_start;
    uint32_t pred_gen;              /* window in which pred was last set */
    struct tb_info *succ[2];        /* last two successors seen, and the cycles each adds */
    uint32_t edge[2];
    uint16_t edge_branch[2], edge_stall[2];   /* of which branch refill and carried stall */
    uint8_t edge_taken[2], next_slot;
    struct { uint8_t reg, early; int8_t at; } entry[ENTRY_MAX];
    int8_t exit_norm[16], exit_early[16];   /* cycles a result is still pending after the block */
    /* cold */
    decoded_t *d;                   /* its instructions, for continuations */
    struct cont { struct tb_info *from; uint32_t cycles; } *conts;   /* cost after a split predecessor */
    uint32_t n_conts;
    uint64_t prof_execs, prof_cycles;   /* profile=FILE only */
    struct tb_info *next_in_bucket;
} tb_info;

static int is_load_single(int c) { return c == C_LOAD || c == C_LOAD_NARROW; }
static int is_store_single(int c) { return c == C_STORE || c == C_STORE_REG; }

static void schedule(tb_info *t, const decoded_t *d, int n)
{
    int avail[16] = {0}, avail_early[16] = {0};
    int cyc = 0, used = 0, units[U_COUNT] = {0};
    int busy_until[U_COUNT] = {0};             /* multi-beat (MVE) occupation of a unit */
    int started = 0, prev_cls = -1, prev_wide = 1, prev_dst = 0, prev_pair = 0;
    uint16_t written = 0;
    for (int i = 0; i < n; i++) {
        const decoded_t *x = &d[i];
        const class_param_t *p = &M.cls[x->cls];
        int issue = p->issue + (p->per_reg * x->nregs + 1) / 2;
        if (x->cls == C_IT && M.it_fold && prev_cls >= 0 && !prev_wide) {
            prev_cls = C_IT;
            continue;                              /* folded: no issue slot */
        }
        if (M.ldst_pipeline && (is_load_single(x->cls) || is_store_single(x->cls)) && is_load_single(prev_cls)
            && !((x->early) & prev_dst) && issue > 1)
            issue -= 1;
        int t0 = started ? cyc : 0;
        for (int r = 0; r < 16; r++) {
            uint16_t b = (uint16_t)(1u << r);
            int need = 0;
            if (x->src & b) need = avail[r];
            if (x->early & b && avail_early[r] > need) need = avail_early[r];
            if (x->late & b && avail[r] - M.late_adv > need) need = avail[r] - M.late_adv;
            if (need > t0) t0 = need;
        }
        for (int u = 0; u < U_COUNT; u++)
            if ((p->units >> u & 1) && busy_until[u] > t0) t0 = busy_until[u];
        /* Can it join the current issue cycle as the younger instruction? */
        if (started && t0 == cyc) {
            int ok = used > 0 && used < M.width && prev_pair != 0 && p->pair == 1 && issue <= 1;
            for (int u = 0; ok && u < U_COUNT; u++)
                if ((p->units >> u & 1) && units[u] >= M.cap[u]) ok = 0;
            if (!ok) t0 = cyc + 1;
        }
        if (!started || t0 > cyc) {
            cyc = t0;
            used = 0;
            memset(units, 0, sizeof units);
        }
        started = 1;
        /* Inputs needed from before the block: recorded for the carried-in stall. */
        if (t->n_entry < ENTRY_MAX) {
            uint16_t reads = x->src | x->early | x->late;
            for (int r = 0; r < 16 && t->n_entry < ENTRY_MAX; r++) {
                uint16_t b = (uint16_t)(1u << r);
                if (!(reads & b) || (written & b)) continue;
                int early = (x->early & b) != 0, late = !early && (x->src & b) == 0;
                t->entry[t->n_entry].reg = (uint8_t)r;
                t->entry[t->n_entry].early = (uint8_t)early;
                t->entry[t->n_entry].at = (int8_t)(cyc + (late ? M.late_adv : 0));
                t->n_entry++;
            }
        }
        used++;
        for (int u = 0; u < U_COUNT; u++)
            if (p->units >> u & 1) {
                units[u]++;
                if (p->beats > 1) busy_until[u] = cyc + p->beats;
            }
        written |= x->dst;
        /* Latency counts from the last issue cycle (a 2-cycle M4 LDR's data is there for the next). */
        int last = cyc + (issue > 1 ? issue - 1 : 0);
        for (int r = 0; r < 16; r++)
            if (x->dst >> r & 1) {
                avail[r] = last + p->lat;
                avail_early[r] = last + p->lat + p->early_pen;
            }
        if (p->pair == 0 || issue > 1) {           /* alone, or several cycles: the next starts after */
            cyc += issue > 1 ? issue - 1 : 0;
            used = M.width;
        }
        prev_cls = x->cls;
        prev_wide = x->wide;
        prev_dst = x->dst;
        prev_pair = p->pair;
    }
    int total = started ? cyc + 1 : 0;
    t->cycles = (uint32_t)total + (uint32_t)(M.fetch_wait * n);
    for (int r = 0; r < 16; r++) {
        int a = avail[r] - total, e = avail_early[r] - total;
        t->exit_norm[r] = (int8_t)(a > 0 ? a : 0);
        t->exit_early[r] = (int8_t)(e > 0 ? e : 0);
        if (a > 0 || e > 0) t->has_exit = 1;
    }
}

/* ---- block table and run-time accounting -------------------------------- */
#define BUCKETS 65536
static tb_info *table[BUCKETS];
static uint64_t g_insns, g_cycles, g_snapshots;
static uint64_t g_branch, g_mispredicts, g_stall;   /* parts of g_cycles, for calibration */
/* Prediction state restarts (weakly taken) at every counter read, so a case's
 * estimate does not depend on which cases ran before it in the same image. */
static uint32_t g_gen;
static tb_info *g_prev;
static uint64_t mark_pc = ~0ull;
static int out_fd = -1;
static const char *profile_path;

static void snapshot(void)
{
    char line[128];
    int len = snprintf(line, sizeof line, "S %llu %llu %llu %llu %llu\n", (unsigned long long)g_insns,
                       (unsigned long long)g_cycles, (unsigned long long)g_branch,
                       (unsigned long long)g_mispredicts, (unsigned long long)g_stall);
    if (out_fd >= 0 && write(out_fd, line, (size_t)len) != len) {
        close(out_fd);
        out_fd = -1;
    }
    g_snapshots++;
}

/* Cycles t adds when it continues p's straight-line code: sched(p + t) - sched(p). */
static uint64_t continuation_cycles(tb_info *p, tb_info *t)
{
    for (uint32_t i = 0; i < t->n_conts; i++)
        if (t->conts[i].from == p) return t->conts[i].cycles;
    uint32_t cycles = t->cycles;
    decoded_t *both = malloc((p->n + t->n) * sizeof *both);
    struct cont *grown = realloc(t->conts, (t->n_conts + 1) * sizeof *grown);
    if (both && grown && p->d && t->d) {
        tb_info scratch;
        memset(&scratch, 0, sizeof scratch);
        memcpy(both, p->d, p->n * sizeof *both);
        memcpy(both + p->n, t->d, t->n * sizeof *both);
        schedule(&scratch, both, (int)(p->n + t->n));
        cycles = scratch.cycles > p->cycles ? scratch.cycles - p->cycles : 0;
    }
    free(both);
    if (grown) {
        t->conts = grown;
        t->conts[t->n_conts++] = (struct cont){p, cycles};
    }
    return cycles;
}

/* Cycles t adds when entered from p, except what the branch predictor decides. */
static uint32_t edge_cycles(tb_info *p, tb_info *t, int *taken, uint32_t *branch, uint32_t *stalled)
{
    uint64_t c = t->cycles;
    *taken = 0;
    *branch = 0;
    *stalled = 0;
    switch (p->end) {
    case END_COND:
        *taken = t->pc == p->target;
        if (!M.predictor)
            *branch = *taken ? t->enter_cost : (uint32_t)M.not_taken;
        break;
    case END_DIRECT:
        *branch = t->enter_cost;
        break;
    case END_INDIRECT:
        *branch = (uint32_t)M.indirect + (t->wide_unaligned_start ? (uint32_t)M.wide_unaligned : 0);
        break;
    default:
        if (t->pc == p->fall)
            /* QEMU split one straight run of code into two blocks (page end, icount):
             * time them as one, so the estimate does not depend on where pages fall. */
            return (uint32_t)continuation_cycles(p, t);
    }
    if (p->has_exit) {
        int stall = 0;
        for (int i = 0; i < t->n_entry; i++) {
            int r = t->entry[i].reg;
            int pending = t->entry[i].early ? p->exit_early[r] : p->exit_norm[r];
            int s = pending - t->entry[i].at;
            if (s > stall) stall = s;
        }
        *stalled = (uint32_t)stall;
    }
    return (uint32_t)(c + *branch + *stalled);
}

static void on_exec(unsigned int vcpu, void *udata)
{
    tb_info *t = udata, *p = g_prev;
    uint64_t c = t->cycles;
    (void)vcpu;
    if (p) {
        int k;
        if (t == p->succ[0]) {
            k = 0;
        } else if (t == p->succ[1]) {
            k = 1;
        } else {                                   /* a new edge: time it once, keep it */
            int taken;
            uint32_t branch, stalled;
            k = p->next_slot;
            p->next_slot ^= 1;
            p->edge[k] = edge_cycles(p, t, &taken, &branch, &stalled);
            p->edge_branch[k] = (uint16_t)branch;
            p->edge_stall[k] = (uint16_t)stalled;
            p->edge_taken[k] = (uint8_t)taken;
            p->succ[k] = t;
        }
        c = p->edge[k];
        g_branch += p->edge_branch[k];
        g_stall += p->edge_stall[k];
        if (p->end == END_COND && M.predictor) {
            int taken = p->edge_taken[k];
            if (p->pred_gen != g_gen) {
                p->pred = 2;
                p->pred_gen = g_gen;
            }
            if ((p->pred >= 2) != taken) {
                c += (uint64_t)M.mispredict;
                g_mispredicts++;
            } else if (taken) {
                c += t->enter_cost;
                g_branch += t->enter_cost;
            }
            if (taken) { if (p->pred < 3) p->pred++; }
            else if (p->pred > 0) p->pred--;
        }
    }
    if (t->mark) {
        snapshot();
        g_gen++;
    }
    g_cycles += c;
    g_insns += t->n;
    g_prev = t;
}

/* profile=FILE: the same accounting, plus executions and cycles per block (for docs and debugging). */
static void on_exec_profiled(unsigned int vcpu, void *udata)
{
    tb_info *t = udata;
    uint64_t before = g_cycles;
    on_exec(vcpu, udata);
    t->prof_execs++;
    t->prof_cycles += g_cycles - before;
}

/* A data access to a region with wait states (only registered when the board has one). */
static void on_mem(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu, (void)info, (void)udata;
    for (int i = 0; i < M.n_dwait; i++)
        if (vaddr >= M.dwait[i].lo && vaddr < M.dwait[i].hi) {
            g_cycles += (uint64_t)M.dwait[i].cycles;
            return;
        }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    unsigned h = (unsigned)((pc >> 1) ^ (n << 13)) & (BUCKETS - 1);
    (void)id;
    tb_info *t;
    for (t = table[h]; t; t = t->next_in_bucket)
        if (t->pc == pc && t->n == n) break;
    if (!t) {
        decoded_t *d = calloc(n ? n : 1, sizeof *d);
        t = calloc(1, sizeof *t);
        if (!d || !t) return;
        t->pc = pc;
        t->n = (uint32_t)n;
        t->pred = 2;                                   /* weakly taken */
        for (size_t i = 0; i < n; i++) {
            struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
            uint64_t a = qemu_plugin_insn_vaddr(in);
            int size = (int)qemu_plugin_insn_size(in);
            thumb_decode(qemu_plugin_insn_data(in), size, (uint32_t)a, &d[i]);
            if (i == 0) t->wide_unaligned_start = d[0].wide && (a & 2);
            if (i + 1 == n) {
                t->end = d[i].end;
                t->target = d[i].target;
                t->fall = (uint32_t)(a + (uint64_t)size);
            }
        }
        schedule(t, d, (int)n);
        t->mark = pc == mark_pc;
        t->enter_cost = (uint8_t)((M.predictor ? M.predicted_taken : M.taken)
                                  + (t->wide_unaligned_start ? M.wide_unaligned : 0));
        t->d = d;
        t->next_in_bucket = table[h];
        table[h] = t;
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, profile_path ? on_exec_profiled : on_exec, QEMU_PLUGIN_CB_NO_REGS, t);
    if (M.n_dwait)
        for (size_t i = 0; i < n; i++)
            qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), on_mem, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW, NULL);
}

static void on_qemu_exit(qemu_plugin_id_t id, void *p)
{
    char line[128];
    (void)id, (void)p;
    int len = snprintf(line, sizeof line, "T %llu %llu %llu\n", (unsigned long long)g_insns,
                       (unsigned long long)g_cycles, (unsigned long long)g_snapshots);
    if (out_fd >= 0) {
        if (write(out_fd, line, (size_t)len) < 0) { /* nothing more to do */ }
        close(out_fd);
        out_fd = -1;
    }
    FILE *f = profile_path ? fopen(profile_path, "w") : NULL;
    for (int b = 0; f && b < BUCKETS; b++)
        for (tb_info *t = table[b]; t; t = t->next_in_bucket)
            if (t->prof_execs)
                fprintf(f, "%#llx %u %llu %llu %u\n", (unsigned long long)t->pc, t->n,
                        (unsigned long long)t->prof_execs, (unsigned long long)t->prof_cycles, t->cycles);
    if (f) fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    if (info->version.cur < 1 || info->version.min > 1) {
        fprintf(stderr, "cycles plugin: QEMU plugin API %d..%d, this plugin needs 1\n",
                info->version.min, info->version.cur);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "model=", 6)) model = argv[i] + 6;
        else if (!strncmp(argv[i], "out=", 4)) out = argv[i] + 4;
        else if (!strncmp(argv[i], "mark=", 5)) mark_pc = strtoull(argv[i] + 5, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "profile=", 8)) profile_path = argv[i] + 8;
    }
    if (!model || load_params(model) != 0) {
        fprintf(stderr, "cycles plugin: cannot read model=%s\n", model ? model : "(not given)");
        return -1;
    }
    if (out) {
        out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out_fd < 0) {
            fprintf(stderr, "cycles plugin: cannot write out=%s\n", out);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
