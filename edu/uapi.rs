// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `uapi/linux/dmavec_edu.h`, mirrored.

use kernel::ioctl::{_IO, _IOR, _IOW};

kernel::uapi_struct! {
    /// `struct dmavec_edu_import`.
    pub(crate) struct Import {
        pub(crate) fd: i32,
        pub(crate) flags: u32,
    }
}

kernel::uapi_struct! {
    /// `struct dmavec_edu_xfer`: WRITE fills `[offset, offset + length)` with the pattern of
    /// `seed`; READ copies it to `data`.
    pub(crate) struct Xfer {
        pub(crate) offset: u64,
        pub(crate) length: u64,
        pub(crate) data: u64,
        pub(crate) seed: u32,
        pub(crate) flags: u32,
    }
}

kernel::uapi_struct! {
    /// `struct dmavec_edu_info`.
    pub(crate) struct Info {
        pub(crate) size: u64,
        pub(crate) first_addr: u64,
        pub(crate) map_type: u32,
        pub(crate) entries: u32,
        pub(crate) invalidations: u32,
        pub(crate) flags: u32,
    }
}

const _: () = assert!(size_of::<Import>() == 8);
const _: () = assert!(size_of::<Xfer>() == 32);
const _: () = assert!(size_of::<Info>() == 32);

const MAGIC: u32 = 0xDC;
pub(crate) const IMPORT: u32 = _IOW::<Import>(MAGIC, 0x00);
pub(crate) const WRITE: u32 = _IOW::<Xfer>(MAGIC, 0x01);
pub(crate) const READ: u32 = _IOW::<Xfer>(MAGIC, 0x02);
pub(crate) const INFO: u32 = _IOR::<Info>(MAGIC, 0x03);
pub(crate) const DETACH: u32 = _IO(MAGIC, 0x04);
/// Test VMs only (`unsafe_raw_dma=1`): DMA the pattern of `seed` to bus address `offset`,
/// whatever is mapped there, to show that the IOMMU stops a stale address.
pub(crate) const RAW_WRITE: u32 = _IOW::<Xfer>(MAGIC, 0x05);
