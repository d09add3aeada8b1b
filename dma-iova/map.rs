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
//! one to one; a separate record is only kept when they do not (merged or split entries).
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

use crate::range::{DmaAddr, PhysAddr, SegLimits};
use kernel::{bindings, dma::DataDirection, ffi::c_ulong, prelude::*};

mod kernel_dma;
mod mapping;
mod p2p;

pub use kernel_dma::KernelDma;
pub use mapping::{MapType, Mapping};
pub(crate) use p2p::Unbind;
pub use p2p::{P2pType, Provider};

/// The kernel's `struct dma_iova_state`.
pub type IovaState = bindings::dma_iova_state;

/// The DMA calls of the mapping core, for one importing device.
///
/// [`KernelDma`] makes the real calls. The KUnit suite uses a fake IOMMU instead.
pub trait DmaBackend {
    /// `pci_p2pdma_map_type(provider, dev)`.
    fn p2p_type(&self, provider: &Provider) -> P2pType;
    /// The importer's segment limits (`dma_get_max_seg_size()`, `dma_get_seg_boundary()`).
    fn limits(&self) -> Result<SegLimits>;
    /// The highest bus address the importer can reach without the DMA API's help (what
    /// `dma_capable()` checks): its DMA mask, lowered by the bus limit; 0 without a mask.
    fn dma_limit(&self) -> u64;
    /// The IOVA granule (`dma_get_merge_boundary() + 1`), 0 when unknown.
    fn iova_granule(&self) -> u64;
    /// `dma_iova_try_alloc()`.
    fn iova_try_alloc(&self, state: &mut IovaState, phys: PhysAddr, size: usize) -> bool;
    /// `dma_iova_link()`.
    fn iova_link(
        &self,
        state: &mut IovaState,
        phys: PhysAddr,
        offset: usize,
        size: usize,
        dir: DataDirection,
        attrs: c_ulong,
    ) -> Result;
    /// `dma_iova_sync()`.
    fn iova_sync(&self, state: &mut IovaState, offset: usize, size: usize) -> Result;
    /// `dma_iova_destroy()`: unlinks `mapped_len` bytes and frees the IOVA space.
    fn iova_destroy(
        &self,
        state: &mut IovaState,
        mapped_len: usize,
        dir: DataDirection,
        attrs: c_ulong,
    );
    /// `dma_map_phys()`, checked with `dma_mapping_error()`.
    fn map_phys(
        &self,
        phys: PhysAddr,
        size: usize,
        dir: DataDirection,
        attrs: c_ulong,
    ) -> Result<DmaAddr>;
    /// `dma_unmap_phys()`.
    fn unmap_phys(&self, addr: DmaAddr, size: usize, dir: DataDirection, attrs: c_ulong);
    /// `dma_sync_single_for_cpu()` (`for_cpu`) or `dma_sync_single_for_device()` of a range
    /// that `map_phys` mapped, with the direction it was mapped with.
    fn sync_phys(&self, addr: DmaAddr, size: usize, dir: DataDirection, for_cpu: bool);
    /// Whether the device's DMA is cache-coherent (`dev_is_dma_coherent()`).
    fn coherent(&self) -> bool;
    /// Whether the device is untrusted (`pci_dev->untrusted`, dma-iommu's `dev_is_untrusted()`):
    /// the IOMMU DMA layer bounces its mappings of memory not aligned to the IOVA granule
    /// through swiotlb.
    fn untrusted(&self) -> bool;
}
