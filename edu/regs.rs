// SPDX-License-Identifier: GPL-2.0

//! edu's registers (QEMU `docs/specs/edu.txt`), in BAR 0.

pub(crate) const ID: usize = 0x00;
pub(crate) const DMA_SRC: usize = 0x80;
pub(crate) const DMA_DST: usize = 0x88;
pub(crate) const DMA_COUNT: usize = 0x90;
pub(crate) const DMA_CMD: usize = 0x98;
pub(crate) const CMD_START: u32 = 1 << 0;
pub(crate) const CMD_TO_RAM: u32 = 1 << 1;
pub(crate) const END: usize = 0x100;
