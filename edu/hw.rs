// SPDX-License-Identifier: GPL-2.0

//! edu's DMA engine: transfers between edu's buffer and bus addresses, one at a time and polled
//! to completion, with a bounce buffer in RAM for the data the CPU gives or takes.

use crate::{module_parameters, regs};
use kernel::{
    bindings,
    dma::Coherent,
    io::{poll::read_poll_timeout, Io},
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
    time::Delta,
};

/// edu's buffer, in its own address space.
const EDU_BUF: u64 = 0x40000;

/// Bytes per transfer. QEMU 7.2's edu rejects a transfer that touches the last byte of its
/// buffer and then aborts the whole VM (`hw_error()`): stay in its first half.
pub(crate) const CHUNK: usize = 2048;

/// What the device needs while bound: its registers and a bounce buffer in RAM.
pub(crate) struct EduHw<'bound> {
    pub(crate) bar: pci::Bar<'bound, { regs::END }>,
    pub(crate) bounce: Coherent<[u8; CHUNK]>,
    /// The device, to turn bus mastering off and on around a transfer that timed out.
    pub(crate) pdev: ARef<pci::Device>,
    /// Bus mastering was turned off after a timeout: on again once the engine is idle.
    pub(crate) stopped: Atomic<bool>,
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
            if self.bar.read(regs::DMA_CMD).start() {
                return Err(EBUSY);
            }
            // SAFETY: The device is bound (this value lives in its driver data).
            unsafe { bindings::pci_set_master(dmavec::raw::pci_dev(&self.pdev)) };
            self.stopped.store(false, Relaxed);
        }
        // The 7.3 `Io` checks 64-bit accesses at run time only (its regions promise 4-byte
        // alignment): both registers are 8-byte aligned, so these never fail.
        self.bar.try_write_reg(regs::DMA_SRC::from(src))?;
        self.bar.try_write_reg(regs::DMA_DST::from(dst))?;
        // CAST: `len` is at most `CHUNK` bytes.
        self.bar.write_reg(regs::DMA_COUNT::from(len as u32));
        self.bar
            .write_reg(regs::DMA_CMD::zeroed().with_start(true).with_to_ram(to_ram));
        // TIMEOUT: edu completes a transfer in about 100 ms under TCG; `dma_timeout_ms` gives
        // it 2 s by default.
        let done = read_poll_timeout(
            || Ok(self.bar.read(regs::DMA_CMD)),
            |cmd| !cmd.start(),
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
    pub(crate) fn pull(&self, addr: u64, out: &mut [u8]) -> Result {
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
    pub(crate) fn push(&self, data: &[u8], addr: u64) -> Result {
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
