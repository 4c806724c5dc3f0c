/*
 * Board layer for the STM32L4R5ZI on a NUCLEO-L4R5ZI (MB1312, Nucleo-144),
 * the MLPerf Tiny reference board.
 *
 * Registers are written from RM0432 (STM32L4+ reference manual, Rev 9):
 * memory map ("Memory map and peripheral register boundary addresses"): RCC 0x40021000, PWR 0x40007000, FLASH
 * registers 0x40022000, GPIOA..I 0x48000000 + 0x400 * port (AHB2), LPUART1
 * 0x40008000; DBGMCU_IDCODE 0xE0042000. Cortex-M4 DWT and SysTick through
 * board_util.c. Nothing here comes from a vendor HAL.
 *
 * Configured by -D defines from conf/board/nucleo_l4r5.yaml (defines:):
 *   BOARD_CORE_HZ   wanted core clock, up to 120 MHz (default 120 MHz)
 *   BOARD_HSE_HZ    0: PLL from the 16 MHz HSI16; else try the HSE in
 *                   bypass mode at that frequency (8 MHz: the ST-LINK MCO,
 *                   an option UM2179 describes; whether it is bridged to
 *                   OSC_IN on a given board was not confirmed here), falling
 *                   back to the HSI16 when OSC_IN has no clock
 *   BOARD_ART       1: ART accelerator on (prefetch, I-cache, D-cache)
 *   BOARD_UART_BAUD LPUART1 baud rate (default 115200)
 *   BOARD_WINDOW_PORT, BOARD_WINDOW_PIN   the window GPIO (default PF13)
 *
 * Clock: voltage range 1 (PWR_CR1 VOS = 01, the reset value) in boost mode
 * (PWR_CR5 R1MODE = 0) above 80 MHz, entered as RM0432's PWR chapter
 * ("Dynamic voltage scaling management") prescribes: AHB divided by 2 before
 * the switch, back to /1 at least 1 us after it. PLL from a reference in
 * 2.66-16 MHz (RM0432, RCC chapter, "PLL"), VCO 64-344 MHz, PLLR output as SYSCLK
 * (PLLR in {2, 4, 6, 8}); APB1 = APB2 = HCLK (120 MHz is within both).
 * Flash wait states from RM0432's table ("Number of wait states according
 * to CPU clock (HCLK) frequency"), range 1: one wait state per 20 MHz,
 * 5 WS at 120 MHz. board_core_hz() is computed back from the PLL registers.
 *
 * UART: LPUART1 on PG7 (TX) / PG8 (RX), AF8 -- the ST-LINK virtual COM port
 * on NUCLEO-L4R5ZI (UM2179, "Virtual COM port (VCP)"). Port G pins PG2..PG15
 * are supplied by VDDIO2, which must be declared valid (PWR_CR2 IOSV, RM0432
 * "Independent I/O supply rail") before they drive anything. LPUART1 is clocked from HSI16
 * (RCC_CCIPR LPUART1SEL = 10) so the baud rate does not depend on SYSCLK.
 *
 * Window GPIO: PF13 = Arduino D7 on the Zio connector of the Nucleo-144
 * (UM2179 connector tables), push-pull, idle low, high inside a timed window.
 */
#include <stdint.h>

#include "board.h"
#include "board_util.h"
#include "stm32_common.h"

#ifndef BOARD_CORE_HZ
#define BOARD_CORE_HZ 120000000u
#endif
#ifndef BOARD_HSE_HZ
#define BOARD_HSE_HZ 0u
#endif
#ifndef BOARD_ART
#define BOARD_ART 1
#endif
#ifndef BOARD_UART_BAUD
#define BOARD_UART_BAUD 115200u
#endif
#ifndef BOARD_WINDOW_PORT
#define BOARD_WINDOW_PORT 5 /* 0 = A ... 5 = F ... 8 = I */
#endif
#ifndef BOARD_WINDOW_PIN
#define BOARD_WINDOW_PIN 13
#endif

#if BOARD_CORE_HZ > 120000000u
#error "BOARD_CORE_HZ above 120 MHz is outside the STM32L4R5 ratings"
#endif

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* RCC registers (RM0432, RCC chapter) */
#define RCC_BASE 0x40021000u
#define RCC_CR REG32(RCC_BASE + 0x00)
#define RCC_CFGR REG32(RCC_BASE + 0x08)
#define RCC_PLLCFGR REG32(RCC_BASE + 0x0C)
#define RCC_AHB2ENR REG32(RCC_BASE + 0x4C)
#define RCC_APB1ENR1 REG32(RCC_BASE + 0x58)
#define RCC_APB1ENR2 REG32(RCC_BASE + 0x5C)
#define RCC_CCIPR REG32(RCC_BASE + 0x88)
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2_LPUART1EN (1u << 0)

/* PWR registers (RM0432, PWR chapter) */
#define PWR_BASE 0x40007000u
#define PWR_CR1 REG32(PWR_BASE + 0x00)
#define PWR_CR2 REG32(PWR_BASE + 0x04)
#define PWR_SR2 REG32(PWR_BASE + 0x14)
#define PWR_CR5 REG32(PWR_BASE + 0x80)
#define PWR_CR1_VOS_SHIFT 9
#define PWR_CR2_IOSV (1u << 9)
#define PWR_SR2_VOSF (1u << 10)
#define PWR_CR5_R1MODE (1u << 8)

/* FLASH_ACR (RM0432, embedded flash memory chapter) */
#define FLASH_ACR REG32(0x40022000u)
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_ACR_ICRST (1u << 11)
#define FLASH_ACR_DCRST (1u << 12)
#define DBGMCU_IDCODE REG32(0xE0042000u)

/* GPIO and LPUART1 registers (RM0432 GPIO and LPUART chapters) */
#define GPIO_BASE(port) (0x48000000u + 0x400u * (uint32_t)(port))
#define PORT_G 6
#define LPUART1_BASE 0x40008000u
#define UART_STATUS (LPUART1_BASE + 0x1C) /* LPUART_ISR: TXE bit 7, TC bit 6 */
#define UART_DATA (LPUART1_BASE + 0x28)   /* LPUART_TDR */
#define LPUART_CR1 REG32(LPUART1_BASE + 0x00)
#define LPUART_BRR REG32(LPUART1_BASE + 0x0C)
#define LPUART_CR1_UE (1u << 0)
#define LPUART_CR1_TE (1u << 3)


#define HSI_HZ 16000000u
/* HSE in bypass is ready within a few of its cycles; with no clock on OSC_IN
 * give up after about 0.1 s at the 4 MHz MSI the core runs from until the PLL. */
#define HSE_WAIT_LOOPS 100000u

static uint32_t core_hz = 4000000u; /* MSI 4 MHz after reset */
static uint32_t clock_src_hz;
static uint32_t flash_ws;
static uint32_t boost;
static int hse_failed;
static int uart_ready;
extern void (*const vector_table[])(void);

/* -- clocks ------------------------------------------------------------- */

static void hsi16_on(void)
{
    RCC_CR |= RCC_CR_HSION; /* HSI16 for LPUART1 and as PLL fallback */
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }
}

/* RM0432 "Number of wait states according to CPU clock (HCLK) frequency", range 1: one wait state per 20 MHz of HCLK. */
static void set_flash_wait_states(uint32_t hclk)
{
    uint32_t ws = (hclk - 1u) / 20000000u;
    uint32_t acr = (FLASH_ACR & ~(0xFu | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN)) | ws;
#if BOARD_ART
    /* ART (RM0432 "Read access latency", "Instruction/data cache"): reset the caches while disabled, then prefetch,
     * instruction cache and data cache on. */
    FLASH_ACR = (FLASH_ACR & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN)) | FLASH_ACR_ICRST | FLASH_ACR_DCRST;
    FLASH_ACR &= ~(FLASH_ACR_ICRST | FLASH_ACR_DCRST);
    acr |= FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
#endif
    FLASH_ACR = acr;                   /* LATENCY[3:0] before SYSCLK rises */
    while ((FLASH_ACR & 0xFu) != ws) { /* read back: the new latency is in effect */
    }
    flash_ws = ws;
}

static void clock_init(void)
{
    uint32_t want = BOARD_CORE_HZ;
    uint32_t src = stm32_pll_source_hz(RCC_BASE, BOARD_HSE_HZ, HSI_HZ, HSE_WAIT_LOOPS, &hse_failed);
    clock_src_hz = src;

    /* PLL: reference = src / PLLM in 2.66..16 MHz, aim for 8 MHz;
     * VCO = ref * PLLN (8..127) in 64..344 MHz; SYSCLK = VCO / PLLR. */
    uint32_t m = src / 8000000u;
    m = m == 0 ? 1 : (m > 16 ? 16 : m);
    uint32_t ref = src / m;
    uint32_t r = 2;
    while ((uint64_t)want * r < 64000000u && r < 8) {
        r += 2;
    }
    uint32_t n = (uint32_t)(((uint64_t)want * r + ref / 2) / ref);
    while ((uint64_t)ref * n > 344000000u || (uint64_t)ref * n / r > 120000000u) {
        n--;
    }
    n = n < 8 ? 8 : (n > 127 ? 127 : n);
    uint32_t sysclk = (uint32_t)((uint64_t)ref * n / r);

    /* Power: PWR clock, range 1 (VOS = 01), boost mode above 80 MHz. */
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    PWR_CR1 = (PWR_CR1 & ~(3u << PWR_CR1_VOS_SHIFT)) | (1u << PWR_CR1_VOS_SHIFT);
    while (PWR_SR2 & PWR_SR2_VOSF) {
    }
    uint32_t need_boost = sysclk > 80000000u;
    if (need_boost) {
        RCC_CFGR = (RCC_CFGR & ~(0xFu << 4)) | (8u << 4); /* step 1: HPRE = /2 during the change */
        PWR_CR5 &= ~PWR_CR5_R1MODE;                       /* step 2: range 1 boost */
        while (PWR_SR2 & PWR_SR2_VOSF) {
        }
        boost = 1;
    }
    set_flash_wait_states(sysclk);                        /* step 3: wait states for the final HCLK */

    /* PLL configured while off; PLLR output enabled (PLLREN), R divider in
     * PLLR[26:25] (00 = /2 ... 11 = /8), PLLM in PLLM[7:4] as m - 1. */
    RCC_PLLCFGR = (src == HSI_HZ ? 2u : 3u)              /* PLLSRC: 10 HSI16, 11 HSE */
                  | ((m - 1u) << 4) | (n << 8)
                  | (1u << 24) | (((r / 2u) - 1u) << 25);
    RCC_CR |= RCC_CR_PLLON;
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }
    /* step 4: switch (SW = 11, PLL), PPRE1 = PPRE2 = /1 */
    RCC_CFGR = (RCC_CFGR & ~((7u << 11) | (7u << 8) | 3u)) | 3u;
    while (((RCC_CFGR >> 2) & 3u) != 3u) {
    }
    if (need_boost) {
        /* step 5: at least 1 us at HCLK = SYSCLK / 2 (<= 60 MHz: 60 cycles), then AHB /1 */
        for (volatile uint32_t i = 0; i < 100u; i++) {
        }
        RCC_CFGR &= ~(0xFu << 4);
    }

    uint32_t cfg = RCC_PLLCFGR;
    uint32_t m_set = ((cfg >> 4) & 0xFu) + 1u, n_set = (cfg >> 8) & 0x7Fu, r_set = 2u * (((cfg >> 25) & 3u) + 1u);
    core_hz = (uint32_t)((uint64_t)(src / m_set) * n_set / r_set);
}

/* -- UART, GPIO ------------------------------------------------------------ */

static void uart_init(void)
{
    hsi16_on();
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1;
    PWR_CR2 |= PWR_CR2_IOSV;                     /* VDDIO2 valid, port G usable */
    RCC_AHB2ENR |= 1u << PORT_G;                 /* GPIOGEN */
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    RCC_CCIPR = (RCC_CCIPR & ~(3u << 10)) | (2u << 10); /* LPUART1SEL = HSI16 */
    (void)RCC_APB1ENR2;
    stm32_gpio_alternate(GPIO_BASE(PORT_G), 7, 8); /* PG7 = LPUART1_TX, AF8 */
    stm32_gpio_alternate(GPIO_BASE(PORT_G), 8, 8); /* PG8 = LPUART1_RX, AF8 */
    LPUART_CR1 = 0;
    /* LPUART BRR = 256 * f_ck / baud (f_ck / baud must be within 3..4096). */
    LPUART_BRR = (uint32_t)(((uint64_t)HSI_HZ * 256u + BOARD_UART_BAUD / 2) / BOARD_UART_BAUD);
    LPUART_CR1 = LPUART_CR1_TE | LPUART_CR1_UE;
    uart_ready = 1;
}

static void window_init(void)
{
    RCC_AHB2ENR |= 1u << BOARD_WINDOW_PORT;
    (void)RCC_AHB2ENR;
    stm32_gpio_output_low(GPIO_BASE(BOARD_WINDOW_PORT), BOARD_WINDOW_PIN); /* idle low */
}

void board_init(void)
{
    cortex_m_fpu_on_and_vtor(vector_table); /* FPU before any FP instruction; VTOR not left to option bytes */
    uart_init(); /* HSI16 kernel clock: usable before the PLL */
    clock_init();
    window_init();
    int dwt_ok = dwt_counter_start(0);
    board_puts("board: stm32l4r5 dev=0x");
    board_put_hex(DBGMCU_IDCODE, 8);
    board_put_field("sysclk", core_hz);
    stm32_put_clock_source("hsi16", clock_src_hz != HSI_HZ, hse_failed);
    board_put_field("boost", boost);
    board_put_field("flash_ws", flash_ws);
    board_put_field("art", BOARD_ART);
    board_put_banner_end(BOARD_WINDOW_PORT, BOARD_WINDOW_PIN, dwt_ok);
}

#include "stm32_board_tail.h" /* putc, DWT counter, window GPIO, exit */
