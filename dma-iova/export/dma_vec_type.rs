// SPDX-License-Identifier: GPL-2.0

//! The DMA-vector mapping type of every dmavec buffer: the exporter's list
//! for the dma-buf core's negotiation, and the map and unmap of importers that chose the type.
//!
//! A dmavec buffer offers the DMA-vector type first and the sg_table type second, so an
//! importer that asks for the array gets the mapping core's entries as they are, and every
//! other importer the sg_table of [`super::dma_buf_ops`], built from the same mapping.
//!
//! C header: [`include/linux/dma-buf-mapping.h`](srctree/include/linux/dma-buf-mapping.h).

use super::{attachment::LiveMapping, buffer_of, dma_buf_ops::direction};
use crate::shim;
use kernel::{bindings, error::from_result, ffi::c_int, prelude::*};

/// `dma_buf_ops.match_mapping`: the DMA-vector type, then the sg_table type.
///
/// # Safety
///
/// The dma-buf core calls this with a negotiation for a new attachment of a dmavec dma-buf.
pub(super) unsafe extern "C" fn dmavec_dma_buf_match_mapping(
    args: *mut bindings::dma_buf_match_args,
) -> c_int {
    let exp = [
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_dma_vec_type,
            dma_vec_ops: &DMAVEC_DMA_VEC_OPS,
        },
        bindings::dma_buf_mapping_match {
            type_: &raw const bindings::dma_buf_mapping_sgt_type,
            dma_vec_ops: core::ptr::null(),
        },
    ];
    // SAFETY: `args` is the core's negotiation, valid for this call; `exp` outlives the call,
    // and the core copies the chosen entry.
    unsafe { bindings::dma_buf_match_mapping(args, exp.as_ptr(), exp.len()) }
}

/// `dma_buf_dma_vec_ops.map_dma_vec`: the mapping core's entries, as they are.
///
/// # Safety
///
/// The dma-buf core calls this with the reservation lock held, for an attachment of a live
/// dmavec dma-buf whose type is the DMA-vector type, and `map` to fill.
unsafe extern "C" fn dmavec_dma_buf_map_dma_vec(
    attach: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
    map: *mut bindings::dma_buf_dma_vec,
) -> c_int {
    from_result(|| {
        // SAFETY: The core calls with an attachment of a live dma-buf of ours, resv held.
        let buf = unsafe { buffer_of((*attach).dmabuf) };
        let dir = direction(dir).ok_or(EINVAL)?;
        // SAFETY: `attach` is an attachment of `buf`'s dma-buf and the core holds its
        // reservation lock, as `map_attachment` requires. The importer's own segment limits
        // do not reach an exporter: the entries follow its device's, and a dmavec importer
        // with limits of its own merges and splits them (`import::negotiated`).
        let live = unsafe { buf.map_attachment(attach, dir, None) }?.into_static();
        // Boxed first: a mapping of one entry keeps it inline, so `vecs` must point into the
        // mapping where it stays until unmap.
        let live = KBox::new(live, GFP_KERNEL)?;
        let m = live.mapping();
        let out = bindings::dma_buf_dma_vec {
            vecs: m.entries().as_ptr().cast(),
            nr: m.entries().len(),
            // CAST: The numbers of `MapType` are those of `enum dma_buf_dma_vec_addr` (asserted
            // in dmavec_shim.c).
            addr: m.map_type() as bindings::dma_buf_dma_vec_addr,
            exp_priv: core::ptr::null_mut(),
        };
        // SAFETY: `map` is the core's, valid for this call. `exp_priv` owns the mapping until
        // `dmavec_dma_buf_unmap_dma_vec`; `vecs` points into it.
        unsafe {
            *map = out;
            (*map).exp_priv = KBox::into_raw(live).cast();
        }
        Ok(0)
    })
}

/// `dma_buf_dma_vec_ops.unmap_dma_vec`.
///
/// # Safety
///
/// The dma-buf core calls this with the reservation lock held and a mapping that
/// `dmavec_dma_buf_map_dma_vec` filled for this attachment.
unsafe extern "C" fn dmavec_dma_buf_unmap_dma_vec(
    attach: *mut bindings::dma_buf_attachment,
    map: *mut bindings::dma_buf_dma_vec,
    _dir: bindings::dma_data_direction,
) {
    // SAFETY: The core calls with the attachment's reservation lock held.
    unsafe { shim::dmavec_shim_dma_resv_assert_held((*(*attach).dmabuf).resv) };
    // SAFETY: `exp_priv` holds the box `dmavec_dma_buf_map_dma_vec` leaked; the core unmaps
    // a mapping once.
    drop(unsafe { KBox::from_raw((*map).exp_priv.cast::<LiveMapping<'static>>()) });
}

/// The DMA-vector map and unmap of every dmavec buffer.
static DMAVEC_DMA_VEC_OPS: bindings::dma_buf_dma_vec_ops = bindings::dma_buf_dma_vec_ops {
    map_dma_vec: Some(dmavec_dma_buf_map_dma_vec),
    unmap_dma_vec: Some(dmavec_dma_buf_unmap_dma_vec),
};
