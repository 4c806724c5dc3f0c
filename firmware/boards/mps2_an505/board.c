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
#include <stdint.h>

#include "../common/mps_cmsdk.h"
#include "board.h"

#define UART0_BASE 0x50200000u
#define TIMER0_BASE 0x50000000u
#define TIMER0_IRQ 3u
#define SYSCLK_HZ 20000000u

static volatile uint32_t timer_wraps;

void timer0_irq_handler(void) { cmsdk_timer_wrapped(TIMER0_BASE, &timer_wraps); }

void board_init(void)
{
    cmsdk_uart_init(UART0_BASE);
    cmsdk_timer_start(TIMER0_BASE, TIMER0_IRQ);
}

void board_putc(char c) { cmsdk_uart_putc(UART0_BASE, c); }
uint64_t board_counter_read(void) { return cmsdk_timer_read64(TIMER0_BASE, &timer_wraps); }

const char *board_counter_name(void) { return "iotkit_timer0"; }
uint32_t board_counter_hz(void) { return SYSCLK_HZ; }
uint32_t board_core_hz(void) { return SYSCLK_HZ; }

void board_window_begin(void) {}
void board_window_end(void) {}

void board_exit(int code) { semihosting_exit(code); }
