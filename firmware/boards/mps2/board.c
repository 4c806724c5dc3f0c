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
 * Peripheral code shared with the other MPS boards: ../common/mps_cmsdk.h.
 */
#include <stdint.h>

#include "../common/mps_cmsdk.h"
#include "board.h"

#define UART0_BASE 0x40004000u
#define TIMER0_BASE 0x40000000u
#define TIMER0_IRQ 8u
#define SYSCLK_HZ 25000000u

static volatile uint32_t timer_wraps;

void timer0_irq_handler(void) { cmsdk_timer_wrapped(TIMER0_BASE, &timer_wraps); }

void board_init(void)
{
    cmsdk_uart_init(UART0_BASE);
    cmsdk_timer_start(TIMER0_BASE, TIMER0_IRQ);
}

void board_putc(char c) { cmsdk_uart_putc(UART0_BASE, c); }
uint64_t board_counter_read(void) { return cmsdk_timer_read64(TIMER0_BASE, &timer_wraps); }

const char *board_counter_name(void) { return "cmsdk_timer0"; }
uint32_t board_counter_hz(void) { return SYSCLK_HZ; }
uint32_t board_core_hz(void) { return SYSCLK_HZ; }

void board_window_begin(void) {}
void board_window_end(void) {}

void board_exit(int code) { semihosting_exit(code); }
