// SPDX-License-Identifier: GPL-2.0

//! dmavec: dma-buf mappings as arrays of `(dma_addr, len)`.
//!
//! An exporter describes its buffer as physical ranges (device MMIO behind a
//! PCI P2PDMA provider, or system memory); for each importing device dmavec
//! maps them with the IOVA-linking DMA API and hands the importer an array of
//! [`DmaVec`] entries (the kernel's `struct dma_vec`) instead of an sg_table.
//!
//! Rust callers use this crate; C callers use `<linux/dmavec.h>`.

use kernel::{debugfs, prelude::*};

mod capi;
pub mod compat;
pub mod export;
pub mod fence;
pub mod ffi;
pub mod import;
pub mod map;
pub mod range;
pub use ffi as raw;
pub mod stats;
#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
pub mod test_hooks;

pub use export::{export, is_dmavec, Buffer, DmaBuf, ExportInfo, ExporterOps};
pub use fence::Fence;
pub use import::{Attachment, Importer, Locked, MapKind, MappedView};
pub use map::{MapType, Mapping, Provider};
pub use range::{DmaVec, PhysVec, Ranges, SegLimits};

module! {
    type: DmavecModule,
    name: "dmavec",
    authors: ["dmavec developers"],
    description: "dma-buf mappings as arrays of (dma_addr, len)",
    license: "GPL",
    imports_ns: ["DMA_BUF"],
}

/// The module: its debugfs files (`pub` for `#[vtable]`, which names it as `LocalModule`).
#[pin_data(PinnedDrop)]
pub struct DmavecModule {
    // Dropped in declaration order: the files go before their directory.
    #[pin]
    _stats: debugfs::File<&'static stats::Stats>,
    #[pin]
    _buffers: debugfs::File<export::Registry>,
    _root: debugfs::Dir,
}

#[pinned_drop]
impl PinnedDrop for DmavecModule {
    fn drop(self: Pin<&mut Self>) {
        export::exit_registry();
    }
}

impl kernel::InPlaceModule for DmavecModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        ffi::init_registry();
        let root = debugfs::Dir::new(c"dmavec");
        try_pin_init!(Self {
            _stats <- root.read_only_file(c"stats", &stats::STATS),
            _buffers <- root.read_only_file(c"buffers", export::Registry),
            _root: root,
        })
    }
}
