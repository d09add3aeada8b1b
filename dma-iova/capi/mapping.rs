// SPDX-License-Identifier: GPL-2.0

//! The mapping core for C: `dmavec_mapping_*()` of `<linux/dmavec.h>`, the C face of
//! [`Mapping`], for exporters that keep their own `dma_buf_ops` and offer the dma-buf core's
//! DMA-vector mapping type with it.

use crate::{
    export::direction,
    map::{KernelDma, Mapping, Provider},
    range::Ranges,
};
use core::ptr::NonNull;
use kernel::dma::iova::DmaDevice;
use kernel::{bindings, device::Device, ffi::c_uint, prelude::*};

/// `struct dmavec_mapping` of `<linux/dmavec.h>`: opaque to C.
pub(crate) struct DmavecMapping(Mapping);

/// See `dmavec_mapping_map()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `dev` is a valid device; `ranges` points to `nr_ranges` readable `struct phys_vec`;
/// `provider`, if not null, is a P2PDMA provider valid for the call and for as long as the
/// mapping exists.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_mapping_map(
    dev: *mut bindings::device,
    provider: *mut bindings::p2pdma_provider,
    ranges: *const bindings::phys_vec,
    nr_ranges: usize,
    dir: bindings::dma_data_direction,
) -> *mut DmavecMapping {
    let res = (|| -> Result<*mut DmavecMapping> {
        if dev.is_null() || ranges.is_null() || nr_ranges == 0 {
            return Err(EINVAL);
        }
        let dir = direction(dir).ok_or(EINVAL)?;
        // SAFETY: The caller guarantees `nr_ranges` readable ranges at a non-null `ranges`.
        let raw = unsafe { core::slice::from_raw_parts(ranges, nr_ranges) };
        // SAFETY: The caller guarantees a valid device, bound to its driver until
        // `dmavec_mapping_unmap()` drops the mapping.
        let dma = KernelDma::new(unsafe { DmaDevice::assume_bound(Device::from_raw(dev)) });
        // SAFETY: The caller guarantees the provider outlives the mapping.
        let provider = NonNull::new(provider).map(|p| unsafe { Provider::from_raw(p) });
        let mut v = KVec::with_capacity(raw.len(), GFP_KERNEL)?;
        v.extend_from_slice(super::phys_vecs(raw), GFP_KERNEL)?;
        // SAFETY: The caller owns the memory of the ranges and keeps it valid until
        // `dmavec_mapping_unmap()`, which drops the mapping, and the `Ranges` with it.
        let ranges = unsafe { Ranges::new(v) }?;
        let m = Mapping::map(dma, &ranges, provider.as_ref(), dir)?;
        Ok(KBox::into_raw(KBox::new(DmavecMapping(m), GFP_KERNEL)?))
    })();
    match res {
        Ok(p) => p,
        Err(e) => e.to_ptr(),
    }
}

/// See `dmavec_mapping_vecs()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `m` is a mapping `dmavec_mapping_map()` returned, not yet unmapped; `nr` is writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_mapping_vecs(
    m: *const DmavecMapping,
    nr: *mut usize,
) -> *const bindings::dma_vec {
    // SAFETY: The caller guarantees a live mapping.
    let e = unsafe { &*m }.0.entries();
    // SAFETY: The caller guarantees `nr` is writable.
    unsafe { nr.write(e.len()) };
    // `DmaVec` has the layout of `struct dma_vec`.
    e.as_ptr().cast()
}

/// See `dmavec_mapping_type()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `m` is a mapping `dmavec_mapping_map()` returned, not yet unmapped.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_mapping_type(m: *const DmavecMapping) -> c_uint {
    // SAFETY: The caller guarantees a live mapping.
    let t = unsafe { &*m }.0.map_type();
    // CAST: `enum dmavec_map_type` has the numbers of `MapType` (asserted in dmavec_capi.c).
    t as c_uint
}

/// See `dmavec_mapping_unmap()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `m` is a mapping `dmavec_mapping_map()` returned, not yet unmapped; it is not used after.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_mapping_unmap(m: *mut DmavecMapping) {
    if !m.is_null() {
        // SAFETY: The caller gives back the box `dmavec_mapping_map()` leaked.
        drop(unsafe { KBox::from_raw(m) });
    }
}
