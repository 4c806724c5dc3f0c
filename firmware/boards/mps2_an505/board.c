/*
 * Board layer for QEMU's mps2-an505 (Arm MPS2+ FPGA image AN505: the IoT Kit
 * subsystem with a Cortex-M33, DSP and FPU present).
 *
 * The core leaves reset in the Secure state and the image stays there, so
 * every address is the Secure alias (bit 28 set): code in SSRAM1 at
 * 0x10000000, data in SSRAM2/3 at 0x38000000 (the board yaml), UART0 at
 * 0x50200000, the IoT Kit's timer0 at 0x50000000 on IRQ 3. The Non-secure
 * aliases (0x4xxxxxxx) are not reachable from Secure code without setting up
 * the SAU, which this board does not need. Addresses checked against
 * QEMU 7.2's `info mtree` for the machine (hw/arm/mps2-tz.c, hw/arm/armsse.c).
 *
 * Counter: timer0 extended to 64 bits by its wrap interrupt, clocked by the
 * 20 MHz MAINCLK (measured: a 2,000,000-instruction loop under -icount
 * shift=7 read 5,120,000 ticks, 50 ns a tick). Instructions, not cycles.
 */
#define MPS_UART0_BASE 0x50200000u
#define MPS_TIMER0_BASE 0x50000000u
#define MPS_TIMER0_IRQ 3u
#define MPS_SYSCLK_HZ 20000000u
#define MPS_COUNTER_NAME "iotkit_timer0"

#include "../common/mps_cmsdk_board.h"
