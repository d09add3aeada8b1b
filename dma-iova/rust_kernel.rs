// SPDX-License-Identifier: GPL-2.0

//! Rust abstractions for `rust/kernel`, staged in this crate until they move into the series.
//!
//! Each file here is written as its `rust/kernel` counterpart will be (module docs linking the C
//! header, `# Invariants`, `// SAFETY:` comments stating what the C side guarantees), and moves
//! into a patch of `patches/series` when its interface settles: `kernel::` paths then become
//! `crate::`, and the users below `dma-iova/` import it from `kernel::` instead of from here.
//! Until then this is, with the C API and [`crate::ffi`] (the raw pointers and C wrappers these
//! modules use, and the few promises the helper makes), the only part of the helper that holds
//! `unsafe` code; the helper's policy (ranges, segment limits, route choice, revocation, the
//! registry) sits on the safe interfaces these modules give.
//!
//! - [`dma_iova`]: the future `rust/kernel/dma/iova.rs`: [`dma_iova::DmaDevice`],
//!   [`dma_iova::PhysRange`], [`dma_iova::IovaState`], [`dma_iova::PhysMappings`], typed
//!   [`dma_iova::Attrs`] and the segment-limit queries.
//! - [`p2pdma`]: the future additions to `rust/kernel/pci/p2pdma.rs`: the route query
//!   ([`p2pdma::P2pType::of`]) and a BAR's provider reachable beyond probe, until unbind
//!   ([`p2pdma::BarProvider`]).
//! - [`dma_buf`]: the future `rust/kernel/dma_buf.rs` and its submodules: [`dma_buf::DmaBuf`],
//!   the reservation object and its lock guard, the `#[vtable]` exporter, the exporter's and the
//!   importer's attachments, the DMA-vector and sg_table mapping types.
//! - [`dma_fence`]: the future `rust/kernel/dma_fence.rs`.
//! - [`page`]: the future `Page::phys_addr()` of `rust/kernel/page.rs`.
//! - [`io`], [`task`], [`workqueue`]: `zero_io()`, `cond_resched()` and `flush_work()`, for
//!   `kernel::io`, `kernel::task` and `kernel::workqueue`.
//! - [`uapi`]: [`uapi_struct!`](crate::uapi_struct), mirrors of ioctl structures that are
//!   `FromBytes` and `AsBytes` by construction.

pub mod dma_buf;
pub mod dma_fence;
pub mod dma_iova;
pub mod io;
pub mod p2pdma;
pub mod page;
pub mod task;
pub mod uapi;
pub mod workqueue;
