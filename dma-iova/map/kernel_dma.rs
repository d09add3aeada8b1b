// SPDX-License-Identifier: GPL-2.0

//! [`KernelDma`]: the [`DmaBackend`] that makes the real calls, to the kernel's DMA API, for
//! one importing device, through [`kernel::dma::iova`](kernel::dma::iova).
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h).

use super::{DirectMaps, DirectOne, DmaBackend, IovaLink, P2pType, Provider};
use crate::range::{DmaAddr, DmaVec, PhysAddr, SegLimits};
use kernel::dma::iova::{
    self as dma_iova, Attrs, DmaDevice, IovaState, PhysMapping, PhysMappings, PhysRange,
};
use kernel::{device::Device, dma::DataDirection, prelude::*};

/// The real DMA API, for one importing device.
///
/// The device is a [`DmaDevice`]: bound for `'a` when borrowed as a `Device<Bound>`
/// ([`DmaDevice::new`]); an exporter mapping for an attachment gets the attachment's device
/// from the dma-buf abstraction, for the life of the mapping it returns
/// (`ExporterAttachment::dma_device()`, which relies on the importer to unmap before its
/// driver is unbound).
pub struct KernelDma<'a> {
    dma: DmaDevice<'a>,
    /// The importer's own segment limits, in place of the device's (see
    /// [`KernelDma::with_limits`]).
    limits: Option<SegLimits>,
    /// The device's IOVA granule, where its user asked for it once (see
    /// [`KernelDma::with_granule`]).
    granule: Option<u64>,
}

impl<'a> KernelDma<'a> {
    /// The DMA API of `dma`'s device.
    #[inline]
    pub fn new(dma: DmaDevice<'a>) -> Self {
        Self {
            dma,
            limits: None,
            granule: None,
        }
    }

    /// Maps with the IOVA granule `granule` ([`dma_iova::iova_granule`] of the device, asked
    /// earlier), if `Some`, instead of asking the DMA API on every map.
    ///
    /// The granule is that of the device's DMA domain, which only changes while no driver is
    /// bound to any device of its IOMMU group: an exporter asks once per attachment, when the
    /// importer attaches, and a map then makes no DMA API call beyond those that map.
    #[inline]
    pub fn with_granule(mut self, granule: Option<u64>) -> Self {
        self.granule = granule;
        self
    }

    /// Maps with `limits` instead of the device's segment limits, if `Some`.
    ///
    /// The device's limits come from `struct device_dma_parameters`, whose maximum segment
    /// size is an `unsigned int`: at most 4 GiB - 1, so even a device without a limit gets an
    /// entry split every 4 GiB. An importer that knows better states its limits (up to
    /// [`SegLimits::UNLIMITED`]) through [`crate::Locked::set_seg_limits`] or
    /// `dmavec_set_seg_limits()`.
    #[inline]
    pub fn with_limits(mut self, limits: Option<SegLimits>) -> Self {
        self.limits = limits;
        self
    }

    /// The importing device.
    pub fn device(&self) -> &Device {
        self.dma.device()
    }

    /// The DMA API handle of the importing device.
    pub fn dma_device(&self) -> DmaDevice<'a> {
        self.dma
    }
}

impl SegLimits {
    /// `limits` if `Some`, else the segment limits of `dev` (`dma_get_max_seg_size()`,
    /// `dma_get_seg_boundary()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` for device limits [`SegLimits::new`] refuses.
    #[inline]
    pub fn of_device(dev: &Device, limits: Option<SegLimits>) -> Result<SegLimits> {
        match limits {
            Some(l) => Ok(l),
            None => SegLimits::new(dma_iova::max_seg_size(dev), dma_iova::seg_boundary(dev)),
        }
    }
}

// Inlined into users' instances of `Mapping::map`: a call less per DMA API call.
impl<'a> DmaBackend for KernelDma<'a> {
    type Iova = IovaState<'a>;
    type Direct = PhysMappings<'a>;
    type One = PhysMapping<'a>;

    #[inline]
    fn p2p_type(&self, provider: &Provider) -> P2pType {
        provider.p2p_type(self.dma.device())
    }

    #[inline]
    fn limits(&self) -> Result<SegLimits> {
        SegLimits::of_device(self.dma.device(), self.limits)
    }

    #[inline]
    fn dma_limit(&self) -> u64 {
        dma_iova::dma_limit(self.dma.device())
    }

    #[inline]
    fn iova_granule(&self) -> u64 {
        match self.granule {
            Some(g) => g,
            None => dma_iova::iova_granule(self.dma.device()),
        }
    }

    fn coherent(&self) -> bool {
        dma_iova::is_coherent(self.dma.device())
    }

    // As `coherent()`.
    fn untrusted(&self) -> bool {
        dma_iova::is_untrusted(self.dma.device())
    }

    #[inline]
    fn iova_try_alloc(
        &self,
        phys: PhysAddr,
        size: usize,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Option<IovaState<'a>> {
        self.dma.iova_try_alloc(phys, size, dir, attrs)
    }

    #[inline]
    fn direct(&self, dir: DataDirection, attrs: Attrs) -> PhysMappings<'a> {
        self.dma.phys_mappings(dir, attrs)
    }

    #[inline]
    fn map_one(&self, r: PhysRange, dir: DataDirection, attrs: Attrs) -> Result<PhysMapping<'a>> {
        self.dma.map_phys(r, dir, attrs)
    }
}

impl DirectOne for PhysMapping<'_> {
    #[inline]
    fn seg(&self) -> &DmaVec {
        self.as_dma_vec()
    }

    fn sync(&self, for_cpu: bool) {
        PhysMapping::sync(self, for_cpu)
    }
}

impl IovaLink for IovaState<'_> {
    #[inline]
    fn addr(&self) -> DmaAddr {
        IovaState::addr(self)
    }

    #[inline]
    fn link(&mut self, r: PhysRange) -> Result {
        IovaState::link(self, r)
    }

    #[inline]
    fn sync(&mut self) -> Result {
        IovaState::sync(self)
    }
}

impl DirectMaps for PhysMappings<'_> {
    #[inline]
    fn reserve(&mut self, capacity: usize) -> Result {
        PhysMappings::reserve(self, capacity)
    }

    #[inline]
    fn push(&mut self, r: PhysRange) -> Result<DmaAddr> {
        PhysMappings::push(self, r)
    }

    #[inline]
    fn extend(&mut self, ranges: impl Iterator<Item = PhysRange>) -> Result {
        PhysMappings::extend(self, ranges)
    }

    #[inline]
    fn as_slice(&self) -> &[DmaVec] {
        PhysMappings::as_slice(self)
    }

    #[inline]
    fn capacity(&self) -> usize {
        PhysMappings::capacity(self)
    }

    fn sync(&self, for_cpu: bool) {
        PhysMappings::sync(self, for_cpu)
    }
}
