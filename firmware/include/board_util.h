/*
 * Helpers shared by the real-board layers (the STM32 Nucleo boards): the
 * DWT cycle counter extended to 64 bits by SysTick, unframed text for the
 * start-up and exit lines, and parking the core at the end. They touch only
 * Cortex-M architectural registers (Armv7-M / Armv8-M architecture manuals),
 * never a device peripheral. Emulated boards do not call them; the linker's
 * --gc-sections drops them from their images.
 */
#ifndef BENCH_BOARD_UTIL_H
#define BENCH_BOARD_UTIL_H

#include <stdint.h>

/* Full access to the FPU (CPACR CP10, CP11) before any FP instruction, and
 * VTOR at the board's vector table (not left to boot option bytes). */
void cortex_m_fpu_on_and_vtor(const void *vector_table);

/* Start DWT CYCCNT and a SysTick interrupt every 2^24 core cycles that folds
 * the 32-bit counter's wraps into a 64-bit count. `coresight_unlock`: write
 * the key to DWT_LAR first (the Cortex-M7 DWT sits behind the CoreSight
 * software lock; the M4 and M33 DWT have none). Returns 1 if the counter
 * advances, 0 if it reads stuck (no DWT cycle counter, or counting
 * prohibited, e.g. Armv8-M secure state without secure non-invasive debug). */
int dwt_counter_start(int coresight_unlock);
uint64_t dwt_counter_read(void);
/* The SysTick exception handler a board's vector table points at. */
void dwt_systick_handler(void);

/* Unframed text through board_putc (the host logs it, never parses it). */
void board_puts(const char *s);
void board_put_u32(uint32_t v);
void board_put_hex(uint32_t v, int digits);
void board_put_field(const char *key, uint32_t value); /* " key=value" */
/* End of the start-up line: " window=P<port><pin> dwt=ok|stuck" and CR LF
 * (port 0 = A). */
void board_put_banner_end(unsigned window_port, unsigned window_pin, int dwt_ok);
/* The unframed line the host reads as a crash: "bench: exit N (fault handler)". */
void board_put_exit_line(int code);

/* The 16 Cortex-M system vectors every real board uses: no device interrupt
 * is enabled, so the device vectors are left out (VTOR points at this table
 * from board_init). SysTick extends the DWT counter. */
#define BOARD_SYSTEM_VECTORS                                            \
    extern uint32_t __stack_top[];                                      \
    void reset_handler(void);                                           \
    void fault_handler(void);                                           \
    __attribute__((section(".vectors"), used))                          \
    void (*const vector_table[16])(void) = {                            \
        [0] = (void (*)(void))__stack_top,                              \
        [1] = reset_handler,                                            \
        [2] = fault_handler,  /* NMI */                                 \
        [3] = fault_handler,  /* HardFault */                           \
        [4] = fault_handler,  /* MemManage */                           \
        [5] = fault_handler,  /* BusFault */                            \
        [6] = fault_handler,  /* UsageFault */                          \
        [7] = fault_handler,  /* SecureFault (Armv8-M); reserved on v7-M */ \
        [15] = dwt_systick_handler,                                     \
    }

/* Park for good: spin while a debugger is attached (the probe keeps access),
 * otherwise sleep (WFI) so the core stops drawing run current. */
void board_park(void) __attribute__((noreturn));

#endif
