// SPDX-License-Identifier: GPL-2.0

//! The mapping types of a dma-buf attachment: the DMA-vector type (an array of [`DmaVec`]) and
//! the sg_table type.
//!
//! Who builds which table, and when:
//!
//! - An exporter ([`super::exporter::Exporter::map`]) builds one array of [`DmaVec`] per map,
//!   with the reservation lock held, and owns it until the unmap (a [`DmaVecMap`]).
//! - An importer of the DMA-vector type gets that array as it is
//!   (`dma_buf_map_dma_vec()`; [`super::attachment::ImportAttachment::map_dma_vec`]).
//! - An importer of the sg_table type (`dma_buf_map_attachment()`) gets a DMA-only sg_table
//!   that [`SgtMapping`] builds from the same array, at map, and frees at unmap: the DMA side
//!   holds the entries, there is no CPU side (no pages), and `orig_nents` is 0 so that users
//!   who look can tell. It is built nowhere else.
//! - An importer never builds a table: it reads the exporter's ([`DmaVecImport::entries`],
//!   [`SgtImport::segments`]).
//!
//! C header: [`include/linux/dma-buf-mapping.h`](srctree/include/linux/dma-buf-mapping.h).

use crate::{bindings, dma::DataDirection, ffi::c_uint, prelude::*};
use core::ptr::NonNull;

/// One DMA segment: the kernel's `struct dma_vec`, as [`kernel::dma::iova`] maps it.
pub use crate::dma::iova::DmaVec;

/// What the addresses of a DMA-vector mapping are (`enum dma_buf_dma_vec_addr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum DmaVecAddr {
    /// IOVA of the importing device's IOMMU domain (`DMA_BUF_DMA_VEC_IOVA`).
    Iova = 0,
    /// Addresses of a direct, per-range mapping (`DMA_BUF_DMA_VEC_DIRECT`).
    Direct = 1,
    /// PCI bus addresses of a peer's BAR, through no IOMMU (`DMA_BUF_DMA_VEC_BUS_ADDR`).
    BusAddr = 2,
}

impl DmaVecAddr {
    fn from_raw(v: bindings::dma_buf_dma_vec_addr) -> Option<Self> {
        Some(match v {
            0 => Self::Iova,
            1 => Self::Direct,
            2 => Self::BusAddr,
            _ => return None,
        })
    }
}

/// An exporter's mapping of one attachment, as an array of [`DmaVec`].
///
/// The abstraction keeps the mapping in a box from map to unmap, where it is dropped with the
/// reservation lock held. It reads [`DmaVecMap::entries`] once, right after boxing it, and
/// hands the importer that array: the box is never moved nor lent out mutably until unmap,
/// so through a shared reference the array can be neither changed nor freed meanwhile (the
/// abstraction relies on nothing else, hence a safe trait).
///
/// What the addresses reach is the exporter's to get right: they are those of the mapping
/// objects of [`kernel::dma::iova`](crate::dma::iova), which keep them mapped for
/// the importing device until they drop, with the mapping.
pub trait DmaVecMap: Send + Sync {
    /// The segments, in buffer order; not empty.
    fn entries(&self) -> &[DmaVec];
    /// What the addresses are.
    fn addr(&self) -> DmaVecAddr;
}

/// The DMA-only sg_table of an exporter's mapping, for importers of the sg_table type.
///
/// # Invariants
///
/// `sgt` was filled by `rust_helper_dma_vec_sgt_fill()` (`rust/helpers/dma-buf.c`) with the
/// `nents` entries of `map`, and is freed (`orig_nents` restored) when this is dropped.
pub(super) struct SgtMapping<M> {
    sgt: bindings::sg_table,
    nents: c_uint,
    /// Unmapped as it drops, after the table.
    map: M,
}

impl<M: DmaVecMap> SgtMapping<M> {
    /// Builds the sg_table of `map`, in a box: the table's address is what the importer gets.
    pub(super) fn new(map: M) -> Result<KBox<Self>> {
        let nents = c_uint::try_from(map.entries().len()).map_err(|_| EOVERFLOW)?;
        // An empty `sg_table`, which `sg_alloc_table()` fills.
        let mut sgt: bindings::sg_table = pin_init::zeroed();
        // SAFETY: `sgt` is ours; the entries are `nents` elements laid out as `struct dma_vec`
        // (asserted above). The table copies their addresses and lengths, and keeps no pointer
        // to them; on failure it is left empty.
        let ret =
            unsafe { bindings::dma_vec_sgt_fill(&mut sgt, map.entries().as_ptr().cast(), nents) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: Filled just above; if the allocation fails, the drop frees the table.
        Ok(KBox::new(Self { sgt, nents, map }, GFP_KERNEL)?)
    }

    /// The mapping.
    pub(super) fn map(&self) -> &M {
        &self.map
    }

    /// The table, for the importer.
    pub(super) fn into_raw(b: KBox<Self>) -> *mut bindings::sg_table {
        let raw = KBox::into_raw(b);
        // SAFETY: `raw` is valid; `from_raw` recovers the box with `container_of!`.
        unsafe { &raw mut (*raw).sgt }
    }

    /// Recovers what [`SgtMapping::into_raw`] returned.
    ///
    /// # Safety
    ///
    /// `sgt` came from [`SgtMapping::into_raw`] of this type and is not used afterwards.
    pub(super) unsafe fn from_raw(sgt: *mut bindings::sg_table) -> KBox<Self> {
        // SAFETY: `sgt` is the `sgt` field of a leaked `KBox<Self>` (the caller's guarantee).
        unsafe { KBox::from_raw(crate::container_of!(sgt, Self, sgt)) }
    }
}

impl<M> Drop for SgtMapping<M> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the table was filled with `nents` entries.
        unsafe { bindings::dma_vec_sgt_free(&raw mut self.sgt, self.nents) };
    }
}

/// The mapping types an exporter offers, in order: the DMA-vector type with `ops`, then the
/// sg_table type.
pub(super) fn exporter_matches(
    ops: &'static bindings::dma_buf_dma_vec_ops,
) -> [bindings::dma_buf_mapping_match; 2] {
    [
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_dma_vec_type,
            dma_vec_ops: ops,
        },
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_sgt_type,
            dma_vec_ops: core::ptr::null(),
        },
    ]
}

/// The mapping types an importer accepts, in order: the DMA-vector type, then the sg_table
/// type.
pub(super) fn importer_matches() -> [bindings::dma_buf_mapping_match; 2] {
    [
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_dma_vec_type,
            dma_vec_ops: core::ptr::null(),
        },
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_sgt_type,
            dma_vec_ops: core::ptr::null(),
        },
    ]
}

/// The mapping type negotiated for an attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingType {
    /// An array of [`DmaVec`] (`dma_buf_map_dma_vec()`).
    DmaVec,
    /// An sg_table (`dma_buf_map_attachment()`).
    SgTable,
}

/// An importer's mapping of the DMA-vector type: the exporter's array.
///
/// Unmapped by [`unmap_dma_vec`](super::attachment::ImportAttachment::unmap_dma_vec)
/// with the reservation lock held. While it exists its attachment is not detached (an
/// attachment dropped while mapped is leaked), so the array stays valid.
///
/// # Invariants
///
/// `map` was filled by `dma_buf_map_dma_vec()` for `attach` (at least one entry, laid out as
/// [`DmaVec`]), and is not yet unmapped.
pub struct DmaVecImport {
    pub(super) map: bindings::dma_buf_dma_vec,
    pub(super) attach: NonNull<bindings::dma_buf_attachment>,
    pub(super) dir: DataDirection,
    pub(super) addr: DmaVecAddr,
}

// SAFETY: The mapping is plain data; the exporter's array it points to may be read from any
// thread until unmap.
unsafe impl Send for DmaVecImport {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaVecImport {}

impl DmaVecImport {
    pub(super) fn new(
        map: bindings::dma_buf_dma_vec,
        attach: NonNull<bindings::dma_buf_attachment>,
        dir: DataDirection,
    ) -> core::result::Result<Self, (Error, Self)> {
        let addr = DmaVecAddr::from_raw(map.addr);
        let this = Self {
            map,
            attach,
            dir,
            addr: addr.unwrap_or(DmaVecAddr::Iova),
        };
        match addr {
            Some(_) if map.nr > 0 && !map.vecs.is_null() => Ok(this),
            _ => Err((EINVAL, this)),
        }
    }

    /// The exporter's segments, in buffer order.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DataDirection;
    /// use kernel::dma_buf::attachment::{DynamicAttachment, Importer};
    ///
    /// /// Maps `attach` as an array and returns its total length; unmaps before returning.
    /// fn mapped_len<T: Importer>(attach: &DynamicAttachment<T>) -> Result<usize> {
    ///     let guard = attach.dmabuf().resv().lock();
    ///     let m = attach.map_dma_vec(DataDirection::FromDevice, &guard)?;
    ///     let len = m.entries().iter().map(|e| e.len).sum();
    ///     attach.unmap_dma_vec(m, &guard);
    ///     Ok(len)
    /// }
    /// ```
    pub fn entries(&self) -> &[DmaVec] {
        // SAFETY: By the type invariant `vecs` holds `nr` entries laid out as `DmaVec`, which
        // the exporter keeps until unmap; the attachment is not detached meanwhile.
        unsafe { core::slice::from_raw_parts(self.map.vecs.cast::<DmaVec>(), self.map.nr) }
    }

    /// What the addresses are.
    pub fn addr(&self) -> DmaVecAddr {
        self.addr
    }

    /// The direction mapped for.
    pub fn dir(&self) -> DataDirection {
        self.dir
    }
}

/// An importer's mapping of the sg_table type: the exporter's table.
///
/// Unmapped by [`ImportAttachment::unmap_sgt`](super::attachment::ImportAttachment::unmap_sgt)
/// with the reservation lock held; as for [`DmaVecImport`], its attachment is not detached
/// while it exists.
///
/// # Invariants
///
/// `sgt` was returned by `dma_buf_map_attachment()` for `attach` and is not yet unmapped.
pub struct SgtImport {
    pub(super) sgt: NonNull<bindings::sg_table>,
    pub(super) attach: NonNull<bindings::dma_buf_attachment>,
    pub(super) dir: DataDirection,
}

// SAFETY: The table may be read from any thread until unmap.
unsafe impl Send for SgtImport {}
// SAFETY: See `Send`.
unsafe impl Sync for SgtImport {}

impl SgtImport {
    /// The DMA side of the table: its `nents` segments, as `(address, length)`.
    pub fn segments(&self) -> impl Iterator<Item = DmaVec> + '_ {
        // SAFETY: By the type invariant the table is mapped; `nents` is constant until unmap.
        let (mut sg, n) = unsafe { ((*self.sgt.as_ptr()).sgl, (*self.sgt.as_ptr()).nents) };
        (0..n).map(move |_| {
            // SAFETY: `sg` is one of the `nents` mapped entries of the table (the walk stops
            // after `nents`), valid until unmap, which needs `&mut`-free ownership of `self`.
            let v = unsafe {
                DmaVec {
                    addr: bindings::sg_dma_address(sg),
                    len: bindings::sg_dma_len(sg) as usize,
                }
            };
            // SAFETY: As above; `sg_next()` of the last entry is only computed, not used.
            sg = unsafe { bindings::sg_next(sg) };
            v
        })
    }

    /// The direction mapped for.
    pub fn dir(&self) -> DataDirection {
        self.dir
    }
}
