// SPDX-License-Identifier: GPL-2.0

//! The imported dma-buf and the transfers that DMA into and out of it.
//!
//! A transfer maps the buffer and publishes a fence for its DMA in the reservation object
//! (`DMA_RESV_USAGE_BOOKKEEP`) under the reservation lock, then runs the DMA without the lock.
//! An invalidation during the transfer marks the mapping stale and returns at once; the
//! transfer stops at the next chunk, signals the fence, unmaps, and maps again (which fails
//! with `ENODEV` if the exporter revoked the buffer). Revocation waits for the fence, then for
//! the unmap, so the device is never programmed with an address from an invalidated mapping,
//! and the mapping outlives every DMA programmed with it. A transfer that times out stops the
//! engine (bus mastering off) before it signals the fence.

use crate::{hw::CHUNK, uapi, EduDevice};
use dmavec::{Attachment, DmaVec, Importer, Locked, SegLimits};
use kernel::{
    dma::DataDirection,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    uaccess::{UserPtr, UserSlice},
};

/// Most bytes one WRITE or READ moves (edu takes about 100 ms per transfer).
const MAX_XFER: usize = 64 * 1024;

/// The pattern of the kselftests' host agent: xorshift32 bytes from a seed.
pub(crate) struct Pattern(u32);

impl Pattern {
    pub(crate) fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x9E37_79B9 } else { seed })
    }

    pub(crate) fn fill(&mut self, out: &mut [u8]) {
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

/// What a transfer shares with the invalidate callback of its import.
pub(crate) struct ImportState {
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

impl EduDevice {
    /// IMPORT: attaches the dma-buf `fd`, replacing (unmapping and detaching) the previous one.
    pub(crate) fn import(&self, fd: i32) -> Result {
        let hw = self.hw.lock();
        if hw.is_none() {
            return Err(ENODEV);
        }
        let dmabuf = dmavec::DmaBuf::from_fd(fd)?;
        let st = Arc::new(ImportState::new(), GFP_KERNEL)?;
        let att = Attachment::new(dmabuf, &self.dev, EduImporter(st.clone()))?;
        // edu's engine takes any 64-bit address and walks the entries itself: no segment
        // limit, so one entry for a whole buffer behind an IOMMU.
        att.lock().set_seg_limits(Some(SegLimits::UNLIMITED))?;
        // The previous import, if any, is unmapped and detached here.
        *self.import.lock() = Some((att, st));
        Ok(())
    }

    /// DETACH: unmaps and detaches the imported dma-buf.
    pub(crate) fn detach(&self) -> Result {
        drop(self.import.lock().take().ok_or(ENOENT)?);
        Ok(())
    }

    /// WRITE (`write`) or READ.
    pub(crate) fn xfer(&self, req: &uapi::Xfer, write: bool) -> Result {
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
            let hw = self.hw.lock();
            let hw = hw.as_ref().ok_or(ENODEV)?;
            // Held for the whole transfer: DETACH and IMPORT, which drop the mapping, wait.
            let import = self.import.lock();
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

    /// INFO: the current mapping of the imported dma-buf (mapped if it is not).
    pub(crate) fn info(&self) -> Result<uapi::Info> {
        let hw = self.hw.lock();
        if hw.is_none() {
            return Err(ENODEV);
        }
        let import = self.import.lock();
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
