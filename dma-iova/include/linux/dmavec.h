/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmavec: dma-buf mappings as arrays of (dma_addr, len).
 */
#ifndef _LINUX_DMAVEC_H
#define _LINUX_DMAVEC_H

#include <linux/bits.h>
#include <linux/dma-direction.h>
#include <linux/types.h>

struct device;
struct dma_buf;
struct dma_vec;
struct module;
struct p2pdma_provider;

/**
 * DOC: C interface
 *
 * C exporters and importers use the functions of <linux/dmavec.h>. Every
 * symbol is exported in the ``DMAVEC`` namespace: their modules need
 * ``MODULE_IMPORT_NS("DMAVEC")``. The module is written in Rust, and Rust
 * drivers use its crate, ``dmavec``; both are one implementation with the
 * same rules, and the Rust names of the same operations are given in
 * parentheses where they differ.
 */

/**
 * DOC: Ranges and entries
 *
 * An exporter describes its buffer as an array of &struct phys_vec, in
 * buffer order. dmavec_phys_vec_check() applies the rules of the
 * IOVA-linking API to them on every path, so that a buffer maps the same
 * way for every importer. An importer gets an array of &struct dma_vec
 * that covers the buffer in order.
 *
 * A *run* is a maximal sequence of ranges each starting where the one
 * before it ends. Each run is linked or mapped with one DMA API call,
 * whatever the number of ranges in it: fewer calls, and on the IOVA path
 * the IOMMU driver can map a run with large pages where its physical
 * address and its IOVA are aligned, which linking its ranges one by one
 * never allows. Behind a translating IOMMU the whole buffer gets one
 * contiguous IOVA range and exactly one dma_iova_sync(), whatever the
 * number of ranges; if the IOMMU granule is larger than a page, every
 * boundary between two runs must be aligned to it too (-EINVAL
 * otherwise: dma_iova_link() would warn and map it wrong).
 *
 * Entries are built from the DMA-contiguous runs:
 *
 * - a run that starts where the previous entry ends merges into it;
 * - no entry is longer than the importer's maximum segment size, rounded
 *   down to a multiple of PAGE_SIZE;
 * - no entry crosses a multiple of the importer's segment boundary mask
 *   plus one.
 *
 * An entry thus ends at a page boundary, except at the end of the buffer
 * and where the maximum segment size ends an entry that started inside a
 * page, which only a buffer whose first range starts inside a page has.
 * The importer's limits are
 * its device's, dma_get_max_seg_size() and dma_get_seg_boundary(), unless
 * it states its own with dmavec_set_seg_limits(). A maximum segment
 * smaller than a page fails the map with -EINVAL. A PCI device's default
 * limits are 64 KiB and a 4 GiB boundary; and since the maximum segment
 * size of a device is an unsigned int, a device's limits split a buffer at
 * least every 4 GiB - 4 KiB, even at their highest.
 *
 * Entry lengths are size_t: an entry may be longer than 4 GiB, which an
 * sg_table (32-bit dma_length) cannot express. An importer that states no
 * limit (SIZE_MAX and U64_MAX) gets one entry for a whole buffer of any
 * size behind a translating IOMMU, and one entry per DMA-contiguous run
 * on the direct path; one that states a maximum M and no boundary gets
 * ceil(run / M) entries per run (per buffer behind a translating IOMMU),
 * summing to the size.
 *
 * No path maps more than the importer can address: every entry is mapped
 * at once, at distinct addresses within its DMA mask (lowered by its bus
 * DMA limit). A buffer larger than that space fails the map with -ERANGE
 * before any DMA call. So does MMIO that the importer reaches at its own
 * address (PCI bus addresses, or the direct path without a translating
 * IOMMU) beyond its mask, where the DMA API would fail the mapping with a
 * warning in the kernel log. System memory beyond the mask is left to the
 * DMA API, which bounces it through swiotlb where it can.
 */

/**
 * enum dmavec_map_type - how an importer's mapping was made
 * @DMAVEC_MAP_IOVA: one IOVA range linked with dma_iova_link() and synced
 *	once: the importer sits behind a translating IOMMU
 * @DMAVEC_MAP_DIRECT: dma_map_phys() per range: no translating IOMMU
 * @DMAVEC_MAP_BUS_ADDR: PCI bus addresses of MMIO behind a common switch
 * @DMAVEC_MAP_SG_TABLE: a dma-buf whose exporter does not offer the
 *	DMA-vector mapping type, mapped by the dma-buf core; the entries are
 *	the DMA side of its sg_table
 *
 * The first three are the numbers of &enum dma_buf_dma_vec_addr too: they
 * say how an exporter of the DMA-vector mapping type, dmavec or another,
 * mapped the array.
 */
enum dmavec_map_type {
	DMAVEC_MAP_IOVA,
	DMAVEC_MAP_DIRECT,
	DMAVEC_MAP_BUS_ADDR,
	DMAVEC_MAP_SG_TABLE,
};

/**
 * dmavec_phys_vec_check() - Validate an exporter's physical ranges
 * @vecs: the ranges
 * @nr: number of entries in @vecs
 * @total: if not NULL, receives the sum of the lengths on success
 *
 * The rules of the IOVA-linking API, applied whatever path a mapping later
 * takes: every range is non-empty and does not wrap the physical address
 * space, every boundary between two ranges is page aligned (the first range
 * may start and the last may end anywhere in a page), and the total is
 * below 2^63. Every dmavec mapping applies this check to its input.
 *
 * Context: Any context.
 * Return: 0 on success; -EINVAL for no ranges, an empty range or a
 * misaligned inner boundary; -EOVERFLOW when a range wraps or the total is
 * too large.
 */
int dmavec_phys_vec_check(const struct phys_vec *vecs, size_t nr,
			  size_t *total);

/**
 * struct dmavec_export_info - what dmavec_export() needs to know
 * @name: the exporter's name, for bufinfo and debugfs; must live as long
 *	as @owner
 * @owner: THIS_MODULE of the exporter (NULL when it is built in); it stays
 *	loaded while the dma-buf exists
 * @ranges: the buffer's physical ranges, in buffer order; copied. The
 *	memory is the exporter's: importers map it for DMA and, unless
 *	DMAVEC_EXPORT_NO_MMAP, user space maps it, so it must stay valid
 *	until the exporter revokes the buffer for good or @release is called
 * @nr_ranges: number of entries in @ranges
 * @provider: the P2PDMA provider of MMIO ranges (pcim_p2pdma_provider()),
 *	NULL for system memory; must stay valid until the exporter revokes
 *	the buffer for good, which it does before the device is unbound
 * @flags: file flags of the dma-buf (O_RDWR)
 * @release: called once, when the dma-buf that dmavec_export() returned is
 *	released (its last reference dropped) and no importer can reach the
 *	memory any more; may be NULL. Never called when dmavec_export()
 *	fails: the memory and @priv then stay the caller's. It also names the
 *	exporter: dmavec_export_priv() returns @priv only to a caller that
 *	passes the same function.
 * @priv: argument of @release
 * @export_flags: DMAVEC_EXPORT_* policy bits
 */
struct dmavec_export_info {
	const char *name;
	struct module *owner;
	const struct phys_vec *ranges;
	size_t nr_ranges;
	struct p2pdma_provider *provider;
	int flags;
	void (*release)(void *priv);
	void *priv;
	unsigned int export_flags;
};

/**
 * define DMAVEC_EXPORT_NO_MMAP - The dma-buf cannot be mmapped
 *
 * mmap() of the dma-buf fails with -EINVAL, as for a dma-buf whose ops
 * have no mmap callback. For exporters whose memory is reached from the
 * CPU some other way only (vfio-pci maps BARs through its device file,
 * never through the dma-buf).
 */
#define DMAVEC_EXPORT_NO_MMAP		BIT(0)

/**
 * dmavec_export() - Export physical ranges as a dma-buf
 * @info: the description of the buffer
 *
 * The dma-buf's ops belong to dmavec: importers that use dmavec_map() get
 * an array of struct dma_vec, and those of the dma-buf core get a DMA-only
 * sg_table built from the same mapping. Every importer must be revocable
 * (dynamic, with an invalidate_mappings callback; -EOPNOTSUPP otherwise),
 * since every buffer can be revoked. MMIO (@info->provider set) is only
 * attached by peer-to-peer capable importers that can reach it.
 *
 * Ownership: on success the dma-buf owns the exporter's side until it is
 * released, and then calls @info->release(@info->priv) exactly once,
 * possibly from another thread (the last dma_buf_put() or fput()). On an
 * error nothing was created and @info->release is never called: the caller
 * frees what it allocated. No step can fail once the dma-buf exists.
 *
 * Context: Process context; may sleep.
 * Return: a dma-buf with one reference for the caller (dma_buf_fd() or
 * dma_buf_put()), or an ERR_PTR(): -EINVAL for a NULL @info->name or
 * @info->ranges or an unknown bit in @info->export_flags, -EINVAL or
 * -EOVERFLOW for ranges dmavec_phys_vec_check() refuses, -ENOMEM, or what
 * dma_buf_export() returns.
 */
struct dma_buf *dmavec_export(const struct dmavec_export_info *info);

/**
 * dmavec_export_priv() - The exporter's private data of its own dma-buf
 * @dmabuf: a dma-buf the caller holds a reference to (an attachment's)
 * @release: the exporter's release callback (&dmavec_export_info.release)
 *
 * How an exporter recognises a dma-buf as one of its own, where it would
 * compare dmabuf->ops with its own dma_buf_ops if it had them: vfio-pci's
 * iommufd path does so.
 *
 * Context: Any context.
 * Return: @info->priv of the dmavec_export() that created @dmabuf if
 * @info->release was @release; NULL for a NULL @release, another
 * exporter's dmavec dma-buf, or a dma-buf that is not dmavec's.
 */
void *dmavec_export_priv(struct dma_buf *dmabuf, void (*release)(void *priv));

/**
 * dmavec_export_ranges() - The physical ranges of a dmavec dma-buf
 * @dmabuf: a dmavec dma-buf the caller holds a reference to
 * @ranges: receives the ranges, in buffer order, as dmavec_export() copied
 *	them; they do not change and stay valid while the reference is held
 * @nr_ranges: receives their number
 *
 * For exporters and the importers they cooperate with outside the dma-buf
 * mapping ops (vfio-pci's iommufd path); the reservation lock orders the
 * answer against dmavec_revoke(), and the caller must be revocable (its
 * attachment's invalidate_mappings callback stops its use of the ranges).
 *
 * Context: The dma-buf's reservation lock is held.
 * Return: 0; -EINVAL if @dmabuf is not a dmavec dma-buf; -ENODEV if it is
 * revoked (nothing is returned then).
 */
int dmavec_export_ranges(struct dma_buf *dmabuf,
			 const struct phys_vec **ranges, size_t *nr_ranges);

/**
 * DOC: Revocation
 *
 * Every dmavec buffer can be revoked, and only revocable importers attach
 * (dynamic, with an invalidate_mappings callback): they promise to stop
 * their DMA and to unmap soon after their invalidation, from their
 * invalidate callback or soon after it, as vfio-pci's importers do. An
 * exporter revokes before its memory goes away: on device remove, around
 * a reset, and when it frees the memory. After a reset it restores.
 *
 * Revoking (dmavec_revoke() with true; Rust: ``Buffer::revoke()``):
 *
 * 1. takes the buffer's state lock and the dma-buf's reservation lock, and
 *    marks the buffer revoked: new attachments and maps fail with -ENODEV;
 * 2. calls dma_buf_invalidate_mappings() and zaps the CPU mappings of the
 *    dma-buf;
 * 3. drops both locks, waits for the fences of the reservation object
 *    (%DMA_RESV_USAGE_BOOKKEEP: all of them, the fences of importers' DMA
 *    among them), then waits until every mapping of the buffer is gone.
 *
 * No lock of the buffer is held while it waits: CPU faults (which find the
 * buffer revoked), attaches (-ENODEV) and the debugfs dump return
 * meanwhile, whatever an importer's DMA does. Neither wait has a timeout,
 * and a revocation that finds the buffer revoked already waits as long:
 * returning while an importer still reaches the memory would let the
 * exporter reset or reuse it under the importer's DMA. The waits are
 * bounded by the importers' contract, as vfio-pci's are; an importer that
 * never signals its fence or never unmaps is a kernel bug, and the
 * revoking task then shows up in the hung task detector.
 *
 * Once revoking returns, no importer can reach the memory and no attach is
 * still using the P2PDMA provider: an exporter that revokes for good may
 * let the provider go. Restoring lets attachments and maps succeed again,
 * and CPU faults populate the mappings again.
 */

/**
 * dmavec_revoke() - Revoke or restore importers' access to a dmavec buffer
 * @dmabuf: a dma-buf from dmavec_export() the caller holds a reference to
 * @revoked: true to revoke, false to restore
 *
 * Revoking invalidates every importer's mapping, makes new attachments and
 * maps fail with -ENODEV, zaps CPU mappings (the next access faults with
 * SIGBUS), waits for the fences in the reservation object, and waits until
 * every mapping is gone: when it returns no importer can reach the memory,
 * and no attach is still using @info->provider, which the exporter may then
 * free (revoke for good before the provider's device is unbound). The wait
 * is bounded because every importer is revocable (see dmavec_export()).
 * Restoring lets attachments and maps succeed again, e.g. after a device
 * reset.
 *
 * The caller must hold a reference, so that revocation cannot race the
 * dma-buf's release: an exporter that keeps only a pointer to its dma-buf
 * (and learns of the release through @info->release) takes one with
 * get_file_active(&dmabuf->file) under the lock that its release callback
 * also takes, and skips a dma-buf that is already being released, as
 * vfio-pci does for its own dma-bufs.
 *
 * Context: Process context; may sleep. Must not be called with the
 * dma-buf's reservation lock held.
 * Return: 0; -EINVAL if @dmabuf is NULL or not a dmavec dma-buf (nothing
 * is done then).
 */
int dmavec_revoke(struct dma_buf *dmabuf, bool revoked);

/**
 * dmavec_is_dmavec() - Whether a dma-buf was exported by dmavec
 * @dmabuf: a dma-buf the caller holds a reference to
 *
 * Context: Any context.
 * Return: true for a dmavec dma-buf.
 */
bool dmavec_is_dmavec(struct dma_buf *dmabuf);

struct dmavec_attachment;

/**
 * struct dmavec_importer_ops - callbacks of a C importer
 * @invalidate: the exporter invalidated the mapping. Called with the
 *	dma-buf's reservation lock held; the importer must stop DMA to the
 *	addresses and call dmavec_unmap(). May be NULL: dmavec then unmaps
 *	by itself, and the importer must not use the addresses any more.
 */
struct dmavec_importer_ops {
	void (*invalidate)(struct dmavec_attachment *att, void *priv);
};

/**
 * dmavec_attach() - Attach a device to any dma-buf, dynamically
 * @dmabuf: the dma-buf; the attachment takes its own reference
 * @dev: the importing device
 * @ops: the importer's callbacks; must stay valid until dmavec_detach()
 * @priv: argument of the callbacks
 *
 * The attachment accepts peer-to-peer memory and is revocable. When the
 * exporter invalidates it, @ops->invalidate is called with the reservation
 * lock held; it is no longer called once dmavec_detach() has started. On a
 * kernel with the dma-buf mapping types it asks for the DMA-vector type
 * first and the sg_table type second (dma_buf_mapping_attach()).
 *
 * Context: Process context; may sleep. The reservation lock must not be
 * held.
 * Return: the attachment, or an ERR_PTR(): what the exporter refuses with
 * (dmavec: -EPERM for an importer that cannot reach its MMIO, -ENODEV for
 * a revoked buffer), -EOPNOTSUPP if the exporter offers neither type,
 * -EINVAL, -ENOMEM.
 */
struct dmavec_attachment *dmavec_attach(struct dma_buf *dmabuf,
					struct device *dev,
					const struct dmavec_importer_ops *ops,
					void *priv);

/**
 * dmavec_detach() - Unmap and detach
 * @att: the attachment, not used afterwards
 *
 * Context: Process context; may sleep. The reservation lock must not be
 * held.
 */
void dmavec_detach(struct dmavec_attachment *att);

/**
 * dmavec_attachment_dmabuf() - The dma-buf of an attachment
 * @att: the attachment
 *
 * For taking its reservation lock: dma_resv_lock(dmabuf->resv, NULL).
 *
 * Context: Any context.
 * Return: the dma-buf.
 */
struct dma_buf *dmavec_attachment_dmabuf(struct dmavec_attachment *att);

/**
 * dmavec_map() - Map a dma-buf as an array of struct dma_vec
 * @att: the attachment
 * @dir: the direction of the DMA
 * @vecs: receives the entries, valid until dmavec_unmap()
 * @nr_vecs: receives the number of entries
 * @type: if not NULL, receives the &enum dmavec_map_type
 *
 * A dma-buf whose exporter offers the DMA-vector mapping type (every dmavec
 * dma-buf, and any exporter that offers it) is mapped by its exporter, with
 * no sg_table: for a dmavec dma-buf behind a translating IOMMU the whole
 * buffer is a single entry, split only where the importer's maximum segment
 * size or segment boundary requires (its device's, or those stated with
 * dmavec_set_seg_limits(), within which the exporter's entries are merged
 * and split). Any other dma-buf is mapped by the dma-buf core and the DMA
 * side of its sg_table is presented as entries, adjacent segments merged
 * within the same limits.
 * Mapping an attachment that is mapped already returns the current mapping
 * if it was made for @dir or for DMA_BIDIRECTIONAL.
 *
 * Context: Process context; may sleep. The caller holds the dma-buf's
 * reservation lock.
 * Return: 0 on success; -EBUSY if the attachment is mapped already for
 * another direction (dmavec_unmap() first); -ENODEV for a revoked dmavec
 * buffer, -EPERM if the importer cannot reach the memory, -ERANGE if its
 * DMA mask cannot address it (a buffer larger than the mask's space, or
 * MMIO it reaches at its own address, by PCI bus addresses or without a
 * translating IOMMU, beyond the mask; nothing is mapped then), -EINVAL,
 * -ENOMEM, or what the DMA API or the exporter returned.
 */
int dmavec_map(struct dmavec_attachment *att, enum dma_data_direction dir,
	       const struct dma_vec **vecs, size_t *nr_vecs,
	       enum dmavec_map_type *type);

/**
 * dmavec_set_seg_limits() - State the importer's own segment limits
 * @att: the attachment, not mapped
 * @max_segment: the longest entry the importer takes, in bytes (rounded
 *	down to a multiple of PAGE_SIZE); SIZE_MAX for no limit
 * @boundary_mask: 2^n - 1: no entry crosses a multiple of 2^n; U64_MAX for
 *	no boundary
 *
 * By default dmavec_map() splits entries with the device's limits,
 * dma_get_max_seg_size() and dma_get_seg_boundary(). The former is an
 * unsigned int, so even a device without a limit gets an entry split every
 * 4 GiB. An importer whose hardware takes longer segments states its own
 * limits here, for every map of @att that follows: with SIZE_MAX and
 * U64_MAX, a buffer behind a translating IOMMU is one entry whatever its
 * size. An entry ends where it reaches @max_segment bytes or a multiple of
 * @boundary_mask + 1, whichever comes first; both are at least PAGE_SIZE, so
 * an entry that starts inside a page (one whose buffer starts there) may be
 * split inside a page. A dma-buf of another
 * exporter is mapped by the dma-buf core with the device's limits whatever
 * is stated here; its segments are merged within these limits. Passing 0
 * for both returns to the device's limits.
 *
 * Context: Process context. The caller holds the dma-buf's reservation
 * lock.
 * Return: 0 on success; -EBUSY while @att is mapped (dmavec_unmap()
 * first); -EINVAL for a @max_segment below PAGE_SIZE, a @boundary_mask not
 * of the form 2^n - 1 with 2^n >= PAGE_SIZE, or 0 for one of them only.
 */
int dmavec_set_seg_limits(struct dmavec_attachment *att, size_t max_segment,
			  u64 boundary_mask);

/**
 * dmavec_unmap() - Drop the mapping of an attachment
 * @att: the attachment
 *
 * Does nothing if nothing is mapped.
 *
 * Context: Process context. The caller holds the dma-buf's reservation
 * lock.
 */
void dmavec_unmap(struct dmavec_attachment *att);

struct dmavec_mapping;

/**
 * dmavec_mapping_map() - Map physical ranges as an array of DMA ranges
 * @dev: the device that will DMA (an importer's &dma_buf_attachment.dev);
 *	it must stay bound to its driver until dmavec_mapping_unmap()
 * @provider: the P2PDMA provider of the MMIO @ranges belong to; NULL for
 *	system memory. It must stay valid until dmavec_mapping_unmap().
 * @ranges: the ranges, in buffer order, by the rules of
 *	dmavec_phys_vec_check(); read during the call only. The memory is the
 *	caller's and must stay valid until dmavec_mapping_unmap()
 * @nr_ranges: number of entries in @ranges
 * @dir: the direction of the DMA
 *
 * The mapping core of dmavec's exporter, for an exporter that keeps its own
 * &dma_buf_ops and offers the DMA-vector mapping type with them: its
 * &dma_buf_dma_vec_ops.map_dma_vec calls this with the attachment's device
 * and hands over dmavec_mapping_vecs(), its unmap_dma_vec calls
 * dmavec_mapping_unmap(). Behind a translating IOMMU the ranges are linked
 * into one IOVA allocation; without one they are mapped range by range with
 * dma_map_phys(); MMIO that @dev reaches through a common PCI switch gets
 * bus addresses. Entries follow @dev's segment limits
 * (dma_get_max_seg_size(), dma_get_seg_boundary()). The exporter
 * serialises a mapping against the memory going away (revocation).
 *
 * Context: Process context; may sleep.
 * Return: the mapping, or an ERR_PTR(): -EINVAL for ranges that break the
 * rules of dmavec_phys_vec_check(), no ranges, a bad @dir, a maximum
 * segment size of @dev below PAGE_SIZE, or a boundary between two runs
 * not aligned to an IOVA granule larger than a page; -EOVERFLOW
 * when a range wraps or the total is too large; -EPERM when @dev cannot
 * reach the MMIO of @provider (PCI_P2PDMA_MAP_NOT_SUPPORTED); -ERANGE when
 * the buffer or an entry lies beyond what @dev can address; -ENOMEM; or the
 * error of the DMA API call that failed. Nothing stays mapped on error.
 */
struct dmavec_mapping *dmavec_mapping_map(struct device *dev,
					  struct p2pdma_provider *provider,
					  const struct phys_vec *ranges,
					  size_t nr_ranges,
					  enum dma_data_direction dir);

/**
 * dmavec_mapping_vecs() - The entries of a mapping
 * @m: a mapping dmavec_mapping_map() returned
 * @nr: receives the number of entries, at least one
 *
 * Context: Any context.
 * Return: the DMA ranges, in buffer order, owned by @m until
 * dmavec_mapping_unmap().
 */
const struct dma_vec *dmavec_mapping_vecs(const struct dmavec_mapping *m,
					  size_t *nr);

/**
 * dmavec_mapping_type() - How a mapping was made
 * @m: a mapping dmavec_mapping_map() returned
 *
 * Context: Any context.
 * Return: %DMAVEC_MAP_IOVA, %DMAVEC_MAP_DIRECT or %DMAVEC_MAP_BUS_ADDR;
 * the same number as &enum dma_buf_dma_vec_addr.
 */
enum dmavec_map_type dmavec_mapping_type(const struct dmavec_mapping *m);

/**
 * dmavec_mapping_unmap() - Unmap and free a mapping
 * @m: a mapping dmavec_mapping_map() returned, or NULL (nothing is done)
 *
 * The entries must no longer be in use by the device.
 *
 * Context: Process context.
 */
void dmavec_mapping_unmap(struct dmavec_mapping *m);

#endif /* _LINUX_DMAVEC_H */
