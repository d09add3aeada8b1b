// SPDX-License-Identifier: GPL-2.0

//! [`Locked`]: an attachment with its dma-buf's reservation lock held, and what that lock
//! guards: the attachment's mapping (an array of the DMA-vector type, or collected from the
//! exporter's sg_table), its segment limits and the fences of its DMA.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use super::{ArrayMap, Inner, MapKind};
use crate::{
    fence::Fence,
    range::{DmaVec, SegLimits},
    shim,
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::atomic::Relaxed,
};

pub(super) enum Mapped {
    Array(ArrayMap),
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
            Self::Array(a) => a.dir(),
            Self::Foreign { dir, .. } => *dir,
        }
    }
}

/// An attachment with its dma-buf's reservation lock held.
pub struct Locked<'a> {
    pub(super) inner: &'a Inner,
    pub(super) attach: NonNull<bindings::dma_buf_attachment>,
    /// Whether dropping this unlocks: not so in the invalidate callback, where the dma-buf core
    /// holds the lock.
    pub(super) owns_lock: bool,
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
    /// An exporter that offers the DMA-vector mapping type (every dmavec buffer, and any other
    /// exporter that does) gives its array, merged and split within the importer's own limits
    /// if it stated any; with any other exporter the dma-buf core's sg_table is mapped and its
    /// DMA side collected.
    ///
    /// # Errors
    ///
    /// `EBUSY` if the attachment is mapped already for another direction (unmap first);
    /// dmavec buffers: `ENODEV` once revoked, and the errors of [`crate::Mapping::map`]; other
    /// exporters: what `dma_buf_map_dma_vec()` or `dma_buf_map_attachment()` returns, and
    /// `ENOMEM`.
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
            // SAFETY: The attachment is valid and `self` proves the reservation lock is held.
            let m = match unsafe { ArrayMap::map(attach, dir, limits) }? {
                Some(a) => Mapped::Array(a),
                None => map_foreign(attach, dir, limits)?,
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
            None => {}
            Some(Mapped::Array(a)) => {
                // SAFETY: Mapped for this attachment in `map`; lock held.
                unsafe { a.unmap(attach) };
            }
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
        Mapped::Array(a) => MappedView {
            entries: a.entries(),
            kind: MapKind::Dmavec(a.kind()),
            bytes: a.bytes(),
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
    let limits = SegLimits::of_device(unsafe { Device::from_raw((*attach).dev) }, limits)?;
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
