// SPDX-License-Identifier: GPL-2.0

//! The mapping core: an exporter's physical ranges in, an array of [`DmaVec`] out.
//!
//! [`Mapping::map`] decides how the importing device reaches the memory and
//! maps it:
//!
//! | memory | `pci_p2pdma_map_type()` | IOVA space | path |
//! |--------|-------------------------|------------|------|
//! | RAM (no provider) | - | yes | [`MapType::Iova`]: a link per range, one sync |
//! | RAM (no provider) | - | no | [`MapType::Direct`]: `dma_map_phys()` per range |
//! | MMIO | `THRU_HOST_BRIDGE` | yes | [`MapType::Iova`] with `DMA_ATTR_MMIO` |
//! | MMIO | `THRU_HOST_BRIDGE` | no | [`MapType::Direct`] with `DMA_ATTR_MMIO` |
//! | MMIO | `BUS_ADDR` | - | [`MapType::BusAddr`]: PCI bus addresses, nothing to unmap |
//! | MMIO | `NOT_SUPPORTED`, other | - | `EPERM` |
//!
//! Physically adjacent ranges are merged into runs first ([`runs`]), and each run is linked or
//! mapped with one call: fewer DMA API calls than ranges, and on the IOVA path the IOMMU driver
//! can use large pages for a run whose physical address and IOVA are aligned. The entries are
//! built with [`SegLimits::push`]: DMA-contiguous results merge into one entry, split only where
//! the importer's segment limits require. On the IOVA path the whole buffer is one contiguous
//! IOVA range, so an importer without limits gets exactly one entry.
//!
//! The array is the only per-mapping allocation: the IOVA state lives in the [`Mapping`], and on
//! the direct path the entries double as the unmap record as long as they match the mapped runs
//! one to one; a separate record is only kept when they do not (merged or split entries). MMIO
//! of one run on the direct path is one mapping ([`DmaBackend::map_one`]), kept in the
//! [`Mapping`]; its segment is the one entry.
//!
//! Every failure unwinds exactly what was done, and dropping a [`Mapping`] unmaps it. The DMA
//! calls go through a [`DmaBackend`], so that the KUnit suite can force each path and inject a
//! failure at any step.
//!
//! C headers: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h) (the
//! IOVA-linking API and `dma_map_phys()`),
//! [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h).
//!
//! [`DmaVec`]: crate::range::DmaVec
//! [`runs`]: crate::range::runs

use crate::range::{DmaAddr, DmaVec, PhysAddr, SegLimits};
use kernel::dma::iova::{Attrs, PhysRange};
use kernel::{dma::DataDirection, prelude::*};

mod kernel_dma;
mod mapping;
mod p2p;

pub use kernel_dma::KernelDma;
pub use mapping::{MapType, Mapping};
pub use p2p::{P2pType, Provider};
pub(crate) use p2p::{Source, Unbind};

/// The DMA calls of the mapping core, for one importing device.
///
/// [`KernelDma`] makes the real calls. The KUnit suite uses a fake IOMMU instead.
///
/// No method has a precondition: what gets mapped is a [`PhysRange`], which only a
/// [`Ranges`](crate::Ranges) hands out, and what was mapped is unmapped by the
/// [`DmaBackend::Iova`] or [`DmaBackend::Direct`] object that mapped it, when it drops.
pub trait DmaBackend {
    /// IOVA space with the ranges linked into it so far; dropping it unlinks them and frees
    /// the space (`dma_iova_destroy()` of exactly what was linked).
    type Iova: IovaLink;
    /// The `dma_map_phys()` mappings made so far; dropping it unmaps them, last first.
    type Direct: DirectMaps;
    /// One `dma_map_phys()` mapping; dropping it unmaps it.
    type One: DirectOne;

    /// `pci_p2pdma_map_type(provider, dev)`.
    fn p2p_type(&self, provider: &Provider) -> P2pType;
    /// The importer's segment limits (`dma_get_max_seg_size()`, `dma_get_seg_boundary()`).
    fn limits(&self) -> Result<SegLimits>;
    /// The highest bus address the importer can reach without the DMA API's help (what
    /// `dma_capable()` checks): its DMA mask, lowered by the bus limit; 0 without a mask.
    fn dma_limit(&self) -> u64;
    /// The IOVA granule (`dma_get_merge_boundary() + 1`), 0 when unknown.
    fn iova_granule(&self) -> u64;
    /// Whether the device's DMA is cache-coherent (`dev_is_dma_coherent()`).
    fn coherent(&self) -> bool;
    /// Whether the device is untrusted (`pci_dev->untrusted`, dma-iommu's `dev_is_untrusted()`):
    /// the IOMMU DMA layer bounces its mappings of memory not aligned to the IOVA granule
    /// through swiotlb.
    fn untrusted(&self) -> bool;
    /// `dma_iova_try_alloc()` of `size` bytes whose first byte is linked from `phys` (only
    /// its offset in the IOMMU granule matters), for ranges linked with `dir` and `attrs`;
    /// `None` without IOVA space.
    fn iova_try_alloc(
        &self,
        phys: PhysAddr,
        size: usize,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Option<Self::Iova>;
    /// An empty record of `dma_map_phys()` mappings with `dir` and `attrs`, with room for one
    /// ([`DirectMaps::reserve`] for more).
    fn direct(&self, dir: DataDirection, attrs: Attrs) -> Self::Direct;
    /// `dma_map_phys()` of `r` alone, with `dir` and `attrs`: a mapping of one run needs no
    /// record of many.
    fn map_one(&self, r: PhysRange, dir: DataDirection, attrs: Attrs) -> Result<Self::One>;
}

/// One `dma_map_phys()` mapping of a [`DmaBackend`]:
/// [`PhysMapping`](kernel::dma::iova::PhysMapping) for the real one.
pub trait DirectOne {
    /// The mapping: its DMA address and length.
    fn seg(&self) -> &DmaVec;
    /// Syncs the mapping for the CPU (`for_cpu`) or back for the device.
    fn sync(&self, for_cpu: bool);
}

/// The IOVA state of a [`DmaBackend`]: [`IovaState`](kernel::dma::iova::IovaState)
/// for the real one.
pub trait IovaLink {
    /// The IOVA of the first byte.
    fn addr(&self) -> DmaAddr;
    /// `dma_iova_link()` of `r` right after what is linked so far.
    fn link(&mut self, r: PhysRange) -> Result;
    /// `dma_iova_sync()` of what is linked.
    fn sync(&mut self) -> Result;
}

/// The `dma_map_phys()` record of a [`DmaBackend`]:
/// [`PhysMappings`](kernel::dma::iova::PhysMappings) for the real one.
pub trait DirectMaps {
    /// Makes room for `capacity` mappings in all.
    fn reserve(&mut self, capacity: usize) -> Result;
    /// `dma_map_phys()` of `r`, recorded; its DMA address.
    fn push(&mut self, r: PhysRange) -> Result<DmaAddr>;
    /// [`DirectMaps::push`] of each of `ranges`, in order, up to the first that fails.
    fn extend(&mut self, ranges: impl Iterator<Item = PhysRange>) -> Result {
        for r in ranges {
            self.push(r)?;
        }
        Ok(())
    }
    /// The mappings, in the order they were made.
    fn as_slice(&self) -> &[DmaVec];
    /// How many mappings the record holds without growing.
    fn capacity(&self) -> usize;
    /// Syncs every mapping for the CPU (`for_cpu`) or back for the device.
    fn sync(&self, for_cpu: bool);
}
