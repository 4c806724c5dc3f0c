/*
 * Board layer for the STM32H743 on a NUCLEO-H743ZI / NUCLEO-H743ZI2.
 *
 * Register addresses and bit positions follow RM0433 (STM32H742/743/750/753
 * reference manual, Rev 7): RCC at 0x58024400, PWR at 0x58024800, FLASH at
 * 0x52002000, SYSCFG at 0x58000400, GPIOx at 0x58020000 + 0x400 * x,
 * USART3 at 0x40004800; Cortex-M7 SCB, DWT and SysTick from the Armv7-M
 * architecture manual. Nothing here comes from a vendor HAL.
 *
 * Configured by -D defines from conf/board/nucleo_h743.yaml (defines:):
 *   BOARD_CORE_HZ      wanted core clock, up to 480 MHz (default 400 MHz)
 *   BOARD_HSE_HZ       0: PLL from the 64 MHz HSI; else the HSE in bypass
 *                      mode at that frequency (8 MHz: the ST-LINK's MCO)
 *   BOARD_ICACHE, BOARD_DCACHE   1 to enable the L1 caches (default 1)
 *   BOARD_UART_BAUD    USART3 baud rate (default 115200)
 *   BOARD_WINDOW_PORT, BOARD_WINDOW_PIN   the window GPIO (default PG12)
 *
 * Clock: supply from the LDO, voltage scale 1 up to 400 MHz, scale 0 (with
 * SYSCFG_PWRCR.ODEN) above; PLL1 from a 2 MHz reference, wide VCO, P output
 * as SYSCLK; AXI/AHB at most 240 MHz (scale 0) or 200 MHz (scale 1), APBs
 * at half that; flash wait states from RM0433 Table 17. The frequency that
 * board_core_hz() reports is computed back from the PLL registers as
 * written, so a request the PLL cannot hit exactly is reported as achieved.
 *
 * Counter: DWT CYCCNT (core cycles). It is 32-bit and wraps after about 9 s
 * at 480 MHz; SysTick interrupts every 2^24 cycles and folds the wraps into
 * a 64-bit count, so long cases stay correct. The SysTick handler costs a
 * few tens of cycles every 2^24 cycles (a few ppm); when it lands inside a
 * short timed repetition it shows as that repetition's max, which is one
 * reason the host reports the median.
 *
 * UART: USART3 on PD8 (TX) / PD9 (RX), AF7, the ST-LINK virtual COM port,
 * 8N1, clocked from hsi_ker_ck so the baud rate does not depend on SYSCLK.
 *
 * Window GPIO: push-pull output, idle LOW, driven HIGH from just before the
 * first timed repetition of a case to just after the last one
 * (board_window_begin/end). Default PG12 (Arduino D7 on the Zio connector
 * as read from UM2407; check your board's manual before wiring).
 */
#include <stdint.h>

#include "board.h"
#include "board_util.h"
#include "stm32_common.h"

#ifndef BOARD_CORE_HZ
#define BOARD_CORE_HZ 400000000u
#endif
#ifndef BOARD_HSE_HZ
#define BOARD_HSE_HZ 0u
#endif
#ifndef BOARD_ICACHE
#define BOARD_ICACHE 1
#endif
#ifndef BOARD_DCACHE
#define BOARD_DCACHE 1
#endif
#ifndef BOARD_UART_BAUD
#define BOARD_UART_BAUD 115200u
#endif
#ifndef BOARD_WINDOW_PORT
#define BOARD_WINDOW_PORT 6 /* 0 = A ... 6 = G ... 10 = K */
#endif
#ifndef BOARD_WINDOW_PIN
#define BOARD_WINDOW_PIN 12
#endif

#if BOARD_CORE_HZ > 480000000u
#error "BOARD_CORE_HZ above 480 MHz is outside the STM32H743 ratings"
#endif

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* RCC */
#define RCC_BASE 0x58024400u
#define RCC_CR REG32(RCC_BASE + 0x00)
#define RCC_CFGR REG32(RCC_BASE + 0x10)
#define RCC_D1CFGR REG32(RCC_BASE + 0x18)
#define RCC_D2CFGR REG32(RCC_BASE + 0x1C)
#define RCC_D3CFGR REG32(RCC_BASE + 0x20)
#define RCC_PLLCKSELR REG32(RCC_BASE + 0x28)
#define RCC_PLLCFGR REG32(RCC_BASE + 0x2C)
#define RCC_PLL1DIVR REG32(RCC_BASE + 0x30)
#define RCC_D2CCIP2R REG32(RCC_BASE + 0x54)
#define RCC_AHB4ENR REG32(RCC_BASE + 0xE0)
#define RCC_APB1LENR REG32(RCC_BASE + 0xE8)
#define RCC_APB4ENR REG32(RCC_BASE + 0xF4)
#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)

/* PWR, SYSCFG, FLASH, DBGMCU */
#define PWR_BASE 0x58024800u
#define PWR_CSR1 REG32(PWR_BASE + 0x04)
#define PWR_CR3 REG32(PWR_BASE + 0x0C)
#define PWR_D3CR REG32(PWR_BASE + 0x18)
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_CR3_BYPASS (1u << 0)
#define PWR_CR3_LDOEN (1u << 1)
#define PWR_D3CR_VOSRDY (1u << 13)
#define PWR_D3CR_VOS_SHIFT 14
#define SYSCFG_PWRCR REG32(0x58000400u + 0x2C)
#define FLASH_ACR REG32(0x52002000u)
#define DBGMCU_IDCODE REG32(0x5C001000u)

/* GPIO, USART3 */
#define GPIO_BASE(port) (0x58020000u + 0x400u * (uint32_t)(port))
#define PORT_D 3
#define USART3_BASE 0x40004800u
#define UART_STATUS (USART3_BASE + 0x1C) /* USART_ISR: TXE bit 7, TC bit 6 */
#define UART_DATA (USART3_BASE + 0x28)   /* USART_TDR */
#define USART_CR1 REG32(USART3_BASE + 0x00)
#define USART_BRR REG32(USART3_BASE + 0x0C)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_TE (1u << 3)
#define HSI_HZ 64000000u
#define HSE_WAIT_LOOPS 2000000u /* about 0.1 s at the 64 MHz HSI */

/* Cortex-M7 system registers */
#define SCB_CCR REG32(0xE000ED14u)
#define SCB_CCSIDR REG32(0xE000ED80u)
#define SCB_CSSELR REG32(0xE000ED84u)
#define SCB_ICIALLU REG32(0xE000EF50u)
#define SCB_DCISW REG32(0xE000EF60u)
#define SCB_CCR_DC (1u << 16)
#define SCB_CCR_IC (1u << 17)

static uint32_t core_hz = HSI_HZ;
static uint32_t clock_src_hz;
static uint32_t vos_used = 1;
static uint32_t flash_ws;
static uint32_t rev_id;
static int hse_failed;
static int uart_ready;
extern void (*const vector_table[])(void);

static inline void dsb_isb(void)
{
    __asm__ volatile("dsb 0xF\n\tisb 0xF" ::: "memory");
}

/* -- clocks ------------------------------------------------------------- */

static void power_up(uint32_t vos0)
{
    /* Supply from the LDO (NUCLEO-H743ZI wiring); PWR_CR3 takes one write
     * after power-on, so write the whole configuration at once. */
    PWR_CR3 = (PWR_CR3 & ~PWR_CR3_BYPASS) | PWR_CR3_LDOEN;
    while (!(PWR_CSR1 & PWR_CSR1_ACTVOSRDY)) {
    }
    /* Scale 1 (VOS = 0b11) first: scale 0 is scale 1 plus the overdrive. */
    PWR_D3CR = (PWR_D3CR & ~(3u << PWR_D3CR_VOS_SHIFT)) | (3u << PWR_D3CR_VOS_SHIFT);
    while (!(PWR_D3CR & PWR_D3CR_VOSRDY)) {
    }
    if (vos0) {
        RCC_APB4ENR |= 1u << 1; /* SYSCFGEN */
        (void)RCC_APB4ENR;
        SYSCFG_PWRCR |= 1u; /* ODEN */
        while (!(PWR_D3CR & PWR_D3CR_VOSRDY)) {
        }
        vos_used = 0;
    }
}

/* RM0433 Table 17, voltage scales 0 and 1: AXI clock -> wait states, WRHIGHFREQ. */
static void set_flash_wait_states(uint32_t hclk)
{
    uint32_t ws, wrhighfreq;
    if (hclk <= 70000000u) {
        ws = 0; wrhighfreq = 0;
    } else if (hclk <= 140000000u) {
        ws = 1; wrhighfreq = 1;
    } else if (hclk <= 185000000u) {
        ws = 2; wrhighfreq = 1;
    } else if (hclk <= 210000000u) {
        ws = 2; wrhighfreq = 2;
    } else if (hclk <= 225000000u) {
        ws = 3; wrhighfreq = 2;
    } else {
        ws = 4; wrhighfreq = 2;
    }
    FLASH_ACR = (FLASH_ACR & ~0x3Fu) | (wrhighfreq << 4) | ws;
    while ((FLASH_ACR & 0xFu) != ws) {
    }
    flash_ws = ws;
}

static void clock_init(void)
{
    uint32_t want = BOARD_CORE_HZ;
    rev_id = DBGMCU_IDCODE >> 16;  /* 0x1003 revision Y, 0x2003 revision V */
    if (want > 400000000u && rev_id == 0x1003u) {
        want = 400000000u;  /* revision Y silicon stops at 400 MHz */
    }
    uint32_t vos0 = want > 400000000u;
    uint32_t vco_max = vos0 ? 960000000u : 836000000u;
    uint32_t hclk_max = vos0 ? 240000000u : 200000000u;

    power_up(vos0);
    uint32_t src = stm32_pll_source_hz(RCC_BASE, BOARD_HSE_HZ, HSI_HZ, HSE_WAIT_LOOPS, &hse_failed);
    clock_src_hz = src;

    /* Reference near 2 MHz (PLL1RGE range 2-4 MHz), wide VCO (192 MHz up). */
    uint32_t m = src / 2000000u;
    m = m == 0 ? 1 : (m > 63 ? 63 : m);
    uint32_t ref = src / m;
    uint32_t p = 2;
    while ((uint64_t)want * p < 192000000u && p < 128) {
        p += 2;  /* PLL1 P must be even */
    }
    uint32_t n = (uint32_t)(((uint64_t)want * p + ref / 2) / ref);
    while ((uint64_t)ref * n > vco_max) {
        n--;
    }
    n = n < 4 ? 4 : (n > 512 ? 512 : n);
    uint32_t sysclk = (uint32_t)((uint64_t)ref * n / p);
    uint32_t rge = ref < 4000000u ? 1u : (ref < 8000000u ? 2u : 3u);

    /* Bus prescalers before the switch: AXI/AHB and APBs within their limits. */
    uint32_t hpre_div2 = sysclk > hclk_max;
    uint32_t hclk = hpre_div2 ? sysclk / 2 : sysclk;
    uint32_t ppre_div2 = hclk > hclk_max / 2;
    uint32_t ppre = ppre_div2 ? 4u : 0u; /* 0b100 = /2 */
    set_flash_wait_states(hclk);
    RCC_D1CFGR = (hpre_div2 ? 8u : 0u) | (ppre << 4);  /* HPRE, D1PPRE; D1CPRE = /1 */
    RCC_D2CFGR = (ppre << 4) | (ppre << 8);             /* D2PPRE1, D2PPRE2 */
    RCC_D3CFGR = ppre << 4;                             /* D3PPRE */

    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~((0x3Fu << 4) | 3u)) | (m << 4) | (src == HSI_HZ ? 0u : 2u);
    RCC_PLLCFGR = (RCC_PLLCFGR & ~0x7000Fu) | (rge << 2) | (1u << 16); /* wide VCO, DIVP1EN */
    RCC_PLL1DIVR = (n - 1) | ((p - 1) << 9) | ((p - 1) << 16) | ((p - 1) << 24);
    RCC_CR |= RCC_CR_PLL1ON;
    while (!(RCC_CR & RCC_CR_PLL1RDY)) {
    }
    RCC_CFGR = (RCC_CFGR & ~7u) | 3u; /* SW = PLL1 */
    while (((RCC_CFGR >> 3) & 7u) != 3u) {
    }

    /* Report what the registers now say, not what was asked for. */
    uint32_t divr = RCC_PLL1DIVR;
    uint32_t m_set = (RCC_PLLCKSELR >> 4) & 0x3Fu;
    uint32_t n_set = (divr & 0x1FFu) + 1;
    uint32_t p_set = ((divr >> 9) & 0x7Fu) + 1;
    core_hz = (uint32_t)((uint64_t)(src / m_set) * n_set / p_set);
}

/* -- caches, counter, UART, GPIO ----------------------------------------- */

static void caches_init(void)
{
#if BOARD_ICACHE
    dsb_isb();
    SCB_ICIALLU = 0;
    dsb_isb();
    SCB_CCR |= SCB_CCR_IC;
    dsb_isb();
#endif
#if BOARD_DCACHE
    SCB_CSSELR = 0; /* level 1 data cache */
    dsb_isb();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1;
    uint32_t line_shift = (ccsidr & 7u) + 4;
    uint32_t way_shift = ways > 1 ? (uint32_t)__builtin_clz(ways - 1) : 0;
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            SCB_DCISW = (way << way_shift) | (set << line_shift);
        }
    }
    dsb_isb();
    SCB_CCR |= SCB_CCR_DC;
    dsb_isb();
#endif
}

static void uart_init(void)
{
    RCC_AHB4ENR |= 1u << PORT_D;
    RCC_D2CCIP2R = (RCC_D2CCIP2R & ~7u) | 3u; /* USART234578SEL = hsi_ker_ck */
    RCC_APB1LENR |= 1u << 18;                 /* USART3EN */
    (void)RCC_APB1LENR;
    stm32_gpio_alternate(GPIO_BASE(PORT_D), 8, 7); /* PD8 = USART3_TX, AF7 */
    stm32_gpio_alternate(GPIO_BASE(PORT_D), 9, 7); /* PD9 = USART3_RX, AF7 */
    USART_CR1 = 0;
    USART_BRR = (HSI_HZ + BOARD_UART_BAUD / 2) / BOARD_UART_BAUD;
    USART_CR1 = USART_CR1_TE | USART_CR1_UE;
    uart_ready = 1;
}

static void window_init(void)
{
    RCC_AHB4ENR |= 1u << BOARD_WINDOW_PORT;
    (void)RCC_AHB4ENR;
    stm32_gpio_output_low(GPIO_BASE(BOARD_WINDOW_PORT), BOARD_WINDOW_PIN); /* idle low */
}

void board_init(void)
{
    cortex_m_fpu_on_and_vtor(vector_table); /* FPU before any FP instruction; VTOR not left to option bytes */
    uart_init();             /* kernel clock is the HSI: usable before the PLL */
    clock_init();
    caches_init();
    window_init();
    int dwt_ok = dwt_counter_start(1); /* the Cortex-M7 DWT is behind the CoreSight lock */
    /* One unframed line for the log (the host keeps it, never parses it). */
    board_puts("board: stm32h743 rev=0x");
    board_put_hex(rev_id, 4);
    board_put_field("sysclk", core_hz);
    stm32_put_clock_source("hsi", clock_src_hz != HSI_HZ, hse_failed);
    board_put_field("vos", vos_used);
    board_put_field("flash_ws", flash_ws);
    board_put_field("icache", BOARD_ICACHE);
    board_put_field("dcache", BOARD_DCACHE);
    board_put_banner_end(BOARD_WINDOW_PORT, BOARD_WINDOW_PIN, dwt_ok);
}

#include "stm32_board_tail.h" /* putc, DWT counter, window GPIO, exit */
