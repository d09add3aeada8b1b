/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmavec_edu user API: drive QEMU's edu DMA engine into and out of an
 * imported dma-buf. /dev/dmavec-edu-<pci name>, one per edu device.
 * A test and example importer; see
 * Documentation/driver-api/dmavec/test-drivers.rst.
 */
#ifndef _UAPI_LINUX_DMAVEC_EDU_H
#define _UAPI_LINUX_DMAVEC_EDU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMAVEC_EDU_IOCTL_MAGIC	0xDC

/**
 * struct dmavec_edu_import - DMAVEC_EDU_IOCTL_IMPORT
 * @fd: in: a dma-buf; attached dynamically (peer-to-peer allowed)
 * @flags: in: zero
 */
struct dmavec_edu_import {
	__s32 fd;
	__u32 flags;
};

/**
 * struct dmavec_edu_xfer - DMAVEC_EDU_IOCTL_WRITE, DMAVEC_EDU_IOCTL_READ
 * @offset: in: offset in the dma-buf
 * @length: in: bytes, 1 to 64 KiB (E2BIG beyond); offset + length within
 *	the dma-buf
 * @data: in: READ: user pointer receiving @length bytes; WRITE: zero
 * @seed: in: WRITE: the device writes the xorshift32 pattern of @seed
 * @flags: in: zero
 */
struct dmavec_edu_xfer {
	__u64 offset;
	__u64 length;
	__u64 data;
	__u32 seed;
	__u32 flags;
};

/* dmavec_edu_info.map_type */
#define DMAVEC_EDU_MAP_IOVA	0
#define DMAVEC_EDU_MAP_DIRECT	1
#define DMAVEC_EDU_MAP_BUS_ADDR	2
#define DMAVEC_EDU_MAP_SG_TABLE	3

/**
 * struct dmavec_edu_info - DMAVEC_EDU_IOCTL_INFO
 * @size: out: bytes mapped
 * @first_addr: out: bus address of the first entry (an IOVA behind an IOMMU)
 * @map_type: out: DMAVEC_EDU_MAP_*
 * @entries: out: number of struct dma_vec entries
 * @invalidations: out: invalidations the exporter sent so far
 * @flags: out: zero
 */
struct dmavec_edu_info {
	__u64 size;
	__u64 first_addr;
	__u32 map_type;
	__u32 entries;
	__u32 invalidations;
	__u32 flags;
};

#define DMAVEC_EDU_IOCTL_IMPORT	_IOW(DMAVEC_EDU_IOCTL_MAGIC, 0x00, struct dmavec_edu_import)
#define DMAVEC_EDU_IOCTL_WRITE	_IOW(DMAVEC_EDU_IOCTL_MAGIC, 0x01, struct dmavec_edu_xfer)
#define DMAVEC_EDU_IOCTL_READ	_IOW(DMAVEC_EDU_IOCTL_MAGIC, 0x02, struct dmavec_edu_xfer)
#define DMAVEC_EDU_IOCTL_INFO	_IOR(DMAVEC_EDU_IOCTL_MAGIC, 0x03, struct dmavec_edu_info)
#define DMAVEC_EDU_IOCTL_DETACH	_IO(DMAVEC_EDU_IOCTL_MAGIC, 0x04)
/*
 * Test VMs only, with module parameter unsafe_raw_dma=1 (else EPERM):
 * DMA the pattern of @seed to bus address @offset (at most 2048 bytes),
 * whatever is mapped there.
 */
#define DMAVEC_EDU_IOCTL_RAW_WRITE _IOW(DMAVEC_EDU_IOCTL_MAGIC, 0x05, struct dmavec_edu_xfer)

#endif /* _UAPI_LINUX_DMAVEC_EDU_H */
