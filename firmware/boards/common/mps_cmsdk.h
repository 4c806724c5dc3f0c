/*
 * The peripherals every QEMU Arm MPS board (mps2-an385/386/500/505,
 * mps3-an547) has in common, for the board layers in firmware/boards/mps*:
 * the CMSDK APB UART, the CMSDK APB timer extended to 64 bits by its wrap
 * interrupt, and the semihosting exit. Only base addresses and interrupt
 * numbers differ between the machines; each board.c passes its own.
 *
 * Static inline so that a board compiles exactly the code it uses and the
 * counter read stays as short as a hand-written one (its instructions are
 * inside every timed window's overhead).
 */
#ifndef MPS_CMSDK_H
#define MPS_CMSDK_H

#include <stdint.h>

#define MPS_REG32(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART: DATA 0x00, STATE 0x04 (bit 0 TX full), CTRL 0x08 (bit 0 TX
 * enable), BAUDDIV 0x10. QEMU ignores the divider but wants it >= 16. */
static inline void cmsdk_uart_init(uintptr_t base)
{
    MPS_REG32(base + 0x10) = 16u;
    MPS_REG32(base + 0x08) = 1u;
}

static inline void cmsdk_uart_putc(uintptr_t base, char c)
{
    while (MPS_REG32(base + 0x04) & 1u) {
    }
    MPS_REG32(base + 0x00) = (uint8_t)c;
}

/* CMSDK APB timer: CTRL 0x00 (bit 0 enable, bit 3 IRQ enable), VALUE 0x04,
 * RELOAD 0x08, INTCLEAR 0x0C. It counts down from 0xFFFFFFFF; each wrap
 * raises its interrupt, whose handler counts it in `wraps`. */
static inline void cmsdk_timer_start(uintptr_t base, uint32_t irq)
{
    MPS_REG32(base + 0x00) = 0u;
    MPS_REG32(base + 0x08) = 0xFFFFFFFFu;
    MPS_REG32(base + 0x04) = 0xFFFFFFFFu;
    MPS_REG32(base + 0x0C) = 1u;
    MPS_REG32(0xE000E100u + 4u * (irq / 32u)) = 1u << (irq % 32u); /* NVIC_ISERn */
    MPS_REG32(base + 0x00) = 1u | 8u;
}

static inline void cmsdk_timer_wrapped(uintptr_t base, volatile uint32_t *wraps)
{
    MPS_REG32(base + 0x0C) = 1u;
    (*wraps)++;
}

static inline uint64_t cmsdk_timer_read64(uintptr_t base, const volatile uint32_t *wraps)
{
    /* Re-read if a wrap interrupt landed between the two reads. */
    uint32_t w, value;
    do {
        w = *wraps;
        value = MPS_REG32(base + 0x04);
    } while (w != *wraps);
    return ((uint64_t)w << 32) + (0xFFFFFFFFu - value);
}

/* Semihosting SYS_EXIT_EXTENDED {ADP_Stopped_ApplicationExit, code}: QEMU
 * (-semihosting-config enable=on) exits with the code. */
static inline void __attribute__((noreturn)) semihosting_exit(int code)
{
    volatile uint32_t block[2] = {0x20026u, (uint32_t)code};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

#endif
