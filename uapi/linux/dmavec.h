/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmavec_bar user API: allocate device memory (a PCI memory BAR) and export
 * it as dma-bufs that importers map as arrays of (dma_addr, len).
 *
 * One misc device per bound PCI device: /dev/dmavec-<pci name>, e.g.
 * /dev/dmavec-0000:00:01.0. See Documentation/userspace-api/dmavec.rst.
 *
 * All structures are fixed-width with explicit padding; reserved fields
 * and unknown flags must be zero. Structures only grow at the end, with
 * the ioctl number (which encodes the size) changing with them.
 */
#ifndef _UAPI_LINUX_DMAVEC_H
#define _UAPI_LINUX_DMAVEC_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMAVEC_IOCTL_MAGIC	0xDB

/* dmavec_info.features */
#define DMAVEC_FEATURE_MMAP	(1U << 0)	/* dma-bufs can be mmapped */
#define DMAVEC_FEATURE_P2PDMA	(1U << 1)	/* device memory is P2PDMA MMIO */

/**
 * struct dmavec_info - DMAVEC_IOCTL_INFO
 * @page_size: out: granule of allocations and offsets, in bytes
 * @features: out: DMAVEC_FEATURE_*
 * @bar_size: out: size of the device memory, in bytes
 * @bytes_free: out: bytes not allocated (nor held by a live dma-buf),
 *	including @bytes_scrubbing
 * @bar_index: out: index of the exported PCI BAR
 * @reserved0: out: zero
 * @bytes_scrubbing: out: bytes freed and still being zeroed in the
 *	background; DMAVEC_IOCTL_ALLOC waits for them instead of failing
 * @reserved: out: zero
 *
 * There is no version field: the interface grows by new features bits
 * and by new flags of the ioctls, whose reserved fields are zero today.
 */
struct dmavec_info {
	__u32 page_size;
	__u32 features;
	__u64 bar_size;
	__u64 bytes_free;
	__u32 bar_index;
	__u32 reserved0;
	__u64 bytes_scrubbing;
	__u64 reserved[3];
};

/**
 * struct dmavec_alloc - DMAVEC_IOCTL_ALLOC
 * @size: in: bytes, a non-zero multiple of the page size
 * @align: in: 0, or a power of two >= the page size: alignment of the
 *	allocation's offset in the device memory
 * @flags: in: zero
 * @handle: out: the allocation's handle, non-zero
 * @reserved: in: zero
 */
struct dmavec_alloc {
	__u64 size;
	__u64 align;
	__u32 flags;
	__u32 handle;
	__u64 reserved[2];
};

/**
 * struct dmavec_free - DMAVEC_IOCTL_FREE
 * @handle: in: an allocation of this file
 * @flags: in: zero
 * @reserved: in: zero
 */
struct dmavec_free {
	__u32 handle;
	__u32 flags;
	__u64 reserved;
};

/**
 * struct dmavec_range - one range of an export
 * @handle: an allocation of this file
 * @reserved: zero
 * @offset: offset in the allocation, a multiple of the page size
 * @length: bytes, a non-zero multiple of the page size, within the
 *	allocation
 */
struct dmavec_range {
	__u32 handle;
	__u32 reserved;
	__u64 offset;
	__u64 length;
};

/* Most ranges one export may have. */
#define DMAVEC_MAX_RANGES	4096

/**
 * struct dmavec_export - DMAVEC_IOCTL_EXPORT
 * @ranges: in: user pointer to @count struct dmavec_range, in buffer order
 * @count: in: 1 to DMAVEC_MAX_RANGES
 * @fd_flags: in: O_CLOEXEC and the access mode (O_RDONLY, O_WRONLY, O_RDWR)
 * @flags: in: zero
 * @fd: in: zero; out: the dma-buf file descriptor
 * @reserved: in: zero
 */
struct dmavec_export {
	__u64 ranges;
	__u32 count;
	__u32 fd_flags;
	__u32 flags;
	__s32 fd;
	__u64 reserved[2];
};

#define DMAVEC_IOCTL_INFO	_IOR(DMAVEC_IOCTL_MAGIC, 0x00, struct dmavec_info)
#define DMAVEC_IOCTL_ALLOC	_IOWR(DMAVEC_IOCTL_MAGIC, 0x01, struct dmavec_alloc)
#define DMAVEC_IOCTL_FREE	_IOW(DMAVEC_IOCTL_MAGIC, 0x02, struct dmavec_free)
#define DMAVEC_IOCTL_EXPORT	_IOWR(DMAVEC_IOCTL_MAGIC, 0x03, struct dmavec_export)

#endif /* _UAPI_LINUX_DMAVEC_H */
