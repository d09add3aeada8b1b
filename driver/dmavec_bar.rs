// SPDX-License-Identifier: GPL-2.0

//! dmavec_bar: exports the memory BAR of a PCI device as dma-bufs mapped
//! through dmavec.
//!
//! Binds QEMU's `ivshmem-plain` (1af4:1110, BAR 2) by default; any other PCI
//! device with a memory BAR can be bound through `driver_override` or
//! `new_id`, the BAR being chosen with the `bar` module parameter.
//!
//! Each bound device gets a misc device, `/dev/dmavec-<pci name>`, whose
//! ioctls (`uapi/linux/dmavec.h`) allocate device memory and export it.
//!
//! Ownership: an allocation is held by its handle and by every dma-buf exported from it; its
//! pages return to the allocator (zeroed) only when the last of them is gone, so device memory
//! is never handed out again while an importer or a CPU mapping can reach it. Removing the
//! device revokes every dma-buf (importers are invalidated, CPU mappings zapped) before the
//! BAR goes away.

use core::fmt;
use dmavec::{
    compat::MiscNames, range::check_phys_ranges, DmaBuf, ExportInfo, ExporterOps, PhysVec,
    Provider, Ranges,
};
use kernel::{
    alloc::VVec,
    bindings, debugfs,
    device::Core,
    driver::Registration,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    new_condvar, new_mutex, new_work,
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, CondVar, Mutex,
    },
    workqueue::{self, Work, WorkItem},
};

mod alloc;
mod file;
mod uapi;

use alloc::BarAlloc;
use file::BarMisc;

const MODULE_NAME: &CStr = <LocalModule as kernel::ModuleMetadata>::NAME;

/// The misc devices' names (`dmavec-<pci name>`), for the life of the module: a registration
/// borrows its name while it lives.
static NAMES: MiscNames<32> = MiscNames::new();

/// QEMU's ivshmem-plain device (vendor Red Hat/Qumranet), its shared memory in BAR 2.
const IVSHMEM_DEVICE: u32 = 0x1110;

// SAFETY (for every access): `DEBUGFS_ROOT` is set in module init before the driver is
// registered and cleared after it is unregistered, so no probe can race with a modification.
static mut DEBUGFS_ROOT: Option<debugfs::Dir> = None;

/// Clears [`DEBUGFS_ROOT`] when dropped, after the driver registration.
struct DebugfsRootGuard;

impl Drop for DebugfsRootGuard {
    fn drop(&mut self) {
        // SAFETY: Dropped after `_driver` (field order), so no probe can be running.
        unsafe { DEBUGFS_ROOT = None };
    }
}

/// A bound BAR, shared by the driver, its open files, its allocations and its dma-bufs.
#[pin_data]
pub(crate) struct BarDevice {
    index: u32,
    start: u64,
    size: u64,
    provider: Provider,
    /// The mapped BAR, for zeroing freed memory; revoked when the device is unbound.
    bar: pci::DevresBar,
    #[pin]
    alloc: BarAlloc,
    #[pin]
    exports: Mutex<Exports>,
    /// Signalled when a scrub completes (its pages return to the allocator) and when the
    /// scrubber stops: ALLOC waits on it for memory that is being zeroed.
    #[pin]
    scrubbed: CondVar,
    /// Pages freed but not yet zeroed (taken in the allocator until they are).
    scrubbing: Atomic<u64>,
    /// The scrubber: zeroes freed memory off the release path (see [`BarDevice::scrub`]).
    #[pin]
    scrub_work: Work<BarDevice>,
}

kernel::impl_has_work! {
    impl HasWork<Self> for BarDevice { self.scrub_work }
}

/// The live exports of a device, to revoke on reset and remove, and the reset state that
/// orders the scrubbing of freed memory against resets.
struct Exports {
    /// `None` once the device is gone.
    list: Option<KVec<Arc<dmavec::Buffer>>>,
    /// One bit per page of the BAR, set while the page was never zeroed since the device was
    /// bound: it holds whatever the firmware, a previous driver or a previous bind left there.
    /// `Allocation::new` zeroes such pages before it hands them out; memory freed afterwards
    /// is zeroed by the free path, so a bit once cleared stays clear.
    unzeroed: VVec<u64>,
    /// Between `reset_prepare` and `reset_done`: exports are revoked, new ones born revoked,
    /// and freed memory is not zeroed (memory decode is off): the scrubber waits for
    /// `reset_done`.
    resetting: bool,
    /// Allocations freed and not yet zeroed, as `(first page, pages, pages zeroed)`: still
    /// taken in the allocator. The scrubber works from the end.
    scrubs: KVec<Scrub>,
    /// Live allocations. `scrubs`' capacity is kept at least `scrubs.len() + live`, so that
    /// freeing never allocates: nothing can fail between the last reference and the scrub.
    live: usize,
}

/// Freed pages `[first, first + pages)` of the BAR, zeroed up to `first + done`.
struct Scrub {
    first: usize,
    pages: usize,
    done: usize,
}

/// Freed allocations of at most this many pages are zeroed at once, on the release path (a
/// few hundred microseconds); larger ones are left to the scrubber.
const SCRUB_INLINE_PAGES: usize = 256;

/// Pages the scrubber zeroes under the exports lock at a time, before it lets a reset, an
/// export or another task in.
const SCRUB_CHUNK_PAGES: usize = 256;

/// Scrubs of freed memory deferred past a reset, for all devices (debugfs `bar`).
static DEFERRED_SCRUBS: Atomic<u64> = Atomic::new(0);

/// ALLOCs waiting for the scrubber, for all devices (debugfs `bar`).
static ALLOC_WAITING: Atomic<u64> = Atomic::new(0);

/// Freed allocations that found no room in `Exports::scrubs`, for all devices (debugfs `bar`):
/// their pages stay taken until unbind. Zero unless the invariant of `Exports::live` breaks.
static LOST_SCRUBS: Atomic<u64> = Atomic::new(0);

/// A bitmap of `pages` bits, all set: no page of a newly bound BAR is known to be zero.
fn unzeroed_bitmap(pages: usize) -> Result<VVec<u64>> {
    let mut v = VVec::from_elem(u64::MAX, pages.div_ceil(64), GFP_KERNEL)?;
    if pages % 64 != 0 {
        if let Some(last) = v.last_mut() {
            *last = (1u64 << (pages % 64)) - 1;
        }
    }
    Ok(v)
}

/// Whether bit `i` of `map` is set.
fn test_bit(map: &[u64], i: usize) -> bool {
    map[i / 64] & (1u64 << (i % 64)) != 0
}

impl BarDevice {
    /// Zeroes the pages of `[first, first + pages)` that were never zeroed since the device was
    /// bound (see `Exports::unzeroed`), `SCRUB_CHUNK_PAGES` at a time under the exports lock
    /// (so that no reset begins halfway), rescheduling between chunks. While a reset is under
    /// way it waits for `reset_done`: memory decode is off.
    ///
    /// # Errors
    ///
    /// `ERESTARTSYS` when a signal is pending (the caller drops the allocation, whose pages are
    /// then zeroed on the free path), `ENODEV` once the device is gone.
    fn zero_unzeroed(&self, first: usize, pages: usize) -> Result {
        let end = first + pages;
        let mut at = first;
        while at < end {
            let stop = end.min(at + SCRUB_CHUNK_PAGES);
            {
                let mut ex = self.exports.lock();
                while ex.resetting && ex.list.is_some() {
                    if self.scrubbed.wait_interruptible(&mut ex) {
                        return Err(ERESTARTSYS);
                    }
                }
                if ex.list.is_none() {
                    return Err(ENODEV);
                }
                let mut p = at;
                while p < stop {
                    if !test_bit(&ex.unzeroed, p) {
                        p += 1;
                        continue;
                    }
                    let run = p;
                    while p < stop && test_bit(&ex.unzeroed, p) {
                        ex.unzeroed[p / 64] &= !(1u64 << (p % 64));
                        p += 1;
                    }
                    self.zero(run, p - run);
                }
            }
            at = stop;
            if at < end {
                if kernel::current!().signal_pending() {
                    return Err(ERESTARTSYS);
                }
                kernel::task::cond_resched();
            }
        }
        Ok(())
    }

    /// Exports `ranges` (of `allocs`) as a dma-buf.
    fn export(
        self: &Arc<Self>,
        ranges: KVec<PhysVec>,
        allocs: KVec<Arc<Allocation>>,
        access: u32,
    ) -> Result<ARef<DmaBuf>> {
        if self.is_gone() {
            return Err(ENODEV);
        }
        // Exported without the exports lock: an error drops `allocs`, and dropping the last
        // reference to an allocation takes that lock (to order its scrub against resets).
        // Checked against the BAR: no promise needed, the provider revokes at unbind.
        let ranges = Ranges::of_bar(ranges, &self.provider)?;
        let (buf, dmabuf) = dmavec::export(
            ExportInfo {
                ranges,
                provider: Some(self.provider.clone()),
                name: MODULE_NAME,
                owner: kernel::module::this_module::<LocalModule>().into(),
                flags: access,
                mmap: true,
            },
            KBox::new(
                BarExport {
                    dev: self.clone(),
                    _allocs: allocs,
                },
                GFP_KERNEL,
            )?,
        )?;
        // Listed under the lock that remove and reset take to revoke. Until it returns, no
        // importer can reach the new dma-buf (it has no file descriptor yet), so a reset that
        // came and went meanwhile needed nothing from it; one under way finds it born revoked,
        // and a removal fails the export. On failure `dmabuf` is dropped (after the lock):
        // released like any other, nothing to undo.
        let mut exports = self.exports.lock();
        let resetting = exports.resetting;
        let Some(list) = &mut exports.list else {
            buf.revoke();
            return Err(ENODEV);
        };
        if resetting {
            // Born revoked: `reset_done` restores it with the others.
            buf.revoke();
        }
        list.push(buf, GFP_KERNEL)?;
        Ok(dmabuf)
    }

    /// Whether the device was removed (its exports revoked).
    pub(crate) fn is_gone(&self) -> bool {
        self.exports.lock().list.is_none()
    }

    /// Bytes freed and not yet zeroed; ALLOC waits for them rather than fail.
    pub(crate) fn scrubbing_bytes(&self) -> u64 {
        self.scrubbing.load(Relaxed) * PAGE_SIZE as u64
    }

    /// Revokes every export and refuses new ones: the device is going away. Memory freed from
    /// now on, and memory still waiting for the scrubber, returns to the allocator unzeroed:
    /// the BAR is about to go, and nothing hands out its memory again.
    fn revoke_all(self: &Arc<Self>) {
        let list = {
            let mut ex = self.exports.lock();
            let Some(list) = ex.list.take() else {
                return;
            };
            if !ex.scrubs.is_empty() {
                // Once more, to return what is left to the allocator (and wake ALLOCs waiting
                // for it), even if a reset had stopped it.
                let _ = workqueue::system_unbound().enqueue(self.clone());
            }
            list
        };
        for b in list.iter() {
            b.revoke();
        }
        // Nothing queues the scrubber once `list` is `None`: after this, no instance of it
        // runs, and its code may go with the module.
        kernel::workqueue::flush_work(&**self);
    }

    /// Revokes (`true`) or restores (`false`) every export around a reset.
    ///
    /// Everything happens under the exports lock, with no allocation: no export can be missed
    /// (a new one sees `resetting` and is born revoked), and no memory is zeroed while the
    /// device is reset (the scrubber zeroes under this lock and stops when it sees
    /// `resetting`). Holding it across revocation is safe: revocation waits for importers
    /// to unmap and for their fences, neither of which takes this lock (the dma-buf release
    /// that does is never called from an invalidation, and `export()` revokes under it too).
    /// `reset_done` then restarts the scrubber.
    fn reset_exports(self: &Arc<Self>, resetting: bool) {
        let mut ex = self.exports.lock();
        ex.resetting = resetting;
        for b in ex.list.iter().flatten() {
            if resetting {
                b.revoke();
            } else {
                b.restore();
            }
        }
        if !resetting {
            // ALLOCs that wait to zero memory never zeroed since bind (`zero_unzeroed`).
            self.scrubbed.notify_all();
        }
        if !resetting && !ex.scrubs.is_empty() && ex.list.is_some() {
            // Already queued (it saw `resetting` and stopped, or has not run yet): fine.
            let _ = workqueue::system_unbound().enqueue(self.clone());
        }
    }

    /// Zeroes pages `[first, first + pages)` of the BAR, if the device is still bound.
    fn zero(&self, first: usize, pages: usize) {
        let start = first * PAGE_SIZE;
        let end = start + pages * PAGE_SIZE;
        self.bar.try_access_with(|bar| {
            // Within the BAR: allocations never exceed it.
            let _ = kernel::io::zero_io(bar, start, end - start);
        });
    }

    /// The scrubber: zeroes freed allocations, `SCRUB_CHUNK_PAGES` at a time under the exports
    /// lock, rescheduling between chunks, and returns each one's pages to the allocator once
    /// they are zero. It stops when a reset begins (`reset_done` queues it again) and when the
    /// device goes away (what is left returns to the allocator unzeroed, see `revoke_all`).
    fn scrub(&self) {
        #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
        dmavec::test_hooks::SCRUB_HOLD.pass();
        loop {
            let mut ex = self.exports.lock();
            let gone = ex.list.is_none();
            if ex.resetting && !gone {
                return;
            }
            let Some(s) = ex.scrubs.last_mut() else {
                return;
            };
            let n = if gone {
                s.pages - s.done
            } else {
                SCRUB_CHUNK_PAGES.min(s.pages - s.done)
            };
            if !gone {
                self.zero(s.first + s.done, n);
            }
            s.done += n;
            if s.done == s.pages {
                let (first, pages) = (s.first, s.pages);
                ex.scrubs.pop();
                self.alloc.free(first);
                self.scrubbing.fetch_sub(pages as u64, Relaxed);
                self.scrubbed.notify_all();
            }
            drop(ex);
            kernel::task::cond_resched();
        }
    }
}

impl WorkItem for BarDevice {
    type Pointer = Arc<BarDevice>;

    fn run(this: Arc<BarDevice>) {
        this.scrub();
    }
}

/// An allocation of device memory, freed (zeroed) when its last holder goes.
pub(crate) struct Allocation {
    dev: Arc<BarDevice>,
    first: usize,
    pages: usize,
}

impl Allocation {
    /// Allocates `pages` pages aligned to `align` pages. When the memory is there but still
    /// being zeroed, waits for the scrubber. Pages never zeroed since the device was bound are
    /// zeroed here, before the allocation is returned.
    ///
    /// # Errors
    ///
    /// `ENOSPC` when no free range fits even once every scrub is done, `ERESTARTSYS` when a
    /// signal interrupts the wait or the zeroing, `ENODEV` once the device is gone, `EINVAL`,
    /// `ENOMEM`.
    fn new(dev: &Arc<BarDevice>, pages: usize, align: usize) -> Result<Arc<Self>> {
        let first = {
            let mut ex = dev.exports.lock();
            let first = loop {
                if ex.list.is_none() {
                    return Err(ENODEV);
                }
                // Room for this allocation's scrub (see `Exports::live`), reserved in the same
                // critical section as the `live += 1` below, never across the wait: allocations
                // that wait together would each reserve for the same `live`.
                // `reserve(n)` makes the capacity at least `len + n`.
                let more = ex.live + 1;
                ex.scrubs.reserve(more, GFP_KERNEL)?;
                match dev.alloc.alloc(pages, align) {
                    Err(e) if e == ENOSPC && !ex.scrubs.is_empty() => {
                        ALLOC_WAITING.fetch_add(1, Relaxed);
                        let interrupted = dev.scrubbed.wait_interruptible(&mut ex);
                        ALLOC_WAITING.fetch_sub(1, Relaxed);
                        if interrupted {
                            return Err(ERESTARTSYS);
                        }
                    }
                    r => break r?,
                }
            };
            ex.live += 1;
            first
        };
        // Counted from here: if `Arc::new` fails, the allocation it drops undoes both (with
        // the exports lock released above, which its `drop` takes).
        let a = Arc::new(
            Self {
                dev: dev.clone(),
                first,
                pages,
            },
            GFP_KERNEL,
        )?;
        // What was never zeroed since bind is zeroed before anyone can reach it; on an error
        // `a` is dropped, and its pages are zeroed on the free path.
        dev.zero_unzeroed(first, pages)?;
        Ok(a)
    }

    /// Size in bytes.
    fn bytes(&self) -> u64 {
        (self.pages * PAGE_SIZE) as u64
    }

    /// Physical address of the first byte.
    fn phys(&self) -> u64 {
        self.dev.start + (self.first * PAGE_SIZE) as u64
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        // No dma-buf and no handle reaches these pages any more: zero them before reuse.
        // Under the exports lock, so that a reset cannot begin (and turn memory decode off)
        // halfway. Small allocations are zeroed here, unless a reset is under way; the rest
        // goes to the scrubber, and the pages stay taken until it is done.
        let dev = &self.dev;
        let mut ex = dev.exports.lock();
        ex.live -= 1;
        if ex.list.is_none() {
            // The device is gone: see `BarDevice::revoke_all`.
            dev.alloc.free(self.first);
            return;
        }
        let scrub = Scrub {
            first: self.first,
            pages: self.pages,
            done: 0,
        };
        if self.pages <= SCRUB_INLINE_PAGES && !ex.resetting {
            dev.zero(self.first, self.pages);
            dev.alloc.free(self.first);
            return;
        }
        // The push never allocates (the capacity was reserved in `Allocation::new`) and so
        // never fails, by the invariant of `Exports::live`. Were it to, the pages stay taken
        // until the device is unbound, unzeroed and counted (debugfs `bar`): zeroing them here
        // could stall this task, under the exports lock, for gigabytes, and during a reset.
        if ex.scrubs.push_within_capacity(scrub).is_err() {
            LOST_SCRUBS.add(1, Relaxed);
            return;
        }
        dev.scrubbing.add(self.pages as u64, Relaxed);
        if ex.resetting {
            DEFERRED_SCRUBS.add(1, Relaxed);
        } else {
            // Already queued or running: it finds this one too.
            let _ = workqueue::system_unbound().enqueue(dev.clone());
        }
    }
}

/// The exporter side of one dma-buf: it holds its allocations until released.
struct BarExport {
    dev: Arc<BarDevice>,
    _allocs: KVec<Arc<Allocation>>,
}

impl ExporterOps for BarExport {
    fn release(&self, buf: &dmavec::Buffer) {
        if let Some(list) = &mut self.dev.exports.lock().list {
            list.retain(|b| !core::ptr::eq::<dmavec::Buffer>(&**b, buf));
        }
    }
}

/// What `debugfs/dmavec_bar/<pci-name>/bar` reports.
struct BarInfo {
    index: u32,
    start: u64,
    size: u64,
}

impl fmt::Debug for BarInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "index: {}", self.index)?;
        writeln!(f, "start: {:#x}", self.start)?;
        writeln!(f, "size: {}", self.size)?;
        writeln!(f, "deferred_scrubs: {}", DEFERRED_SCRUBS.load(Relaxed))?;
        writeln!(f, "lost_scrubs: {}", LOST_SCRUBS.load(Relaxed))?;
        writeln!(f, "alloc_waiting: {}", ALLOC_WAITING.load(Relaxed))
    }
}

/// Per-device state, alive while the driver is bound.
#[pin_data(PinnedDrop)]
struct DmavecBar {
    dev: Arc<BarDevice>,
    #[pin]
    misc: BarMisc,
    #[pin]
    _debugfs: debugfs::Scope<BarInfo>,
}

#[pinned_drop]
impl PinnedDrop for DmavecBar {
    fn drop(self: Pin<&mut Self>) {
        // Unbinding (also on a failed probe): no importer may reach the BAR afterwards.
        self.dev.revoke_all();
    }
}

struct DmavecBarDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <DmavecBarDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, IVSHMEM_DEVICE),
        ()
    )]
);

/// Checks that a BAR can be exported: present, memory, page aligned (it is
/// handed out and mmapped in pages) and a valid dmavec range. Returns its length.
fn check_bar(flags: usize, start: u64, size: u64) -> Result<usize> {
    if size == 0 || flags & bindings::IORESOURCE_MEM as usize == 0 {
        return Err(ENODEV);
    }
    if start % PAGE_SIZE as u64 != 0 || size % PAGE_SIZE as u64 != 0 {
        return Err(EINVAL);
    }
    let len = usize::try_from(size).map_err(|_| EOVERFLOW)?;
    check_phys_ranges(&[PhysVec::new(start, len)])
}

impl pci::Driver for DmavecBarDriver {
    type IdInfo = ();
    type Data<'bound> = DmavecBar;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    const HAS_RESET: bool = true;

    fn reset_prepare<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&DmavecBar>) {
        this.dev.reset_exports(true);
    }

    fn reset_done<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&DmavecBar>) {
        this.dev.reset_exports(false);
    }

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            let index = module_parameters::bar.value();
            // `resource_flags()` also takes the ROM and bridge window indices.
            if index >= bindings::PCI_STD_NUM_BARS {
                dev_err!(pdev, "bar={} is not a standard BAR index\n", index);
                return Err(EINVAL);
            }
            let flags = pdev.resource_flags(index)?;
            let start = pdev.resource_start(index)?;
            let size = pdev.resource_len(index)?;
            let len = check_bar(flags, start, size).inspect_err(|e| {
                dev_err!(
                    pdev,
                    "BAR {} [{:#x} + {:#x}, flags {:#x}] cannot be exported: {:?}\n",
                    index,
                    start,
                    size,
                    flags,
                    e
                );
            })?;

            pdev.enable_device_mem()?;
            // The BAR's P2PDMA provider (bus offset, owner), device-managed: its buffers are
            // revoked for good at unbind (`DmavecBar::drop` does it first, with the scrubber).
            let provider = Provider::of_bar(pdev, index)?;
            let bar = pdev.iomap_region(index, MODULE_NAME)?.into_devres()?;
            let misc_name = NAMES.get(b"dmavec-", pdev.as_ref().name())?;

            let dev = Arc::pin_init(
                try_pin_init!(BarDevice {
                    index,
                    start,
                    size,
                    provider,
                    bar,
                    alloc <- BarAlloc::new(len / PAGE_SIZE),
                    exports <- new_mutex!(
                        Exports {
                            list: Some(KVec::new()),
                            unzeroed: unzeroed_bitmap(len / PAGE_SIZE)?,
                            resetting: false,
                            scrubs: KVec::new(),
                            live: 0,
                        },
                        "BarDevice::exports"
                    ),
                    scrubbed <- new_condvar!("BarDevice::scrubbed"),
                    scrubbing: Atomic::new(0),
                    scrub_work <- new_work!("BarDevice::scrub_work"),
                }),
                GFP_KERNEL,
            )?;

            #[expect(static_mut_refs)]
            // SAFETY: See `DEBUGFS_ROOT`.
            let root = unsafe { DEBUGFS_ROOT.as_ref() }.ok_or(ENODEV)?;
            let info = BarInfo { index, start, size };

            dev_info!(
                pdev,
                "exporting BAR {}: {} bytes at {:#x} as /dev/{}\n",
                index,
                size,
                start,
                misc_name.to_str().unwrap_or("?")
            );

            let misc_dev = dev.clone();
            Ok(try_pin_init!(DmavecBar {
                // `dev` first: the registration makes the node openable at once, and `open`
                // reads `dev` (fields are initialised in the order written here).
                misc <- pin_init!(BarMisc {
                    dev: misc_dev,
                    reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name: misc_name }),
                }? Error),
                _debugfs <- root.scope(info, pdev.as_ref().name(), |info, dir| {
                    dir.read_only_file(c"bar", info);
                }),
                dev,
            }))
        })
    }
}

#[pin_data]
struct DmavecBarModule {
    // Dropped in declaration order: the driver is unregistered before the debugfs root goes.
    #[pin]
    _driver: Registration<pci::Adapter<DmavecBarDriver>>,
    _debugfs_guard: DebugfsRootGuard,
}

impl kernel::InPlaceModule for DmavecBarModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Module init runs before the driver is registered: nothing else can access
        // `DEBUGFS_ROOT` concurrently.
        unsafe { DEBUGFS_ROOT = Some(debugfs::Dir::new(MODULE_NAME)) };
        try_pin_init!(Self {
            _driver <- Registration::new(MODULE_NAME, module),
            _debugfs_guard: DebugfsRootGuard,
        })
    }
}

module! {
    type: DmavecBarModule,
    name: "dmavec_bar",
    authors: ["dmavec developers"],
    description: "Export PCI memory BARs as dma-bufs through dmavec",
    license: "GPL",
    imports_ns: ["DMA_BUF", "DMAVEC"],
    params: {
        bar: u32 {
            default: 2,
            description: "Index of the memory BAR to export (default 2, ivshmem's shared memory)",
        },
    },
}

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
#[kunit_tests(dmavec_bar)]
mod tests {
    use super::*;

    #[test]
    fn bar_info_format() -> Result {
        let info = BarInfo {
            index: 2,
            start: 0xfd00_0000,
            size: 16 << 20,
        };
        let mut buf = [0u8; 96];
        let mut w = kernel::str::Formatter::new(&mut buf);
        fmt::write(&mut w, format_args!("{:?}", info)).map_err(|_| EINVAL)?;
        let n = w.bytes_written();
        let want = b"index: 2\nstart: 0xfd000000\nsize: 16777216\ndeferred_scrubs: ";
        assert_eq!(&buf[..want.len()], want);
        assert_eq!(buf[n - 1], b'\n');
        Ok(())
    }

    #[test]
    fn check_bar_accepts_memory_bars_only() -> Result {
        let mem = bindings::IORESOURCE_MEM as usize;
        let io = bindings::IORESOURCE_IO as usize;
        assert_eq!(check_bar(mem, 0xfd00_0000, 16 << 20), Ok(16 << 20));
        assert_eq!(check_bar(io, 0xc000, 0x100), Err(ENODEV));
        assert_eq!(check_bar(0, 0, 0), Err(ENODEV));
        assert_eq!(check_bar(mem, 0xfd00_0000, 0), Err(ENODEV));
        assert_eq!(check_bar(mem, 0xfd00_0800, 0x1000), Err(EINVAL));
        assert_eq!(check_bar(mem, 0xfd00_0000, 0x800), Err(EINVAL));
        Ok(())
    }
}
