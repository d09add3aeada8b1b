// SPDX-License-Identifier: GPL-2.0

//! [`KernelDma`]: the [`DmaBackend`] that makes the real calls, to the kernel's DMA API, for
//! one importing device.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h).

use super::{DmaBackend, IovaState, P2pType, Provider};
use crate::{
    range::{DmaAddr, PhysAddr, SegLimits},
    shim,
};
use core::ptr::NonNull;
use kernel::{
    bindings, device::Device, dma::DataDirection, error::to_result, ffi::c_ulong, prelude::*,
    sync::aref::ARef,
};

/// The real DMA API, for one importing device.
///
/// # Invariants
///
/// `dev` is a valid device for the lifetime of `self`: `_hold` keeps a reference to it, or the
/// creator of `self` guaranteed it (see [`KernelDma::new_unreferenced`]).
pub struct KernelDma {
    dev: NonNull<bindings::device>,
    _hold: Option<ARef<Device>>,
    /// The importer's own segment limits, in place of the device's (see
    /// [`KernelDma::with_limits`]).
    limits: Option<SegLimits>,
}

impl KernelDma {
    /// The DMA API of `dev`, holding a reference to it.
    pub fn new(dev: &Device) -> Self {
        let hold: ARef<Device> = dev.into();
        // INVARIANT: `hold` keeps the device alive.
        Self {
            // `Device` is `repr(transparent)` over `struct device` (see `raw::device()`).
            dev: NonNull::from(dev).cast(),
            _hold: Some(hold),
            limits: None,
        }
    }

    /// The DMA API of `dev`, without taking a reference: what an exporter uses for every map
    /// of an attachment, whose device reference it already holds.
    ///
    /// # Safety
    ///
    /// `dev` stays valid as long as the returned value and every [`Mapping`](super::Mapping) made
    /// with it.
    #[inline]
    pub unsafe fn new_unreferenced(dev: &Device) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            dev: NonNull::from(dev).cast(),
            _hold: None,
            limits: None,
        }
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
        // SAFETY: Valid for the lifetime of `self` (type invariant).
        unsafe { Device::from_raw(self.dev.as_ptr()) }
    }

    #[inline]
    fn raw(&self) -> *mut bindings::device {
        self.dev.as_ptr()
    }
}

// SAFETY: A device may be used from any thread; the raw pointer is only a borrow of a device
// kept valid as the type invariant says.
unsafe impl Send for KernelDma {}
// SAFETY: See `Send`; the DMA API calls made through `&self` are thread-safe.
unsafe impl Sync for KernelDma {}

// Inlined into users' instances of `Mapping::map`: a call less per DMA API call.
impl DmaBackend for KernelDma {
    #[inline]
    fn p2p_type(&self, provider: &Provider) -> P2pType {
        // Not the verbose `pci_p2pdma_map_type()`: attach is reached from user
        // space, which must not be able to make the kernel log.
        // SAFETY: `provider` is live (type invariant) and `self.raw()` is a valid device.
        P2pType::from_raw(unsafe {
            bindings::pci_p2pdma_map_type_nowarn(provider.as_raw(), self.raw())
        })
    }

    #[inline]
    fn limits(&self) -> Result<SegLimits> {
        if let Some(l) = self.limits {
            return Ok(l);
        }
        // `dma_get_max_seg_size()` and `dma_get_seg_boundary()`, static inlines: the device's
        // DMA parameters where set, else 64 KiB and no boundary.
        // SAFETY: `self.raw()` is a valid device; its `dma_parms` is NULL or valid as long as
        // the device.
        let parms = unsafe { (*self.raw()).dma_parms };
        // SAFETY: `parms` is NULL or points to the device's DMA parameters, valid as long as
        // the device, which outlives `self`.
        let (max, boundary) = unsafe { parms.as_ref() }
            .map_or((0, 0), |p| (p.max_segment_size, p.segment_boundary_mask));
        let max = if max == 0 { 64 * 1024 } else { max as usize };
        let boundary = if boundary == 0 {
            u64::MAX
        } else {
            boundary as u64
        };
        SegLimits::new(max, boundary)
    }

    #[inline]
    fn dma_limit(&self) -> u64 {
        // SAFETY: `self.raw()` is a valid device; `dma_mask` is null or points to its mask.
        let (mask, bus) = unsafe {
            let d = self.raw();
            (
                (*d).dma_mask.as_ref().copied().unwrap_or(0),
                (*d).bus_dma_limit,
            )
        };
        if bus == 0 {
            mask
        } else {
            mask.min(bus)
        }
    }

    #[inline]
    fn iova_granule(&self) -> u64 {
        // SAFETY: `self.raw()` is a valid device.
        let b = unsafe { bindings::dma_get_merge_boundary(self.raw()) } as u64;
        if b == 0 {
            0
        } else {
            b.wrapping_add(1)
        }
    }

    #[inline]
    fn iova_try_alloc(&self, state: &mut IovaState, phys: PhysAddr, size: usize) -> bool {
        // SAFETY: `self.raw()` is a valid device; `state` is a valid, exclusively borrowed state.
        unsafe { bindings::dma_iova_try_alloc(self.raw(), state, phys, size) }
    }

    #[inline]
    fn iova_link(
        &self,
        state: &mut IovaState,
        phys: PhysAddr,
        offset: usize,
        size: usize,
        dir: DataDirection,
        attrs: c_ulong,
    ) -> Result {
        // SAFETY: `state` was allocated by `iova_try_alloc` for this device; the caller keeps
        // `offset + size` within it.
        let ret = unsafe {
            bindings::dma_iova_link(self.raw(), state, phys, offset, size, dir.into(), attrs)
        };
        if ret == 0 {
            Ok(())
        } else {
            to_result(ret)
        }
    }

    #[inline]
    fn iova_sync(&self, state: &mut IovaState, offset: usize, size: usize) -> Result {
        // SAFETY: As for `iova_link`.
        let ret = unsafe { bindings::dma_iova_sync(self.raw(), state, offset, size) };
        if ret == 0 {
            Ok(())
        } else {
            to_result(ret)
        }
    }

    #[inline]
    fn iova_destroy(
        &self,
        state: &mut IovaState,
        mapped_len: usize,
        dir: DataDirection,
        attrs: c_ulong,
    ) {
        // SAFETY: `state` was allocated for this device and `mapped_len` bytes from its start
        // are linked.
        unsafe { bindings::dma_iova_destroy(self.raw(), state, mapped_len, dir.into(), attrs) }
    }

    #[inline]
    fn map_phys(
        &self,
        phys: PhysAddr,
        size: usize,
        dir: DataDirection,
        attrs: c_ulong,
    ) -> Result<DmaAddr> {
        // SAFETY: `self.raw()` is a valid device; the exporter owns `[phys, phys + size)`.
        let addr = unsafe { bindings::dma_map_phys(self.raw(), phys, size, dir.into(), attrs) };
        // `dma_mapping_error()`, a static inline: DMA-API debugging records that the result
        // was checked, and the error value is all ones.
        #[cfg(CONFIG_DMA_API_DEBUG)]
        // SAFETY: `addr` was just returned for this device.
        unsafe {
            bindings::debug_dma_mapping_error(self.raw(), addr)
        };
        if addr == DmaAddr::MAX {
            return Err(ENOMEM);
        }
        Ok(addr)
    }

    #[inline]
    fn unmap_phys(&self, addr: DmaAddr, size: usize, dir: DataDirection, attrs: c_ulong) {
        // SAFETY: `addr`/`size` were returned by `map_phys` for this device.
        unsafe { bindings::dma_unmap_phys(self.raw(), addr, size, dir.into(), attrs) }
    }

    fn sync_phys(&self, addr: DmaAddr, size: usize, dir: DataDirection, for_cpu: bool) {
        // SAFETY: `addr`/`size` were returned by `map_phys` for this device with `dir`, and are
        // still mapped (the caller's mapping is alive).
        unsafe { shim::dmavec_shim_dma_sync_single(self.raw(), addr, size, dir.into(), for_cpu) }
    }

    fn coherent(&self) -> bool {
        // SAFETY: `self.raw()` is a valid device.
        unsafe { shim::dmavec_shim_dev_is_dma_coherent(self.raw()) }
    }

    fn untrusted(&self) -> bool {
        // SAFETY: `self.raw()` is a valid device.
        let pdev = unsafe { shim::dmavec_shim_pci_dev(self.raw()) };
        // SAFETY: `pdev` is null or the PCI device around `self.raw()`, valid as long as it.
        unsafe { pdev.as_ref() }.is_some_and(|p| p.untrusted() != 0)
    }
}
