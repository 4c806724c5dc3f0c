/*
 * Shared by the real-board layers (board_util.h). Architectural registers
 * only: DEMCR 0xE000EDFC, DHCSR 0xE000EDF0, DWT_CTRL 0xE0001000,
 * DWT_CYCCNT 0xE0001004, DWT_LAR 0xE0001FB0, SysTick 0xE000E010..18,
 * SCB VTOR 0xE000ED08, CPACR 0xE000ED88
 * (Armv7-M ARM C1.6, C1.8, B3.3; the same addresses in Armv8-M).
 */
#include <stdint.h>

#include "board.h"
#include "board_util.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define DHCSR REG32(0xE000EDF0u)
#define DEMCR REG32(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_LAR REG32(0xE0001FB0u)
#define DWT_LAR_KEY 0xC5ACCE55u
#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_CPACR REG32(0xE000ED88u)
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)

void cortex_m_fpu_on_and_vtor(const void *vector_table)
{
    SCB_CPACR |= 0xFu << 20;
    SCB_VTOR = (uint32_t)vector_table;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

static uint32_t cyc_high, cyc_last;

/* Fold CYCCNT wraps into the high word; interrupts masked so the SysTick
 * handler and a foreground read cannot both count one wrap. SysTick fires
 * every 2^24 cycles, far more often than the 2^32-cycle wrap. */
uint64_t dwt_counter_read(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
    uint32_t now = DWT_CYCCNT;
    if (now < cyc_last) {
        cyc_high++;
    }
    cyc_last = now;
    uint64_t value = ((uint64_t)cyc_high << 32) | now;
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
    return value;
}

void dwt_systick_handler(void)
{
    (void)dwt_counter_read();
}

int dwt_counter_start(int coresight_unlock)
{
    DEMCR |= DEMCR_TRCENA; /* trace and DWT on */
    if (coresight_unlock) {
        DWT_LAR = DWT_LAR_KEY;
    }
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
    cyc_high = cyc_last = 0;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    uint32_t first = DWT_CYCCNT;
    for (volatile int i = 0; i < 16; i++) {
    }
    return DWT_CYCCNT != first;
}

void board_puts(const char *s)
{
    while (*s) {
        board_putc(*s++);
    }
}

void board_put_u32(uint32_t v)
{
    char buf[11];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        board_putc(buf[--n]);
    }
}

void board_put_hex(uint32_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 4 * (digits - 1); i >= 0; i -= 4) {
        board_putc(hex[(v >> i) & 0xFu]);
    }
}

void board_put_field(const char *key, uint32_t value)
{
    board_putc(' ');
    board_puts(key);
    board_putc('=');
    board_put_u32(value);
}

void board_put_banner_end(unsigned window_port, unsigned window_pin, int dwt_ok)
{
    board_puts(" window=P");
    board_putc((char)('A' + window_port));
    board_put_u32(window_pin);
    board_puts(dwt_ok ? " dwt=ok\r\n" : " dwt=stuck\r\n");
}

void board_put_exit_line(int code)
{
    board_puts("bench: exit ");
    board_put_u32((uint32_t)code);
    board_puts(code == 2 ? " (fault handler)\r\n" : "\r\n");
}

void board_park(void)
{
    for (;;) {
        if (!(DHCSR & 1u)) { /* C_DEBUGEN clear: no debugger */
            __asm__ volatile("wfi");
        }
    }
}
