// SPDX-License-Identifier: GPL-2.0

//! The C wrappers of `dmavec_shim.c`: static inline functions and macros of the kernel's C
//! headers that have no binding.

use kernel::{bindings, ffi};

// Only pointers cross this boundary. The lint flags the bindgen mirrors of `struct device` and
// friends because they contain zero-length array members, which it cannot reason about.
#[expect(improper_ctypes)]
extern "C" {
    pub(crate) fn dmavec_shim_pci_dev(dev: *mut bindings::device) -> *mut bindings::pci_dev;
    pub(crate) fn dmavec_shim_page_to_phys(page: *mut bindings::page) -> bindings::phys_addr_t;
    pub(crate) fn dmavec_shim_dma_resv_assert_held(resv: *mut bindings::dma_resv);
    pub(crate) fn dmavec_shim_get_dma_buf(dmabuf: *mut bindings::dma_buf);
    pub(crate) fn dmavec_shim_sgt_fill(
        sgt: *mut bindings::sg_table,
        vecs: *const ffi::c_void,
        nents: ffi::c_uint,
    ) -> ffi::c_int;
    pub(crate) fn dmavec_shim_sgt_free(sgt: *mut bindings::sg_table, nents: ffi::c_uint);
    pub(crate) fn dmavec_shim_mmap_prepare(
        vma: *mut bindings::vm_area_struct,
        mmio: bool,
        ops: *const bindings::vm_operations_struct,
    ) -> ffi::c_int;
    pub(crate) fn dmavec_shim_zap(file: *mut bindings::file);
    pub(crate) fn dmavec_shim_module_get(owner: *mut bindings::module) -> bool;
    pub(crate) fn dmavec_shim_module_put(owner: *mut bindings::module);
    pub(crate) fn dmavec_shim_cond_resched();
    pub(crate) fn dmavec_shim_dev_is_dma_coherent(dev: *mut bindings::device) -> bool;
    pub(crate) fn dmavec_shim_dma_sync_single(
        dev: *mut bindings::device,
        addr: bindings::dma_addr_t,
        size: usize,
        dir: bindings::dma_data_direction,
        for_cpu: bool,
    );
    pub(crate) fn dmavec_shim_fence_create(context: u64, seqno: u64) -> *mut bindings::dma_fence;
    pub(crate) fn dmavec_shim_fence_get(fence: *mut bindings::dma_fence);
    pub(crate) fn dmavec_shim_fence_put(fence: *mut bindings::dma_fence);
    pub(crate) fn dmavec_shim_dma_resv_lock_interruptible(
        resv: *mut bindings::dma_resv,
    ) -> ffi::c_int;
}
