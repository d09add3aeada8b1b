// SPDX-License-Identifier: GPL-2.0

//! [`DmaBuf`]: a counted reference to a dma-buf (its file), and its file descriptor.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use crate::shim;
use core::ptr::NonNull;
use kernel::{bindings, error::from_err_ptr, ffi::c_int, prelude::*, sync::aref::ARef};

/// A reference to a dma-buf (its file).
pub struct DmaBuf(pub(super) NonNull<bindings::dma_buf>);

// SAFETY: A dma-buf reference may be used and dropped from any thread.
unsafe impl Send for DmaBuf {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaBuf {}

impl DmaBuf {
    /// Takes a reference to the dma-buf of file descriptor `fd` (`dma_buf_get()`).
    ///
    /// # Errors
    ///
    /// `EBADF` for a bad descriptor, `EINVAL` if it is not a dma-buf.
    pub fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: `dma_buf_get` accepts any integer.
        let p = from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        NonNull::new(p).map(Self).ok_or(EINVAL)
    }

    /// Wraps a reference the caller owns.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid dma-buf and the caller transfers one reference to the returned value.
    pub unsafe fn from_raw(ptr: NonNull<bindings::dma_buf>) -> Self {
        Self(ptr)
    }

    /// The raw dma-buf.
    pub fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.as_ptr()
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: `self` holds a reference, so the dma-buf is valid.
        unsafe { (*self.as_raw()).size }
    }

    /// Installs the dma-buf in a new file descriptor, which takes over this reference.
    ///
    /// # Errors
    ///
    /// `EMFILE` and the like; the reference is then dropped.
    pub fn into_fd(self, flags: u32) -> Result<u32> {
        // SAFETY: `self` holds a reference; on success it moves to the file descriptor table.
        let fd = unsafe { bindings::dma_buf_fd(self.as_raw(), flags as c_int) };
        if fd < 0 {
            return Err(Error::from_errno(fd));
        }
        core::mem::forget(self);
        Ok(fd as u32)
    }
}

impl DmaBuf {
    /// Installs the dma-buf in a new file descriptor, as [`DmaBuf::into_fd`], but only after
    /// `before_install` succeeded with the reserved descriptor number (typically: copying it
    /// to user space). On failure nothing was installed and the reference is dropped.
    pub fn into_fd_with(
        self,
        flags: u32,
        before_install: impl FnOnce(u32) -> Result,
    ) -> Result<u32> {
        let res = kernel::fs::file::FileDescriptorReservation::get_unused_fd_flags(flags)?;
        let fd = res.reserved_fd();
        before_install(fd)?;
        // SAFETY: `self` holds a reference, so the dma-buf's file is valid; the `ARef` takes
        // a reference of its own for the descriptor table.
        let file: ARef<kernel::fs::File> =
            unsafe { kernel::fs::File::from_raw_file((*self.as_raw()).file) }.into();
        res.fd_install(file);
        Ok(fd)
    }
}

impl Clone for DmaBuf {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference, so the file is alive and may take another.
        unsafe { shim::dmavec_shim_get_dma_buf(self.as_raw()) };
        Self(self.0)
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: `self` owns one reference.
        unsafe { bindings::dma_buf_put(self.as_raw()) };
    }
}
