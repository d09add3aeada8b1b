// SPDX-License-Identifier: GPL-2.0

//! edu's DMA engine: transfers between edu's buffer and bus addresses, one at a time and polled
//! to completion, with a bounce buffer in RAM for the data the CPU gives or takes.
//!
//! The registers are a [`pci::DevresBar`]: reachable only while the device is bound. Unbind
//! drops the [`EduHw`] (under the device's hardware lock, so after the transfer in flight) before
//! the device's resources are released; the revocation is the guard behind that order.

use crate::{module_parameters, regs};
use kernel::{
    dma::Coherent,
    io::{io_project, poll::read_poll_timeout, Io},
    pci,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    time::Delta,
};

/// edu's buffer, in its own address space.
const EDU_BUF: u64 = 0x40000;

/// Bytes per transfer. QEMU 7.2's edu rejects a transfer that touches the last byte of its
/// buffer and then aborts the whole VM (`hw_error()`): stay in its first half.
pub(crate) const CHUNK: usize = 2048;

/// What the device needs while bound: its registers and a bounce buffer in RAM.
pub(crate) struct EduHw {
    /// BAR 0, revoked when the device is unbound.
    bar: pci::DevresBar<{ regs::END }>,
    bounce: Coherent<[u8; CHUNK]>,
    /// Bus mastering was turned off after a timeout: on again once the engine is idle.
    stopped: Atomic<bool>,
}

impl EduHw {
    /// The engine whose registers are `bar` (BAR 0), with a bounce buffer `bounce`.
    pub(crate) fn new(bar: pci::DevresBar<{ regs::END }>, bounce: Coherent<[u8; CHUNK]>) -> Self {
        Self {
            bar,
            bounce,
            stopped: Atomic::new(false),
        }
    }

    /// Reads the command register; `ENODEV` once the device is unbound.
    fn cmd(&self) -> Result<regs::DMA_CMD> {
        self.bar
            .try_access_with(|bar| bar.read(regs::DMA_CMD))
            .ok_or(ENODEV)
    }

    /// Turns bus mastering on (`pci_set_master()`) or off (`pci_clear_master()`); `ENODEV` once
    /// the device is unbound.
    fn set_bus_master(&self, on: bool) -> Result {
        // Neither call sleeps: both may run in the RCU read-side section of the access.
        self.bar
            .try_access_with(|bar| {
                if on {
                    bar.device().set_master();
                } else {
                    bar.device().clear_master();
                }
            })
            .ok_or(ENODEV)
    }

    /// One DMA transfer of `len` bytes, polled to completion (edu takes about 100 ms).
    ///
    /// edu's address registers are 64 bits wide and take 8-byte writes: any address within
    /// the DMA mask reaches the device whole (edu's own `dma_mask` property, which the test
    /// VMs set to all ones, must not be narrower).
    fn dma(&self, src: u64, dst: u64, len: usize, to_ram: bool) -> Result {
        if self.stopped.load(Relaxed) {
            // The transfer that timed out must be over before the engine may reach memory.
            if self.cmd()?.start() {
                return Err(EBUSY);
            }
            self.set_bus_master(true)?;
            self.stopped.store(false, Relaxed);
        }
        let cmd = regs::DMA_CMD::zeroed().with_start(true).with_to_ram(to_ram);
        self.bar
            .try_access_with(|bar| -> Result {
                // The 7.3 `Io` checks 64-bit accesses at run time only (its regions promise
                // 4-byte alignment): both registers are 8-byte aligned, so these never fail.
                bar.try_write_reg(regs::DMA_SRC::from(src))?;
                bar.try_write_reg(regs::DMA_DST::from(dst))?;
                // CAST: `len` is at most `CHUNK` bytes.
                bar.write_reg(regs::DMA_COUNT::from(len as u32));
                bar.write_reg(cmd);
                Ok(())
            })
            .ok_or(ENODEV)??;
        // TIMEOUT: edu completes a transfer in about 100 ms under TCG; `dma_timeout_ms` gives
        // it 2 s by default.
        let done = read_poll_timeout(
            || self.cmd(),
            |cmd| !cmd.start(),
            Delta::from_millis(1),
            Delta::from_millis(i64::from(module_parameters::dma_timeout_ms.value())),
        );
        if done.is_ok() {
            return Ok(());
        }
        // Stop the engine before the caller signals its fence and unmaps: with bus mastering
        // off, the transfer still running can no longer reach memory.
        self.set_bus_master(false)?;
        self.stopped.store(true, Relaxed);
        Err(ETIMEDOUT)
    }

    /// Bus address `addr` → edu's buffer → the bounce buffer → `out` (at most `CHUNK` bytes).
    pub(crate) fn pull(&self, addr: u64, out: &mut [u8]) -> Result {
        self.dma(addr, EDU_BUF, out.len(), false)?;
        self.dma(EDU_BUF, self.bounce.dma_address(), out.len(), true)?;
        // The device wrote the bounce buffer and is done with it (polled).
        io_project!(&self.bounce, [try: ..out.len()]).copy_to_slice(out);
        Ok(())
    }

    /// `data` (at most `CHUNK` bytes) to the bounce buffer, to edu's buffer, to bus address
    /// `addr`.
    pub(crate) fn push(&self, data: &[u8], addr: u64) -> Result {
        // The device does not use the bounce buffer between transfers.
        io_project!(&self.bounce, [try: ..data.len()]).copy_from_slice(data);
        self.dma(self.bounce.dma_address(), EDU_BUF, data.len(), false)?;
        self.dma(EDU_BUF, addr, data.len(), true)
    }
}
