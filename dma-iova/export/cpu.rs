// SPDX-License-Identifier: GPL-2.0

//! CPU access to a dmavec buffer: `mmap()` of the dma-buf, its page faults, and the
//! `{begin,end}_cpu_access` hand-over of system memory between the CPU and the devices.
//!
//! C headers: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h).

use super::{attachment::for_each_attachment, buffer_of, Buffer};
use crate::shim;
use kernel::{
    bindings,
    error::{from_result, to_result},
    ffi::{c_int, c_ulong},
    prelude::*,
};

impl Buffer {
    /// Syncs every live mapping of the buffer that needs it for the CPU (`for_cpu`) or back
    /// for the devices: the ownership hand-over of `DMA_BUF_IOCTL_SYNC` and of
    /// `dma_buf_{begin,end}_cpu_access()`.
    ///
    /// # Safety
    ///
    /// `dmabuf` is this buffer's live dma-buf.
    unsafe fn sync_cpu(&self, dmabuf: *mut bindings::dma_buf, for_cpu: bool) -> Result {
        // SAFETY: The caller guarantees a live dma-buf.
        let resv = unsafe { (*dmabuf).resv };
        // SAFETY: `resv` is the dma-buf's reservation object; no acquire context.
        to_result(unsafe { shim::dmavec_shim_dma_resv_lock_interruptible(resv) })?;
        // SAFETY: A live dmavec dma-buf, its reservation lock held (above); `sync` needs it.
        unsafe { for_each_attachment(dmabuf, |_, st| st.sync(for_cpu)) };
        // SAFETY: Locked above.
        unsafe { bindings::dma_resv_unlock(resv) };
        Ok(())
    }

    /// The physical page backing buffer offset `off`, for CPU mappings.
    fn pfn_at(&self, off: usize) -> Option<u64> {
        if off >= self.size {
            return None;
        }
        // The last range starting at or before `off`.
        let i = match self.offsets.binary_search(&off) {
            Ok(i) => i,
            Err(i) => i.checked_sub(1)?,
        };
        let r = self.ranges.get(i)?;
        Some((r.paddr() + (off - self.offsets[i]) as u64) >> bindings::PAGE_SHIFT)
    }

    /// Whether CPU mappings are possible: every range whole pages.
    fn mappable(&self) -> bool {
        let p = bindings::PAGE_SIZE as u64;
        self.ranges
            .iter()
            .all(|r| r.paddr() % p == 0 && r.len() as u64 % p == 0)
    }
}

/// The CPU access hooks: hands the buffer over to the CPU (`for_cpu`) or back to the devices.
///
/// # Safety
///
/// `dmabuf` is a live dmavec dma-buf.
unsafe fn cpu_access(dmabuf: *mut bindings::dma_buf, for_cpu: bool) -> c_int {
    // SAFETY: The caller guarantees `dmabuf` is a live dmavec dma-buf.
    let buf = unsafe { buffer_of(dmabuf) };
    if buf.is_mmio() {
        // Uncached, and never bounced: nothing to hand over.
        return 0;
    }
    // SAFETY: `dmabuf` is `buf`'s live dma-buf (the caller's guarantee).
    from_result(|| unsafe { buf.sync_cpu(dmabuf, for_cpu) }.map(|()| 0))
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf.
pub(super) unsafe extern "C" fn dmavec_dma_buf_begin_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    _dir: bindings::dma_data_direction,
) -> c_int {
    // SAFETY: The dma-buf core calls this hook of dmavec's ops on a live dma-buf of ours.
    unsafe { cpu_access(dmabuf, true) }
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf.
pub(super) unsafe extern "C" fn dmavec_dma_buf_end_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    _dir: bindings::dma_data_direction,
) -> c_int {
    // SAFETY: The dma-buf core calls this hook of dmavec's ops on a live dma-buf of ours.
    unsafe { cpu_access(dmabuf, false) }
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf and a new VMA within its size.
pub(super) unsafe extern "C" fn dmavec_dma_buf_mmap(
    dmabuf: *mut bindings::dma_buf,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    from_result(|| {
        // SAFETY: The dma-buf core calls `mmap` of dmavec's ops on a live dma-buf of ours.
        let buf = unsafe { buffer_of(dmabuf) };
        if !buf.mmap || !buf.mappable() {
            return Err(EINVAL);
        }
        if buf.is_revoked() {
            return Err(ENODEV);
        }
        // SAFETY: `vma` is being set up by mmap; `DMAVEC_VM_OPS` is static.
        to_result(unsafe { shim::dmavec_shim_mmap_prepare(vma, buf.is_mmio(), &DMAVEC_VM_OPS) })?;
        Ok(0)
    })
}

/// # Safety
///
/// The MM calls this for a VMA that `dmavec_dma_buf_mmap` set up: its file is a live dmavec
/// dma-buf.
unsafe extern "C" fn dmavec_vm_fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: `vmf` describes a fault in one of our VMAs; the VMA's file holds a reference to
    // the dma-buf, whose `private_data` is the dma-buf.
    let (vma, pgoff, addr, dmabuf) = unsafe {
        let a = &(*vmf).__bindgen_anon_1;
        (
            a.vma,
            a.pgoff,
            a.address,
            (*(*a.vma).vm_file).private_data.cast::<bindings::dma_buf>(),
        )
    };
    // SAFETY: `dmabuf` is the live dmavec dma-buf behind this VMA's file, which holds a
    // reference to it.
    let buf = unsafe { buffer_of(dmabuf) };
    let sigbus = bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t;
    let Some(off) = pgoff.checked_mul(bindings::PAGE_SIZE) else {
        return sigbus;
    };
    // Serialised with revocation, which zaps the mappings under this lock.
    let _state = buf.state.lock();
    if buf.is_revoked() {
        return sigbus;
    }
    match buf.pfn_at(off) {
        // SAFETY: `vma` is a PFN-mapped VMA of ours and `addr` lies in it; the page belongs to
        // the buffer, which is not revoked.
        Some(pfn) => unsafe { bindings::vmf_insert_pfn(vma, addr, pfn as c_ulong) },
        None => sigbus,
    }
}

/// The VM operations of CPU mappings of dmavec buffers.
static DMAVEC_VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
    fault: Some(dmavec_vm_fault),
    ..pin_init::zeroed()
};
