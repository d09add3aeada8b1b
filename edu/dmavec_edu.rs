// SPDX-License-Identifier: GPL-2.0

//! dmavec_edu: an importer of dma-bufs for QEMU's `edu` device (1234:11e8).
//!
//! edu has a DMA engine that moves data between its own 4 KiB buffer and bus addresses. This
//! driver imports a dma-buf with the dmavec importer API (dynamic attach, `allow_peer2peer`, an
//! invalidate callback) and moves data between edu and the buffer by walking the mapping's
//! `struct dma_vec` entries: the device really DMAs through the array.
//!
//! One concern per file:
//!
//! - this file: the PCI driver, the state of a bound device, the module;
//! - [`regs`]: edu's registers;
//! - [`hw`]: its DMA engine, reached through a device-managed BAR;
//! - [`import`]: the imported dma-buf, and transfers under its fences and invalidations;
//! - [`file`]: the misc device `/dev/dmavec-edu-<pci name>` and its ioctls;
//! - [`uapi`]: the ioctl ABI of `uapi/linux/dmavec_edu.h`.

use dmavec::Attachment;
use kernel::{
    device::Core,
    dma::{self, Coherent, DmaMask},
    driver::Registration,
    io::Io,
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex, pci,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
};

mod file;
mod hw;
mod import;
mod regs;
mod uapi;

use file::EduMisc;
use hw::{EduHw, CHUNK};
use import::ImportState;

const MODULE_NAME: &CStr = <LocalModule as kernel::ModuleMetadata>::NAME;

/// A bound edu, shared with open files.
///
/// Lock order: `hw`, then `import`, then the dma-buf's reservation lock.
#[pin_data]
pub(crate) struct EduDevice {
    /// The importing device.
    dev: ARef<kernel::device::Device>,
    /// The bound hardware, `None` once unbound. Taken for the whole of each transfer, which
    /// may sleep; unbind takes it too, and so waits for transfers in flight.
    #[pin]
    hw: Mutex<Option<EduHw>>,
    /// The imported dma-buf (one: edu has one DMA engine) and the state its importer
    /// shares with the invalidate callback.
    #[pin]
    import: Mutex<Option<(Attachment, Arc<ImportState>)>>,
}

/// Per-device driver data.
#[pin_data(PinnedDrop)]
struct EduData {
    #[pin]
    misc: EduMisc,
}

#[pinned_drop]
impl PinnedDrop for EduData {
    fn drop(self: Pin<&mut Self>) {
        // Waits for a transfer in flight; then no mapping for edu survives the unbind and no
        // file can reach the hardware. This runs before the device's resources are released,
        // so the BAR goes here, not by revocation.
        let mut hw = self.misc.dev.hw.lock();
        drop(self.misc.dev.import.lock().take());
        *hw = None;
    }
}

struct EduDriver;

/// 1234:11e8. QEMU's vendor ID has no `PCI_VENDOR_ID_*` name, hence no `pci::Vendor` constant.
const EDU_ID: pci::DeviceId = pci::DeviceId::from_id(pci::Vendor::from_raw(0x1234), 0x11e8);

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = EduData;

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
            let id = bar.read(regs::ID);
            if !id.is_edu() {
                dev_err!(pdev, "not an edu device (id {:#x})\n", id.into_raw());
                return Err(ENODEV);
            }
            let bar = bar.into_devres()?;
            let bounce = Coherent::<[u8; CHUNK]>::zeroed(pdev.as_ref(), GFP_KERNEL)?;
            let misc_name = file::NAMES.get(file::NAME_PREFIX, pdev.as_ref().name())?;
            let dev = Arc::pin_init(
                try_pin_init!(EduDevice {
                    dev: pdev.as_ref().into(),
                    hw <- new_mutex!(Some(EduHw::new(bar, bounce)), "EduDevice::hw"),
                    import <- new_mutex!(None, "EduDevice::import"),
                }),
                GFP_KERNEL,
            )?;
            dev_info!(
                pdev,
                "edu {:#x}, importer at /dev/{}\n",
                id.version(),
                misc_name.to_str().unwrap_or("?")
            );
            Ok(try_pin_init!(EduData {
                // `dev` first: the registration makes the node openable at once, and `open`
                // reads `dev` (fields are initialised in the order written here).
                misc <- pin_init!(EduMisc {
                    dev,
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
    imports_ns: ["DMA_BUF", "DMAVEC"],
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
            description: "DMA address width of the device (default 64; lower: a limited importer)",
        },
    },
}
