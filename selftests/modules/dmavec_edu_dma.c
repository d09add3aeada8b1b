// SPDX-License-Identifier: GPL-2.0
/*
 * dmavec_edu_dma: a DMA engine for QEMU's "edu" PCI device (1234:11e8), so
 * that IIO's DMABUF path (industrialio-buffer-dmaengine) can be exercised in
 * the test VMs. Test-only. Written in C because there are no Rust dmaengine
 * abstractions.
 *
 * The driver has no ID table and never binds on its own (dmavec_edu normally
 * owns the edu devices); a test binds it to one edu with driver_override.
 * It registers one private slave channel with
 * device_prep_peripheral_dma_vec() as its only preparation call. A consumer
 * finds it with dma_request_channel() and a filter that accepts a channel
 * whose chan->device->dev is bound to the driver named "dmavec_edu_dma".
 *
 * edu moves at most EDU_CHUNK bytes per transfer between a bus address and
 * its internal buffer, which the CPU cannot see, and takes about 100 ms per
 * transfer under TCG: a worker runs the issued descriptors one after the
 * other and polls each transfer to completion. The peripheral "FIFO" is
 * edu's buffer:
 *
 * - DMA_DEV_TO_MEM (capture): the little-endian u32 at byte offset o of a
 *   descriptor's transfer, counted across all its vectors, is seed + o / 4,
 *   seed being the module parameter of that name when the descriptor was
 *   prepared. Each chunk is written to a coherent bounce buffer by the CPU,
 *   moved into edu's buffer and from there to the destination vector.
 * - DMA_MEM_TO_DEV (output): each chunk is moved from the source vector into
 *   edu's buffer, a sink.
 *
 * Module parameters: seed, nodma (complete descriptors without touching
 * edu: the submit path alone, for benchmarks), hold (a descriptor that
 * starts waits until it is cleared: a block the engine holds for as long as
 * a test needs), dma_timeout_ms and max_bytes; see their descriptions below.
 *
 * debugfs/dmavec_edu_dma/<PCI name>/, read-only:
 * - preps (u64): successful device_prep_peripheral_dma_vec() calls;
 * - last_nents (u32): the vector count of the last successful one;
 * - last_prep_ns (u64): ktime_get_ns() at the entry of the last call,
 *   successful or not;
 * - bytes (u64): bytes moved by completed descriptors (for a nodma
 *   descriptor, its length; for a failed one, what it moved before failing);
 * - aborted (u64): descriptors completed with DMA_TRANS_ABORTED;
 * - held (u32): 1 while a descriptor waits for hold to be cleared.
 *
 * Descriptors come from a pool allocated at probe (EDU_POOL descriptors of
 * up to EDU_MAX_VECS vectors): prep allocates nothing, so that a test can
 * count the allocations of its caller's submit path alone. A prep of more
 * vectors, or with every descriptor in use, returns NULL.
 *
 * Binding an edu adds an IIO device on its channel (dmavec_iio_test.c, in
 * this module): what IIO's DMABUF kselftest captures through. Unbinding
 * removes it first.
 *
 * Unbinding the device while a consumer holds the channel is allowed: the
 * hardware is no longer touched once remove() has returned, the descriptors
 * issued from then on complete with DMA_TRANS_ABORTED, and the channel's
 * memory lives until the consumer releases it (device_release).
 */
#include <linux/bits.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/iopoll.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "dmaengine.h"
#include "dmavec_edu_dma.h"

#define DRV_NAME "dmavec_edu_dma"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* BAR 0 registers (QEMU docs/specs/edu.rst). */
#define EDU_ID 0x00
#define EDU_ID_MAGIC_MASK 0xff
#define EDU_ID_MAGIC 0xed
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START BIT(0)
#define EDU_CMD_TO_RAM BIT(1)
/* Bytes of BAR 0 in use. */
#define EDU_BAR_LEN 0x100

/* edu's buffer, in its own address space. */
#define EDU_BUF 0x40000
/*
 * Bytes per transfer: QEMU 7.2's edu aborts the whole VM on a transfer that
 * touches the last byte of its 4 KiB buffer; stay in its first half.
 */
#define EDU_CHUNK 2048

/* The descriptor pool: descriptors per device, vectors per descriptor. */
#define EDU_POOL 8
#define EDU_MAX_VECS 256

static unsigned int seed = 0x5eed0000;
module_param(seed, uint, 0644);
MODULE_PARM_DESC(seed,
		 "capture pattern: the u32 at byte offset o of a descriptor is seed + o / 4 (read at prep)");

static bool nodma;
module_param(nodma, bool, 0644);
MODULE_PARM_DESC(nodma,
		 "complete the descriptors prepared while set without touching edu (default: false)");

static unsigned int dma_timeout_ms = 2000;
module_param(dma_timeout_ms, uint, 0644);
MODULE_PARM_DESC(dma_timeout_ms,
		 "milliseconds one edu transfer may take, 0 counts as 1 (default: 2000)");

static bool hold;
module_param(hold, bool, 0644);
MODULE_PARM_DESC(hold,
		 "a descriptor that starts while set waits, before edu is touched, until it is cleared (default: false)");

static unsigned int max_bytes = SZ_1M;
module_param(max_bytes, uint, 0644);
MODULE_PARM_DESC(max_bytes,
		 "largest descriptor accepted, in bytes (default: 1 MiB)");

static struct dentry *edu_dma_root;

/**
 * struct edu_dma_desc - one prepared transfer
 * @tx: the dmaengine descriptor handed to the consumer
 * @node: on &edu_dma.free, &edu_dma.submitted or &edu_dma.issued
 * @dir: DMA_DEV_TO_MEM or DMA_MEM_TO_DEV
 * @seed: the capture pattern's first word (module parameter at prep)
 * @nodma: complete without touching edu (module parameter at prep)
 * @terminated: dropped by device_terminate_all() while running: stop after
 *	the current edu transfer, no callback
 * @total: bytes of all vectors
 * @nents: entries of @vecs
 * @vecs: the consumer's vectors, copied at prep
 */
struct edu_dma_desc {
	struct dma_async_tx_descriptor tx;
	struct list_head node;
	enum dma_transfer_direction dir;
	u32 seed;
	bool nodma;
	bool terminated;
	size_t total;
	size_t nents;
	struct dma_vec vecs[EDU_MAX_VECS];
};

/**
 * struct edu_dma - one edu device as a DMA engine with one channel
 * @dd: the DMA device
 * @chan: its only channel
 * @ref: one reference for the PCI binding (probe to remove), one for @dd
 *	(registration to device_release)
 * @pdev: the edu device (a reference)
 * @bar: BAR 0, valid while bound
 * @bounce: EDU_CHUNK bytes of coherent memory: capture data on its way to edu
 * @bounce_dma: @bounce's DMA address
 * @wq: ordered: runs @work, one descriptor after the other
 * @work: runs the issued descriptors
 * @lock: protects @submitted, @issued, @running, @dead, the descriptors'
 *	terminated flags and the channel's cookies
 * @submitted: descriptors submitted, not yet issued
 * @issued: descriptors issued, not yet started
 * @running: the descriptor the worker runs, or NULL
 * @dead: remove() has run: the worker must not touch edu, @bar or @bounce
 * @master_off: bus mastering was turned off after a timeout (worker only)
 * @dbg: the device's debugfs directory
 * @iio: the IIO device on the channel (dmavec_iio_test_add())
 * @preps: debugfs: successful preps
 * @last_prep_ns: debugfs: ktime_get_ns() at the entry of the last prep
 * @bytes: debugfs: bytes moved by completed descriptors
 * @aborted: debugfs: descriptors completed with an error
 * @last_nents: debugfs: nents of the last successful prep
 * @held: debugfs: 1 while the running descriptor waits for hold to clear
 * @pool: the descriptors, EDU_POOL of them
 * @free: the descriptors not in use
 */
struct edu_dma {
	struct dma_device dd;
	struct dma_chan chan;
	struct kref ref;
	struct pci_dev *pdev;
	void __iomem *bar;
	__le32 *bounce;
	dma_addr_t bounce_dma;
	struct workqueue_struct *wq;
	struct work_struct work;
	spinlock_t lock; /* lists, running, dead, terminated, cookies */
	struct list_head submitted;
	struct list_head issued;
	struct edu_dma_desc *running;
	bool dead;
	bool master_off;
	struct dentry *dbg;
	void *iio;
	u64 preps;
	u64 last_prep_ns;
	u64 bytes;
	u64 aborted;
	u32 last_nents;
	u32 held;
	struct edu_dma_desc *pool;
	struct list_head free;
};

static struct edu_dma *to_edu_dma(struct dma_chan *chan)
{
	return container_of(chan, struct edu_dma, chan);
}

/* Back to the pool; called without &edu_dma.lock. */
static void edu_dma_desc_free(struct edu_dma *ed, struct edu_dma_desc *d)
{
	unsigned long flags;

	dma_descriptor_unmap(&d->tx);
	spin_lock_irqsave(&ed->lock, flags);
	list_add(&d->node, &ed->free);
	spin_unlock_irqrestore(&ed->lock, flags);
}

static void edu_dma_free_list(struct edu_dma *ed, struct list_head *list)
{
	struct edu_dma_desc *d, *n;

	list_for_each_entry_safe(d, n, list, node) {
		list_del(&d->node);
		edu_dma_desc_free(ed, d);
	}
}

/* The last reference: nothing can reach @ed any more. */
static void edu_dma_release(struct kref *ref)
{
	struct edu_dma *ed = container_of(ref, struct edu_dma, ref);

	if (ed->wq)
		destroy_workqueue(ed->wq);
	/* The descriptors are the pool's: nothing else to free. */
	kfree(ed->pool);
	pci_dev_put(ed->pdev);
	kfree(ed);
}

static bool edu_dma_stopping(struct edu_dma *ed, struct edu_dma_desc *d)
{
	return READ_ONCE(ed->dead) || READ_ONCE(d->terminated);
}

/**
 * edu_dma_xfer() - one edu transfer, polled to completion
 * @ed: the device
 * @d: the descriptor the transfer belongs to
 * @src: source: a bus address, or EDU_BUF
 * @dst: destination: EDU_BUF, or a bus address
 * @len: bytes, at most EDU_CHUNK
 * @to_ram: from edu's buffer to @dst (else from @src to edu's buffer)
 *
 * Runs in the worker only. On a timeout bus mastering is turned off, so
 * that the transfer still running can no longer reach memory, and turned on
 * again before the next transfer once edu reports the engine idle.
 *
 * Return: 0; -ECANCELED if @d was terminated or the device removed, before
 * edu was touched; -EBUSY if edu is still busy with a transfer that timed
 * out; -ETIMEDOUT.
 */
static int edu_dma_xfer(struct edu_dma *ed, struct edu_dma_desc *d, u64 src,
			u64 dst, u32 len, bool to_ram)
{
	u64 timeout_us = (u64)max(READ_ONCE(dma_timeout_ms), 1U) * USEC_PER_MSEC;
	u32 cmd;
	int ret;

	if (edu_dma_stopping(ed, d))
		return -ECANCELED;
	if (ed->master_off) {
		if (readl(ed->bar + EDU_DMA_CMD) & EDU_CMD_START)
			return -EBUSY;
		pci_set_master(ed->pdev);
		ed->master_off = false;
	}
	/*
	 * edu takes 8-byte writes at 0x80 and 0x88. Without writeq() (32-bit),
	 * lo_hi_writeq(): edu keeps the low half and ignores 0x84 and 0x8c,
	 * which is correct for DMA addresses below 4 GiB only.
	 */
	writeq(src, ed->bar + EDU_DMA_SRC);
	writeq(dst, ed->bar + EDU_DMA_DST);
	writel(len, ed->bar + EDU_DMA_COUNT);
	/* writel() orders the CPU's writes to the bounce buffer before it. */
	writel(EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0),
	       ed->bar + EDU_DMA_CMD);
	ret = readl_poll_timeout(ed->bar + EDU_DMA_CMD, cmd,
				 !(cmd & EDU_CMD_START), USEC_PER_MSEC,
				 timeout_us);
	if (ret) {
		pci_clear_master(ed->pdev);
		ed->master_off = true;
	}
	return ret;
}

/**
 * edu_dma_run() - moves one descriptor's data through edu
 * @ed: the device
 * @d: the descriptor
 * @done: set to the bytes moved so far, also on failure
 *
 * Runs in the worker only, with edu reachable: @ed->dead was clear when @d
 * was taken off the issued list, and remove() waits for the worker.
 *
 * Return: 0, or the error of the first failed transfer (-ECANCELED once @d
 * is terminated or the device removed).
 */
static int edu_dma_run(struct edu_dma *ed, struct edu_dma_desc *d,
		       size_t *done)
{
	size_t i, off, pos = 0;
	u32 len, w;
	int ret;

	for (i = 0; i < d->nents; i++) {
		for (off = 0; off < d->vecs[i].len; off += len) {
			u64 addr = d->vecs[i].addr + off;

			len = min_t(size_t, d->vecs[i].len - off, EDU_CHUNK);
			if (d->dir == DMA_DEV_TO_MEM) {
				if (edu_dma_stopping(ed, d))
					return -ECANCELED;
				/* The device is idle: the bounce buffer is ours. */
				for (w = 0; w < len / 4; w++)
					ed->bounce[w] = cpu_to_le32((u32)(d->seed + pos / 4 + w));
				ret = edu_dma_xfer(ed, d, ed->bounce_dma, EDU_BUF,
						   len, false);
				if (!ret)
					ret = edu_dma_xfer(ed, d, EDU_BUF, addr,
							   len, true);
			} else {
				ret = edu_dma_xfer(ed, d, addr, EDU_BUF, len,
						   false);
			}
			if (ret)
				return ret;
			pos += len;
			*done = pos;
		}
	}
	return 0;
}

/*
 * A descriptor that starts while the hold parameter is set waits here,
 * before edu is touched, until hold is cleared, @d is terminated or the
 * device removed; debugfs "held" is 1 meanwhile. Worker only.
 */
static void edu_dma_hold(struct edu_dma *ed, struct edu_dma_desc *d)
{
	if (!READ_ONCE(hold))
		return;
	WRITE_ONCE(ed->held, 1);
	/* TIMEOUT: none; a test holds the descriptor, and clears hold or unbinds. */
	while (READ_ONCE(hold) && !edu_dma_stopping(ed, d))
		msleep(20);
	WRITE_ONCE(ed->held, 0);
}

/**
 * edu_dma_work() - runs the issued descriptors, in order
 * @work: &edu_dma.work
 *
 * A descriptor terminated while it runs is freed without a callback. The
 * others complete: the channel's cookie under the lock, then the callback
 * outside it, with DMA_TRANS_NOERROR, or DMA_TRANS_ABORTED and the bytes
 * not moved as residue when edu failed or the device was removed.
 */
static void edu_dma_work(struct work_struct *work)
{
	struct edu_dma *ed = container_of(work, struct edu_dma, work);
	struct dmaengine_desc_callback cb;
	struct dmaengine_result res;
	struct edu_dma_desc *d;
	unsigned long flags;
	size_t done;
	bool gone;
	int ret;

	for (;;) {
		spin_lock_irqsave(&ed->lock, flags);
		d = list_first_entry_or_null(&ed->issued, struct edu_dma_desc,
					     node);
		if (d) {
			list_del(&d->node);
			ed->running = d;
		}
		gone = ed->dead;
		spin_unlock_irqrestore(&ed->lock, flags);
		if (!d)
			return;

		done = 0;
		if (!gone)
			edu_dma_hold(ed, d);
		if (gone) {
			ret = -ENODEV;
		} else if (d->nodma) {
			ret = 0;
			done = d->total;
		} else {
			ret = edu_dma_run(ed, d, &done);
		}

		spin_lock_irqsave(&ed->lock, flags);
		ed->running = NULL;
		if (d->terminated) {
			spin_unlock_irqrestore(&ed->lock, flags);
			edu_dma_desc_free(ed, d);
			continue;
		}
		dma_cookie_complete(&d->tx);
		spin_unlock_irqrestore(&ed->lock, flags);

		WRITE_ONCE(ed->bytes, ed->bytes + done);
		if (ret)
			WRITE_ONCE(ed->aborted, ed->aborted + 1);
		res.result = ret ? DMA_TRANS_ABORTED : DMA_TRANS_NOERROR;
		res.residue = d->total - done;
		dmaengine_desc_get_callback(&d->tx, &cb);
		edu_dma_desc_free(ed, d);
		dmaengine_desc_callback_invoke(&cb, &res);
	}
}

static dma_cookie_t edu_dma_tx_submit(struct dma_async_tx_descriptor *tx)
{
	struct edu_dma_desc *d = container_of(tx, struct edu_dma_desc, tx);
	struct edu_dma *ed = to_edu_dma(tx->chan);
	unsigned long flags;
	dma_cookie_t cookie;

	spin_lock_irqsave(&ed->lock, flags);
	cookie = dma_cookie_assign(tx);
	list_add_tail(&d->node, &ed->submitted);
	spin_unlock_irqrestore(&ed->lock, flags);
	return cookie;
}

/**
 * edu_dma_prep_dma_vec() - prepares a transfer between edu and @vecs
 * @chan: the channel
 * @vecs: the memory side: DMA addresses for the edu device
 * @nents: entries of @vecs
 * @dir: DMA_DEV_TO_MEM (capture) or DMA_MEM_TO_DEV (output)
 * @flags: DMA_PREP_* flags; DMA_PREP_REPEAT (cyclic) is not supported
 *
 * May be called in atomic context. @vecs is copied.
 *
 * Return: the descriptor; NULL for no entries, another direction, a cyclic
 * transfer, an entry that is empty or whose address or length is not a
 * multiple of 4, more than max_bytes in all, a removed device, or no
 * memory.
 */
static struct dma_async_tx_descriptor *
edu_dma_prep_dma_vec(struct dma_chan *chan, const struct dma_vec *vecs,
		     size_t nents, enum dma_transfer_direction dir,
		     unsigned long flags)
{
	struct edu_dma *ed = to_edu_dma(chan);
	size_t limit, total = 0, i;
	struct edu_dma_desc *d;
	unsigned long irqflags;

	WRITE_ONCE(ed->last_prep_ns, ktime_get_ns());
	limit = READ_ONCE(max_bytes);
	if (!nents || (dir != DMA_DEV_TO_MEM && dir != DMA_MEM_TO_DEV) ||
	    (flags & DMA_PREP_REPEAT) || READ_ONCE(ed->dead))
		return NULL;
	for (i = 0; i < nents; i++) {
		/* total <= limit throughout: limit - total does not wrap. */
		if (!vecs[i].len || !IS_ALIGNED(vecs[i].len, 4) ||
		    !IS_ALIGNED(vecs[i].addr, 4) || vecs[i].len > limit - total)
			return NULL;
		total += vecs[i].len;
	}
	if (nents > EDU_MAX_VECS)
		return NULL;
	spin_lock_irqsave(&ed->lock, irqflags);
	d = list_first_entry_or_null(&ed->free, struct edu_dma_desc, node);
	if (d)
		list_del(&d->node);
	spin_unlock_irqrestore(&ed->lock, irqflags);
	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->nents = nents;
	memcpy(d->vecs, vecs, array_size(nents, sizeof(*vecs)));
	d->dir = dir;
	d->total = total;
	d->seed = READ_ONCE(seed);
	d->nodma = READ_ONCE(nodma);
	dma_async_tx_descriptor_init(&d->tx, chan);
	d->tx.flags = flags;
	d->tx.tx_submit = edu_dma_tx_submit;

	spin_lock_irqsave(&ed->lock, irqflags);
	WRITE_ONCE(ed->preps, ed->preps + 1);
	WRITE_ONCE(ed->last_nents, min_t(size_t, nents, U32_MAX));
	spin_unlock_irqrestore(&ed->lock, irqflags);
	return &d->tx;
}

static void edu_dma_issue_pending(struct dma_chan *chan)
{
	struct edu_dma *ed = to_edu_dma(chan);
	unsigned long flags;

	spin_lock_irqsave(&ed->lock, flags);
	list_splice_tail_init(&ed->submitted, &ed->issued);
	if (!list_empty(&ed->issued))
		queue_work(ed->wq, &ed->work);
	spin_unlock_irqrestore(&ed->lock, flags);
}

/**
 * edu_dma_terminate_all() - drops every descriptor of the channel
 * @chan: the channel
 *
 * The descriptors not started are freed; the one running stops after its
 * current edu transfer and is freed by the worker. None of them gets its
 * callback. device_synchronize waits for the worker.
 *
 * Return: 0.
 */
static int edu_dma_terminate_all(struct dma_chan *chan)
{
	struct edu_dma *ed = to_edu_dma(chan);
	unsigned long flags;
	LIST_HEAD(dropped);

	spin_lock_irqsave(&ed->lock, flags);
	list_splice_tail_init(&ed->submitted, &dropped);
	list_splice_tail_init(&ed->issued, &dropped);
	if (ed->running)
		WRITE_ONCE(ed->running->terminated, true);
	spin_unlock_irqrestore(&ed->lock, flags);
	edu_dma_free_list(ed, &dropped);
	return 0;
}

static void edu_dma_synchronize(struct dma_chan *chan)
{
	flush_workqueue(to_edu_dma(chan)->wq);
}

static enum dma_status edu_dma_tx_status(struct dma_chan *chan,
					 dma_cookie_t cookie,
					 struct dma_tx_state *txstate)
{
	return dma_cookie_status(chan, cookie, txstate);
}

static int edu_dma_config(struct dma_chan *chan,
			  struct dma_slave_config *config)
{
	return 0;
}

static int edu_dma_alloc_chan_resources(struct dma_chan *chan)
{
	dma_cookie_init(chan);
	return 0;
}

static void edu_dma_free_chan_resources(struct dma_chan *chan)
{
	edu_dma_terminate_all(chan);
	edu_dma_synchronize(chan);
}

/* The dmaengine core's last reference to the DMA device is gone. */
static void edu_dma_device_release(struct dma_device *dd)
{
	struct edu_dma *ed = container_of(dd, struct edu_dma, dd);

	kref_put(&ed->ref, edu_dma_release);
}

static void edu_dma_debugfs(struct edu_dma *ed)
{
	ed->dbg = debugfs_create_dir(pci_name(ed->pdev), edu_dma_root);
	debugfs_create_u64("preps", 0444, ed->dbg, &ed->preps);
	debugfs_create_u32("last_nents", 0444, ed->dbg, &ed->last_nents);
	debugfs_create_u64("last_prep_ns", 0444, ed->dbg, &ed->last_prep_ns);
	debugfs_create_u64("bytes", 0444, ed->dbg, &ed->bytes);
	debugfs_create_u64("aborted", 0444, ed->dbg, &ed->aborted);
	debugfs_create_u32("held", 0444, ed->dbg, &ed->held);
}

static void edu_dma_init_dd(struct edu_dma *ed)
{
	struct dma_device *dd = &ed->dd;

	dd->dev = &ed->pdev->dev;
	dma_cap_set(DMA_SLAVE, dd->cap_mask);
	dma_cap_set(DMA_PRIVATE, dd->cap_mask);
	dd->directions = BIT(DMA_DEV_TO_MEM) | BIT(DMA_MEM_TO_DEV);
	dd->src_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_4_BYTES);
	dd->dst_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_4_BYTES);
	dd->residue_granularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
	dd->device_alloc_chan_resources = edu_dma_alloc_chan_resources;
	dd->device_free_chan_resources = edu_dma_free_chan_resources;
	dd->device_prep_peripheral_dma_vec = edu_dma_prep_dma_vec;
	dd->device_config = edu_dma_config;
	dd->device_terminate_all = edu_dma_terminate_all;
	dd->device_synchronize = edu_dma_synchronize;
	dd->device_tx_status = edu_dma_tx_status;
	dd->device_issue_pending = edu_dma_issue_pending;
	dd->device_release = edu_dma_device_release;
	INIT_LIST_HEAD(&dd->channels);

	ed->chan.device = dd;
	dma_cookie_init(&ed->chan);
	list_add_tail(&ed->chan.device_node, &dd->channels);
}

/**
 * edu_dma_probe() - makes an edu device a DMA engine
 * @pdev: the device; bound through driver_override only
 * @id: unused (the driver has no ID table)
 *
 * BAR 0 and the bounce buffer are device-managed: released after
 * edu_dma_remove() has stopped the worker. &struct edu_dma is reference
 * counted: the dmaengine core may hold the channel after the device is
 * unbound.
 *
 * Return: 0 or a negative errno.
 */
static int edu_dma_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	dma_addr_t bounce_dma;
	struct edu_dma *ed;
	void __iomem *bar;
	void *bounce;
	int ret, i;

	if (pdev->vendor != EDU_VENDOR || pdev->device != EDU_DEVICE)
		return dev_err_probe(dev, -ENODEV, "not an edu device\n");
	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot enable the device\n");
	if (pci_resource_len(pdev, 0) < EDU_BAR_LEN)
		return dev_err_probe(dev, -ENODEV, "BAR 0 is too small\n");
	bar = pcim_iomap_region(pdev, 0, DRV_NAME);
	if (IS_ERR(bar))
		return dev_err_probe(dev, PTR_ERR(bar), "cannot map BAR 0\n");
	if ((readl(bar + EDU_ID) & EDU_ID_MAGIC_MASK) != EDU_ID_MAGIC)
		return dev_err_probe(dev, -ENODEV, "no edu magic in BAR 0\n");
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return dev_err_probe(dev, ret, "no 64-bit DMA\n");
	bounce = dmam_alloc_coherent(dev, EDU_CHUNK, &bounce_dma, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	ed = kzalloc_obj(*ed);
	if (!ed)
		return -ENOMEM;
	kref_init(&ed->ref);
	ed->pdev = pci_dev_get(pdev);
	ed->bar = bar;
	ed->bounce = bounce;
	ed->bounce_dma = bounce_dma;
	spin_lock_init(&ed->lock);
	INIT_LIST_HEAD(&ed->submitted);
	INIT_LIST_HEAD(&ed->issued);
	INIT_LIST_HEAD(&ed->free);
	INIT_WORK(&ed->work, edu_dma_work);
	ed->pool = kzalloc_objs(*ed->pool, EDU_POOL);
	if (!ed->pool) {
		ret = -ENOMEM;
		goto put;
	}
	for (i = 0; i < EDU_POOL; i++)
		list_add_tail(&ed->pool[i].node, &ed->free);
	/*
	 * The worker signals dma-fences (IIO's DMABUF blocks): it must make
	 * progress without allocating memory, hence a rescuer.
	 */
	ed->wq = alloc_ordered_workqueue("%s/%s", WQ_MEM_RECLAIM, DRV_NAME,
					 pci_name(pdev));
	if (!ed->wq) {
		ret = -ENOMEM;
		goto put;
	}
	edu_dma_debugfs(ed);
	edu_dma_init_dd(ed);
	pci_set_drvdata(pdev, ed);

	/* The dmaengine core's reference, dropped by device_release. */
	kref_get(&ed->ref);
	ret = dma_async_device_register(&ed->dd);
	if (ret) {
		/* A failed registration never calls device_release. */
		kref_put(&ed->ref, edu_dma_release);
		dev_err_probe(dev, ret, "cannot register the DMA device\n");
		goto remove_debugfs;
	}
	/* The channel is the IIO device's, exclusively, until it is removed. */
	if (!dma_get_slave_channel(&ed->chan))
		ed->iio = ERR_PTR(-EBUSY);
	else
		ed->iio = dmavec_iio_test_add(dev, &ed->chan);
	if (IS_ERR(ed->iio)) {
		ret = dev_err_probe(dev, PTR_ERR(ed->iio), "cannot add the IIO device\n");
		goto unregister;
	}
	return 0;

unregister:
	dma_async_device_unregister(&ed->dd);
remove_debugfs:
	debugfs_remove(ed->dbg);
put:
	kref_put(&ed->ref, edu_dma_release);
	return ret;
}

/**
 * edu_dma_remove() - stops the DMA engine
 * @pdev: the device
 *
 * Unregisters the DMA device, then stops the hardware side: from the moment
 * dead is set, the worker no longer touches edu and completes every
 * descriptor it takes with DMA_TRANS_ABORTED; the flush waits for the
 * transfer in progress (at most dma_timeout_ms), so neither BAR 0 nor the
 * bounce buffer is used once this returns. A consumer may still hold the
 * channel: &struct edu_dma and its workqueue live until it releases it.
 */
static void edu_dma_remove(struct pci_dev *pdev)
{
	struct edu_dma *ed = pci_get_drvdata(pdev);
	unsigned long flags;

	/* The IIO device first: it holds the channel. */
	dmavec_iio_test_remove(&pdev->dev, ed->iio);
	dma_async_device_unregister(&ed->dd);
	spin_lock_irqsave(&ed->lock, flags);
	ed->dead = true;
	spin_unlock_irqrestore(&ed->lock, flags);
	flush_workqueue(ed->wq);
	debugfs_remove(ed->dbg);
	kref_put(&ed->ref, edu_dma_release);
}

/* No ID table: the driver binds only to a device whose driver_override names it. */
static struct pci_driver edu_dma_driver = {
	.name = DRV_NAME,
	.id_table = NULL,
	.probe = edu_dma_probe,
	.remove = edu_dma_remove,
};

static int __init edu_dma_init(void)
{
	int ret;

	edu_dma_root = debugfs_create_dir(DRV_NAME, NULL);
	ret = pci_register_driver(&edu_dma_driver);
	if (ret)
		debugfs_remove(edu_dma_root);
	return ret;
}

static void __exit edu_dma_exit(void)
{
	pci_unregister_driver(&edu_dma_driver);
	debugfs_remove(edu_dma_root);
}

module_init(edu_dma_init);
module_exit(edu_dma_exit);

MODULE_DESCRIPTION("dmaengine provider on QEMU's edu device, for IIO's DMABUF tests (test VMs only)");
MODULE_LICENSE("GPL");
