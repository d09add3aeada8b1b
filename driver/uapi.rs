// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `uapi/linux/dmavec.h`, mirrored.
//!
//! Sizes and offsets are asserted here and, with the same numbers, in the kselftests compiled
//! against the C header: a change on one side alone breaks a build.

use core::mem::offset_of;
use kernel::ioctl::{_IOR, _IOW, _IOWR};

const MAGIC: u32 = 0xDB;

pub(crate) const FEATURE_MMAP: u32 = 1 << 0;
pub(crate) const FEATURE_P2PDMA: u32 = 1 << 1;

/// Most ranges one export may have.
pub(crate) const MAX_RANGES: u32 = 4096;

kernel::uapi_struct! {
    /// `struct dmavec_info`.
    pub(crate) struct Info {
        pub(crate) page_size: u32,
        pub(crate) features: u32,
        pub(crate) bar_size: u64,
        pub(crate) bytes_free: u64,
        pub(crate) bar_index: u32,
        pub(crate) reserved0: u32,
        pub(crate) bytes_scrubbing: u64,
        pub(crate) reserved: [u64; 3],
    }
}

kernel::uapi_struct! {
    /// `struct dmavec_alloc`.
    pub(crate) struct Alloc {
        pub(crate) size: u64,
        pub(crate) align: u64,
        pub(crate) flags: u32,
        pub(crate) handle: u32,
        pub(crate) reserved: [u64; 2],
    }
}

kernel::uapi_struct! {
    /// `struct dmavec_free`.
    pub(crate) struct Free {
        pub(crate) handle: u32,
        pub(crate) flags: u32,
        pub(crate) reserved: u64,
    }
}

kernel::uapi_struct! {
    /// `struct dmavec_range`.
    pub(crate) struct Range {
        pub(crate) handle: u32,
        pub(crate) reserved: u32,
        pub(crate) offset: u64,
        pub(crate) length: u64,
    }
}

kernel::uapi_struct! {
    /// `struct dmavec_export`.
    pub(crate) struct Export {
        pub(crate) ranges: u64,
        pub(crate) count: u32,
        pub(crate) fd_flags: u32,
        pub(crate) flags: u32,
        pub(crate) fd: i32,
        pub(crate) reserved: [u64; 2],
    }
}

const _: () = {
    assert!(size_of::<Info>() == 64 && offset_of!(Info, bar_index) == 24);
    assert!(size_of::<Alloc>() == 40 && offset_of!(Alloc, handle) == 20);
    assert!(size_of::<Free>() == 16 && offset_of!(Free, reserved) == 8);
    assert!(size_of::<Range>() == 24 && offset_of!(Range, length) == 16);
    assert!(size_of::<Export>() == 40 && offset_of!(Export, fd) == 20);
};

pub(crate) const IOCTL_INFO: u32 = _IOR::<Info>(MAGIC, 0x00);
pub(crate) const IOCTL_ALLOC: u32 = _IOWR::<Alloc>(MAGIC, 0x01);
pub(crate) const IOCTL_FREE: u32 = _IOW::<Free>(MAGIC, 0x02);
pub(crate) const IOCTL_EXPORT: u32 = _IOWR::<Export>(MAGIC, 0x03);
