// SPDX-License-Identifier: GPL-2.0

//! The array on a kernel without the dma-buf core's mapping types (stock 7.3).
//!
//! Without the negotiation an importer cannot ask an exporter for the array: dmavec buffers
//! are recognised by their `dma_buf_ops`, the "private interconnect" pattern the negotiation
//! (`super::negotiated`) replaces, and mapped by the mapping core directly.
//! Every other exporter's buffer is mapped through its sg_table.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use crate::{
    export::{buffer_of, LiveMapping},
    map::MapType,
    range::{DmaVec, SegLimits},
};
use kernel::{bindings, dma::DataDirection, prelude::*};

/// Attaches `dev` to `dmabuf` (`dma_buf_dynamic_attach()`).
///
/// # Safety
///
/// As `dma_buf_dynamic_attach()`: `dmabuf` and `dev` are valid, `ops` and `priv_` outlive the
/// attachment.
pub(super) unsafe fn attach(
    dmabuf: *mut bindings::dma_buf,
    dev: *mut bindings::device,
    ops: &'static bindings::dma_buf_attach_ops,
    priv_: *mut core::ffi::c_void,
) -> *mut bindings::dma_buf_attachment {
    // SAFETY: The caller's guarantees.
    unsafe { bindings::dma_buf_dynamic_attach(dmabuf, dev, ops, priv_) }
}

/// A mapping of a dmavec buffer, made by the mapping core for this attachment.
pub(super) struct ArrayMap {
    live: LiveMapping<'static>,
    dir: DataDirection,
}

impl ArrayMap {
    /// Maps `attach` if its dma-buf is a dmavec buffer; `Ok(None)` for any other exporter.
    ///
    /// # Safety
    ///
    /// `attach` is valid and the caller holds its dma-buf's reservation lock.
    pub(super) unsafe fn map(
        attach: *mut bindings::dma_buf_attachment,
        dir: DataDirection,
        limits: Option<SegLimits>,
    ) -> Result<Option<Self>> {
        // SAFETY: The attachment is valid and holds a reference to its dma-buf.
        let dmabuf = unsafe { (*attach).dmabuf };
        // SAFETY: `dmabuf` is live; its `ops` identify the exporter.
        if !core::ptr::eq(unsafe { (*dmabuf).ops }, crate::export::ops()) {
            return Ok(None);
        }
        // SAFETY: A dmavec dma-buf, attached (so not released), lock held.
        let buf = unsafe { buffer_of(dmabuf) };
        // SAFETY: `attach` is an attachment of `buf`'s dma-buf, lock held.
        let live = unsafe { buf.map_attachment(attach, dir, limits) }?.into_static();
        Ok(Some(Self { live, dir }))
    }

    /// The entries.
    pub(super) fn entries(&self) -> &[DmaVec] {
        self.live.mapping().entries()
    }

    /// What the addresses are.
    pub(super) fn kind(&self) -> MapType {
        self.live.mapping().map_type()
    }

    /// Bytes mapped.
    pub(super) fn bytes(&self) -> usize {
        self.live.mapping().size()
    }

    /// The direction mapped for.
    pub(super) fn dir(&self) -> DataDirection {
        self.dir
    }

    /// Unmaps.
    ///
    /// # Safety
    ///
    /// The caller holds the reservation lock.
    pub(super) unsafe fn unmap(self, _attach: *mut bindings::dma_buf_attachment) {
        drop(self.live);
    }
}
