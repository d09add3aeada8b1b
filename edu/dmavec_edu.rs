// SPDX-License-Identifier: GPL-2.0

//! dmavec_edu: an importer of dma-bufs for QEMU's `edu` device (1234:11e8).
//!
//! edu has a DMA engine that moves data between its own 4 KiB buffer and bus addresses. This
//! driver imports a dma-buf with the dmavec importer API (dynamic attach, `allow_peer2peer`, an
//! invalidate callback) and moves data between edu and the buffer by walking the mapping's
//! `struct dma_vec` entries: the device really DMAs through the array.
//!
//! `/dev/dmavec-edu-<pci name>` (ioctls in `uapi/linux/dmavec_edu.h`): IMPORT a dma-buf fd,
//! WRITE a seeded pattern into it, READ from it, INFO on the mapping.
//!
//! A transfer maps the buffer and publishes a fence for its DMA in the reservation object
//! (`DMA_RESV_USAGE_BOOKKEEP`) under the reservation lock, then runs the DMA without the lock.
//! An invalidation during the transfer marks the mapping stale and returns at once; the
//! transfer stops at the next chunk, signals the fence, unmaps, and maps again (which fails
//! with `ENODEV` if the exporter revoked the buffer). Revocation waits for the fence, then for
//! the unmap, so the device is never programmed with an address from an invalidated mapping,
//! and the mapping outlives every DMA programmed with it. A transfer that times out stops the
//! engine (bus mastering off) before it signals the fence.

use core::ptr::NonNull;
use dmavec::{Attachment, DmaVec, Importer, Locked, SegLimits};
use kernel::{
    bindings,
    device::Core,
    dma::{self, Coherent, DataDirection, DmaMask},
    driver::Registration,
    fs::File,
    io::{poll::read_poll_timeout, Io},
    ioctl::{_IOC_SIZE, _IOR, _IOW},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex, pci,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::Delta,
    uaccess::{UserPtr, UserSlice},
};

const MODULE_NAME: &CStr = <LocalModule as kernel::ModuleMetadata>::NAME;

/// edu's registers (QEMU docs/specs/edu.txt), in BAR 0.
mod regs {
    pub(super) const ID: usize = 0x00;
    pub(super) const DMA_SRC: usize = 0x80;
    pub(super) const DMA_DST: usize = 0x88;
    pub(super) const DMA_COUNT: usize = 0x90;
    pub(super) const DMA_CMD: usize = 0x98;
    pub(super) const CMD_START: u32 = 1 << 0;
    pub(super) const CMD_TO_RAM: u32 = 1 << 1;
    pub(super) const END: usize = 0x100;
}

/// edu's buffer, in its own address space.
const EDU_BUF: u64 = 0x40000;
/// Bytes per transfer. QEMU 7.2's edu rejects a transfer that touches the last byte of its
/// buffer and then aborts the whole VM (`hw_error()`): stay in its first half.
const CHUNK: usize = 2048;
/// Most bytes one WRITE or READ moves (edu takes about 100 ms per transfer).
const MAX_XFER: usize = 64 * 1024;

/// The ioctl ABI (`uapi/linux/dmavec_edu.h`).
mod uapi {
    use super::*;

    dmavec::uapi_struct! {
        /// `struct dmavec_edu_import`.
        pub(super) struct Import {
            pub(super) fd: i32,
            pub(super) flags: u32,
        }
    }

    dmavec::uapi_struct! {
        /// `struct dmavec_edu_xfer`: WRITE fills `[offset, offset + length)` with the pattern of
        /// `seed`; READ copies it to `data`.
        pub(super) struct Xfer {
            pub(super) offset: u64,
            pub(super) length: u64,
            pub(super) data: u64,
            pub(super) seed: u32,
            pub(super) flags: u32,
        }
    }

    dmavec::uapi_struct! {
        /// `struct dmavec_edu_info`.
        pub(super) struct Info {
            pub(super) size: u64,
            pub(super) first_addr: u64,
            pub(super) map_type: u32,
            pub(super) entries: u32,
            pub(super) invalidations: u32,
            pub(super) flags: u32,
        }
    }

    const _: () = assert!(size_of::<Import>() == 8);
    const _: () = assert!(size_of::<Xfer>() == 32);
    const _: () = assert!(size_of::<Info>() == 32);

    const MAGIC: u32 = 0xDC;
    pub(super) const IMPORT: u32 = _IOW::<Import>(MAGIC, 0x00);
    pub(super) const WRITE: u32 = _IOW::<Xfer>(MAGIC, 0x01);
    pub(super) const READ: u32 = _IOW::<Xfer>(MAGIC, 0x02);
    pub(super) const INFO: u32 = _IOR::<Info>(MAGIC, 0x03);
    pub(super) const DETACH: u32 = kernel::ioctl::_IO(MAGIC, 0x04);
    /// Test VMs only (`unsafe_raw_dma=1`): DMA the pattern of `seed` to bus address `offset`,
    /// whatever is mapped there, to show that the IOMMU stops a stale address.
    pub(super) const RAW_WRITE: u32 = _IOW::<Xfer>(MAGIC, 0x05);
}

/// The pattern of the kselftests' host agent: xorshift32 bytes from a seed.
struct Pattern(u32);

impl Pattern {
    fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x9E37_79B9 } else { seed })
    }

    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.0 = x;
            *b = x as u8;
        }
    }
}

/// What the device needs while bound: its registers and a bounce buffer in RAM.
struct EduHw<'bound> {
    bar: pci::Bar<'bound, { regs::END }>,
    bounce: Coherent<[u8; CHUNK]>,
    /// The device, to turn bus mastering off and on around a transfer that timed out.
    pdev: ARef<pci::Device>,
    /// Bus mastering was turned off after a timeout: on again once the engine is idle.
    stopped: Atomic<bool>,
}

impl EduHw<'_> {
    /// One DMA transfer of `len` bytes, polled to completion (edu takes about 100 ms).
    ///
    /// edu's address registers are 64 bits wide and take 8-byte writes: any address within
    /// the DMA mask reaches the device whole (edu's own `dma_mask` property, which the test
    /// VMs set to all ones, must not be narrower).
    fn dma(&self, src: u64, dst: u64, len: usize, to_ram: bool) -> Result {
        if self.stopped.load(Relaxed) {
            // The transfer that timed out must be over before the engine may reach memory.
            if self.bar.read32(regs::DMA_CMD) & regs::CMD_START != 0 {
                return Err(EBUSY);
            }
            // SAFETY: The device is bound (this value lives in its driver data).
            unsafe { bindings::pci_set_master(dmavec::raw::pci_dev(&self.pdev)) };
            self.stopped.store(false, Relaxed);
        }
        // The 7.3 `Io` checks 64-bit accesses at run time only (its regions promise 4-byte
        // alignment): both registers are 8-byte aligned, so these never fail.
        self.bar.try_write64(src, regs::DMA_SRC)?;
        self.bar.try_write64(dst, regs::DMA_DST)?;
        // CAST: `len` is at most `CHUNK` bytes.
        self.bar.write32(len as u32, regs::DMA_COUNT);
        let cmd = regs::CMD_START | if to_ram { regs::CMD_TO_RAM } else { 0 };
        self.bar.write32(cmd, regs::DMA_CMD);
        // TIMEOUT: edu completes a transfer in about 100 ms under TCG; `dma_timeout_ms` gives
        // it 2 s by default.
        let done = read_poll_timeout(
            || Ok(self.bar.read32(regs::DMA_CMD)),
            |cmd| cmd & regs::CMD_START == 0,
            Delta::from_millis(1),
            Delta::from_millis(i64::from(module_parameters::dma_timeout_ms.value())),
        );
        if done.is_ok() {
            return Ok(());
        }
        // Stop the engine before the caller signals its fence and unmaps: with bus mastering
        // off, the transfer still running can no longer reach memory.
        // SAFETY: The device is bound (this value lives in its driver data).
        unsafe { bindings::pci_clear_master(dmavec::raw::pci_dev(&self.pdev)) };
        self.stopped.store(true, Relaxed);
        Err(ETIMEDOUT)
    }

    /// Bus address `addr` → edu's buffer → the bounce buffer.
    fn pull(&self, addr: u64, out: &mut [u8]) -> Result {
        self.dma(addr, EDU_BUF, out.len(), false)?;
        self.dma(EDU_BUF, self.bounce.dma_address(), out.len(), true)?;
        // SAFETY: The device wrote the bounce buffer and is done with it (polled); `out` is
        // at most `CHUNK` bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.bounce.as_ptr().cast::<u8>(),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        Ok(())
    }

    /// `data` → the bounce buffer → edu's buffer → bus address `addr`.
    fn push(&self, data: &[u8], addr: u64) -> Result {
        // SAFETY: The device does not use the bounce buffer between transfers; `data` is at
        // most `CHUNK` bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.bounce.as_mut_ptr().cast::<u8>(),
                data.len(),
            )
        };
        self.dma(self.bounce.dma_address(), EDU_BUF, data.len(), false)?;
        self.dma(EDU_BUF, addr, data.len(), true)
    }
}

/// A bound edu, shared with open files.
///
/// Lock order: `hw`, then `import`, then the dma-buf's reservation lock.
#[pin_data]
struct EduDevice {
    name: CString,
    /// The importing device.
    dev: ARef<kernel::device::Device>,
    /// The bound hardware, `None` once unbound. Taken for the whole of each transfer, which
    /// may sleep; unbind takes it too, and so waits for transfers in flight.
    #[pin]
    hw: Mutex<Option<NonNull<EduHw<'static>>>>,
    /// The imported dma-buf (one: edu has one DMA engine) and the state its importer
    /// shares with the invalidate callback.
    #[pin]
    import: Mutex<Option<(Attachment, Arc<ImportState>)>>,
}

// SAFETY: `hw` points into the driver data, which outlives every use: unbind clears it under
// the mutex before the data is dropped, and users hold the mutex while they use it.
unsafe impl Send for EduDevice {}
// SAFETY: See `Send`.
unsafe impl Sync for EduDevice {}

/// What a transfer shares with the invalidate callback of its import.
struct ImportState {
    /// Invalidations seen (INFO reports them).
    invalidations: Atomic<u32>,
    /// A transfer runs DMA on the mapping under a fence; written under the reservation lock.
    busy: Atomic<bool>,
    /// Invalidated while busy: the transfer stops at its next chunk, signals its fence and
    /// unmaps. Written under the reservation lock.
    stale: Atomic<bool>,
}

impl ImportState {
    const fn new() -> Self {
        Self {
            invalidations: Atomic::new(0),
            busy: Atomic::new(false),
            stale: Atomic::new(false),
        }
    }
}

/// Counts invalidations; drops the mapping at once when no DMA is in flight, else leaves it to
/// the transfer, which stops, signals its fence (revocation waits for it) and unmaps.
struct EduImporter(Arc<ImportState>);

impl Importer for EduImporter {
    fn invalidate(&self, locked: &mut Locked<'_>) {
        self.0.invalidations.add(1, Relaxed);
        if self.0.busy.load(Relaxed) {
            self.0.stale.store(true, Relaxed);
        } else {
            locked.unmap();
        }
    }
}

/// An open file.
struct EduFile {
    dev: Arc<EduDevice>,
}

/// The entries and offset of `[offset, offset + len)`: calls `f(bus address, buffer offset,
/// bytes)` for each piece of at most `CHUNK` bytes within one entry.
fn walk(
    entries: &[DmaVec],
    offset: usize,
    len: usize,
    mut f: impl FnMut(u64, usize, usize) -> Result,
) -> Result {
    let end = offset.checked_add(len).ok_or(EOVERFLOW)?;
    let mut base = 0usize;
    let mut pos = offset;
    for e in entries {
        let e_end = base + e.len;
        while pos < end && pos < e_end {
            let n = CHUNK.min(e_end - pos).min(end - pos);
            f(e.addr + (pos - base) as u64, pos - offset, n)?;
            pos += n;
        }
        base = e_end;
        if pos >= end {
            return Ok(());
        }
    }
    if pos < end {
        return Err(EINVAL);
    }
    Ok(())
}

impl EduFile {
    fn xfer(&self, req: &uapi::Xfer, write: bool) -> Result {
        if req.flags != 0 || req.length == 0 || (write && req.data != 0) {
            return Err(EINVAL);
        }
        let offset = usize::try_from(req.offset).map_err(|_| EOVERFLOW)?;
        let length = usize::try_from(req.length).map_err(|_| EOVERFLOW)?;
        offset.checked_add(length).ok_or(EOVERFLOW)?;
        if length > MAX_XFER {
            return Err(E2BIG);
        }
        // READ lands here first: user memory is not touched under the reservation lock, which
        // the dma-buf rules order below mmap_lock (a fault in copy_to_user() would invert it).
        let mut data = KVVec::new();
        if !write {
            data.resize(length, 0, GFP_KERNEL)?;
        }
        {
            let hw_slot = self.dev.hw.lock();
            let hw_ptr = hw_slot.ok_or(ENODEV)?;
            // SAFETY: Valid while `hw_slot` is held (see `EduDevice`).
            let hw = unsafe { hw_ptr.as_ref() };
            // Held for the whole transfer: DETACH and IMPORT, which drop the mapping, wait.
            let import = self.dev.import.lock();
            let (att, st) = import.as_ref().ok_or(ENOENT)?;
            let mut pattern = Pattern::new(req.seed);
            let mut buf = [0u8; CHUNK];
            let mut done = 0usize;
            while done < length {
                // Map (again, after an invalidation) and publish the DMA's fence, locked.
                let (entries, fence) = {
                    let mut locked = att.lock();
                    let v = locked.map(DataDirection::Bidirectional)?;
                    if offset + length > v.bytes {
                        return Err(EINVAL);
                    }
                    let mut entries = KVec::with_capacity(v.entries.len(), GFP_KERNEL)?;
                    entries.extend_from_slice(v.entries, GFP_KERNEL)?;
                    let fence = locked.fence_dma()?;
                    st.busy.store(true, Relaxed);
                    (entries, fence)
                };
                // The DMA, unlocked. The mapping stays: only this transfer unmaps while busy.
                let res = walk(&entries, offset + done, length - done, |addr, _, n| {
                    if st.stale.load(Relaxed) {
                        return Err(EAGAIN);
                    }
                    if write {
                        pattern.fill(&mut buf[..n]);
                        hw.push(&buf[..n], addr)?;
                    } else {
                        hw.pull(addr, &mut data[done..done + n])?;
                    }
                    done += n;
                    Ok(())
                });
                // The engine is idle (or stopped): let revocation go on, then unmap if stale.
                fence.signal();
                {
                    let mut locked = att.lock();
                    st.busy.store(false, Relaxed);
                    if st.stale.load(Relaxed) {
                        st.stale.store(false, Relaxed);
                        locked.unmap();
                    }
                }
                match res {
                    Err(e) if e == EAGAIN => continue,
                    r => r?,
                }
            }
        }
        if !write {
            let user = usize::try_from(req.data).map_err(|_| EFAULT)?;
            UserSlice::new(UserPtr::from_addr(user), length)
                .writer()
                .write_slice(&data)?;
        }
        Ok(())
    }

    fn info(&self) -> Result<uapi::Info> {
        let hw = self.dev.hw.lock();
        if hw.is_none() {
            return Err(ENODEV);
        }
        let import = self.dev.import.lock();
        let (att, st) = import.as_ref().ok_or(ENOENT)?;
        let mut locked = att.lock();
        let v = locked.map(DataDirection::Bidirectional)?;
        Ok(uapi::Info {
            size: v.bytes as u64,
            first_addr: v.entries.first().map_or(0, |e| e.addr),
            // `DMAVEC_EDU_MAP_*` are the numbers of `enum dmavec_map_type`.
            map_type: v.kind.into(),
            // CAST: a mapping has at most one entry per page.
            entries: v.entries.len() as u32,
            invalidations: st.invalidations.load(Relaxed),
            flags: 0,
        })
    }
}

/// The misc device of a bound edu, embedded in the driver data.
#[pin_data]
struct EduMisc {
    #[pin]
    reg: MiscDeviceRegistration<EduFile>,
    dev: Arc<EduDevice>,
}

#[vtable]
impl MiscDevice for EduFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        // SAFETY: Our registrations are the `reg` field of an `EduMisc`, alive while
        // `misc_open` holds `misc_mtx` around this call.
        let m =
            unsafe { &*kernel::container_of!(core::ptr::from_ref(misc).cast_mut(), EduMisc, reg) };
        KBox::pin_init(Ok::<_, Error>(EduFile { dev: m.dev.clone() }), GFP_KERNEL)
    }

    fn ioctl(me: Pin<&EduFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd)).reader_writer();
        match cmd {
            uapi::IMPORT => {
                let req: uapi::Import = reader.read()?;
                if req.flags != 0 {
                    return Err(EINVAL);
                }
                let hw = me.dev.hw.lock();
                if hw.is_none() {
                    return Err(ENODEV);
                }
                let dmabuf = dmavec::DmaBuf::from_fd(req.fd)?;
                let st = Arc::new(ImportState::new(), GFP_KERNEL)?;
                let att = Attachment::new(dmabuf, &me.dev.dev, EduImporter(st.clone()))?;
                // edu's engine takes any 64-bit address and walks the entries itself: no
                // segment limit, so one entry for a whole buffer behind an IOMMU.
                att.lock().set_seg_limits(Some(SegLimits::UNLIMITED))?;
                // The previous import, if any, is unmapped and detached here.
                *me.dev.import.lock() = Some((att, st));
            }
            uapi::WRITE => me.xfer(&reader.read()?, true)?,
            uapi::READ => me.xfer(&reader.read()?, false)?,
            uapi::INFO => writer.write(&me.info()?)?,
            uapi::DETACH => drop(me.dev.import.lock().take().ok_or(ENOENT)?),
            uapi::RAW_WRITE => {
                if !module_parameters::unsafe_raw_dma.value() {
                    return Err(EPERM);
                }
                let req: uapi::Xfer = reader.read()?;
                let len = usize::try_from(req.length).map_err(|_| EINVAL)?;
                if req.flags != 0 || len == 0 || len > CHUNK {
                    return Err(EINVAL);
                }
                let hw_slot = me.dev.hw.lock();
                let hw_ptr = hw_slot.ok_or(ENODEV)?;
                // SAFETY: Valid while `hw_slot` is held (see `EduDevice`).
                let hw = unsafe { hw_ptr.as_ref() };
                let mut buf = [0u8; CHUNK];
                Pattern::new(req.seed).fill(&mut buf[..len]);
                hw.push(&buf[..len], req.offset)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

/// Per-device driver data.
#[pin_data(PinnedDrop)]
struct EduData<'bound> {
    hw: EduHw<'bound>,
    #[pin]
    misc: EduMisc,
}

#[pinned_drop]
impl PinnedDrop for EduData<'_> {
    fn drop(self: Pin<&mut Self>) {
        // Waits for a transfer in flight; then no mapping for edu survives the unbind and no
        // file can reach the hardware.
        let mut hw = self.misc.dev.hw.lock();
        drop(self.misc.dev.import.lock().take());
        *hw = None;
    }
}

struct EduDriver;

/// 1234:11e8. QEMU's vendor ID has no `PCI_VENDOR_ID_*` name, hence no `pci::Vendor`.
const EDU_ID: pci::DeviceId = {
    let raw = bindings::pci_device_id {
        vendor: 0x1234,
        device: 0x11e8,
        subvendor: !0,
        subdevice: !0,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: 0,
    };
    // SAFETY: `pci::DeviceId` is `#[repr(transparent)]` over `struct pci_device_id`.
    unsafe { core::mem::transmute::<bindings::pci_device_id, pci::DeviceId>(raw) }
};

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = EduData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            pdev.set_master();
            // 64-bit addresses (see `EduHw::dma`), unless `dma_bits` narrows them.
            let mask = DmaMask::try_new(module_parameters::dma_bits.value())?;
            // SAFETY: No DMA allocation or mapping of this device exists yet.
            unsafe { dma::Device::dma_set_mask_and_coherent(pdev, mask)? };
            // For importers of other exporters, whose sg_tables the dma-buf core maps with the
            // device's limits: segments as long as they can be. dmavec's own mappings take the
            // limits each import declares (none: `SegLimits::UNLIMITED`).
            // SAFETY: No DMA mapping of this device exists yet, so none sees its limits change.
            unsafe { dma::Device::dma_set_max_seg_size(pdev, u32::MAX) };
            let bar = pdev.iomap_region_sized::<{ regs::END }>(0, MODULE_NAME)?;
            let id = bar.read32(regs::ID);
            if id & 0xff != 0xed {
                dev_err!(pdev, "not an edu device (id {:#x})\n", id);
                return Err(ENODEV);
            }
            let bounce = Coherent::<[u8; CHUNK]>::zeroed(pdev.as_ref(), GFP_KERNEL)?;
            let name = CString::try_from_fmt(fmt!("dmavec-edu-{}", pdev.as_ref().name()))?;
            let dev = Arc::pin_init(
                try_pin_init!(EduDevice {
                    name,
                    dev: pdev.as_ref().into(),
                    hw <- new_mutex!(None, "EduDevice::hw"),
                    import <- new_mutex!(None, "EduDevice::import"),
                }),
                GFP_KERNEL,
            )?;
            // SAFETY: `dev.name` lives in `dev`, which the driver data holds past the
            // registration.
            let misc_name: &'static CStr = unsafe { &*core::ptr::from_ref::<CStr>(&dev.name) };
            dev_info!(
                pdev,
                "edu {:#x}, importer at /dev/{}\n",
                id >> 16,
                misc_name.to_str().unwrap_or("?")
            );
            let mdev = dev.clone();
            Ok(try_pin_init!(&this in EduData {
                hw: EduHw {
                    bar,
                    bounce,
                    pdev: pdev.into(),
                    stopped: Atomic::new(false),
                },
                // `dev` first: the registration makes the node openable at once, and `open`
                // reads `dev` (fields are initialised in the order written here).
                misc <- pin_init!(EduMisc {
                    dev: {
                        // SAFETY: `this` is pinned driver data whose `hw` was initialised
                        // above; `PinnedDrop` clears the pointer before the data goes.
                        let hw = unsafe { NonNull::from(&(*this.as_ptr()).hw) };
                        *mdev.hw.lock() = Some(hw.cast());
                        mdev
                    },
                    reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name: misc_name }),
                }? Error),
            }))
        })
    }
}

#[pin_data]
struct EduModule {
    #[pin]
    _driver: Registration<pci::Adapter<EduDriver>>,
}

impl kernel::InPlaceModule for EduModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- Registration::new(MODULE_NAME, module),
        })
    }
}

module! {
    type: EduModule,
    name: "dmavec_edu",
    authors: ["dmavec developers"],
    description: "dma-buf importer for QEMU's edu device, DMA through dmavec's dma_vec arrays",
    license: "GPL",
    imports_ns: ["DMA_BUF"],
    params: {
        unsafe_raw_dma: bool {
            default: false,
            description: "Test VMs only: allow DMA to an arbitrary bus address (RAW_WRITE)",
        },
        dma_timeout_ms: u32 {
            default: 2000,
            description: "Milliseconds to wait for one DMA transfer before stopping the engine",
        },
        dma_bits: u32 {
            default: 64,
            description: "Width of the DMA addresses the device is given (default 64; lower it to try an importer that cannot reach high memory)",
        },
    },
}

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
#[kunit_tests(dmavec_edu)]
mod tests {
    use super::*;

    #[test]
    fn walk_splits_at_entries_and_chunks() -> Result {
        let e = [
            DmaVec {
                addr: 0x10000,
                len: 4096,
            },
            DmaVec {
                addr: 0x90000,
                len: 8192,
            },
        ];
        let mut got = KVec::new();
        walk(&e, 3000, 6000, |a, o, n| {
            got.push((a, o, n), GFP_KERNEL)?;
            Ok(())
        })?;
        assert_eq!(
            &got[..],
            &[
                (0x10000 + 3000, 0, 1096),
                (0x90000, 1096, 2048),
                (0x90000 + 2048, 3144, 2048),
                (0x90000 + 4096, 5192, 808),
            ]
        );
        assert_eq!(walk(&e, 12000, 1000, |_, _, _| Ok(())), Err(EINVAL));
        assert_eq!(walk(&e, usize::MAX, 2, |_, _, _| Ok(())), Err(EOVERFLOW));
        Ok(())
    }

    #[test]
    fn pattern_matches_the_host_agent() -> Result {
        // run.py's pattern(1, 4) and pattern(2026, 4).
        let mut b = [0u8; 4];
        Pattern::new(1).fill(&mut b);
        assert_eq!(b, [33, 1, 197, 79]);
        Pattern::new(2026).fill(&mut b);
        assert_eq!(b, [20, 15, 2, 35]);
        Ok(())
    }
}
