// SPDX-License-Identifier: GPL-2.0

//! The C API of `<linux/dmavec.h>`, implemented on the Rust API.
//!
//! Each function here is exported to C modules with `EXPORT_SYMBOL_NS_GPL(..., "DMAVEC")` in
//! `dmavec_shim.c`; its kernel-doc lives in the header.

use crate::range::{check_phys_ranges, PhysVec};
use kernel::{bindings, ffi::c_int, prelude::*};

/// See `dmavec_phys_vec_check()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `vecs` must point to `nr` readable `struct phys_vec`; `total` must be null or point to a
/// writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn dmavec_phys_vec_check(
    vecs: *const bindings::phys_vec,
    nr: usize,
    total: *mut usize,
) -> c_int {
    if vecs.is_null() && nr != 0 {
        return EINVAL.to_errno();
    }
    let raw = if nr == 0 {
        &[]
    } else {
        // SAFETY: The caller guarantees `nr` readable elements at `vecs`, checked non-null above.
        unsafe { core::slice::from_raw_parts(vecs, nr) }
    };
    match check_phys_ranges(PhysVec::from_raw_slice(raw)) {
        Ok(t) => {
            if !total.is_null() {
                // SAFETY: The caller guarantees that a non-null `total` is writable.
                unsafe { total.write(t) };
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

