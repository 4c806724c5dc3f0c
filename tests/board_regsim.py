"""Run a real-board image's ``board_init`` in Unicorn against a register model.

No emulator models these STM32 parts, so this is a *register-level
simulator*, not a board: the compiled firmware runs instruction by
instruction on Unicorn's Cortex-M core, and every access to a peripheral
page goes through a small model that keeps register values and plays the
hardware's answers the firmware waits for (an oscillator's ready flag after
its ON bit, PLL lock, the clock switch status mirroring SW, voltage-scaling
and booster ready flags, a UART that is always ready). Each write is logged
with a snapshot of the registers, so a test can check the *order* the
reference manuals prescribe (wait states before the switch to the PLL,
voltage scale / over-drive / boost before it) and decode the clock tree
from the registers independently of the firmware's own arithmetic.

What it does not prove: that the register addresses and bit positions are
right (the model is written from the same reading of the manuals), nor
anything about timing. Its answers are documented hardware behaviour, not
measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from elftools.elf.elffile import ELFFile

PERIPH = (0x40000000, 0x20000000)   # every STM32 peripheral page used here (0x4..., 0x5...)
PPB = (0xE0000000, 0x00100000)      # SCB, DWT, SysTick, DBGMCU
DWT_CYCCNT = 0xE0001004


@dataclass
class Write:
    addr: int
    value: int
    regs: dict                          # every register's value just after this write


@dataclass
class Family:
    """Reset values and the hardware's answers for one STM32 family."""

    name: str
    cpu: str
    reset: dict[int, int]
    react: Callable[["RegSim", int, int], None]   # after a write: set the flags hardware would
    uart_data: int                                # the UART data register the banner goes through
    hse_bits: tuple[int, int, int] = (0, 16, 17)  # (RCC_CR address, HSEON bit, HSERDY bit)


@dataclass
class RegSim:
    elf: Path
    family: Family
    hse_present: bool = True
    regs: dict = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    uart: bytearray = field(default_factory=bytearray)
    cyccnt: int = 0

    def __post_init__(self):
        self.regs = dict(self.family.reset)

    def bit(self, addr: int, n: int) -> bool:
        return bool(self.regs.get(addr, 0) >> n & 1)

    def set_bit(self, addr: int, n: int, on: bool = True) -> None:
        v = self.regs.get(addr, 0)
        self.regs[addr] = (v | (1 << n)) if on else (v & ~(1 << n))

    # -- MMIO callbacks -----------------------------------------------------

    def _read(self, base: int):
        def read(uc, offset, size, _user):
            addr = base + offset
            if addr == DWT_CYCCNT:
                self.cyccnt += 97     # a free-running counter
                return self.cyccnt & 0xFFFFFFFF
            return self.regs.get(addr & ~3, 0) >> (8 * (addr & 3)) & ((1 << (8 * size)) - 1)
        return read

    def _write(self, base: int):
        def write(uc, offset, size, value, _user):
            addr = base + offset
            if addr == self.family.uart_data:
                self.uart.append(value & 0xFF)
                return
            word = addr & ~3
            shift = 8 * (addr & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            self.regs[word] = (self.regs.get(word, 0) & ~mask) | ((value << shift) & mask)
            cr, hseon, hserdy = self.family.hse_bits
            if word == cr:
                self.set_bit(cr, hserdy, self.bit(cr, hseon) and self.hse_present)
            self.family.react(self, word, self.regs[word])
            self.writes.append(Write(word, self.regs[word], dict(self.regs)))
        return write

    # -- running ------------------------------------------------------------

    def _load(self, memory: dict):
        """A Unicorn core with the image loaded as a flash programmer would write it."""
        import unicorn
        from unicorn import arm_const

        with self.elf.open("rb") as f:
            e = ELFFile(f)
            self.symbols = {s.name: s["st_value"] for s in e.get_section_by_name(".symtab").iter_symbols()}
            segments = [(s["p_paddr"], s.data()) for s in e.iter_segments()
                        if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
            vectors = e.get_section_by_name(".text").data()[:8]
        cpu = getattr(arm_const, "UC_CPU_ARM_" + self.family.cpu.upper().replace("-", "_"))
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS, cpu=cpu)
        for r in memory.values():
            lo = int(r["origin"]) & ~0xFFF
            hi = int(r["origin"]) + int(r["size_kb"]) * 1024
            uc.mem_map(lo, (hi - lo + 0xFFF) & ~0xFFF)
        for base, size in (PERIPH, PPB):
            uc.mmio_map(base, size, self._read(base), None, self._write(base), None)
        for addr, data in segments:
            uc.mem_write(addr, data)
        uc.reg_write(arm_const.UC_ARM_REG_SP, int.from_bytes(vectors[:4], "little"))
        self.reset = int.from_bytes(vectors[4:8], "little")
        return uc

    def _run(self, uc, start: int, until: str, max_instructions: int) -> None:
        from unicorn import arm_const

        stop = self.symbols[until] & ~1
        uc.emu_start(start | 1, stop, count=max_instructions)
        pc = uc.reg_read(arm_const.UC_ARM_REG_PC)
        if pc != stop:
            raise RuntimeError(f"{until} not reached within {max_instructions} instructions "
                               f"(stuck at {pc:#x}: waiting for a flag the model never sets?)")

    def run_board_init(self, memory: dict, max_instructions: int = 20_000_000) -> str:
        """Reset handler up to main (copy table, .bss), then board_init; returns the UART text."""
        from unicorn import arm_const

        uc = self._load(memory)
        self._run(uc, self.reset, "main", max_instructions)
        uc.reg_write(arm_const.UC_ARM_REG_LR, self.symbols["main"] | 1)
        self._run(uc, self.symbols["board_init"], "main", max_instructions)
        return self.uart.decode("ascii", "replace")

    def run_program(self, memory: dict, max_instructions: int = 2_000_000_000) -> str:
        """The whole image, reset to board_exit: every case, its checks and its result lines.

        SysTick never fires (Unicorn has no NVIC), which only matters for
        counts beyond 2^32 cycles; the DWT counter is the model's, so the
        cycle figures in the lines are meaningless: only their checks count.
        """
        uc = self._load(memory)
        self._run(uc, self.reset, "board_exit", max_instructions)
        return self.uart.decode("ascii", "replace")

    def write_index(self, addr: int, pred: Callable[[int], bool]) -> int:
        """Index of the first logged write to addr whose value satisfies pred (-1 if none)."""
        return next((i for i, w in enumerate(self.writes) if w.addr == addr and pred(w.value)), -1)


# -- the families -------------------------------------------------------------

def _mirror_sw(sim: RegSim, cfgr: int, sw_mask: int, sws_shift: int) -> None:
    v = sim.regs[cfgr]
    sim.regs[cfgr] = (v & ~(sw_mask << sws_shift)) | ((v & sw_mask) << sws_shift)


def _on_ready(sim: RegSim, addr: int, pairs) -> None:
    for on, rdy in pairs:
        sim.set_bit(addr, rdy, sim.bit(addr, on))


# STM32F446 (RM0390)
F4_RCC, F4_PWR = 0x40023800, 0x40007000


def _react_f4(sim, addr, value):
    if addr == F4_RCC:
        _on_ready(sim, addr, [(0, 1), (24, 25)])            # HSION->HSIRDY, PLLON->PLLRDY
    elif addr == F4_RCC + 0x08:
        _mirror_sw(sim, addr, 3, 2)
    elif addr == F4_PWR:
        sim.set_bit(F4_PWR + 4, 16, sim.bit(F4_PWR, 16))     # ODEN -> ODRDY
        sim.set_bit(F4_PWR + 4, 17, sim.bit(F4_PWR, 17))     # ODSWEN -> ODSWRDY


F446 = Family("stm32f446", "cortex-m4", {
    F4_RCC: 0x00000083, F4_RCC + 0x04: 0x24003010, F4_PWR: 0x0000C000, F4_PWR + 4: 1 << 14,
    0x40004400: 0xC0,                                       # USART2_SR: TXE, TC
    0xE0042000: 0x10006421,                                 # DBGMCU_IDCODE, DEV_ID 0x421
}, _react_f4, uart_data=0x40004404, hse_bits=(F4_RCC, 16, 17))


# STM32L4R5 (RM0432)
L4_RCC, L4_PWR = 0x40021000, 0x40007000


def _react_l4(sim, addr, value):
    if addr == L4_RCC:
        _on_ready(sim, addr, [(0, 1), (8, 10), (24, 25)])   # MSI, HSI16, PLL
    elif addr == L4_RCC + 0x08:
        _mirror_sw(sim, addr, 3, 2)


L4R5 = Family("stm32l4r5", "cortex-m4", {
    L4_RCC: 0x00000063, L4_RCC + 0x0C: 0x00001000,
    L4_PWR: 0x00000200, L4_PWR + 0x80: 0x00000100,          # PWR_CR1 VOS = range 1, PWR_CR5 R1MODE = 1
    0x40008000 + 0x1C: 0xC0,                                # LPUART1_ISR: TXE, TC
    0xE0042000: 0x10006470,                                 # DBGMCU_IDCODE, DEV_ID 0x470
}, _react_l4, uart_data=0x40008028, hse_bits=(L4_RCC, 16, 17))


# STM32U575 (RM0456), non-secure aliases
U5_RCC, U5_PWR = 0x46020C00, 0x46020800


def _react_u5(sim, addr, value):
    if addr == U5_RCC:
        _on_ready(sim, addr, [(0, 2), (8, 10), (24, 25)])   # MSIS, HSI16, PLL1
    elif addr == U5_RCC + 0x1C:
        _mirror_sw(sim, addr, 3, 2)
    elif addr == U5_PWR + 0x0C:                             # PWR_VOSR
        sim.set_bit(addr, 15, True)                          # VOSRDY once VOS is written
        # BOOSTRDY only with the booster's clock running: PLL1 source selected
        # and on, divided by PLL1MBOOST into 4..16 MHz (RM0456 "EPOD booster").
        cfg = sim.regs.get(U5_RCC + 0x28, 0)
        src = {2: (16e6, sim.bit(U5_RCC, 10)), 3: (8e6, sim.bit(U5_RCC, 17))}.get(cfg & 3, (0, False))
        mboost = cfg >> 12 & 0xF
        booster = src[0] / (1 if mboost == 0 else 2 * mboost)
        sim.set_bit(addr, 14, sim.bit(addr, 18) and src[1] and 4e6 <= booster <= 16e6)


U575 = Family("stm32u575", "cortex-m33", {
    U5_RCC: 0x00000005, U5_RCC + 0x34: 0x01010280,
    0x40022040: 0x1FEFF8AA,                                 # FLASH_OPTR: TZEN (bit 31) = 0
    0x40013800 + 0x1C: 0xC0,                                # USART1_ISR: TXE, TC
    0xE0044000: 0x10006482,                                 # DBGMCU_IDCODE, DEV_ID 0x482
}, _react_u5, uart_data=0x40013828, hse_bits=(U5_RCC, 16, 17))


# STM32H743 (RM0433)
H7_RCC, H7_PWR = 0x58024400, 0x58024800


def _react_h7(sim, addr, value):
    if addr == H7_RCC:
        _on_ready(sim, addr, [(0, 2), (24, 25)])            # HSI, PLL1
    elif addr == H7_RCC + 0x10:
        _mirror_sw(sim, addr, 7, 3)
    elif addr == H7_PWR + 0x18:
        sim.set_bit(addr, 13, True)                          # PWR_D3CR VOSRDY


H743 = Family("stm32h743", "cortex-m7", {
    H7_RCC: 0x00000025, H7_PWR + 0x04: 1 << 13,             # HSI on/ready; PWR_CSR1 ACTVOSRDY
    0x40004800 + 0x1C: 0xC0,                                # USART3_ISR: TXE, TC
    0x5C001000: 0x20036450,                                 # DBGMCU_IDCODE: revision V
    0xE000ED80: (127 << 13) | (3 << 3) | 1,                 # CCSIDR: 16 KB, 4 ways, 32-byte lines
}, _react_h7, uart_data=0x40004828, hse_bits=(H7_RCC, 16, 17))

FAMILIES = {"nucleo_f446": F446, "nucleo_l4r5": L4R5, "nucleo_u575": U575, "nucleo_h743": H743}
