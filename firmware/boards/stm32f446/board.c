/*
 * Board layer for the STM32F446RE on a NUCLEO-F446RE (MB1136, Nucleo-64).
 *
 * Registers are written from RM0390 (STM32F446xx reference manual, Rev 6):
 * memory map ("Register boundary addresses" table): RCC 0x40023800, FLASH interface
 * 0x40023C00, PWR 0x40007000, GPIOA..H 0x40020000 + 0x400 * port, USART2
 * 0x40004400; DBGMCU_IDCODE 0xE0042000 (DBGMCU chapter). Cortex-M4 DWT and
 * SysTick through board_util.c. Nothing here comes from a vendor HAL.
 *
 * Configured by -D defines from conf/board/nucleo_f446.yaml (defines:):
 *   BOARD_CORE_HZ   wanted core clock, up to 180 MHz (default 180 MHz)
 *   BOARD_HSE_HZ    0: PLL from the 16 MHz HSI; else the HSE in bypass mode
 *                   at that frequency (8 MHz: the ST-LINK's MCO, which
 *                   MB1136 rev C and later wire to OSC_IN by default, UM1724
 *                   section "OSC clock supply")
 *   BOARD_ART       1: ART accelerator on (prefetch, I-cache, D-cache)
 *   BOARD_UART_BAUD USART2 baud rate (default 115200)
 *   BOARD_WINDOW_PORT, BOARD_WINDOW_PIN   the window GPIO (default PA8)
 *
 * Clock: voltage scale 1 and over-drive (RM0390, PWR chapter, "Entering
 * Over-drive mode") above 168 MHz; PLL from a 2 MHz reference (RM0390
 * recommends 2 MHz at the VCO input to limit jitter), VCO 100-432 MHz, PLLP
 * output as SYSCLK; AHB = SYSCLK, APB1 <= 45 MHz, APB2 <= 90 MHz; flash wait
 * states from RM0390's table ("Number of wait states according to CPU clock
 * (HCLK) frequency", 2.7-3.6 V column: 1 WS per 30 MHz, 5 WS at 180 MHz).
 * board_core_hz() is computed back from the PLL registers as written.
 *
 * UART: USART2 on PA2 (TX) / PA3 (RX), AF7 -- the ST-LINK virtual COM port
 * on NUCLEO-F446RE (UM1724, "USART communication": SB13/SB14 on by
 * default). Its kernel clock is PCLK1, so it is set up after the clock.
 *
 * Window GPIO: PA8 = Arduino D7 on the Nucleo-64 (UM1724, Arduino
 * connector table), push-pull, idle low, high inside a timed window.
 */
#include <stdint.h>

#include "board.h"
#include "board_util.h"
#include "stm32_common.h"

#ifndef BOARD_CORE_HZ
#define BOARD_CORE_HZ 180000000u
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
#define BOARD_WINDOW_PORT 0 /* 0 = A ... 7 = H */
#endif
#ifndef BOARD_WINDOW_PIN
#define BOARD_WINDOW_PIN 8
#endif

#if BOARD_CORE_HZ > 180000000u
#error "BOARD_CORE_HZ above 180 MHz is outside the STM32F446 ratings"
#endif

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* RCC registers (RM0390, RCC chapter) */
#define RCC_BASE 0x40023800u
#define RCC_CR REG32(RCC_BASE + 0x00)
#define RCC_PLLCFGR REG32(RCC_BASE + 0x04)
#define RCC_CFGR REG32(RCC_BASE + 0x08)
#define RCC_AHB1ENR REG32(RCC_BASE + 0x30)
#define RCC_APB1ENR REG32(RCC_BASE + 0x40)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define RCC_APB1ENR_PWREN (1u << 28)

/* PWR registers (RM0390, PWR chapter) */
#define PWR_BASE 0x40007000u
#define PWR_CR REG32(PWR_BASE + 0x00)
#define PWR_CSR REG32(PWR_BASE + 0x04)
#define PWR_CR_VOS_SHIFT 14
#define PWR_CR_ODEN (1u << 16)
#define PWR_CR_ODSWEN (1u << 17)
#define PWR_CSR_ODRDY (1u << 16)
#define PWR_CSR_ODSWRDY (1u << 17)

/* FLASH_ACR (RM0390, embedded flash memory chapter) */
#define FLASH_ACR REG32(0x40023C00u)
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_ACR_ICRST (1u << 11)
#define FLASH_ACR_DCRST (1u << 12)
#define DBGMCU_IDCODE REG32(0xE0042000u)

/* GPIO and USART2 registers (RM0390 GPIO and USART chapters: the F4 USART layout) */
#define GPIO_BASE(port) (0x40020000u + 0x400u * (uint32_t)(port))
#define PORT_A 0
#define USART2_BASE 0x40004400u
#define UART_STATUS (USART2_BASE + 0x00) /* USART_SR: TXE bit 7, TC bit 6 */
#define UART_DATA (USART2_BASE + 0x04)   /* USART_DR */
#define USART_BRR REG32(USART2_BASE + 0x08)
#define USART_CR1 REG32(USART2_BASE + 0x0C)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_UE (1u << 13)


#define HSI_HZ 16000000u
/* HSE in bypass is ready within a few of its cycles; with no clock on OSC_IN
 * give up after about 0.1 s at the 16 MHz HSI the core runs from until the PLL. */
#define HSE_WAIT_LOOPS 400000u

static uint32_t core_hz = HSI_HZ;
static uint32_t pclk1_hz = HSI_HZ;
static uint32_t clock_src_hz;
static uint32_t flash_ws;
static uint32_t overdrive;
static int hse_failed;
static int uart_ready;
extern void (*const vector_table[])(void);

/* -- clocks ------------------------------------------------------------- */

/* RM0390 "Number of wait states according to CPU clock (HCLK) frequency", 2.7-3.6 V: one wait state per 30 MHz of HCLK. */
static void set_flash_wait_states(uint32_t hclk)
{
    uint32_t ws = (hclk - 1u) / 30000000u;
    uint32_t acr = (uint32_t)ws;
#if BOARD_ART
    /* ART: reset both caches while they are off (RM0390 "Adaptive real-time
     * memory accelerator"), then prefetch + I-cache + D-cache on. */
    FLASH_ACR = (FLASH_ACR & ~(FLASH_ACR_ICEN | FLASH_ACR_DCEN)) | FLASH_ACR_ICRST | FLASH_ACR_DCRST;
    FLASH_ACR &= ~(FLASH_ACR_ICRST | FLASH_ACR_DCRST);
    acr |= FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
#endif
    FLASH_ACR = acr;                      /* LATENCY[3:0] first: before SYSCLK rises */
    while ((FLASH_ACR & 0xFu) != ws) {    /* check the new latency is taken */
    }
    flash_ws = ws;
}

static void clock_init(void)
{
    uint32_t want = BOARD_CORE_HZ;
    uint32_t src = stm32_pll_source_hz(RCC_BASE, BOARD_HSE_HZ, HSI_HZ, HSE_WAIT_LOOPS, &hse_failed);
    clock_src_hz = src;

    /* PLL: VCO input 2 MHz (PLLM 2..63), VCO = 2 MHz * PLLN (50..432) in
     * 100..432 MHz, SYSCLK = VCO / PLLP with PLLP in {2, 4, 6, 8}. */
    uint32_t m = src / 2000000u;
    uint32_t ref = src / m;
    uint32_t p = 2;
    while ((uint64_t)want * p < 100000000u && p < 8) {
        p += 2;
    }
    uint32_t n = (uint32_t)(((uint64_t)want * p + ref / 2) / ref);
    while ((uint64_t)ref * n > 432000000u || (uint64_t)ref * n / p > 180000000u) {
        n--;
    }
    n = n < 50 ? 50 : n;
    uint32_t sysclk = (uint32_t)((uint64_t)ref * n / p);

    /* Power: PWR clock on, regulator scale 1 (PWR_CR VOS = 0b11). */
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC_APB1ENR;
    PWR_CR = (PWR_CR & ~(3u << PWR_CR_VOS_SHIFT)) | (3u << PWR_CR_VOS_SHIFT);

    /* PLL configured while off; PLLQ/PLLR keep their reset values. */
    RCC_PLLCFGR = (RCC_PLLCFGR & ~((1u << 22) | (3u << 16) | (0x1FFu << 6) | 0x3Fu))
                  | (src == HSI_HZ ? 0u : (1u << 22))   /* PLLSRC: 0 HSI, 1 HSE */
                  | (((p / 2u) - 1u) << 16)             /* PLLP: 00 = /2 ... 11 = /8 */
                  | (n << 6) | m;                       /* PLLN, PLLM */
    RCC_CR |= RCC_CR_PLLON;

    /* Over-drive above 168 MHz, ODEN, wait ODRDY, ODSWEN, wait ODSWRDY,
     * while the system clock is still the HSI/HSE. */
    if (sysclk > 168000000u) {
        PWR_CR |= PWR_CR_ODEN;
        while (!(PWR_CSR & PWR_CSR_ODRDY)) {
        }
        PWR_CR |= PWR_CR_ODSWEN;
        while (!(PWR_CSR & PWR_CSR_ODSWRDY)) {
        }
        overdrive = 1;
    }

    /* Wait states and bus prescalers before the switch (FLASH_ACR, RCC_CFGR):
     * HPRE = /1, PPRE1 such that APB1 <= 45 MHz, PPRE2 such that APB2 <= 90 MHz. */
    set_flash_wait_states(sysclk);
    uint32_t ppre1 = 0, div1 = 1, ppre2 = 0, div2 = 1;
    while (sysclk / div1 > 45000000u) {
        div1 *= 2;
        ppre1 = ppre1 ? ppre1 + 1 : 4u; /* 0b100 = /2, 0b101 = /4, 0b110 = /8 */
    }
    while (sysclk / div2 > 90000000u) {
        div2 *= 2;
        ppre2 = ppre2 ? ppre2 + 1 : 4u;
    }
    RCC_CFGR = (RCC_CFGR & ~((7u << 13) | (7u << 10) | (0xFu << 4))) | (ppre2 << 13) | (ppre1 << 10);

    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }
    RCC_CFGR = (RCC_CFGR & ~3u) | 2u; /* SW = 0b10, PLL_P */
    while (((RCC_CFGR >> 2) & 3u) != 2u) {
    }

    /* Report what the registers now say. */
    uint32_t cfg = RCC_PLLCFGR;
    uint32_t m_set = cfg & 0x3Fu, n_set = (cfg >> 6) & 0x1FFu, p_set = 2u * (((cfg >> 16) & 3u) + 1u);
    core_hz = (uint32_t)((uint64_t)(src / m_set) * n_set / p_set);
    pclk1_hz = core_hz / div1;
}

/* -- UART, GPIO ------------------------------------------------------------ */

static void uart_init(void)
{
    RCC_AHB1ENR |= 1u << PORT_A;            /* GPIOAEN */
    RCC_APB1ENR |= RCC_APB1ENR_USART2EN;
    (void)RCC_APB1ENR;
    stm32_gpio_alternate(GPIO_BASE(PORT_A), 2, 7); /* PA2 = USART2_TX, AF7 */
    stm32_gpio_alternate(GPIO_BASE(PORT_A), 3, 7); /* PA3 = USART2_RX, AF7 */
    USART_CR1 = 0;
    /* 16x oversampling: BRR = f_PCLK1 / baud as 12.4 fixed point. */
    USART_BRR = (pclk1_hz + BOARD_UART_BAUD / 2) / BOARD_UART_BAUD;
    USART_CR1 = USART_CR1_UE | USART_CR1_TE;
    uart_ready = 1;
}

static void window_init(void)
{
    RCC_AHB1ENR |= 1u << BOARD_WINDOW_PORT;
    (void)RCC_AHB1ENR;
    stm32_gpio_output_low(GPIO_BASE(BOARD_WINDOW_PORT), BOARD_WINDOW_PIN); /* idle low */
}

void board_init(void)
{
    cortex_m_fpu_on_and_vtor(vector_table); /* FPU before any FP instruction; VTOR not left to option bytes */
    clock_init();
    uart_init(); /* after the clock: the USART2 kernel clock is PCLK1 */
    window_init();
    int dwt_ok = dwt_counter_start(0);
    board_puts("board: stm32f446 dev=0x");
    board_put_hex(DBGMCU_IDCODE, 8);
    board_put_field("sysclk", core_hz);
    stm32_put_clock_source("hsi", clock_src_hz != HSI_HZ, hse_failed);
    board_put_field("overdrive", overdrive);
    board_put_field("flash_ws", flash_ws);
    board_put_field("art", BOARD_ART);
    board_put_banner_end(BOARD_WINDOW_PORT, BOARD_WINDOW_PIN, dwt_ok);
}

#include "stm32_board_tail.h" /* putc, DWT counter, window GPIO, exit */
