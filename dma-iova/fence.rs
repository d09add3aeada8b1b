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

use crate::shim;
use core::ptr::NonNull;
use kernel::{bindings, prelude::*};

/// A fence of one importer DMA, signalled when dropped.
///
/// Dropping signals: a fence that is never signalled would make revocation wait forever, so
/// every path that ends the DMA, errors included, signals it.
///
/// # Invariants
///
/// `self.0` is a valid fence this value holds a reference to.
pub struct Fence(NonNull<bindings::dma_fence>);

// SAFETY: A fence reference may be signalled and dropped from any thread.
unsafe impl Send for Fence {}
// SAFETY: See `Send`; `&Fence` gives no access beyond that.
unsafe impl Sync for Fence {}

impl Fence {
    /// A new, unsignalled fence on timeline `context` (`dma_fence_context_alloc()`).
    pub(crate) fn new(context: u64, seqno: u64) -> Result<Self> {
        // SAFETY: Any context and sequence number may be used.
        let f = unsafe { shim::dmavec_shim_fence_create(context, seqno) };
        // INVARIANT: A new fence, with the one reference it was created with.
        NonNull::new(f).map(Self).ok_or(ENOMEM)
    }

    /// The raw fence, for C calls.
    pub(crate) fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.as_ptr()
    }

    /// Signals the fence: the DMA it covers is complete.
    pub fn signal(self) {
        drop(self);
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the fence is valid and this value holds a reference;
        // signalling a signalled fence does nothing.
        unsafe {
            bindings::dma_fence_signal(self.as_raw());
            shim::dmavec_shim_fence_put(self.as_raw());
        }
    }
}
