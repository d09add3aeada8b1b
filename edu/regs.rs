// SPDX-License-Identifier: GPL-2.0

//! edu's registers (QEMU `docs/specs/edu.txt`), in BAR 0.

use kernel::io::register;

/// Bytes of BAR 0 mapped: the registers up to and including the DMA engine's.
pub(crate) const END: usize = 0x100;

register! {
    /// Identification, `0xRRrr00ed`: major and minor version, and edu's magic byte.
    pub(crate) ID(u32) @ 0x00 {
        /// Major version.
        31:24 major;
        /// Minor version.
        23:16 minor;
        /// Always `0xed`.
        7:0 magic;
    }

    /// DMA source address.
    pub(crate) DMA_SRC(u64) @ 0x80 {}

    /// DMA destination address.
    pub(crate) DMA_DST(u64) @ 0x88 {}

    /// DMA transfer count, in bytes.
    pub(crate) DMA_COUNT(u32) @ 0x90 {}

    /// DMA command.
    pub(crate) DMA_CMD(u32) @ 0x98 {
        /// Set to start a transfer; edu clears it when the transfer is done.
        0:0 start => bool;
        /// Direction: from edu's buffer to the bus address when set, the other way when clear.
        1:1 to_ram => bool;
    }
}

impl ID {
    /// Whether this is an edu device (its magic byte).
    pub(crate) fn is_edu(self) -> bool {
        self.magic() == 0xed
    }

    /// The version, `0xRRrr`.
    pub(crate) fn version(self) -> u32 {
        self.into_raw() >> 16
    }
}
