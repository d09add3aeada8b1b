// SPDX-License-Identifier: GPL-2.0

//! The array through the dma-buf core's DMA-vector mapping type.
//!
//! The importer attaches with the DMA-vector type first and the sg_table type second; the
//! dma-buf core negotiates with the exporter, whoever it is: a dmavec buffer, or any exporter
//! that offers the type with its own `dma_buf_ops`. Nothing here looks at the exporter's ops.
//!
//! C header: [`include/linux/dma-buf-mapping.h`](srctree/include/linux/dma-buf-mapping.h).

use crate::{
    map::MapType,
    range::{DmaVec, SegLimits},
};
use kernel::{bindings, dma::DataDirection, error::to_result, prelude::*};

/// Attaches `dev` to `dmabuf`, asking for the DMA-vector type, then the sg_table type.
///
/// # Safety
///
/// As `dma_buf_dynamic_attach()`: `dmabuf` and `dev` are valid, `ops` and `priv_` outlive the
/// attachment. Returns what `dma_buf_mapping_attach()` returns.
pub(super) unsafe fn attach(
    dmabuf: *mut bindings::dma_buf,
    dev: *mut bindings::device,
    ops: &'static bindings::dma_buf_attach_ops,
    priv_: *mut core::ffi::c_void,
) -> *mut bindings::dma_buf_attachment {
    let imp = [
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_dma_vec_type,
            dma_vec_ops: core::ptr::null(),
        },
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_sgt_type,
            dma_vec_ops: core::ptr::null(),
        },
    ];
    // SAFETY: The caller's guarantees; the core reads `imp` during the call only.
    unsafe { bindings::dma_buf_mapping_attach(dmabuf, dev, imp.as_ptr(), imp.len(), ops, priv_) }
}

/// A mapping of the DMA-vector type.
pub(super) struct ArrayMap {
    map: bindings::dma_buf_dma_vec,
    dir: DataDirection,
    /// The exporter's entries merged and split within the importer's own segment limits, if
    /// it stated any ([`super::Locked::set_seg_limits`]); empty otherwise.
    own: KVec<DmaVec>,
    kind: MapType,
    bytes: usize,
}

impl ArrayMap {
    /// Maps `attach` if the negotiated type is the DMA-vector type; `Ok(None)` if it is the
    /// sg_table type.
    ///
    /// # Safety
    ///
    /// `attach` is valid and the caller holds its dma-buf's reservation lock.
    pub(super) unsafe fn map(
        attach: *mut bindings::dma_buf_attachment,
        dir: DataDirection,
        limits: Option<SegLimits>,
    ) -> Result<Option<Self>> {
        // SAFETY: `attach` is valid; `map_type` is constant while attached.
        let ty = unsafe { (*attach).map_type.type_ };
        if !core::ptr::eq(ty, &raw const bindings::dma_buf_mapping_dma_vec_type) {
            return Ok(None);
        }
        // An empty mapping, which the core fills.
        let mut map: bindings::dma_buf_dma_vec = pin_init::zeroed();
        // SAFETY: `attach` is of the DMA-vector type and the reservation lock is held.
        to_result(unsafe { bindings::dma_buf_map_dma_vec(attach, dir.into(), &mut map) })?;
        let mut m = Self {
            map,
            dir,
            own: KVec::new(),
            kind: MapType::Iova,
            bytes: 0,
        };
        // What fails after the map unmaps before it returns.
        match m.finish(limits) {
            Ok(()) => Ok(Some(m)),
            Err(e) => {
                // SAFETY: Mapped just above for `attach`, lock held.
                unsafe { m.unmap(attach) };
                Err(e)
            }
        }
    }

    fn finish(&mut self, limits: Option<SegLimits>) -> Result {
        // The numbers of `enum dma_buf_dma_vec_addr` are those of `MapType`.
        self.kind = MapType::from_u32(self.map.addr).ok_or(EINVAL)?;
        let mut bytes = 0usize;
        for e in self.exporters() {
            bytes = bytes.checked_add(e.len).ok_or(EOVERFLOW)?;
        }
        self.bytes = bytes;
        if let Some(l) = limits {
            let mut own = KVec::with_capacity(self.map.nr, GFP_KERNEL)?;
            for e in self.exporters() {
                l.push(&mut own, e.addr, e.len)?;
            }
            self.own = own;
        }
        Ok(())
    }

    /// The exporter's entries.
    fn exporters(&self) -> &[DmaVec] {
        // SAFETY: The core checked that `vecs` holds `nr >= 1` entries, which the exporter
        // keeps until unmap; `DmaVec` has the layout of `struct dma_vec`.
        unsafe { core::slice::from_raw_parts(self.map.vecs.cast::<DmaVec>(), self.map.nr) }
    }

    /// The entries, within the importer's limits if it stated its own.
    pub(super) fn entries(&self) -> &[DmaVec] {
        if self.own.is_empty() {
            self.exporters()
        } else {
            &self.own
        }
    }

    /// What the addresses are.
    pub(super) fn kind(&self) -> MapType {
        self.kind
    }

    /// Bytes mapped.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The direction mapped for.
    pub(super) fn dir(&self) -> DataDirection {
        self.dir
    }

    /// Unmaps.
    ///
    /// # Safety
    ///
    /// `attach` is the attachment this was mapped for, and the caller holds the reservation
    /// lock.
    pub(super) unsafe fn unmap(mut self, attach: *mut bindings::dma_buf_attachment) {
        // SAFETY: The caller's guarantees; mapped by `dma_buf_map_dma_vec()`.
        unsafe { bindings::dma_buf_unmap_dma_vec(attach, &mut self.map, self.dir.into()) };
    }
}
