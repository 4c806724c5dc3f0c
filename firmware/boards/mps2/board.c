/*
 * Board layer for QEMU's non-TrustZone MPS2 machines: mps2-an385 (Cortex-M3,
 * also runs the Armv6-M images of board qemu_m0plus), mps2-an386 (Cortex-M4)
 * and mps2-an500 (Cortex-M7). QEMU's hw/arm/mps2.c gives the three the same
 * peripheral map (checked with `info mtree` on QEMU 7.2): UART0 at
 * 0x40004000, timer0 at 0x40000000 on IRQ 8, a 25 MHz system clock; only
 * the core and the RAM sizes differ, and those are in the board yamls.
 *
 * Counter: CMSDK APB timer0 (25 MHz) extended to 64 bits by its wrap
 * interrupt. QEMU has no DWT cycle counter; run under -icount the timer
 * advances with the instruction count, so the host converts ticks into
 * instructions (the QEMU target). These are instructions, not cycles.
 * UART: CMSDK UART0. Exit: semihosting SYS_EXIT_EXTENDED.
 * The functions themselves: ../common/mps_cmsdk_board.h.
 */
#define MPS_UART0_BASE 0x40004000u
#define MPS_TIMER0_BASE 0x40000000u
#define MPS_TIMER0_IRQ 8u
#define MPS_SYSCLK_HZ 25000000u
#define MPS_COUNTER_NAME "cmsdk_timer0"

#include "../common/mps_cmsdk_board.h"
