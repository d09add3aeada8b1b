// SPDX-License-Identifier: GPL-2.0

//! The importer API: any dma-buf mapped as an array of [`DmaVec`].
//!
//! An importer attaches dynamically ([`Attachment::new`]: `allow_peer2peer`, and an
//! [`Importer::invalidate`] callback), takes the dma-buf's reservation lock
//! ([`Attachment::lock`]) and maps ([`Locked::map`]). For a dmavec buffer the mapping comes
//! straight from the mapping core: no sg_table is built. For a buffer of any other exporter the
//! dma-buf core maps it (`dma_buf_map_attachment()`) and the DMA side of its sg_table is
//! presented as [`DmaVec`] entries, adjacent segments merged.
//!
//! The mapping lives in the attachment and is reachable only through a [`Locked`] guard, which
//! proves the reservation lock is held: the locking rules of dma-buf are enforced by types. It
//! is unmapped by [`Locked::unmap`], by the importer's invalidate callback, or at detach.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h) (dynamic
//! attachments, `dma_buf_attach_ops`).

use crate::{
    export::{buffer_of, is_dmavec, DmaBuf, LiveMapping},
    fence::Fence,
    map::{DmaBackend, KernelDma, MapType},
    range::{DmaVec, SegLimits},
    shim,
};
use core::{cell::UnsafeCell, ptr::NonNull};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// How an [`Attachment`]'s current mapping was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// By dmavec's mapping core, along this path.
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

enum Mapped {
    Native {
        live: LiveMapping<'static>,
        dir: DataDirection,
    },
    Foreign {
        sgt: NonNull<bindings::sg_table>,
        dir: DataDirection,
        entries: KVec<DmaVec>,
        bytes: usize,
    },
}

impl Mapped {
    fn dir(&self) -> DataDirection {
        match self {
            Self::Native { dir, .. } | Self::Foreign { dir, .. } => *dir,
        }
    }
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
    /// Attaches `dev` to `dmabuf` dynamically, accepting peer-to-peer memory.
    ///
    /// # Errors
    ///
    /// What the exporter's attach refuses with (dmavec: `EPERM` for an importer that cannot
    /// reach its MMIO, `ENODEV` for a revoked buffer), or `ENOMEM`.
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
            bindings::dma_buf_dynamic_attach(
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

    /// Whether the exporter is dmavec.
    pub fn is_dmavec(&self) -> bool {
        is_dmavec(&self.dmabuf)
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

/// An attachment with its dma-buf's reservation lock held.
pub struct Locked<'a> {
    inner: &'a Inner,
    attach: NonNull<bindings::dma_buf_attachment>,
    /// Whether dropping this unlocks: not so in the invalidate callback, where the dma-buf core
    /// holds the lock.
    owns_lock: bool,
}

/// A view of the current mapping.
#[derive(Clone, Copy)]
pub struct MappedView<'a> {
    /// The DMA segments, in buffer order.
    pub entries: &'a [DmaVec],
    /// How the mapping was made.
    pub kind: MapKind,
    /// Bytes mapped.
    pub bytes: usize,
}

impl<'a> Locked<'a> {
    fn resv(&self) -> *mut bindings::dma_resv {
        // SAFETY: The attachment and its dma-buf are valid while `self` exists.
        unsafe { (*(*self.attach.as_ptr()).dmabuf).resv }
    }

    fn slot(&mut self) -> &mut Option<Mapped> {
        // SAFETY: `self` proves the reservation lock is held, which serialises all access to
        // `mapped`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.inner.mapped.get() }
    }

    fn limits(&mut self) -> Option<SegLimits> {
        // SAFETY: `self` proves the reservation lock is held, which serialises all access to
        // `limits`.
        unsafe { *self.inner.limits.get() }
    }

    /// States the importer's own segment limits, in place of its device's, for the maps that
    /// follow; `None` returns to the device's (the default).
    ///
    /// The device's limits (`dma_get_max_seg_size()`, `dma_get_seg_boundary()`) cannot say
    /// "no limit": the maximum segment size is an `unsigned int`, so a 6 GiB buffer behind an
    /// IOMMU is split into two entries at least. An importer whose hardware takes segments of
    /// any length states [`SegLimits::UNLIMITED`] and gets one entry; one with a limit of its
    /// own, beyond 4 GiB or below its device's, states that. Entries are then split where
    /// these limits say, always at page boundaries. A buffer of another exporter is mapped by
    /// the dma-buf core with the device's limits whatever this says (the core builds its
    /// sg_table with them); its segments are merged within these limits.
    ///
    /// # Errors
    ///
    /// `EBUSY` while the attachment is mapped: unmap first.
    ///
    /// # Examples
    ///
    /// ```ignore
    /// let att = Attachment::new(dmabuf, dev, MyImporter)?;
    /// let mut l = att.lock();
    /// l.set_seg_limits(Some(SegLimits::UNLIMITED))?;
    /// let v = l.map(DataDirection::Bidirectional)?;
    /// // Behind an IOMMU, one entry for the whole buffer, whatever its size.
    /// ```
    pub fn set_seg_limits(&mut self, limits: Option<SegLimits>) -> Result {
        if self.slot().is_some() {
            return Err(EBUSY);
        }
        // SAFETY: As in `Locked::limits`; `&mut self` makes this access unique.
        unsafe { *self.inner.limits.get() = limits };
        Ok(())
    }

    /// The raw attachment, for dma-buf core functions that expect the reservation lock held.
    pub fn as_raw(&self) -> *mut bindings::dma_buf_attachment {
        self.attach.as_ptr()
    }

    /// The current mapping, if any.
    pub fn mapped(&mut self) -> Option<MappedView<'_>> {
        self.slot().as_ref().map(view)
    }

    /// Maps the dma-buf for the importing device (or returns the current mapping).
    ///
    /// The current mapping is returned if it was made for `dir` or for
    /// [`DataDirection::Bidirectional`], as `dma_buf_map_attachment()` does with its cache.
    ///
    /// # Errors
    ///
    /// `EBUSY` if the attachment is mapped already for another direction (unmap first);
    /// dmavec buffers: `ENODEV` once revoked, and the errors of [`crate::Mapping::map`]; other
    /// exporters: what `dma_buf_map_attachment()` returns, and `ENOMEM`.
    pub fn map(&mut self, dir: DataDirection) -> Result<MappedView<'_>> {
        // SAFETY: `self` proves it.
        unsafe { shim::dmavec_shim_dma_resv_assert_held(self.resv()) };
        if let Some(m) = self.slot().as_ref() {
            let have = m.dir();
            if have != dir && have != DataDirection::Bidirectional {
                return Err(EBUSY);
            }
        }
        if self.slot().is_none() {
            let limits = self.limits();
            let attach = self.attach.as_ptr();
            // SAFETY: The attachment is valid.
            let dmabuf = unsafe { (*attach).dmabuf };
            // SAFETY: The attachment holds a reference to its dma-buf, so `dmabuf` is live;
            // its `ops` identify the exporter.
            let native = core::ptr::eq(unsafe { (*dmabuf).ops }, crate::export::ops());
            let m = if native {
                // SAFETY: A dmavec dma-buf, attached (so not released), lock held.
                let buf = unsafe { buffer_of(dmabuf) };
                Mapped::Native {
                    // SAFETY: `attach` is an attachment of `buf`'s dma-buf, lock held.
                    live: unsafe { buf.map_attachment(attach, dir, limits) }?.into_static(),
                    dir,
                }
            } else {
                map_foreign(attach, dir, limits)?
            };
            *self.slot() = Some(m);
        }
        self.slot().as_ref().map(view).ok_or(EINVAL)
    }

    /// Publishes a fence for DMA the importer is about to run on the current mapping without
    /// the reservation lock, in the reservation object with usage `DMA_RESV_USAGE_BOOKKEEP`.
    ///
    /// The importer signals it ([`Fence::signal`], or by dropping it) once the DMA is complete
    /// or stopped. Until then its invalidate callback may leave the mapping in place (it must
    /// make the DMA stop soon): revocation waits for the fence before it waits for the
    /// unmap, and the importer unmaps after signalling.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub fn fence_dma(&mut self) -> Result<Fence> {
        let seqno = self.inner.fence_seqno.fetch_add(1, Relaxed) + 1;
        let fence = Fence::new(self.inner.fence_context, seqno)?;
        let resv = self.resv();
        // SAFETY: `self` proves the reservation lock is held.
        to_result(unsafe { bindings::dma_resv_reserve_fences(resv, 1) })?;
        // SAFETY: `self` proves the reservation lock is held, and a fence slot was reserved
        // just above; the object takes its own reference to the fence.
        unsafe {
            bindings::dma_resv_add_fence(
                resv,
                fence.as_raw(),
                bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
            )
        };
        Ok(fence)
    }

    /// Drops the current mapping, if any.
    pub fn unmap(&mut self) {
        let attach = self.attach.as_ptr();
        match self.slot().take() {
            None | Some(Mapped::Native { .. }) => {}
            Some(Mapped::Foreign { sgt, dir, .. }) => {
                // SAFETY: `sgt` was mapped for this attachment in `map_foreign`; lock held.
                unsafe { bindings::dma_buf_unmap_attachment(attach, sgt.as_ptr(), dir.into()) };
            }
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self.owns_lock {
            // SAFETY: Locked in `Attachment::lock`.
            unsafe { bindings::dma_resv_unlock(self.resv()) };
        }
    }
}

fn view(m: &Mapped) -> MappedView<'_> {
    match m {
        Mapped::Native { live: l, .. } => MappedView {
            entries: l.mapping().entries(),
            kind: MapKind::Dmavec(l.mapping().map_type()),
            bytes: l.mapping().size(),
        },
        Mapped::Foreign { entries, bytes, .. } => MappedView {
            entries,
            kind: MapKind::SgTable,
            bytes: *bytes,
        },
    }
}

/// Maps a dma-buf of another exporter and collects the DMA side of its sg_table.
///
/// Adjacent segments merge, but only within the importing device's limits (its maximum
/// segment size and segment boundary), which the exporter's own table respects and a merge
/// must not undo.
fn map_foreign(
    attach: *mut bindings::dma_buf_attachment,
    dir: DataDirection,
    limits: Option<SegLimits>,
) -> Result<Mapped> {
    // SAFETY: `attach` is valid; its device outlives the attachment, and so this call.
    let limits = unsafe { KernelDma::new_unreferenced(Device::from_raw((*attach).dev)) }
        .with_limits(limits)
        .limits()?;
    // SAFETY: `attach` is valid and the reservation lock is held.
    let sgt = from_err_ptr(unsafe { bindings::dma_buf_map_attachment(attach, dir.into()) })?;
    let sgt = NonNull::new(sgt).ok_or(ENOMEM)?;
    let unmap = |e: Error| {
        // SAFETY: Mapped just above.
        unsafe { bindings::dma_buf_unmap_attachment(attach, sgt.as_ptr(), dir.into()) };
        e
    };
    let mut entries = KVec::new();
    let mut bytes = 0usize;
    // SAFETY: `sgt` is a valid, mapped table: walk its `nents` DMA segments.
    unsafe {
        let mut sg = (*sgt.as_ptr()).sgl;
        for _ in 0..(*sgt.as_ptr()).nents {
            let addr = bindings::sg_dma_address(sg);
            let len = bindings::sg_dma_len(sg) as usize;
            if len > 0 {
                limits.push(&mut entries, addr, len).map_err(unmap)?;
                bytes += len;
            }
            sg = bindings::sg_next(sg);
        }
    }
    Ok(Mapped::Foreign {
        sgt,
        dir,
        entries,
        bytes,
    })
}
