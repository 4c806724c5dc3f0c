/*
 * STM32 register blocks shared by the F4, L4+, U5 and H7 board layers
 * (stm32_common.h). Boards of other vendors never call these; the linker's
 * --gc-sections drops them from their images.
 */
#include <stdint.h>

#include "board_util.h"
#include "stm32_common.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define GPIO_MODER(base) REG32((base) + 0x00)
#define GPIO_OSPEEDR(base) REG32((base) + 0x08)
#define GPIO_BSRR(base) REG32((base) + 0x18)
#define GPIO_AFR(base, pin) REG32((base) + 0x20 + 4u * ((pin) >> 3)) /* AFRL pins 0-7, AFRH 8-15 */
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_HSEBYP (1u << 18)

void stm32_gpio_output_low(uint32_t gpio_base, unsigned pin)
{
    GPIO_BSRR(gpio_base) = 1u << (pin + 16);                     /* low before it drives */
    GPIO_OSPEEDR(gpio_base) |= 3u << (2 * pin);                  /* very high speed */
    GPIO_MODER(gpio_base) = (GPIO_MODER(gpio_base) & ~(3u << (2 * pin))) | (1u << (2 * pin)); /* 01: output */
}

void stm32_gpio_write(uint32_t gpio_base, unsigned pin, int high)
{
    GPIO_BSRR(gpio_base) = high ? 1u << pin : 1u << (pin + 16);  /* set or reset half of BSRR */
}

void stm32_gpio_alternate(uint32_t gpio_base, unsigned pin, unsigned af)
{
    unsigned shift = 4 * (pin & 7);
    GPIO_AFR(gpio_base, pin) = (GPIO_AFR(gpio_base, pin) & ~(0xFu << shift)) | ((af & 0xFu) << shift);
    GPIO_MODER(gpio_base) = (GPIO_MODER(gpio_base) & ~(3u << (2 * pin))) | (2u << (2 * pin)); /* 10: AF */
}

uint32_t stm32_pll_source_hz(uint32_t rcc_cr_addr, uint32_t hse_hz, uint32_t hsi_hz,
                             uint32_t wait_loops, int *hse_failed)
{
    if (hse_hz == 0u) {
        return hsi_hz;
    }
    REG32(rcc_cr_addr) |= RCC_CR_HSEBYP; /* only while HSEON = 0 */
    REG32(rcc_cr_addr) |= RCC_CR_HSEON;
    for (uint32_t i = 0; i < wait_loops; i++) {
        if (REG32(rcc_cr_addr) & RCC_CR_HSERDY) {
            return hse_hz;
        }
    }
    REG32(rcc_cr_addr) &= ~RCC_CR_HSEON; /* no clock on OSC_IN */
    *hse_failed = 1;
    return hsi_hz;
}

void stm32_put_clock_source(const char *hsi_name, int hse_used, int hse_failed)
{
    board_puts(" src=");
    board_puts(hse_used ? "hse-bypass" : hsi_name);
    if (hse_failed) {
        board_puts("(hse-bypass-failed)");
    }
}

#define UART_TC (1u << 6)
#define UART_TXE (1u << 7)

void stm32_uart_putc(uint32_t status_addr, uint32_t data_addr, char c)
{
    while (!(REG32(status_addr) & UART_TXE)) {
    }
    REG32(data_addr) = (uint8_t)c;
}

void stm32_uart_drain(uint32_t status_addr)
{
    while (!(REG32(status_addr) & UART_TC)) {
    }
}
