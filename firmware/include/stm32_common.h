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

/* HSE in bypass mode (a clock on OSC_IN, e.g. the ST-LINK's MCO): 1 when
 * HSERDY rose within `wait_loops` polls, else HSE is switched off again and
 * 0 is returned (the caller falls back to its internal oscillator). */
int stm32_hse_bypass_start(uint32_t rcc_cr_addr, uint32_t wait_loops);

#endif
