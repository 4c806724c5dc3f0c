/*
 * Register blocks that are the same on every STM32 used here (F4, L4+, U5,
 * H7), shared by their board layers: the GPIO port (MODER 0x00, OSPEEDR
 * 0x08, BSRR 0x18, AFRL 0x20, AFRH 0x24 in RM0390 / RM0432 / RM0456 /
 * RM0433) and the HSE bits of RCC_CR (HSEON bit 16, HSERDY bit 17, HSEBYP
 * bit 18 in all four). Addresses differ per family: the caller passes them.
 */
#ifndef BENCH_STM32_COMMON_H
#define BENCH_STM32_COMMON_H

#include <stdint.h>

/* Push-pull output, highest speed, driven low (the port's clock must be on). */
void stm32_gpio_output_low(uint32_t gpio_base, unsigned pin);
void stm32_gpio_write(uint32_t gpio_base, unsigned pin, int high);
/* Alternate function `af` (0..15) on the pin. */
void stm32_gpio_alternate(uint32_t gpio_base, unsigned pin, unsigned af);

/* The PLL's source in Hz: the HSE in bypass mode (a clock on OSC_IN, e.g.
 * the ST-LINK's MCO) at hse_hz when hse_hz != 0 and HSERDY rises within
 * `wait_loops` polls; else the HSE is switched off again, *hse_failed is set
 * if it was tried, and the internal oscillator's hsi_hz is returned. */
uint32_t stm32_pll_source_hz(uint32_t rcc_cr_addr, uint32_t hse_hz, uint32_t hsi_hz,
                             uint32_t wait_loops, int *hse_failed);
/* " src=hse-bypass", " src=<hsi_name>" or " src=<hsi_name>(hse-bypass-failed)". */
void stm32_put_clock_source(const char *hsi_name, int hse_used, int hse_failed);

/* Blocking transmit and drain on a USART/LPUART, both register layouts:
 * TXE is bit 7 and TC bit 6 of the status register (USART_SR on F4,
 * USART_ISR elsewhere); the caller passes the status and data addresses. */
void stm32_uart_putc(uint32_t status_addr, uint32_t data_addr, char c);
void stm32_uart_drain(uint32_t status_addr);

#endif
