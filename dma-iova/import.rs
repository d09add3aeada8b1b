// SPDX-License-Identifier: GPL-2.0

//! The importer API: any dma-buf mapped as an array of [`DmaVec`].
//!
//! An importer attaches dynamically ([`Attachment::new`]: `allow_peer2peer`, and an
//! [`Importer::invalidate`] callback), takes the dma-buf's reservation lock
//! ([`Attachment::lock`]) and maps ([`Locked::map`]). The attach asks the dma-buf core for the
//! DMA-vector mapping type first and the sg_table type second; an exporter
//! that offers the DMA-vector type, dmavec's or any other, maps the buffer to the array
//! itself, and no sg_table is built. With any other exporter the dma-buf core maps it
//! (`dma_buf_map_attachment()`) and the DMA side of its sg_table is presented as [`DmaVec`]
//! entries, adjacent segments merged.
//!
//! The mapping lives in the attachment and is reachable only through a [`Locked`] guard, which
//! proves the reservation lock is held: the locking rules of dma-buf are enforced by types. It
//! is unmapped by [`Locked::unmap`], by the importer's invalidate callback, or at detach.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h) (dynamic
//! attachments, `dma_buf_attach_ops`).
//!
//! [`DmaVec`]: crate::range::DmaVec

use crate::{export::DmaBuf, map::MapType, range::SegLimits};
use core::{cell::UnsafeCell, ptr::NonNull};
use kernel::{
    bindings,
    device::Device,
    error::from_err_ptr,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

mod locked;
mod negotiated;

use locked::Mapped;
pub use locked::{Locked, MappedView};
use negotiated::{attach, ArrayMap};

/// How an [`Attachment`]'s current mapping was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// As an array of the DMA-vector mapping type (dmavec's mapping core, or another exporter
    /// that offers the type), with addresses of this kind.
    Dmavec(MapType),
    /// By another exporter, through the dma-buf core's sg_table.
    SgTable,
}

/// The number of `enum dmavec_map_type` (`<linux/dmavec.h>`), which uAPIs reuse (edu's
/// `DMAVEC_EDU_MAP_*`); `dmavec_shim.c` asserts the header's numbering.
impl From<MapKind> for u32 {
    fn from(k: MapKind) -> u32 {
        match k {
            MapKind::Dmavec(MapType::Iova) => 0,
            MapKind::Dmavec(MapType::Direct) => 1,
            MapKind::Dmavec(MapType::BusAddr) => 2,
            MapKind::SgTable => 3,
        }
    }
}

impl MapKind {
    /// A short name, as the uAPIs report it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Dmavec(t) => t.name(),
            Self::SgTable => "sg-table",
        }
    }
}

/// The importer's side of an attachment.
pub trait Importer: Send + Sync + 'static {
    /// The exporter invalidated the mapping; called with the reservation lock held. The
    /// importer must stop using the addresses and drop the mapping ([`Locked::unmap`]): at
    /// once, or, if DMA on the mapping is in flight under a fence ([`Locked::fence_dma`]),
    /// make that DMA stop soon and unmap after signalling the fence.
    fn invalidate(&self, locked: &mut Locked<'_>);
}

/// What the attachment's callback needs: stable in memory while attached.
struct Inner {
    importer: KBox<dyn Importer>,
    /// Protected by the reservation lock of the dma-buf.
    mapped: UnsafeCell<Option<Mapped>>,
    /// The importer's own segment limits ([`Locked::set_seg_limits`]), `None` for the
    /// device's. Protected by the reservation lock.
    limits: UnsafeCell<Option<SegLimits>>,
    /// Set under the reservation lock when the attachment starts to go away
    /// ([`Attachment::retire`]): from then on the invalidate callback does not reach the
    /// importer, whose owner may be tearing it down.
    dead: Atomic<bool>,
    /// The fence timeline of this attachment's DMA ([`Locked::fence_dma`]) and its last
    /// sequence number.
    fence_context: u64,
    fence_seqno: Atomic<u64>,
}

// SAFETY: `mapped` is only accessed with the reservation lock held (through `Locked`); the
// importer is `Send + Sync`.
unsafe impl Send for Inner {}
// SAFETY: See `Send`.
unsafe impl Sync for Inner {}

/// A dynamic attachment of an importing device to a dma-buf.
pub struct Attachment {
    inner: Pin<KBox<Inner>>,
    attach: NonNull<bindings::dma_buf_attachment>,
    dmabuf: DmaBuf,
}

// SAFETY: The attachment may be used and dropped from any thread; its state is protected by the
// reservation lock.
unsafe impl Send for Attachment {}
// SAFETY: See `Send`.
unsafe impl Sync for Attachment {}

/// # Safety
///
/// The dma-buf core calls this with the reservation lock held, for an attachment made by
/// [`Attachment::new`].
unsafe extern "C" fn importer_invalidate(attach: *mut bindings::dma_buf_attachment) {
    // SAFETY: The dma-buf core calls this with the reservation lock held, on an attachment made
    // by `Attachment::new`, whose `importer_priv` is its pinned `Inner`.
    let inner = unsafe { &*(*attach).importer_priv.cast::<Inner>() };
    if inner.dead.load(Relaxed) {
        // Being detached: nothing is mapped, and the owner is dropping the importer.
        return;
    }
    // SAFETY: `attach` is valid.
    let attach = unsafe { NonNull::new_unchecked(attach) };
    let mut locked = Locked {
        inner,
        attach,
        owns_lock: false,
    };
    inner.importer.invalidate(&mut locked);
}

static IMPORTER_OPS: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
    allow_peer2peer: true,
    invalidate_mappings: Some(importer_invalidate),
};

impl Attachment {
    /// Attaches `dev` to `dmabuf` dynamically, accepting peer-to-peer memory, and asking for
    /// the DMA-vector mapping type first and the sg_table type second.
    ///
    /// # Errors
    ///
    /// What the exporter's attach refuses with (dmavec: `EPERM` for an importer that cannot
    /// reach its MMIO, `ENODEV` for a revoked buffer), `EOPNOTSUPP` if the exporter offers
    /// neither the DMA-vector nor the sg_table mapping type, or `ENOMEM`.
    ///
    /// # Examples
    ///
    /// ```ignore
    /// struct MyImporter;
    /// impl Importer for MyImporter {
    ///     fn invalidate(&self, locked: &mut Locked<'_>) {
    ///         // No DMA in flight here: drop the mapping at once.
    ///         locked.unmap();
    ///     }
    /// }
    ///
    /// let att = Attachment::new(DmaBuf::from_fd(fd)?, dev, MyImporter)?;
    /// let mut l = att.lock();
    /// let v = l.map(DataDirection::FromDevice)?;
    /// // `v.entries`: the `struct dma_vec` array, valid while `l` is held or until invalidated.
    /// ```
    pub fn new(dmabuf: DmaBuf, dev: &Device, importer: impl Importer) -> Result<Self> {
        let importer: KBox<dyn Importer> = KBox::new(importer, GFP_KERNEL)?;
        let inner = KBox::pin(
            Inner {
                importer,
                mapped: UnsafeCell::new(None),
                limits: UnsafeCell::new(None),
                dead: Atomic::new(false),
                // SAFETY: Allocating one timeline has no precondition.
                fence_context: unsafe { bindings::dma_fence_context_alloc(1) },
                fence_seqno: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        let priv_ = core::ptr::from_ref::<Inner>(&inner).cast_mut().cast();
        // SAFETY: `dmabuf` holds a reference, `dev` is valid, `IMPORTER_OPS` is static and
        // `priv_` stays valid (pinned) until the attachment is detached in `drop`.
        let raw = from_err_ptr(unsafe {
            attach(
                dmabuf.as_raw(),
                crate::raw::device(dev),
                &IMPORTER_OPS,
                priv_,
            )
        })?;
        Ok(Self {
            inner,
            attach: NonNull::new(raw).ok_or(ENOMEM)?,
            dmabuf,
        })
    }

    /// The dma-buf.
    pub fn dmabuf(&self) -> &DmaBuf {
        &self.dmabuf
    }

    /// The dma-buf's reservation object.
    pub fn resv(&self) -> *mut bindings::dma_resv {
        // SAFETY: `self.dmabuf` holds a reference.
        unsafe { (*self.dmabuf.as_raw()).resv }
    }

    /// Whether the exporter granted peer-to-peer access.
    pub fn peer2peer(&self) -> bool {
        // SAFETY: The attachment is valid until drop.
        unsafe { (*self.attach.as_ptr()).peer2peer }
    }

    /// The attachment, for a caller that already holds the reservation lock.
    ///
    /// # Safety
    ///
    /// The caller holds the dma-buf's reservation lock for as long as the result exists, and
    /// no other [`Locked`] of this attachment is in use meanwhile.
    pub unsafe fn assume_locked(&self) -> Locked<'_> {
        Locked {
            inner: &self.inner,
            attach: self.attach,
            owns_lock: false,
        }
    }

    /// Takes the dma-buf's reservation lock.
    pub fn lock(&self) -> Locked<'_> {
        // SAFETY: The dma-buf is alive; no acquire context.
        unsafe { bindings::dma_resv_lock(self.resv(), core::ptr::null_mut()) };
        Locked {
            inner: &self.inner,
            attach: self.attach,
            owns_lock: true,
        }
    }
}

impl Attachment {
    /// Unmaps and stops the importer's callbacks, under the reservation lock.
    ///
    /// After this the dma-buf core may still call the invalidate callback until the
    /// attachment is dropped (detached), but it no longer reaches the [`Importer`]. It is the
    /// first step of dropping the attachment; an owner that must not be called back while it
    /// tears itself down calls it first, through a shared reference (the C API's
    /// `dmavec_detach()` does). Maps after it still work, but nothing invalidates them any
    /// more: retire only what is about to be dropped.
    pub fn retire(&self) {
        let mut l = self.lock();
        l.unmap();
        self.inner.dead.store(true, Relaxed);
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.retire();
        // SAFETY: Attached in `new`, not yet detached; the reservation lock is not held.
        unsafe { bindings::dma_buf_detach(self.dmabuf.as_raw(), self.attach.as_ptr()) };
    }
}
