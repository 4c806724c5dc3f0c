/*
 * Board layer for QEMU's mps3-an547 (Arm MPS3 FPGA image AN547: the
 * Corstone-300 subsystem SSE-300 with a Cortex-M55, MVE and FPU present).
 *
 * The core leaves reset in the Secure state and the image stays there, so
 * every address is the Secure alias: code in ITCM at 0x10000000, data in
 * DTCM at 0x30000000 and ISRAM at 0x31000000 (the board yaml), UART0 at
 * 0x59303000. Addresses checked against QEMU 7.2's `info mtree` for the
 * machine (hw/arm/mps2-tz.c, hw/arm/armsse.c). MVE and the FPU are enabled
 * (CPACR CP10/CP11) by the common startup before any C runs.
 *
 * Counter: the SSE-300 has no CMSDK timer on a fast clock; its system
 * counter is a 64-bit free-running count (no wrap to extend), enabled in the
 * control frame (CNTCR.EN at 0x58100000) and read from the read-only status
 * frame (CNTCV low/high at 0x58101000/4). It runs at 32 MHz (measured: a
 * 2,000,000-instruction loop under -icount shift=7 read 8,192,000 counts,
 * 31.25 ns a count). Instructions, not cycles.
 */
#include <stdint.h>

#include "../common/mps_cmsdk.h"
#include "board.h"

#define UART0_BASE 0x59303000u
#define CNT_CONTROL_BASE 0x58100000u
#define CNT_READ_BASE 0x58101000u
#define CNTCR_EN 1u
#define SYSCLK_HZ 32000000u

void board_init(void)
{
    cmsdk_uart_init(UART0_BASE);
    MPS_REG32(CNT_CONTROL_BASE) = CNTCR_EN;
}

void board_putc(char c) { cmsdk_uart_putc(UART0_BASE, c); }

uint64_t board_counter_read(void)
{
    /* Re-read if the low word carried into the high word between the reads. */
    uint32_t hi, lo;
    do {
        hi = MPS_REG32(CNT_READ_BASE + 4u);
        lo = MPS_REG32(CNT_READ_BASE);
    } while (hi != MPS_REG32(CNT_READ_BASE + 4u));
    return ((uint64_t)hi << 32) | lo;
}

const char *board_counter_name(void) { return "sse300_syscounter"; }
uint32_t board_counter_hz(void) { return SYSCLK_HZ; }
uint32_t board_core_hz(void) { return SYSCLK_HZ; }

void board_window_begin(void) {}
void board_window_end(void) {}

void board_exit(int code) { semihosting_exit(code); }
