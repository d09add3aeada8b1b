// SPDX-License-Identifier: GPL-2.0

//! The misc device of a bound edu, `/dev/dmavec-edu-<pci name>`: its name, its open files, and
//! the ioctls of `uapi/linux/dmavec_edu.h`: IMPORT a dma-buf fd, WRITE a seeded pattern into
//! it, READ from it, INFO on the mapping, DETACH it.

use crate::{hw::CHUNK, import::Pattern, module_parameters, uapi, EduDevice};
use dmavec::compat::MiscNames;
use kernel::{
    fs::File,
    ioctl::_IOC_SIZE,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    prelude::*,
    sync::Arc,
    uaccess::{UserPtr, UserSlice},
};

/// The misc devices' names (`dmavec-edu-<pci name>`), for the life of the module: a
/// registration borrows its name while it lives.
pub(crate) static NAMES: MiscNames<32> = MiscNames::new();

/// The prefix of a misc device's name.
pub(crate) const NAME_PREFIX: &[u8] = b"dmavec-edu-";

/// An open file.
pub(crate) struct EduFile {
    dev: Arc<EduDevice>,
}

/// The misc device of a bound edu, embedded in the driver data.
#[pin_data]
pub(crate) struct EduMisc {
    #[pin]
    pub(crate) reg: MiscDeviceRegistration<EduFile>,
    pub(crate) dev: Arc<EduDevice>,
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
                me.dev.import(req.fd)?;
            }
            uapi::WRITE => me.dev.xfer(&reader.read()?, true)?,
            uapi::READ => me.dev.xfer(&reader.read()?, false)?,
            uapi::INFO => writer.write(&me.dev.info()?)?,
            uapi::DETACH => me.dev.detach()?,
            uapi::RAW_WRITE => {
                if !module_parameters::unsafe_raw_dma.value() {
                    return Err(EPERM);
                }
                let req: uapi::Xfer = reader.read()?;
                let len = usize::try_from(req.length).map_err(|_| EINVAL)?;
                if req.flags != 0 || len == 0 || len > CHUNK {
                    return Err(EINVAL);
                }
                let hw = me.dev.hw.lock();
                let hw = hw.as_ref().ok_or(ENODEV)?;
                let mut buf = [0u8; CHUNK];
                Pattern::new(req.seed).fill(&mut buf[..len]);
                hw.push(&buf[..len], req.offset)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}
