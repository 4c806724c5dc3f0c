/*
 * Reset for any Cortex-M board: run the linker's copy table (sections whose
 * load address in flash differs from their run address: .data, and the bench
 * sections when a placement puts them in RAM), zero .bss, call main.
 * The vector table is the board's own (board_vectors.c).
 */
#include <stdint.h>

#include "board.h"

extern uint32_t __copy_table_start[], __copy_table_end[];
extern uint32_t __bss_start__[], __bss_end__[];
int main(void);

void reset_handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* An image built for the FPU or MVE (Helium) may use them anywhere, even
     * in the copy loops below (GCC vectorizes at -O2): grant CP10/CP11 full
     * access in CPACR first, or the first such instruction faults (NOCP). */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    /* Copy table rows: {load address, run address, length in bytes}. */
    for (uint32_t *row = __copy_table_start; row < __copy_table_end; row += 3) {
        const uint32_t *src = (const uint32_t *)row[0];
        uint32_t *dst = (uint32_t *)row[1];
        if (src == dst) {
            continue;
        }
        for (uint32_t i = 0; i < row[2] / 4u; i++) {
            dst[i] = src[i];
        }
    }
    for (uint32_t *p = __bss_start__; p < __bss_end__; p++) {
        *p = 0;
    }
    /* Kernel code may just have been copied into RAM: let the writes land
     * before any instruction is fetched from there (caches are still off). */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    main();
    board_exit(0);
}

/* Any fault ends the run with exit code 2 so the host reports a crash,
 * rather than waiting for a timeout. */
void fault_handler(void)
{
    board_exit(2);
}
