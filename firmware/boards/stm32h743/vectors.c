/*
 * Vector table for the STM32H743: the Cortex-M7 system exceptions and
 * SysTick, which extends the 32-bit DWT cycle counter (board.c). No device
 * interrupt is used, so the 150 device vectors are left out: VTOR points at
 * 0x08000000 after reset and no IRQ is ever enabled.
 */
#include <stdint.h>

extern uint32_t __stack_top[];
void reset_handler(void);
void fault_handler(void);
void dwt_systick_handler(void);

__attribute__((section(".vectors"), used))
void (*const vector_table[16])(void) = {
    [0] = (void (*)(void))__stack_top,
    [1] = reset_handler,
    [2] = fault_handler,  /* NMI */
    [3] = fault_handler,  /* HardFault */
    [4] = fault_handler,  /* MemManage */
    [5] = fault_handler,  /* BusFault */
    [6] = fault_handler,  /* UsageFault */
    [15] = dwt_systick_handler,
};
