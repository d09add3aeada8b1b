// SPDX-License-Identifier: GPL-2.0

//! The misc device of a bound BAR: one open file, its allocation handles, and the ioctls.
//!
//! Every error path of an ioctl returns an errno and nothing else: no log line, no partial
//! state (an allocation whose handle cannot be returned is freed, an export whose descriptor
//! cannot be returned is dropped before it is installed).

use crate::{
    alloc::SharedTree,
    uapi::{self, Alloc, Export, Free, Info, Range},
    Allocation, BarDevice,
};
use dmavec::PhysVec;
use kernel::{
    bindings,
    fs::File,
    ioctl::_IOC_SIZE,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// An open file: its device and its allocations, by handle.
#[pin_data]
pub(crate) struct BarFile {
    dev: Arc<BarDevice>,
    /// Handles `1..=u32::MAX`, allocated by the maple tree.
    #[pin]
    handles: SharedTree<Arc<Allocation>>,
}

/// The misc device of a bound BAR, embedded in the driver's per-device data.
#[pin_data]
pub(crate) struct BarMisc {
    #[pin]
    pub(crate) reg: MiscDeviceRegistration<BarFile>,
    pub(crate) dev: Arc<BarDevice>,
}

const P: u64 = PAGE_SIZE as u64;

impl BarFile {
    fn info(&self) -> Info {
        let d = &self.dev;
        Info {
            page_size: PAGE_SIZE as u32,
            features: uapi::FEATURE_MMAP | uapi::FEATURE_P2PDMA,
            bar_size: d.size,
            // Memory being zeroed counts as free: ALLOC waits for it.
            bytes_free: d.alloc.free_pages() * P + d.scrubbing_bytes(),
            bar_index: d.index,
            reserved0: 0,
            bytes_scrubbing: d.scrubbing_bytes(),
            reserved: [0; 3],
        }
    }

    fn alloc(&self, req: &Alloc) -> Result<u32> {
        if req.flags != 0 || req.reserved != [0; 2] {
            return Err(EINVAL);
        }
        if req.size == 0 || req.size % P != 0 {
            return Err(EINVAL);
        }
        let align = match req.align {
            0 => 1,
            a if a.is_power_of_two() && a >= P => a / P,
            _ => return Err(EINVAL),
        };
        let pages = usize::try_from(req.size / P).map_err(|_| ENOSPC)?;
        let align = usize::try_from(align).map_err(|_| ENOSPC)?;
        let a = Allocation::new(&self.dev, pages, align)?;
        let h = self
            .handles
            .alloc_range(1, a, 1..=u32::MAX as usize, GFP_KERNEL)
            .map_err(Error::from)?;
        Ok(h as u32)
    }

    fn free(&self, req: &Free) -> Result {
        if req.flags != 0 || req.reserved != 0 {
            return Err(EINVAL);
        }
        if req.handle == 0 {
            return Err(ENOENT);
        }
        // Dropping the handle's reference; dma-bufs exported from the allocation keep theirs.
        self.handles
            .erase(req.handle as usize)
            .map(drop)
            .ok_or(ENOENT)
    }

    fn lookup(&self, handle: u32) -> Result<Arc<Allocation>> {
        if handle == 0 {
            return Err(ENOENT);
        }
        let mut g = self.handles.lock();
        g.load(handle as usize).map(Arc::from).ok_or(ENOENT)
    }

    /// Checks an export request and resolves its ranges.
    fn export_ranges(&self, req: &Export) -> Result<(KVec<PhysVec>, KVec<Arc<Allocation>>)> {
        // `fd` is output only: a non-zero input is refused like any other reserved input, so
        // that it can be given a meaning later.
        if req.flags != 0 || req.fd != 0 || req.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let access = bindings::O_ACCMODE;
        if req.fd_flags & !(bindings::O_CLOEXEC | access) != 0 || req.fd_flags & access == access {
            return Err(EINVAL);
        }
        if req.count == 0 {
            return Err(EINVAL);
        }
        if req.count > uapi::MAX_RANGES {
            return Err(E2BIG);
        }
        let n = req.count as usize;
        let addr = usize::try_from(req.ranges).map_err(|_| EFAULT)?;
        let mut reader = UserSlice::new(UserPtr::from_addr(addr), n * size_of::<Range>()).reader();
        let mut ranges = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut allocs: KVec<Arc<Allocation>> = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            let r: Range = reader.read()?;
            if r.reserved != 0 || r.length == 0 || r.offset % P != 0 || r.length % P != 0 {
                return Err(EINVAL);
            }
            let a = self.lookup(r.handle)?;
            let end = r.offset.checked_add(r.length).ok_or(EOVERFLOW)?;
            if end > a.bytes() {
                return Err(EINVAL);
            }
            let len = usize::try_from(r.length).map_err(|_| EOVERFLOW)?;
            ranges.push(PhysVec::new(a.phys() + r.offset, len), GFP_KERNEL)?;
            if !allocs.iter().any(|b| Arc::ptr_eq(b, &a)) {
                allocs.push(a, GFP_KERNEL)?;
            }
        }
        Ok((ranges, allocs))
    }
}

#[vtable]
impl MiscDevice for BarFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        // SAFETY: Our registrations are the `reg` field of a `BarMisc`, which stays alive
        // while `misc_open` holds `misc_mtx` around this call (deregistration takes it too).
        let bm =
            unsafe { &*kernel::container_of!(core::ptr::from_ref(misc).cast_mut(), BarMisc, reg) };
        KBox::pin_init(
            pin_init!(BarFile {
                dev: bm.dev.clone(),
                handles <- SharedTree::new(),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&BarFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd)).reader_writer();
        // Once the device is removed only FREE works (and EXPORT fails under its lock).
        if cmd != uapi::IOCTL_FREE && cmd != uapi::IOCTL_EXPORT && me.dev.is_gone() {
            return Err(ENODEV);
        }
        match cmd {
            uapi::IOCTL_INFO => writer.write(&me.info())?,
            uapi::IOCTL_ALLOC => {
                let mut req: Alloc = reader.read()?;
                let h = me.alloc(&req)?;
                req.handle = h;
                if let Err(e) = writer.write(&req) {
                    drop(me.handles.erase(h as usize));
                    return Err(e);
                }
            }
            uapi::IOCTL_FREE => me.free(&reader.read()?)?,
            uapi::IOCTL_EXPORT => {
                let mut req: Export = reader.read()?;
                let (ranges, allocs) = me.export_ranges(&req)?;
                let dmabuf = me
                    .dev
                    .export(ranges, allocs, req.fd_flags & bindings::O_ACCMODE)?;
                dmabuf.install_fd_with(req.fd_flags & bindings::O_CLOEXEC, |fd| {
                    req.fd = fd as i32;
                    writer.write(&req)
                })?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}
