// SPDX-License-Identifier: GPL-2.0

//! Mirrors of ioctl argument structures, for the drivers that use this crate.
//!
//! A driver's uAPI header declares its ioctl structures in C; the driver mirrors each one with
//! [`uapi_struct!`](crate::uapi_struct), which checks at compile time what makes reading and
//! writing it as bytes sound (`FromBytes`, `AsBytes`), so that the driver itself needs no
//! `unsafe` for it.
//!
//! C header: [`include/linux/ioctl.h`](srctree/include/linux/ioctl.h).

/// Declares a `#[repr(C)]` mirror of a uAPI structure and implements
/// [`FromBytes`](kernel::transmute::FromBytes) and [`AsBytes`](kernel::transmute::AsBytes) for
/// it.
///
/// Every field must itself be `FromBytes + AsBytes` (integers and arrays of them), and the
/// structure must have no padding: its size must be the sum of its fields' sizes. Both are
/// checked at compile time, so every bit pattern is a valid value and every byte is
/// initialised. The structure also derives `Clone`, `Copy` and `Default` (all zeroes, as a
/// reserved field must be).
///
/// # Examples
///
/// ```
/// dmavec::uapi_struct! {
///     /// `struct foo_args`.
///     pub struct FooArgs {
///         pub handle: u32,
///         pub flags: u32,
///         pub reserved: [u64; 2],
///     }
/// }
/// assert_eq!(core::mem::size_of::<FooArgs>(), 24);
/// ```
#[macro_export]
macro_rules! uapi_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Default)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        const _: () = {
            // Every field can be read from and written as bytes ...
            const fn field_is_plain<
                T: ::kernel::transmute::FromBytes + ::kernel::transmute::AsBytes,
            >() {
            }
            $(field_is_plain::<$ty>();)*
            // ... and no padding lies between or after them.
            assert!(
                ::core::mem::size_of::<$name>() == 0 $(+ ::core::mem::size_of::<$ty>())*,
                "a uAPI structure has padding"
            );
        };

        // SAFETY: `#[repr(C)]`, every field `FromBytes` and no padding (both checked above):
        // any bytes of the right length are a valid value.
        unsafe impl ::kernel::transmute::FromBytes for $name {}
        // SAFETY: `#[repr(C)]`, every field `AsBytes` and no padding (both checked above): every
        // byte of a value is initialised.
        unsafe impl ::kernel::transmute::AsBytes for $name {}
    };
}
