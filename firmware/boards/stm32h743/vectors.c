/*
 * Vector table for the STM32H743: the Cortex-M7 system exceptions and
 * SysTick, which extends the 32-bit DWT cycle counter (board.c). No device
 * interrupt is used, so the 150 device vectors are left out: VTOR points at
 * 0x08000000 after reset and no IRQ is ever enabled.
 */
#include <stdint.h>

#include "board_util.h"

BOARD_SYSTEM_VECTORS;
