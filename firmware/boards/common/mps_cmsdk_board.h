/*
 * The board.h layer of a QEMU MPS machine whose counter is a CMSDK APB timer
 * (mps2-an385/an386/an500, mps2-an505): include it once, from the board's
 * board.c, after defining
 *   MPS_UART0_BASE, MPS_TIMER0_BASE, MPS_TIMER0_IRQ  the machine's addresses
 *   MPS_SYSCLK_HZ     the timer's clock (also reported as the core clock)
 *   MPS_COUNTER_NAME  the counter's name in the firmware banner
 * The vector table (vectors.c) routes the timer's interrupt to
 * timer0_irq_handler.
 */
#ifndef MPS_CMSDK_BOARD_H
#define MPS_CMSDK_BOARD_H

#include <stdint.h>

#include "board.h"
#include "mps_cmsdk.h"

static volatile uint32_t timer_wraps;

void timer0_irq_handler(void) { cmsdk_timer_wrapped(MPS_TIMER0_BASE, &timer_wraps); }

void board_init(void)
{
    cmsdk_uart_init(MPS_UART0_BASE);
    cmsdk_timer_start(MPS_TIMER0_BASE, MPS_TIMER0_IRQ);
}

void board_putc(char c) { cmsdk_uart_putc(MPS_UART0_BASE, c); }
uint64_t board_counter_read(void) { return cmsdk_timer_read64(MPS_TIMER0_BASE, &timer_wraps); }

const char *board_counter_name(void) { return MPS_COUNTER_NAME; }
uint32_t board_counter_hz(void) { return MPS_SYSCLK_HZ; }
uint32_t board_core_hz(void) { return MPS_SYSCLK_HZ; }

void board_window_begin(void) {}
void board_window_end(void) {}

void board_exit(int code) { semihosting_exit(code); }

#endif
