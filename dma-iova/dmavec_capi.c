// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the dmavec module:
 *  - EXPORT_SYMBOL_NS_GPL() of the C API (implemented in Rust, capi.rs);
 *  - checks that the Rust mirrors of kernel structures match their C layout;
 *  - the DOC sections of what the helper implements in Rust on the kernel
 *    crate's dma-buf abstractions (rust/kernel/dma_buf/), for kernel-doc.
 */
#include <linux/build_bug.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dmaengine.h>
#include <linux/dmavec.h>
#include <linux/export.h>
#include <linux/stddef.h>

/* Rust's DmaVec mirrors struct dma_vec. */
static_assert(sizeof(struct dma_vec) == 16);
static_assert(offsetof(struct dma_vec, addr) == 0);
static_assert(offsetof(struct dma_vec, len) == 8);

/**
 * DOC: sg_table for the dma-buf core's importers
 *
 * Importers of the dma-buf core, which call dma_buf_map_attachment(), get a
 * DMA-only sg_table built from the same mapping as dmavec's importers get
 * their array: the DMA side holds the entries, there is no CPU side (no
 * pages), and orig_nents is 0 so that users who look can tell.
 */

/**
 * DOC: CPU mappings
 *
 * mmap() of a dmavec dma-buf is implemented by dmavec itself. It fails with
 * -EINVAL when the exporter said so (%DMAVEC_EXPORT_NO_MMAP; Rust:
 * ``ExportInfo::mmap``) and for a buffer whose ranges are not whole pages,
 * and with -ENODEV for a revoked buffer.
 *
 * - The mapping must be shared: MAP_PRIVATE fails with -EINVAL.
 * - It is PFN-mapped (VM_PFNMAP | VM_IO), so get_user_pages() fails on it:
 *   no direct I/O, no vmsplice(), no RDMA registration of the pages.
 * - It is uncached for MMIO.
 * - Pages are inserted on fault, from the buffer's ranges.
 * - Revoking a buffer zaps every CPU mapping of its dma-buf file. A fault
 *   while the buffer is revoked raises SIGBUS; after a restore, faults
 *   populate the mapping again.
 * - Faults and revocation take the buffer's state lock, so no fault can
 *   install a page of a revoked buffer.
 */

/**
 * DOC: CPU access
 *
 * System memory is mapped with the kernel's cached attributes, and an
 * importer's mapping of it may go through bounce buffers (swiotlb, for a
 * device whose DMA mask does not reach the pages, or swiotlb=force) or a
 * non-coherent cache. The streaming DMA rules then apply to the buffer as
 * a whole, and DMA_BUF_IOCTL_SYNC (in the kernel:
 * dma_buf_begin_cpu_access() and dma_buf_end_cpu_access()) is the
 * ownership hand-over:
 *
 * device owns
 *   Between SYNC_END (or no sync at all) and the next SYNC_START:
 *   importers' DMA may read and write the memory; the CPU must not touch
 *   it through the mmap.
 *
 * CPU owns
 *   Between SYNC_START and SYNC_END: the CPU reads and writes through the
 *   mmap; no importer DMA may be in flight.
 *
 * begin_cpu_access (SYNC_START) syncs every live mapping of the buffer for
 * the CPU (dma_sync_single_for_cpu(): bounce buffers are copied back,
 * caches invalidated), and end_cpu_access (SYNC_END) syncs them for the
 * devices (dma_sync_single_for_device()), each with the direction the
 * mapping was made for, under the reservation lock, taken interruptibly:
 * the ioctl may fail with -EINTR.
 *
 * Only mappings made with dma_map_phys() can be synced. The hooks reach
 * every live mapping of each attachment through the exporter abstraction,
 * which keeps them in a list of their attachment from map to unmap (under
 * the reservation lock), and sync each one's dma_map_phys() mappings; those
 * of the IOVA and bus-address paths need none. The IOVA-linking API has no
 * CPU sync: dma_iova_sync() flushes the IOTLB only, and what
 * dma_iova_link() bounced through swiotlb is copied back by
 * dma_iova_unlink() alone. It bounces for an untrusted device
 * (pci_dev->untrusted, which the PCI core sets behind an external-facing
 * port, Thunderbolt for one): the partial IOVA granules at the start and
 * end of each run that does not start and end on the granule, such as a
 * first range starting inside a page (dev_use_swiotlb() in
 * drivers/iommu/dma-iommu.c; nothing else makes it bounce for a
 * cache-coherent device). So system memory takes the IOVA path only for an
 * importer that is cache-coherent and trusted: a non-coherent or an
 * untrusted importer gets the direct path, whatever the alignment of the
 * ranges, and the hooks sync its caches and bounce slots (as dma_map_sg()
 * maps an untrusted device's list segment by segment). Keeping a mapping in
 * its attachment's list allocates nothing.
 *
 * For MMIO both hooks do nothing: it is mapped uncached, and P2PDMA never
 * bounces. dma_iova_link() refuses to bounce it: for an untrusted
 * importer, a map of MMIO whose first range starts, or whose last range
 * ends, off the IOVA granule fails with -EPERM.
 */

/**
 * DOC: Importer fences
 *
 * An importer that runs DMA on its mapping without holding the reservation
 * lock publishes a fence for it in the dma-buf's reservation object with
 * usage %DMA_RESV_USAGE_BOOKKEEP, and signals it when the DMA is complete
 * or stopped. In Rust, ``Locked::fence_dma()`` makes and adds a new fence
 * on the attachment's own timeline (kernel::dma_fence), signalled when it is
 * dropped; a C importer adds a fence of its own with dma_resv_add_fence().
 * While the fence is unsignalled, the importer's invalidate callback may
 * leave the mapping in place, as long as it makes the DMA stop soon:
 * revocation waits for the fences and then for the unmap, which the
 * importer does after signalling.
 */

EXPORT_SYMBOL_NS_GPL(dmavec_phys_vec_check, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_export, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_export_priv, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_export_ranges, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_revoke, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_is_dmavec, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_attach, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_detach, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_attachment_dmabuf, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_map, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_set_seg_limits, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_unmap, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_map, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_vecs, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_type, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_unmap, "DMAVEC");

/* capi.rs mirrors struct dmavec_export_info. */
static_assert(offsetof(struct dmavec_export_info, release) == 48);
static_assert(offsetof(struct dmavec_export_info, export_flags) == 64);
static_assert(sizeof(struct dmavec_export_info) == 72);

/* capi.rs encodes enum dmavec_map_type with these values. */
static_assert(DMAVEC_MAP_IOVA == 0 && DMAVEC_MAP_DIRECT == 1);
static_assert(DMAVEC_MAP_BUS_ADDR == 2 && DMAVEC_MAP_SG_TABLE == 3);
#ifdef DMA_BUF_IMAPPING_DMA_VEC
/* The DMA-vector mapping type reports the map types by them. */
static_assert((int)DMA_BUF_DMA_VEC_IOVA == (int)DMAVEC_MAP_IOVA);
static_assert((int)DMA_BUF_DMA_VEC_DIRECT == (int)DMAVEC_MAP_DIRECT);
static_assert((int)DMA_BUF_DMA_VEC_BUS_ADDR == (int)DMAVEC_MAP_BUS_ADDR);
#endif
