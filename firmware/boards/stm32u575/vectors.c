/*
 * Vector table for the STM32U575 (NUCLEO-U575ZI-Q): the system exceptions and SysTick,
 * which extends the 32-bit DWT cycle counter (board_util.c). No device
 * interrupt is used, so the device vectors are left out: VTOR points here
 * (board_init) and no IRQ is ever enabled.
 */
#include <stdint.h>

#include "board_util.h"

BOARD_SYSTEM_VECTORS;
