// SPDX-License-Identifier: GPL-2.0

//! What the Rust abstractions of Linux 7.3 and the series lack and dmavec's drivers need.
//!
//! [`MiscNames`] is a candidate for `kernel::miscdevice`, whose registrations borrow a
//! `&'static CStr` name.

use kernel::{prelude::*, sync::SetOnce};

/// Bytes of a misc device name and its NUL in [`MiscNames`]: a short prefix and a PCI name
/// (`dddd:bb:dd.f`, its domain up to eight digits) fit.
pub const MISC_NAME_LEN: usize = 32;

/// Up to `N` names of misc devices, `<prefix><device name>`, for the life of a module.
///
/// A [`MiscDeviceRegistration`](kernel::miscdevice::MiscDeviceRegistration) borrows its name
/// as a `&'static CStr` while it lives, but a driver names its misc devices after the devices
/// it binds. The names live here instead, in a static of the driver: a slot is written once,
/// and a device that binds again finds its name where it left it.
///
/// # Examples
///
/// ```ignore
/// static NAMES: MiscNames<32> = MiscNames::new();
///
/// let name = NAMES.get(b"dmavec-", pdev.as_ref().name())?; // "dmavec-0000:00:03.0"
/// MiscDeviceRegistration::register(MiscDeviceOptions { name })
/// ```
pub struct MiscNames<const N: usize>([SetOnce<[u8; MISC_NAME_LEN]>; N]);

impl<const N: usize> Default for MiscNames<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> MiscNames<N> {
    /// An empty set of names.
    pub const fn new() -> Self {
        Self([const { SetOnce::new() }; N])
    }

    /// Returns the name `prefix` + `dev_name`, taking a free slot for it the first time.
    ///
    /// # Errors
    ///
    /// `ENAMETOOLONG` if the name and its NUL exceed [`MISC_NAME_LEN`] bytes, `ENOSPC` once
    /// `N` different names are taken.
    pub fn get(&'static self, prefix: &[u8], dev_name: &CStr) -> Result<&'static CStr> {
        let dev_name = dev_name.to_bytes();
        let len = prefix.len() + dev_name.len();
        if len >= MISC_NAME_LEN {
            return Err(ENAMETOOLONG);
        }
        let mut name = [0u8; MISC_NAME_LEN];
        name[..prefix.len()].copy_from_slice(prefix);
        name[prefix.len()..len].copy_from_slice(dev_name);
        // Slots fill in order and are never emptied: the first that is empty (or that a
        // concurrent probe of another device is filling) comes after every name given out.
        for slot in &self.0 {
            if slot.as_ref().is_none() {
                slot.populate(name);
            }
            if let Some(taken) = slot.as_ref().filter(|taken| **taken == name) {
                return CStr::from_bytes_until_nul(taken).map_err(|_| EINVAL);
            }
        }
        Err(ENOSPC)
    }
}
