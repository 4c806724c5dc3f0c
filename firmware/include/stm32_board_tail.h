/*
 * The part of board.h's API that is the same on every STM32 board layer here:
 * the VCP UART's putc, the DWT cycle counter, the power-monitor window GPIO
 * and exit. Included once, at the end of a board.c, which provides before it:
 *   static int uart_ready;         set once the UART is clocked and enabled
 *   static uint32_t core_hz;       the core clock as configured
 *   static void window_init(void); the window pin as an output, low
 *   UART_STATUS, UART_DATA         the VCP UART's status and data registers
 *   BOARD_WINDOW_PORT, BOARD_WINDOW_PIN
 * Not a general header: it defines functions, so only board.c includes it.
 */
#ifndef STM32_BOARD_TAIL_H
#define STM32_BOARD_TAIL_H

void board_putc(char c)
{
    if (uart_ready) { /* a fault before uart_init must not hang on an unclocked UART */
        stm32_uart_putc(UART_STATUS, UART_DATA, c);
    }
}

uint64_t board_counter_read(void) { return dwt_counter_read(); }
const char *board_counter_name(void) { return "dwt_cyccnt"; }
uint32_t board_counter_hz(void) { return core_hz; }
uint32_t board_core_hz(void) { return core_hz; }

void board_window_begin(void) { stm32_gpio_write(GPIO_BASE(BOARD_WINDOW_PORT), BOARD_WINDOW_PIN, 1); }
void board_window_end(void) { stm32_gpio_write(GPIO_BASE(BOARD_WINDOW_PORT), BOARD_WINDOW_PIN, 0); }

void board_exit(int code)
{
    window_init(); /* a fault inside a window must not leave the pin high */
    if (code != 0) {
        board_put_exit_line(code); /* unframed on purpose: the host reads it as a crash */
    }
    if (uart_ready) {
        stm32_uart_drain(UART_STATUS);
    }
    board_park();
}

#endif
