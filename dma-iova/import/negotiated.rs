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
use kernel::dma_buf::{
    attachment::ImportAttachment,
    mapping::{DmaVecImport, MappingType},
    DmaVecAddr, ResvGuard,
};
use kernel::{dma::DataDirection, prelude::*};

/// A mapping of the DMA-vector type.
pub(super) struct ArrayMap {
    map: DmaVecImport,
    /// The exporter's entries merged and split within the importer's own segment limits, if
    /// it stated any ([`super::Locked::set_seg_limits`]); empty otherwise.
    own: KVec<DmaVec>,
    bytes: usize,
}

impl ArrayMap {
    /// Maps `attach` if the negotiated type is the DMA-vector type; `Ok(None)` if it is the
    /// sg_table type. The reservation lock is held (`guard`).
    pub(super) fn map(
        attach: &ImportAttachment,
        dir: DataDirection,
        limits: Option<SegLimits>,
        guard: &ResvGuard<'_>,
    ) -> Result<Option<Self>> {
        if attach.mapping_type() != MappingType::DmaVec {
            return Ok(None);
        }
        let map = attach.map_dma_vec(dir, guard)?;
        // What fails after the map unmaps before it returns.
        match finish(map.entries(), limits) {
            Ok((own, bytes)) => Ok(Some(Self { map, own, bytes })),
            Err(e) => {
                attach.unmap_dma_vec(map, guard);
                Err(e)
            }
        }
    }

    /// The entries, within the importer's limits if it stated its own.
    pub(super) fn entries(&self) -> &[DmaVec] {
        if self.own.is_empty() {
            self.map.entries()
        } else {
            &self.own
        }
    }

    /// What the addresses are.
    pub(super) fn kind(&self) -> MapType {
        match self.map.addr() {
            DmaVecAddr::Iova => MapType::Iova,
            DmaVecAddr::Direct => MapType::Direct,
            DmaVecAddr::BusAddr => MapType::BusAddr,
        }
    }

    /// Bytes mapped.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The direction mapped for.
    pub(super) fn dir(&self) -> DataDirection {
        self.map.dir()
    }

    /// Unmaps, with the reservation lock held (`guard`).
    pub(super) fn unmap(self, attach: &ImportAttachment, guard: &ResvGuard<'_>) {
        attach.unmap_dma_vec(self.map, guard);
    }
}

/// The byte count of the exporter's `entries`, and, if the importer stated limits of its
/// own, the entries merged and split within them.
fn finish(entries: &[DmaVec], limits: Option<SegLimits>) -> Result<(KVec<DmaVec>, usize)> {
    let mut bytes = 0usize;
    for e in entries {
        bytes = bytes.checked_add(e.len).ok_or(EOVERFLOW)?;
    }
    let mut own = KVec::new();
    if let Some(l) = limits {
        own = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        for e in entries {
            l.push(&mut own, e.addr, e.len)?;
        }
    }
    Ok((own, bytes))
}
