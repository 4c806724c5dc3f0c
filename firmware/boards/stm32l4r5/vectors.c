/*
 * Vector table for the STM32L4R5 (NUCLEO-L4R5ZI): the system exceptions and SysTick,
 * which extends the 32-bit DWT cycle counter (board_util.c). No device
 * interrupt is used, so the device vectors are left out: VTOR points here
 * (board_init) and no IRQ is ever enabled.
 */
#include <stdint.h>

#include "board_util.h"

extern uint32_t __stack_top[];
void reset_handler(void);
void fault_handler(void);

__attribute__((section(".vectors"), used))
void (*const vector_table[16])(void) = {
    [0] = (void (*)(void))__stack_top,
    [1] = reset_handler,
    [2] = fault_handler,  /* NMI */
    [3] = fault_handler,  /* HardFault */
    [4] = fault_handler,  /* MemManage */
    [5] = fault_handler,  /* BusFault */
    [6] = fault_handler,  /* UsageFault */
    [7] = fault_handler,  /* SecureFault on Armv8-M; reserved on Armv7-M */
    [15] = dwt_systick_handler,
};
