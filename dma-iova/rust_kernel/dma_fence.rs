// SPDX-License-Identifier: GPL-2.0

//! DMA fences: the completion of one piece of DMA, which others wait for.
//!
//! A [`DmaFence`] is reference counted ([`ARef<DmaFence>`]): the reservation object of a
//! dma-buf takes its own reference when the fence is added to it
//! ([`ResvGuard::add_fence`](super::dma_buf::resv::ResvGuard::add_fence)), and waiters hold
//! theirs. Fences made here ([`DmaFence::new`]) belong to a timeline of the caller's
//! ([`FenceContext`]) and are signalled by [`DmaFence::signal`]; signalling needs no lock, and
//! may be done from any thread. A fence that is never signalled makes its waiters wait forever.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h).

use crate::shim;
use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};

/// A fence timeline (`dma_fence_context_alloc()`): the fences of one context are signalled in
/// the order of their sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FenceContext(u64);

impl Default for FenceContext {
    fn default() -> Self {
        Self::new()
    }
}

impl FenceContext {
    /// A new timeline.
    pub fn new() -> Self {
        // SAFETY: Allocating a context number has no precondition.
        Self(unsafe { bindings::dma_fence_context_alloc(1) })
    }
}

/// A DMA fence (`struct dma_fence`).
///
/// # Invariants
///
/// The fence is valid and its reference count is non-zero while a reference to it exists;
/// [`ARef<DmaFence>`] owns one count.
///
/// # Examples
///
/// ```ignore
/// use kernel::dma_fence::{DmaFence, FenceContext};
///
/// let ctx = FenceContext::new();
/// let fence = DmaFence::new(ctx, 1)?;
/// let other = fence.clone(); // what a waiter keeps
/// fence.signal();
/// drop(other);
/// ```
#[repr(transparent)]
pub struct DmaFence(Opaque<bindings::dma_fence>);

// SAFETY: A fence may be signalled, waited for and put from any thread: its state is
// protected by its own spinlock and its count is atomic.
unsafe impl Send for DmaFence {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaFence {}

// SAFETY: `dma_fence_get()` and `dma_fence_put()` count the references of a fence; the fence
// is freed (through its ops' release, RCU-delayed) only when the count reaches zero.
unsafe impl AlwaysRefCounted for DmaFence {
    fn inc_ref(&self) {
        // SAFETY: A reference exists, so the count is non-zero.
        unsafe { shim::dmavec_shim_fence_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one count, which this puts.
        unsafe { shim::dmavec_shim_fence_put(obj.cast().as_ptr()) };
    }
}

impl DmaFence {
    /// A new, unsignalled fence with sequence number `seqno` on timeline `context`, with a
    /// lock of its own and the driver and timeline name `"dmavec"`.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub fn new(context: FenceContext, seqno: u64) -> Result<ARef<Self>> {
        // SAFETY: Any context and sequence number may be used.
        let f = NonNull::new(unsafe { shim::dmavec_shim_fence_create(context.0, seqno) })
            .ok_or(ENOMEM)?;
        // SAFETY: A new fence with the one count it was created with, which the `ARef` owns.
        Ok(unsafe { ARef::from_raw(f.cast()) })
    }

    /// The raw fence.
    pub fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.get()
    }

    /// Signals the fence (`dma_fence_signal()`): the DMA it covers is complete, and its
    /// waiters wake up. Signalling a signalled fence does nothing.
    pub fn signal(&self) {
        // SAFETY: By the type invariant the fence is valid; it takes its own lock.
        unsafe { bindings::dma_fence_signal(self.as_raw()) };
    }
}
