/*
 * Board layer for the STM32U575ZI-Q on a NUCLEO-U575ZI-Q (MB1549, Nucleo-144),
 * Cortex-M33 with the DSP extension and FPU.
 *
 * TrustZone: this layer runs the device NON-TZ -- option bit TZEN = 0, as
 * ST ships it -- so the non-secure aliases are the only addresses used
 * (flash 0x08000000, peripherals 0x4xxxxxxx) and no SAU/GTZC set-up is
 * needed. With TZEN = 1 the core boots from the secure alias (SECBOOTADD0)
 * and this image does not run; the start-up line prints tzen= so a board
 * with TrustZone enabled is recognised.
 *
 * Registers are written from RM0456 (STM32U5 reference manual, Rev 5):
 * memory map (non-secure aliases): RCC 0x46020C00, PWR
 * 0x46020800, FLASH registers 0x40022000, ICACHE 0x40030400, GPIOA..I
 * 0x42020000 + 0x400 * port, USART1 0x40013800; DBGMCU_IDCODE 0xE0044000.
 * Cortex-M33 DWT and SysTick through board_util.c. No vendor HAL.
 *
 * Configured by -D defines from conf/board/nucleo_u575.yaml (defines:):
 *   BOARD_CORE_HZ   wanted core clock, up to 160 MHz (default 160 MHz)
 *   BOARD_HSE_HZ    0: PLL1 from the 16 MHz HSI16 (default: whether the
 *                   board feeds the ST-LINK/V3E MCO to OSC_IN by default, and
 *                   at what frequency, could not be confirmed from UM2861);
 *                   else try the HSE in bypass mode at that frequency,
 *                   falling back to the HSI16
 *   BOARD_ICACHE    1: the 8 KB instruction cache (ICACHE) on
 *   BOARD_UART_BAUD USART1 baud rate (default 115200)
 *   BOARD_WINDOW_PORT, BOARD_WINDOW_PIN   the window GPIO (default PF13)
 *
 * Clock: LDO regulator (the reset selection, PWR_CR3 REGSEL = 0), voltage
 * range 1 (PWR_VOSR VOS = 11) and the EPOD booster (BOOSTEN) above 55 MHz,
 * as RM0456's PWR chapter ("Dynamic voltage scaling management") requires;
 * the booster's clock is PLL1's source divided by PLL1MBOOST and must be
 * configured before BOOSTEN. PLL1 (RCC chapter, "PLL"): reference 4-16 MHz
 * (PLL1RGE), VCO 128-544 MHz, PLL1R output as SYSCLK; AHB, APB1-3 = SYSCLK.
 * Flash wait states from RM0456 Table 54 ("Number of wait states according
 * to CPU clock (HCLK) frequency (LPM = 0)"), range 1: one wait state per
 * 32 MHz, 4 WS at 160 MHz. The switch to PLL1 above 80 MHz goes through an
 * AHB /2 step held for at least 1 us (RCC chapter, "System clock (SYSCLK)
 * selection"). board_core_hz() is computed back from the PLL1 registers.
 *
 * UART: USART1 on PA9 (TX) / PA10 (RX), AF7 -- the ST-LINK/V3E virtual COM
 * port on NUCLEO-U575ZI-Q (UM2861, "USART virtual communication port":
 * SB32/SB34 on). Kernel clock HSI16 (RCC_CCIPR1 USART1SEL = 10), so the baud
 * rate does not depend on SYSCLK.
 *
 * Window GPIO: PF13 = Arduino D7 on the Zio connector (UM2861 connector
 * tables), push-pull, idle low, high inside a timed window.
 */
#include <stdint.h>

#include "board.h"
#include "board_util.h"
#include "stm32_common.h"

#ifndef BOARD_CORE_HZ
#define BOARD_CORE_HZ 160000000u
#endif
#ifndef BOARD_HSE_HZ
#define BOARD_HSE_HZ 0u
#endif
#ifndef BOARD_ICACHE
#define BOARD_ICACHE 1
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

#if BOARD_CORE_HZ > 160000000u
#error "BOARD_CORE_HZ above 160 MHz is outside the STM32U575 ratings"
#endif

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* RCC registers (RM0456, RCC chapter) */
#define RCC_BASE 0x46020C00u
#define RCC_CR REG32(RCC_BASE + 0x00)
#define RCC_CFGR1 REG32(RCC_BASE + 0x1C)
#define RCC_CFGR2 REG32(RCC_BASE + 0x20)
#define RCC_CFGR3 REG32(RCC_BASE + 0x24)
#define RCC_PLL1CFGR REG32(RCC_BASE + 0x28)
#define RCC_PLL1DIVR REG32(RCC_BASE + 0x34)
#define RCC_AHB2ENR1 REG32(RCC_BASE + 0x8C)
#define RCC_AHB3ENR REG32(RCC_BASE + 0x94)
#define RCC_APB2ENR REG32(RCC_BASE + 0xA4)
#define RCC_CCIPR1 REG32(RCC_BASE + 0xE0)
#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)
#define RCC_AHB3ENR_PWREN (1u << 2)
#define RCC_APB2ENR_USART1EN (1u << 14)

/* PWR registers (RM0456, PWR chapter) */
#define PWR_BASE 0x46020800u
#define PWR_VOSR REG32(PWR_BASE + 0x0C)
#define PWR_VOSR_BOOSTRDY (1u << 14)
#define PWR_VOSR_VOSRDY (1u << 15)
#define PWR_VOSR_VOS_SHIFT 16
#define PWR_VOSR_BOOSTEN (1u << 18)

/* FLASH and ICACHE registers (RM0456 FLASH and ICACHE chapters) */
#define FLASH_ACR REG32(0x40022000u)
#define FLASH_OPTR REG32(0x40022040u) /* TZEN is bit 31 */
#define FLASH_ACR_PRFTEN (1u << 8)
#define ICACHE_CR REG32(0x40030400u)
#define ICACHE_SR REG32(0x40030404u)
#define ICACHE_CR_EN (1u << 0)
#define ICACHE_SR_BUSYF (1u << 0)
#define DBGMCU_IDCODE REG32(0xE0044000u)

/* GPIO and USART1 registers (RM0456 GPIO and USART chapters) */
#define GPIO_BASE(port) (0x42020000u + 0x400u * (uint32_t)(port))
#define PORT_A 0
#define USART1_BASE 0x40013800u
#define UART_STATUS (USART1_BASE + 0x1C) /* USART_ISR: TXE bit 7, TC bit 6 */
#define UART_DATA (USART1_BASE + 0x28)   /* USART_TDR */
#define USART_CR1 REG32(USART1_BASE + 0x00)
#define USART_BRR REG32(USART1_BASE + 0x0C)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_TE (1u << 3)


#define HSI_HZ 16000000u
/* HSE in bypass is ready within a few of its cycles; with no clock on OSC_IN
 * give up after about 0.1 s at the 4 MHz MSIS the core runs from until the PLL. */
#define HSE_WAIT_LOOPS 100000u

static uint32_t core_hz = 4000000u; /* MSIS 4 MHz after reset */
static uint32_t clock_src_hz;
static uint32_t flash_ws;
static uint32_t boost;
static int hse_failed;
static int uart_ready;
extern void (*const vector_table[])(void);

/* -- clocks ------------------------------------------------------------- */

static void hsi16_on(void)
{
    RCC_CR |= RCC_CR_HSION; /* HSI16 for USART1 and as PLL1 fallback */
    while (!(RCC_CR & RCC_CR_HSIRDY)) {
    }
}

/* RM0456 Table 54 "Number of wait states according to CPU clock (HCLK) frequency", range 1, LPM = 0: one wait state per 32 MHz of HCLK. */
static void set_flash_wait_states(uint32_t hclk)
{
    uint32_t ws = (hclk - 1u) / 32000000u;
    FLASH_ACR = (FLASH_ACR & ~0xFu) | ws | FLASH_ACR_PRFTEN; /* LATENCY, prefetch */
    while ((FLASH_ACR & 0xFu) != ws) {                        /* read back before SYSCLK rises */
    }
    flash_ws = ws;
}

static void clock_init(void)
{
    uint32_t want = BOARD_CORE_HZ;
    uint32_t src = stm32_pll_source_hz(RCC_BASE, BOARD_HSE_HZ, HSI_HZ, HSE_WAIT_LOOPS, &hse_failed);
    clock_src_hz = src;

    /* PLL1: reference = src / PLL1M in 4..16 MHz; VCO = ref * PLL1N
     * (4..512) in 128..544 MHz; SYSCLK = VCO / PLL1R (1 or even). */
    uint32_t m = 1;
    while (src / m > 16000000u) {
        m++;
    }
    uint32_t ref = src / m;
    uint32_t r = 2;
    while ((uint64_t)want * r < 128000000u && r < 128) {
        r += 2;
    }
    uint32_t n = (uint32_t)(((uint64_t)want * r + ref / 2) / ref);
    while ((uint64_t)ref * n > 544000000u || (uint64_t)ref * n / r > 160000000u) {
        n--;
    }
    uint32_t sysclk = (uint32_t)((uint64_t)ref * n / r);
    uint32_t rge = ref > 8000000u ? 3u : 0u; /* PLL1RGE: 00 = 4-8 MHz, 11 = 8-16 MHz */
    /* EPOD booster clock = PLL1 source / PLL1MBOOST prescaler, 4..16 MHz
     * ("EPOD booster"): field 0 = /1, 1 = /2. 8 MHz for both sources used
     * here (HSI16 /2, an 8 MHz HSE /1); higher fields are not needed. */
    uint32_t mboost = src > 8000000u ? 1u : 0u;

    /* PLL1 source, M, range and booster prescaler while PLL1 is off. */
    RCC_PLL1CFGR = (src == HSI_HZ ? 2u : 3u)          /* PLL1SRC: 10 HSI16, 11 HSE */
                   | (rge << 2) | ((m - 1u) << 8) | (mboost << 12)
                   | (1u << 18);                      /* PLL1REN: R output on */
    RCC_PLL1DIVR = (n - 1u) | ((r - 1u) << 24) | (1u << 9) | (1u << 16); /* N, R; P, Q = /2 */

    /* Power: PWR clock, range 1, then the booster when above 55 MHz. */
    RCC_AHB3ENR |= RCC_AHB3ENR_PWREN;
    (void)RCC_AHB3ENR;
    PWR_VOSR = (PWR_VOSR & ~(3u << PWR_VOSR_VOS_SHIFT)) | (3u << PWR_VOSR_VOS_SHIFT);
    while (!(PWR_VOSR & PWR_VOSR_VOSRDY)) {
    }
    if (sysclk > 55000000u) {
        PWR_VOSR |= PWR_VOSR_BOOSTEN;
        while (!(PWR_VOSR & PWR_VOSR_BOOSTRDY)) {
        }
        boost = 1;
    }
    set_flash_wait_states(sysclk);

    RCC_CR |= RCC_CR_PLL1ON;
    while (!(RCC_CR & RCC_CR_PLL1RDY)) {
    }
    /* Above 80 MHz: AHB /2 across the switch, APB1-3 /1 (RCC_CFGR2, RCC_CFGR3). */
    uint32_t step = sysclk > 80000000u;
    RCC_CFGR2 = step ? 8u : 0u;                       /* HPRE = 1000: /2; PPRE1 = PPRE2 = /1 */
    RCC_CFGR3 = 0;                                    /* PPRE3 = /1 */
    RCC_CFGR1 = (RCC_CFGR1 & ~3u) | 3u;               /* SW = 11: PLL1R */
    while (((RCC_CFGR1 >> 2) & 3u) != 3u) {
    }
    if (step) {
        for (volatile uint32_t i = 0; i < 100u; i++) { /* >= 1 us at <= 80 MHz */
        }
        RCC_CFGR2 = 0;                                /* HPRE = /1 */
    }

    uint32_t cfg = RCC_PLL1CFGR, div = RCC_PLL1DIVR;
    uint32_t m_set = ((cfg >> 8) & 0xFu) + 1u, n_set = (div & 0x1FFu) + 1u, r_set = ((div >> 24) & 0x7Fu) + 1u;
    core_hz = (uint32_t)((uint64_t)(src / m_set) * n_set / r_set);
}

static void icache_init(void)
{
#if BOARD_ICACHE
    while (ICACHE_SR & ICACHE_SR_BUSYF) { /* the invalidation started at reset must end first */
    }
    ICACHE_CR |= ICACHE_CR_EN;            /* 2-way (WAYSEL reset value), 8 KB */
#endif
}

/* -- UART, GPIO ------------------------------------------------------------ */

static void uart_init(void)
{
    hsi16_on();
    RCC_AHB2ENR1 |= 1u << PORT_A;                    /* GPIOAEN */
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    RCC_CCIPR1 = (RCC_CCIPR1 & ~3u) | 2u;            /* USART1SEL = HSI16 */
    (void)RCC_APB2ENR;
    stm32_gpio_alternate(GPIO_BASE(PORT_A), 9, 7);  /* PA9 = USART1_TX, AF7 */
    stm32_gpio_alternate(GPIO_BASE(PORT_A), 10, 7); /* PA10 = USART1_RX, AF7 */
    USART_CR1 = 0;
    /* 16x oversampling, PRESC = /1 (reset): BRR = f_ck / baud. */
    USART_BRR = (HSI_HZ + BOARD_UART_BAUD / 2) / BOARD_UART_BAUD;
    USART_CR1 = USART_CR1_TE | USART_CR1_UE;
    uart_ready = 1;
}

static void window_init(void)
{
    RCC_AHB2ENR1 |= 1u << BOARD_WINDOW_PORT;
    (void)RCC_AHB2ENR1;
    stm32_gpio_output_low(GPIO_BASE(BOARD_WINDOW_PORT), BOARD_WINDOW_PIN); /* idle low */
}

void board_init(void)
{
    cortex_m_fpu_on_and_vtor(vector_table); /* FPU before any FP instruction; VTOR not left to option bytes */
    uart_init(); /* HSI16 kernel clock: usable before PLL1 */
    clock_init();
    icache_init();
    window_init();
    int dwt_ok = dwt_counter_start(0);
    board_puts("board: stm32u575 dev=0x");
    board_put_hex(DBGMCU_IDCODE, 8);
    board_put_field("tzen", FLASH_OPTR >> 31);
    board_put_field("sysclk", core_hz);
    stm32_put_clock_source("hsi16", clock_src_hz != HSI_HZ, hse_failed);
    board_put_field("boost", boost);
    board_put_field("flash_ws", flash_ws);
    board_put_field("icache", BOARD_ICACHE);
    board_put_banner_end(BOARD_WINDOW_PORT, BOARD_WINDOW_PIN, dwt_ok);
}

#include "stm32_board_tail.h" /* putc, DWT counter, window GPIO, exit */
