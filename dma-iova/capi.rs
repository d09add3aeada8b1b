// SPDX-License-Identifier: GPL-2.0

//! The C API of `<linux/dmavec.h>`, implemented on the Rust API.
//!
//! Each function here is exported to C modules with `EXPORT_SYMBOL_NS_GPL(..., "DMAVEC")` in
//! `dmavec_capi.c`; its kernel-doc lives in the header.

use crate::{
    export::{buffer_of, export, DmaBuf, ExportInfo, ExporterOps, ModuleOwner},
    import::{Attachment, Importer, Locked},
    map::Provider,
    range::{check_phys_ranges, PhysVec, Ranges, SegLimits},
};
use core::{ffi::c_void, ptr::NonNull};
use kernel::dma_buf::{DmaResv, ResvGuard};

mod mapping;
use kernel::{
    bindings,
    device::Device,
    error::from_result,
    ffi::{c_char, c_int, c_uint},
    pci::P2pdmaProvider,
    prelude::*,
    str::CStr,
    sync::aref::ARef,
};

// `PhysVec` has the layout of `struct phys_vec`: the two slice casts below rely on it.
const _: () = assert!(
    size_of::<PhysVec>() == size_of::<bindings::phys_vec>()
        && align_of::<PhysVec>() == align_of::<bindings::phys_vec>()
);

/// Views a C array of `struct phys_vec` as a slice of [`PhysVec`].
fn phys_vecs(raw: &[bindings::phys_vec]) -> &[PhysVec] {
    // SAFETY: `PhysVec` is `#[repr(C)]` { paddr, len } as `struct phys_vec` is (asserted
    // above), so the two slices have the same layout, length and lifetime.
    unsafe { core::slice::from_raw_parts(raw.as_ptr().cast(), raw.len()) }
}

/// Views ranges as the C `struct phys_vec` array they are.
fn raw_phys_vecs(v: &[PhysVec]) -> &[bindings::phys_vec] {
    // SAFETY: As in `phys_vecs()`, the other way round.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

impl Provider {
    /// Wraps the provider pointer of a C exporter or importer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `struct p2pdma_provider` set up by `pcim_p2pdma_init()` that
    /// stays valid as long as the returned value, and every clone of it, is used. For a
    /// provider from `pcim_p2pdma_provider()` that is while the exporting device is bound:
    /// exporters revoke their buffers before unbind (the contract of `<linux/dmavec.h>`).
    pub unsafe fn from_raw(ptr: NonNull<bindings::p2pdma_provider>) -> Self {
        // SAFETY: `P2pdmaProvider` is `#[repr(transparent)]` over the C struct, which the
        // caller guarantees valid as long as the provider is used.
        let raw = unsafe { &*ptr.as_ptr().cast::<P2pdmaProvider>() };
        // INVARIANT: Guaranteed by the caller.
        Self {
            raw: crate::map::Source::Static(raw),
            unbind: None,
            bar: None,
        }
    }
}

/// See `dmavec_phys_vec_check()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `vecs` must point to `nr` readable `struct phys_vec`; `total` must be null or point to a
/// writable `size_t`.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_phys_vec_check(
    vecs: *const bindings::phys_vec,
    nr: usize,
    total: *mut usize,
) -> c_int {
    from_result(|| {
        if vecs.is_null() && nr != 0 {
            return Err(EINVAL);
        }
        let raw = if nr == 0 {
            &[]
        } else {
            // SAFETY: The caller guarantees `nr` readable elements at `vecs`, checked non-null
            // above.
            unsafe { core::slice::from_raw_parts(vecs, nr) }
        };
        let t = check_phys_ranges(phys_vecs(raw))?;
        if !total.is_null() {
            // SAFETY: The caller guarantees that a non-null `total` is writable.
            unsafe { total.write(t) };
        }
        Ok(0)
    })
}

// ---- exporter ----

/// `struct dmavec_export_info` of `<linux/dmavec.h>`.
#[repr(C)]
pub(crate) struct DmavecExportInfo {
    name: *const c_char,
    owner: *mut bindings::module,
    ranges: *const bindings::phys_vec,
    nr_ranges: usize,
    provider: *mut bindings::p2pdma_provider,
    flags: c_int,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
    priv_: *mut c_void,
    export_flags: c_uint,
}

/// `DMAVEC_EXPORT_NO_MMAP` of `<linux/dmavec.h>`.
const DMAVEC_EXPORT_NO_MMAP: c_uint = 1 << 0;

struct CExporter {
    release: Option<unsafe extern "C" fn(*mut c_void)>,
    priv_: *mut c_void,
}

// SAFETY: The C exporter promises its release callback may run on any thread.
unsafe impl Send for CExporter {}
// SAFETY: See `Send`.
unsafe impl Sync for CExporter {}

impl ExporterOps for CExporter {
    fn release(&self, _buf: &crate::Buffer) {
        if let Some(f) = self.release {
            // SAFETY: The exporter gave us `f` and `priv_` for exactly this call.
            unsafe { f(self.priv_) };
        }
    }

    fn private_for(&self, key: usize) -> Option<*mut c_void> {
        // CAST: Function pointers compare as addresses.
        let own = self.release.map(|f| f as usize)?;
        (own == key).then_some(self.priv_)
    }
}

/// See `dmavec_export()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `info` points to a valid `struct dmavec_export_info` as documented there.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_export(
    info: *const DmavecExportInfo,
) -> *mut bindings::dma_buf {
    // SAFETY: The caller passes a valid info.
    let info = unsafe { &*info };
    let res = (|| -> Result<*mut bindings::dma_buf> {
        // A NULL owner is an exporter built into the kernel (`THIS_MODULE` is NULL there).
        if info.name.is_null()
            || info.ranges.is_null()
            || info.export_flags & !DMAVEC_EXPORT_NO_MMAP != 0
        {
            return Err(EINVAL);
        }
        // SAFETY: The caller guarantees `nr_ranges` readable ranges.
        let raw = unsafe { core::slice::from_raw_parts(info.ranges, info.nr_ranges) };
        let mut v = KVec::with_capacity(raw.len(), GFP_KERNEL)?;
        v.extend_from_slice(phys_vecs(raw), GFP_KERNEL)?;
        // SAFETY: The exporter owns the memory and keeps it valid, mappable by importers and
        // (without `DMAVEC_EXPORT_NO_MMAP`) by user space, until it revokes the buffer for
        // good or the dma-buf is released (documented in the header).
        let ranges = unsafe { Ranges::new(v) }?;
        // SAFETY: The name lives as long as the exporting module (documented in the header).
        let name: &'static CStr = unsafe { CStr::from_char_ptr(info.name) };
        // SAFETY: The provider stays valid until the exporter revokes the buffer for good
        // (documented in the header).
        let provider = NonNull::new(info.provider).map(|p| unsafe { Provider::from_raw(p) });
        let (_, dmabuf) = export(
            ExportInfo {
                ranges,
                provider,
                name,
                // SAFETY: The caller passes its `THIS_MODULE`.
                owner: unsafe { ModuleOwner::from_raw(info.owner) },
                flags: info.flags as u32,
                mmap: info.export_flags & DMAVEC_EXPORT_NO_MMAP == 0,
            },
            KBox::new(
                CExporter {
                    release: info.release,
                    priv_: info.priv_,
                },
                GFP_KERNEL,
            )?,
        )?;
        Ok(ARef::into_raw(dmabuf).as_ptr().cast())
    })();
    match res {
        Ok(p) => p,
        Err(e) => e.to_ptr(),
    }
}

/// See `dmavec_revoke()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `dmabuf` is a dmavec dma-buf the caller holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_revoke(
    dmabuf: *mut bindings::dma_buf,
    revoked: bool,
) -> c_int {
    from_result(|| {
        if dmabuf.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The caller holds a reference to a non-null `dmabuf`.
        let buf = buffer_of(unsafe { DmaBuf::from_raw(dmabuf) }).ok_or(EINVAL)?;
        if revoked {
            buf.revoke();
        } else {
            buf.restore();
        }
        Ok(0)
    })
}

/// See `dmavec_export_priv()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `dmabuf` is a dma-buf the caller holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_export_priv(
    dmabuf: *mut bindings::dma_buf,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut c_void {
    let Some(release) = release else {
        return core::ptr::null_mut();
    };
    if dmabuf.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: The caller holds a reference to a non-null `dmabuf`.
    let Some(buf) = buffer_of(unsafe { DmaBuf::from_raw(dmabuf) }) else {
        return core::ptr::null_mut();
    };
    buf.exporter_ops()
        // CAST: Function pointers compare as addresses.
        .private_for(release as usize)
        .unwrap_or(core::ptr::null_mut())
}

/// See `dmavec_export_ranges()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `dmabuf` is a dma-buf the caller holds a reference to, with its reservation lock held;
/// `ranges` and `nr_ranges` are writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_export_ranges(
    dmabuf: *mut bindings::dma_buf,
    ranges: *mut *const bindings::phys_vec,
    nr_ranges: *mut usize,
) -> c_int {
    from_result(|| {
        if dmabuf.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The caller holds a reference to a non-null `dmabuf`.
        let d = unsafe { DmaBuf::from_raw(dmabuf) };
        let buf = buffer_of(d).ok_or(EINVAL)?;
        // SAFETY: The caller holds the reservation lock of `d` for the call; the guard, which
        // does not unlock, asserts it (`dma_resv_assert_held()`).
        let _resv = unsafe { ResvGuard::assume_locked(d.resv()) };
        // `revoked` is written with the reservation lock held, which the caller holds.
        if buf.is_revoked() {
            return Err(ENODEV);
        }
        let r = buf.ranges();
        // SAFETY: The caller passes writable pointers. The ranges are immutable and live as
        // long as the buffer, which the caller's reference keeps.
        unsafe {
            ranges.write(raw_phys_vecs(r).as_ptr());
            nr_ranges.write(r.len());
        }
        Ok(0)
    })
}

/// See `dmavec_is_dmavec()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `dmabuf` is a dma-buf the caller holds a reference to.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_is_dmavec(dmabuf: *mut bindings::dma_buf) -> bool {
    // SAFETY: The caller holds a reference to a non-null `dmabuf`.
    !dmabuf.is_null() && crate::export::is_dmavec(unsafe { DmaBuf::from_raw(dmabuf) })
}

// ---- importer ----

/// `struct dmavec_importer_ops` of `<linux/dmavec.h>`.
#[repr(C)]
pub(crate) struct DmavecImporterOps {
    invalidate: Option<unsafe extern "C" fn(*mut CAttachment, *mut c_void)>,
}

/// `struct dmavec_attachment`: opaque to C.
pub(crate) struct CAttachment {
    att: Option<Attachment>,
}

struct CImporter {
    ops: *const DmavecImporterOps,
    priv_: *mut c_void,
    /// The `CAttachment` this importer belongs to; its `att` is `None` until attached.
    owner: *mut CAttachment,
}

// SAFETY: The C importer's ops and data may be used from any thread (documented).
unsafe impl Send for CImporter {}
// SAFETY: See `Send`.
unsafe impl Sync for CImporter {}

impl Importer for CImporter {
    fn invalidate(&self, locked: &mut Locked<'_>) {
        // SAFETY: `owner` outlives the attachment; `att` is written under the lock we hold.
        let attached = unsafe { (*self.owner).att.is_some() };
        // SAFETY: `ops` is valid for the attachment's lifetime (documented).
        match unsafe { (*self.ops).invalidate } {
            // SAFETY: The importer's callback, with its attachment and data; the reservation
            // lock is held, as the header documents.
            Some(f) if attached => unsafe { f(self.owner, self.priv_) },
            // No callback, or nothing could be mapped yet: drop the mapping ourselves.
            _ => locked.unmap(),
        }
    }
}

/// See `dmavec_attach()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `dmabuf` is a dma-buf the caller holds a reference to, `dev` a valid device, `ops` valid
/// until detach.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_attach(
    dmabuf: *mut bindings::dma_buf,
    dev: *mut bindings::device,
    ops: *const DmavecImporterOps,
    priv_: *mut c_void,
) -> *mut CAttachment {
    let res = (|| -> Result<*mut CAttachment> {
        let d = NonNull::new(dmabuf).ok_or(EINVAL)?;
        if dev.is_null() || ops.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The caller holds a reference; the attachment takes its own.
        let dmabuf: ARef<DmaBuf> = unsafe { DmaBuf::from_raw(d.as_ptr()) }.into();
        // SAFETY: `dev` is a valid device for the duration of the attachment.
        let dev = unsafe { Device::from_raw(dev) };
        let raw = KBox::into_raw(KBox::new(CAttachment { att: None }, GFP_KERNEL)?);
        let importer = CImporter {
            ops,
            priv_,
            owner: raw,
        };
        match Attachment::new(dmabuf, dev, importer) {
            Ok(a) => {
                let resv = a.dmabuf().resv().as_raw();
                // `att` is read by the invalidate callback, which runs under the reservation
                // lock: publish it under that lock.
                // SAFETY: `resv` belongs to the dma-buf `a` holds a reference to, and stays
                // valid once `a` moves into `raw`, which keeps that reference.
                let guard = unsafe { DmaResv::from_raw(resv) }.lock();
                // SAFETY: `raw` is ours until returned; the callback reads `att` under the lock.
                unsafe { (*raw).att = Some(a) };
                drop(guard);
                Ok(raw)
            }
            Err(e) => {
                // SAFETY: Not shared: the attach failed.
                drop(unsafe { KBox::from_raw(raw) });
                Err(e)
            }
        }
    })();
    match res {
        Ok(p) => p,
        Err(e) => e.to_ptr(),
    }
}

/// See `dmavec_detach()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `att` came from `dmavec_attach()` and is not used afterwards; the reservation lock is not
/// held.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_detach(att: *mut CAttachment) {
    // First stop the callbacks, through a shared reference: an invalidate may be running (it
    // reads `att` too) until `retire` has the reservation lock, and none reaches the importer
    // after it. Only then is `att` owned uniquely and dropped.
    // SAFETY: `att` came from `dmavec_attach` and is valid until dropped below.
    if let Some(a) = unsafe { (*att).att.as_ref() } {
        a.retire();
    }
    // SAFETY: `att` was leaked by `dmavec_attach`; no callback uses it any more.
    drop(unsafe { KBox::from_raw(att) });
}

/// See `dmavec_attachment_dmabuf()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `att` came from `dmavec_attach()`.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_attachment_dmabuf(
    att: *mut CAttachment,
) -> *mut bindings::dma_buf {
    // SAFETY: `att` is valid.
    match unsafe { (*att).att.as_ref() } {
        Some(a) => a.dmabuf().as_raw(),
        None => core::ptr::null_mut(),
    }
}

/// See `dmavec_map()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `att` came from `dmavec_attach()`, the caller holds the reservation lock of its dma-buf,
/// and the out pointers are writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_map(
    att: *mut CAttachment,
    dir: bindings::dma_data_direction,
    vecs: *mut *const c_void,
    nr_vecs: *mut usize,
    map_type: *mut c_int,
) -> c_int {
    from_result(|| {
        let dir = crate::export::direction(dir).ok_or(EINVAL)?;
        // SAFETY: `att` is valid.
        let a = unsafe { (*att).att.as_ref() }.ok_or(EINVAL)?;
        // SAFETY: The caller holds the reservation lock for the call.
        let mut locked = a.with_guard(unsafe { ResvGuard::assume_locked(a.dmabuf().resv()) });
        let v = locked.map(dir)?;
        // SAFETY: The caller provides writable out pointers; the entries live in the
        // attachment until it is unmapped.
        unsafe {
            vecs.write(v.entries.as_ptr().cast());
            nr_vecs.write(v.entries.len());
            if !map_type.is_null() {
                // CAST: the enum's values are 0 to 3.
                map_type.write(u32::from(v.kind) as c_int);
            }
        }
        Ok(0)
    })
}

/// See `dmavec_set_seg_limits()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `att` came from `dmavec_attach()` and the caller holds the reservation lock of its dma-buf.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_set_seg_limits(
    att: *mut CAttachment,
    max_segment: usize,
    boundary_mask: u64,
) -> c_int {
    from_result(|| {
        let limits = match (max_segment, boundary_mask) {
            (0, 0) => None,
            (0, _) | (_, 0) => return Err(EINVAL),
            (m, b) => Some(SegLimits::new(m, b)?),
        };
        // SAFETY: `att` is valid.
        let a = unsafe { (*att).att.as_ref() }.ok_or(EINVAL)?;
        // SAFETY: The caller holds the reservation lock for the call.
        a.with_guard(unsafe { ResvGuard::assume_locked(a.dmabuf().resv()) })
            .set_seg_limits(limits)?;
        Ok(0)
    })
}

/// See `dmavec_unmap()` in `<linux/dmavec.h>`.
///
/// # Safety
///
/// `att` came from `dmavec_attach()` and the caller holds the reservation lock.
#[no_mangle]
pub(crate) unsafe extern "C" fn dmavec_unmap(att: *mut CAttachment) {
    // SAFETY: `att` is valid.
    if let Some(a) = unsafe { (*att).att.as_ref() } {
        // SAFETY: The caller holds the reservation lock for the call.
        a.with_guard(unsafe { ResvGuard::assume_locked(a.dmabuf().resv()) })
            .unmap();
    }
}
