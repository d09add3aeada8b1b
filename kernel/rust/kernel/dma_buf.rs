// SPDX-License-Identifier: GPL-2.0

//! dma-buf: buffers shared between devices (and user space) through a file.
//!
//! A dma-buf is exported by a driver that owns memory ([`exporter`]) and attached and mapped by
//! drivers whose devices access it ([`attachment`]). [`DmaBuf`] is a counted reference to one
//! (a reference to its file); a file descriptor turns into one with [`DmaBuf::from_fd`], and
//! one into a file descriptor with [`DmaBuf::install_fd`].
//!
//! # Locking
//!
//! A dma-buf's lock is its reservation object's ([`resv`]): calls that need it take a
//! [`ResvGuard`]. In short:
//!
//! - held by the dma-buf core around the exporter's map and unmap callbacks (both mapping
//!   types) and the importer's invalidate callback; the callback gets a guard;
//! - taken by the caller, then given as a guard, for an importer's map and unmap, for
//!   [`DmaBuf::invalidate_mappings`], for walking the attachments
//!   ([`exporter::attachments`]) and for adding a fence;
//! - not held, and not to be held, by attach and detach (the core takes it to change the list
//!   of attachments), by release, by the CPU access callbacks (an exporter takes it itself if
//!   it needs it), by mmap and faults, and by the waits for fences.
//!
//! # Mapping types
//!
//! An attachment is mapped with the type the dma-buf core negotiated at attach between the
//! types the exporter offers and those the importer accepts
//! ([`include/linux/dma-buf-mapping.h`](srctree/include/linux/dma-buf-mapping.h)). An
//! [`Exporter`](exporter::Exporter) maps an attachment once, as an array of [`DmaVec`]; the
//! abstraction offers that array as the DMA-vector type first, and, for the importers that
//! only know `dma_buf_map_attachment()`, as the sg_table type: the sg_table is built from the
//! same array, in one place ([`mapping`]), by this abstraction at map and freed at unmap.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use crate::{
    bindings,
    dma::DataDirection,
    error::from_err_ptr,
    fs::{file::FileDescriptorReservation, File},
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};
use core::ptr::NonNull;

pub mod attachment;
pub mod exporter;
pub mod mapping;
pub mod resv;

pub use mapping::{DmaVec, DmaVecAddr};
pub use resv::{DmaResv, ResvCell, ResvGuard, ResvUsage};

/// A dma-buf (`struct dma_buf`).
///
/// # Invariants
///
/// The dma-buf is valid while a reference to it exists, and its file is alive (its count is
/// non-zero): [`ARef<DmaBuf>`] owns a reference to that file, and the `&DmaBuf` of the
/// exporter's callbacks are given while the dma-buf core, an importer or a mapping holds one.
///
/// # Examples
///
/// ```
/// use kernel::dma_buf::{DmaBuf, O_CLOEXEC};
///
/// /// The dma-buf behind a file descriptor user space passed in, and a new descriptor for it.
/// fn dup(fd: i32) -> Result<u32> {
///     let dmabuf = DmaBuf::from_fd(fd)?;
///     pr_info!("{} bytes\n", dmabuf.size());
///     dmabuf.install_fd(O_CLOEXEC)
/// }
/// ```
#[repr(transparent)]
pub struct DmaBuf(Opaque<bindings::dma_buf>);

// SAFETY: A dma-buf may be used from any thread: its mutable state is behind its reservation
// lock and its file's reference count is atomic.
unsafe impl Send for DmaBuf {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaBuf {}

// SAFETY: A reference to a dma-buf is a reference to its file: `get_dma_buf()` takes one and
// `dma_buf_put()` puts it; the dma-buf is released when the file's count reaches zero.
unsafe impl AlwaysRefCounted for DmaBuf {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant the file is alive.
        unsafe { bindings::get_dma_buf(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference, which this puts.
        unsafe { bindings::dma_buf_put(obj.cast().as_ptr()) };
    }
}

impl DmaBuf {
    /// Borrows the dma-buf at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid dma-buf whose file stays alive for `'a` (the caller holds a reference,
    /// or is a callback the dma-buf core makes while one is held).
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf) -> &'a Self {
        // SAFETY: `DmaBuf` is a transparent wrapper of `struct dma_buf`; the caller guarantees
        // validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The raw dma-buf.
    pub fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.get()
    }

    /// Takes a reference to the dma-buf of file descriptor `fd` (`dma_buf_get()`).
    ///
    /// # Errors
    ///
    /// `EBADF` for a bad descriptor, `EINVAL` if it is not a dma-buf.
    pub fn from_fd(fd: i32) -> Result<ARef<Self>> {
        // SAFETY: `dma_buf_get()` accepts any integer.
        let p = from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        let p = NonNull::new(p).ok_or(EINVAL)?;
        // SAFETY: `dma_buf_get()` returned a reference, which the `ARef` owns.
        Ok(unsafe { ARef::from_raw(p.cast()) })
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: By the type invariant the dma-buf is valid; `size` is constant.
        unsafe { (*self.as_raw()).size }
    }

    /// The dma-buf's reservation object, whose lock is the dma-buf's.
    pub fn resv(&self) -> &DmaResv {
        // SAFETY: By the type invariant the dma-buf is valid; `resv` is set at export and
        // lives as long as the dma-buf.
        unsafe { DmaResv::from_raw((*self.as_raw()).resv) }
    }

    /// Installs a new reference to the dma-buf in a new file descriptor of the current task
    /// (`dma_buf_fd()`), with `flags` (`O_CLOEXEC`).
    ///
    /// # Errors
    ///
    /// `EMFILE` and the like.
    pub fn install_fd(&self, flags: u32) -> Result<u32> {
        self.install_fd_with(flags, |_| Ok(()))
    }

    /// Installs a new reference to the dma-buf in a new file descriptor, as
    /// [`DmaBuf::install_fd`], but only after `before_install` succeeded with the reserved
    /// descriptor number (typically: copying it to user space). On failure nothing was
    /// installed.
    pub fn install_fd_with(
        &self,
        flags: u32,
        before_install: impl FnOnce(u32) -> Result,
    ) -> Result<u32> {
        let res = FileDescriptorReservation::get_unused_fd_flags(flags)?;
        let fd = res.reserved_fd();
        before_install(fd)?;
        // SAFETY: By the type invariant the dma-buf's file is alive; the `ARef` takes a
        // reference of its own, which the descriptor table takes over.
        let file: ARef<File> = unsafe { File::from_raw_file((*self.as_raw()).file) }.into();
        res.fd_install(file);
        Ok(fd)
    }

    /// Invalidates the mappings of every dynamic attachment (`dma_buf_invalidate_mappings()`):
    /// each importer's invalidate callback runs, with this lock held, and must stop using its
    /// mapping and unmap it (then or soon after).
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object.
    pub fn invalidate_mappings(&self, guard: &ResvGuard<'_>) {
        assert!(guard.is_of(self.resv()), "mismatched reservation lock");
        // SAFETY: The dma-buf is valid and the guard proves its reservation lock is held.
        unsafe { bindings::dma_buf_invalidate_mappings(self.as_raw()) };
    }

    /// Zaps every CPU mapping (`mmap()`) of the dma-buf's file (`unmap_mapping_range()`): the
    /// next access faults. Takes no lock of the dma-buf's.
    pub fn zap_cpu_mappings(&self) {
        // SAFETY: By the type invariant the file is alive, and so its mapping.
        unsafe { bindings::unmap_mapping_range((*(*self.as_raw()).file).f_mapping, 0, 0, 1) };
    }
}

/// The [`DataDirection`] of a raw `enum dma_data_direction`; `None` for `DMA_NONE` and values
/// out of range.
pub fn data_direction(d: bindings::dma_data_direction) -> Option<DataDirection> {
    Some(match d {
        bindings::dma_data_direction::DMA_BIDIRECTIONAL => DataDirection::Bidirectional,
        bindings::dma_data_direction::DMA_TO_DEVICE => DataDirection::ToDevice,
        bindings::dma_data_direction::DMA_FROM_DEVICE => DataDirection::FromDevice,
        _ => return None,
    })
}

/// The file flags of a dma-buf's file, for [`exporter::ExportInfo::flags`].
pub const O_RDWR: u32 = bindings::O_RDWR;

/// `O_CLOEXEC`, for [`DmaBuf::install_fd`].
pub const O_CLOEXEC: u32 = bindings::O_CLOEXEC;
