/* Vector table for mps3-an547: the system exceptions only (the counter needs no interrupt). */
#include <stdint.h>

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
    [7] = fault_handler,  /* SecureFault */
};
