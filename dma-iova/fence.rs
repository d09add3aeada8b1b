// SPDX-License-Identifier: GPL-2.0

//! Fences of importers' DMA, in the dma-buf's reservation object.
//!
//! An importer that runs DMA on a mapping without holding the reservation lock publishes a
//! [`Fence`] for it ([`Locked::fence_dma`](crate::Locked::fence_dma), usage
//! `DMA_RESV_USAGE_BOOKKEEP`) and signals it when the DMA is complete. Invalidation no longer
//! waits for the whole transfer: the exporter waits for the fences (revocation does, see
//! [`Buffer::revoke`](crate::Buffer::revoke)), and an importer whose DMA is in flight when it
//! is invalidated stops it and unmaps after signalling.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h).

use kernel::dma_fence::{DmaFence, FenceContext};
use kernel::{prelude::*, sync::aref::ARef};

/// A fence of one importer DMA, signalled when dropped.
///
/// Dropping signals: a fence that is never signalled would make revocation wait forever, so
/// every path that ends the DMA, errors included, signals it.
pub struct Fence(ARef<DmaFence>);

impl Fence {
    /// A new, unsignalled fence on timeline `context`.
    pub(crate) fn new(context: FenceContext, seqno: u64) -> Result<Self> {
        Ok(Self(DmaFence::new(context, seqno)?))
    }

    /// The fence.
    pub(crate) fn fence(&self) -> &DmaFence {
        &self.0
    }

    /// Signals the fence: the DMA it covers is complete.
    pub fn signal(self) {
        drop(self);
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        // Signalling a signalled fence does nothing.
        self.0.signal();
    }
}
