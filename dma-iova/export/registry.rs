// SPDX-License-Identifier: GPL-2.0

//! The registry of exported buffers, and its dump in debugfs (`dmavec/buffers`): every buffer
//! and its attachments.

use super::{dma_buf_ops::OPS, Buffer};
use crate::map::MapType;
use core::fmt;
use kernel::dma_buf::exporter::OwnerRef;
use kernel::{
    list::{List, ListArc},
    prelude::*,
    sync::{atomic::Relaxed, Arc},
};

/// Every exported buffer until its release, for debugfs: a static lock, initialised in module
/// init ([`crate::ffi::init_registry`]).
pub(super) use crate::ffi::BUFFERS;

/// Removes `buf` from the registry, if it is there.
pub(super) trait RemoveBuffer {
    fn remove_buffer(&mut self, buf: &Buffer) -> Option<ListArc<Buffer>>;
}

impl RemoveBuffer for List<Buffer> {
    fn remove_buffer(&mut self, buf: &Buffer) -> Option<ListArc<Buffer>> {
        let mut c = self.cursor_front();
        while let Some(p) = c.peek_next() {
            if core::ptr::eq::<Buffer>(&*p, buf) {
                return Some(p.remove());
            }
            c.move_next();
        }
        None
    }
}

/// Frees the registry's array at module exit: a static is never dropped.
pub(crate) fn exit_registry() {
    // Every buffer holds a reference on its exporter module, which holds one on dmavec:
    // the list is empty here.
    let mut list = BUFFERS.lock();
    while list.pop_front().is_some() {}
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        write!(
            f,
            "buffer {:p} exporter {} size {} {} ranges {}{}",
            self,
            self.name.to_str().unwrap_or("?"),
            self.size,
            if self.is_mmio() { "mmio" } else { "ram" },
            self.ranges.len(),
            if self.is_revoked() { " revoked" } else { "" },
        )?;
        for r in self.ranges.iter() {
            write!(f, " {:?}", r)?;
        }
        writeln!(f)?;
        // Only a live dma-buf has attachments to show: one whose file is dying has none
        // (every importer holds a reference to it).
        let Some(d) = state.dmabuf.as_ref().and_then(|w| w.upgrade()) else {
            return Ok(());
        };
        let resv = d.resv().lock();
        for a in OPS.attachments(&d, &resv).into_iter().flatten() {
            let st = a.data();
            let t = st.map_type.load(Relaxed);
            let _ = writeln!(
                f,
                "  attachment {} p2p {} live {} type {} entries {} bytes {}",
                st.dev.name().to_str().unwrap_or("?"),
                a.peer2peer(),
                st.live.load(Relaxed),
                MapType::from_u32(t).map_or("none", MapType::name),
                st.entries.load(Relaxed),
                st.bytes.load(Relaxed),
            );
        }
        drop(resv);
        // The last reference may be this one: `fput()` defers the release, which takes the
        // state lock, held here.
        drop(state);
        drop(d);
        Ok(())
    }
}

/// The debugfs `buffers` file: every dmavec buffer and its attachments.
pub(crate) struct Registry;

/// A buffer of a snapshot of the registry, with a reference to its exporter's module.
///
/// Once the dma-buf is released, the dma-buf core puts its reference to the exporter's module:
/// the last `Arc<Buffer>` may then be this one, and dropping it runs the exporter's drop glue
/// (`Buffer::ops`), whose code is the exporter's. The module reference keeps that code, and the
/// exporter's name that the dump prints, until the `Arc` is gone: fields drop in declaration
/// order.
struct Pinned {
    buf: Arc<Buffer>,
    _owner: OwnerRef,
}

impl Pinned {
    /// Pins `buf` and its exporter's module, if that module is not being removed.
    fn new(buf: Arc<Buffer>) -> Option<Self> {
        // The buffer is registered, so its dma-buf not yet released: the module is live.
        let owner = buf.owner.try_get()?;
        Some(Self { buf, _owner: owner })
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A snapshot under the global lock; each buffer is then printed, taking its own locks
        // (the reservation lock among them), with the global lock released, so that an importer
        // holding a reservation lock never stalls every export and release. Each buffer of the
        // snapshot pins its exporter's module (`Pinned`): the `Arc` may outlive the dma-buf.
        let mut snapshot: KVec<Pinned> = KVec::new();
        {
            let list = BUFFERS.lock();
            snapshot
                .reserve(list.iter().count(), GFP_KERNEL)
                .map_err(|_| fmt::Error)?;
            for b in list.iter() {
                if let Some(p) = Pinned::new(b.into()) {
                    // Within the capacity reserved above: cannot fail.
                    snapshot.push_within_capacity(p).map_err(|_| fmt::Error)?;
                }
            }
        }
        #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
        crate::test_hooks::REGISTRY_HOLD.pass();
        for p in snapshot.iter() {
            write!(f, "{:?}", *p.buf)?;
        }
        Ok(())
    }
}
