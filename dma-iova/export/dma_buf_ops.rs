// SPDX-License-Identifier: GPL-2.0

//! The `dma_buf_ops` of every dmavec buffer: attach, detach, the sg_table map and unmap of the
//! dma-buf core's importers, and release (those of CPU access are in [`super::cpu`], the
//! DMA-vector mapping type in `super::dma_vec_type`).
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use super::{
    attachment::{AttachState, LiveMapping},
    buffer_of,
    cpu::{dmavec_dma_buf_begin_cpu_access, dmavec_dma_buf_end_cpu_access, dmavec_dma_buf_mmap},
    registry::BUFFERS,
    Buffer, DmaBuf,
};
use crate::{map::P2pType, shim};
use core::cell::{Cell, UnsafeCell};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    error::from_result,
    ffi::{c_int, c_uint},
    prelude::*,
    sync::{atomic::Atomic, Arc},
};

/// Whether `dmabuf` was exported by dmavec.
pub fn is_dmavec(dmabuf: &DmaBuf) -> bool {
    // SAFETY: `dmabuf` holds a reference.
    core::ptr::eq(unsafe { (*dmabuf.as_raw()).ops }, &DMAVEC_OPS)
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf and its new attachment.
unsafe extern "C" fn dmavec_dma_buf_attach(
    dmabuf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) -> c_int {
    from_result(|| {
        // SAFETY: The dma-buf core calls with a live dma-buf of ours and a new attachment.
        let buf = unsafe { buffer_of(dmabuf) };
        // SAFETY: `attach` is the new attachment the dma-buf core passes, valid for this call.
        let dev_ptr = unsafe { (*attach).dev };
        // SAFETY: The importing device is valid for the duration of the attachment.
        let dev = unsafe { Device::from_raw(dev_ptr) };
        // SAFETY: `attach` is valid.
        if buf.provider.is_some() && !unsafe { (*attach).peer2peer } {
            return Err(EPERM);
        }
        // SAFETY: `attach` is valid for this call, its importer ops already set by the core.
        if !unsafe { bindings::dma_buf_attach_revocable(attach) } {
            return Err(EOPNOTSUPP);
        }
        // The dma-buf core does not hold the reservation lock here: decide under the state
        // lock, which revocation takes too, so that the provider, whose memory the exporter may
        // free once it revoked the buffer for good, is only touched while the buffer is not
        // revoked.
        let state = buf.state.lock();
        if buf.is_revoked() {
            return Err(ENODEV);
        }
        #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
        crate::test_hooks::attach_delay();
        let mut p2p = None;
        if let Some(p) = buf.provider.as_ref() {
            let t = p.p2p_type(dev);
            // A device that is not a PCI device has no P2PDMA route at all: it attaches, and
            // every map of MMIO for it fails with EPERM. Such an importer only uses what the
            // exporter hands it outside the mapping ops (iommufd's attachment to vfio-pci's
            // dma-buf, whose device is iommufd's own, through `dmavec_export_ranges()`).
            // SAFETY: `dev_ptr` is the attachment's valid device.
            let is_pci = !unsafe { shim::dmavec_shim_pci_dev(dev_ptr) }.is_null();
            if t == P2pType::NotSupported && is_pci {
                return Err(EPERM);
            }
            p2p = Some(t);
        }
        drop(state);
        let st = KBox::new(
            AttachState {
                dev: dev.into(),
                p2p,
                cpu_sync: UnsafeCell::new(KVec::new()),
                next_id: Cell::new(0),
                live: Atomic::new(0),
                map_type: Atomic::new(u32::MAX),
                entries: Atomic::new(0),
                bytes: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `attach` is valid; `detach` frees this box.
        unsafe { (*attach).priv_ = KBox::into_raw(st).cast() };
        Ok(0)
    })
}

/// # Safety
///
/// The dma-buf core calls this once, for an attachment `dmavec_dma_buf_attach` accepted.
unsafe extern "C" fn dmavec_dma_buf_detach(
    _dmabuf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) {
    // SAFETY: `priv` holds the box `dmavec_dma_buf_attach` stored; the core calls detach once.
    drop(unsafe { KBox::from_raw((*attach).priv_.cast::<AttachState>()) });
}

/// The sg_table a dma-buf core importer gets, with the mapping behind it.
struct SgtMapping {
    sgt: bindings::sg_table,
    nents: c_uint,
    live: LiveMapping<'static>,
}

/// # Safety
///
/// The dma-buf core calls this with an attachment of a live dmavec dma-buf and its
/// reservation lock held.
unsafe extern "C" fn dmavec_dma_buf_map(
    attach: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: The core calls with an attachment of a live dma-buf of ours, resv held.
    let buf = unsafe { buffer_of((*attach).dmabuf) };
    let Some(dir) = direction(dir) else {
        return EINVAL.to_ptr();
    };
    // SAFETY: `attach` is an attachment of `buf`'s dma-buf and the core holds its
    // reservation lock, as `map_attachment` requires.
    let live = match unsafe { buf.map_attachment(attach, dir, None) } {
        Ok(l) => l.into_static(),
        Err(e) => return e.to_ptr(),
    };
    let entries = live.mapping().entries();
    let Ok(nents) = c_uint::try_from(entries.len()) else {
        return EOVERFLOW.to_ptr();
    };
    let s = SgtMapping {
        // An empty `sg_table`, which `sg_alloc_table()` fills.
        sgt: pin_init::zeroed(),
        nents,
        live,
    };
    let mut b = match KBox::new(s, GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => return ENOMEM.to_ptr(),
    };
    let entries = b.live.mapping().entries().as_ptr();
    let nents = b.nents;
    // SAFETY: `b.sgt` is ours; `entries` holds `nents` elements laid out as `struct dma_vec`,
    // owned by the mapping in `b`, which the table does not outlive.
    let ret = unsafe {
        shim::dmavec_shim_sgt_fill(core::ptr::addr_of_mut!(b.sgt), entries.cast(), nents)
    };
    if ret != 0 {
        return Error::from_errno(ret).to_ptr();
    }
    let raw = KBox::into_raw(b);
    // SAFETY: `raw` is valid; unmap recovers the box with `container_of!`.
    unsafe { core::ptr::addr_of_mut!((*raw).sgt) }
}

/// # Safety
///
/// The dma-buf core calls this with the reservation lock held and a table `dmavec_dma_buf_map`
/// returned for this attachment.
unsafe extern "C" fn dmavec_dma_buf_unmap(
    attach: *mut bindings::dma_buf_attachment,
    sgt: *mut bindings::sg_table,
    _dir: bindings::dma_data_direction,
) {
    // SAFETY: The core calls with the resv held.
    unsafe { shim::dmavec_shim_dma_resv_assert_held((*(*attach).dmabuf).resv) };
    // SAFETY: `sgt` is the `sgt` field of an `SgtMapping` that `dmavec_dma_buf_map` leaked.
    let s = unsafe { KBox::from_raw(kernel::container_of!(sgt, SgtMapping, sgt)) };
    // SAFETY: The table was filled by `dmavec_shim_sgt_fill` with `s.nents` entries.
    unsafe { shim::dmavec_shim_sgt_free(sgt, s.nents) };
    drop(s);
}

/// # Safety
///
/// The dma-buf core calls this once, when the last reference to a dmavec dma-buf is gone.
unsafe extern "C" fn dmavec_dma_buf_release(dmabuf: *mut bindings::dma_buf) {
    // The window of a revocation racing the last close: the file is dying and its inode was
    // put, the buffer is still registered and its state still names the dma-buf.
    #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
    crate::test_hooks::RELEASE_HOLD.pass();
    // SAFETY: `priv` holds the reference `export` took; release is called once.
    let buf = unsafe { Arc::from_raw((*dmabuf).priv_.cast::<Buffer>()) };
    // SAFETY: `BUFFERS` is the only list a `Buffer` is ever inserted in.
    drop(unsafe { BUFFERS.lock().remove(&buf) });
    buf.state.lock().dmabuf = None;
    buf.ops.release(&buf);
}

pub(crate) fn direction(d: bindings::dma_data_direction) -> Option<DataDirection> {
    Some(match d {
        bindings::dma_data_direction::DMA_BIDIRECTIONAL => DataDirection::Bidirectional,
        bindings::dma_data_direction::DMA_TO_DEVICE => DataDirection::ToDevice,
        bindings::dma_data_direction::DMA_FROM_DEVICE => DataDirection::FromDevice,
        _ => return None,
    })
}

/// The dma-buf ops of every dmavec buffer: the negotiation offers the DMA-vector type
/// ([`super::dma_vec_type`]) before the sg_table.
pub(super) static DMAVEC_OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
    attach: Some(dmavec_dma_buf_attach),
    detach: Some(dmavec_dma_buf_detach),
    map_dma_buf: Some(dmavec_dma_buf_map),
    unmap_dma_buf: Some(dmavec_dma_buf_unmap),
    release: Some(dmavec_dma_buf_release),
    begin_cpu_access: Some(dmavec_dma_buf_begin_cpu_access),
    end_cpu_access: Some(dmavec_dma_buf_end_cpu_access),
    mmap: Some(dmavec_dma_buf_mmap),
    match_mapping: Some(super::dma_vec_type::dmavec_dma_buf_match_mapping),
    ..pin_init::zeroed()
};
