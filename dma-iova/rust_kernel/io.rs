// SPDX-License-Identifier: GPL-2.0

//! Bulk MMIO accesses, for `kernel::io` (which has single accesses only).
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h).

use kernel::{
    bindings,
    io::{Io, IoBackend, MmioBackend},
    prelude::*,
};

/// Zeroes `[offset, offset + len)` of an MMIO region (`memset_io()`).
///
/// A loop of [`Io::try_write64`] costs a call and a bounds check per 8 bytes; `memset_io()` is
/// the architecture's bulk store, checked once.
///
/// # Errors
///
/// `EINVAL` if the range is not within the region, `EOVERFLOW` if it wraps.
///
/// # Examples
///
/// ```ignore
/// bar.try_access_with(|bar| dmavec::rust_kernel::io::zero_io(bar, first * PAGE_SIZE, PAGE_SIZE));
/// ```
pub fn zero_io<'a, IO: Io<'a, Backend = MmioBackend>>(io: IO, offset: usize, len: usize) -> Result {
    let end = offset.checked_add(len).ok_or(EOVERFLOW)?;
    if end > io.size() {
        return Err(EINVAL);
    }
    let base = MmioBackend::as_ptr(io.as_view()).cast::<u8>();
    // SAFETY: `io` is a live MMIO mapping of `io.size()` bytes at `base` (the invariant of its
    // view), and `[offset, end)` lies within it.
    unsafe { bindings::memset_io(base.wrapping_add(offset).cast(), 0, len) };
    Ok(())
}
