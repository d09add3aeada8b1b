// SPDX-License-Identifier: GPL-2.0
/*
 * IIO's DMABUF interface as a dynamic, revocable importer: the IIO device
 * dmavec_iio_test, which the DMA engine dmavec_edu_dma adds when bound to
 * QEMU's edu device, captures into dma-bufs of three exporters, and the
 * data is checked where it lands:
 *  - dmavec_bar's buffer of two BAR ranges in reverse order: the DMA-vector
 *    mapping type, one IOVA entry behind a translating IOMMU, the data at
 *    the ranges' offsets of ivshmem's host file (the VM runner's host agent)
 *    and nothing beside them;
 *  - system memory from dmavec_ctest (the DMA-vector type) and udmabuf (the
 *    sg_table type), read through their mmap;
 *  - a block shorter than its buffer writes its bytes and no more;
 *  - revocation: a queued block is cancelled (its fence signals an error,
 *    nothing reaches the memory), ENQUEUE of a revoked buffer fails with
 *    ENODEV, a restored buffer (or one whose device was reset) captures
 *    again, and a running block is waited for;
 *  - the errnos of bad requests, without a kernel log line; a DETACH with a
 *    block queued lets the block complete;
 *  - the submit of a DMA-vector dma-buf allocates nothing, that of an
 *    sg_table one array (fail-nth); timed for make bench;
 *  - in the route run, a BAR buffer P2PDMA cannot route to edu is refused
 *    at ATTACH with EPERM, quietly.
 *
 * The capture pattern of dmavec_edu_dma: the little-endian u32 at byte
 * offset o of a block is seed + o / 4, the seed its module parameter.
 * Every block stays a few pages long: edu moves 2 KiB per 100 ms under TCG.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dmavec.h>
#include <linux/iio/buffer.h>
#include <linux/sync_file.h>
#include <linux/types.h>
#include <linux/udmabuf.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"
#include "dmavec_vfio_util.h"

#define IIO_DEVICES	"/sys/bus/iio/devices"
#define IIO_NAME	"dmavec_iio_test"
#define EDU_DMA		"/sys/kernel/debug/dmavec_edu_dma"
#define SEED		"/sys/module/dmavec_edu_dma/parameters/seed"
#define HOLD		"/sys/module/dmavec_edu_dma/parameters/hold"
#define CTEST_EXPORT	"/sys/kernel/debug/dmavec_ctest/export"
#define CTEST_EXPORT_PAGES	"/sys/kernel/debug/dmavec_ctest/export_pages"
#define RTEST_BAR	"/sys/kernel/debug/dmavec_test/bar/"
#define BAR_DRIVER	"/sys/bus/pci/drivers/dmavec_bar"
#define PAGE		4096ULL
/* dmavec_ctest's export: 16 discontiguous pages. */
#define CTEST_SIZE	(16 * PAGE)
/* dmavec_test's bar/export: buffer page j is BAR page 256 + 2 * (15 - j). */
#define RTEST_PAGE(j)	(256 + 2 * (15 - (j)))
#define MAX_ENGINES	4
#define MAX_ATTACHED	8

/* The capture pattern of dmavec_edu_dma for @n bytes from the block's start. */
static void capture_pattern(__u32 seed, __u8 *buf, size_t n)
{
	size_t o;

	for (o = 0; o < n; o++)
		buf[o] = (__u32)(seed + o / 4) >> (8 * (o % 4));
}

/* The first offset where @a and @b differ, or -1. */
static long first_diff(const __u8 *a, const __u8 *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* The first offset of @a that is not @c, or -1. */
static long first_not(const __u8 *a, __u8 c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != c)
			return i;
	return -1;
}

/* Reads [@off, @off + @len) of the host file, a page per request. */
static int host_read(__u64 off, __u8 *buf, size_t len)
{
	size_t done, n;

	for (done = 0; done < len; done += n) {
		n = len - done < PAGE ? len - done : PAGE;
		if (agent_read(off + done, buf + done, n))
			return -1;
	}
	return 0;
}

/* The whole kernel log (SYSLOG_ACTION_READ_ALL). */
static int klog(char *buf, int len)
{
	return klogctl(3, buf, len);
}

static int set_seed(__u32 seed)
{
	char s[16];

	snprintf(s, sizeof(s), "%u", seed);
	return write_file(SEED, s);
}

/*
 * The sysfs directory and device node of the IIO device named IIO_NAME;
 * 0, or -1 if there is none.
 */
static int iio_find(char *sys, size_t len, char *node, size_t nlen)
{
	char path[PATH_MAX], name[64];
	struct dirent *de;
	DIR *d = opendir(IIO_DEVICES);
	int ret = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "iio:device", 10))
			continue;
		snprintf(path, sizeof(path), IIO_DEVICES "/%s/name", de->d_name);
		if (read_line(path, name, sizeof(name)) || strcmp(name, IIO_NAME))
			continue;
		snprintf(sys, len, IIO_DEVICES "/%s", de->d_name);
		snprintf(node, nlen, "/dev/%s", de->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

/* The PCI names of dmavec_edu_dma's engines (its debugfs directories). */
static int engines_find(char (*bdf)[64])
{
	struct dirent *de;
	DIR *d = opendir(EDU_DMA);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < MAX_ENGINES) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(bdf[n++], 64, "%.63s", de->d_name);
	}
	closedir(d);
	return n;
}

/* The number in debugfs file @file of engine @bdf, or ULLONG_MAX. */
static unsigned long long engine_val(const char *bdf, const char *file)
{
	char path[PATH_MAX], line[128], *p;

	snprintf(path, sizeof(path), EDU_DMA "/%s/%s", bdf, file);
	if (read_line(path, line, sizeof(line)))
		return ULLONG_MAX;
	for (p = line; *p && (*p < '0' || *p > '9'); p++)
		;
	return *p ? strtoull(p, NULL, 10) : ULLONG_MAX;
}

/* Whether the kernel bounces every streaming mapping (swiotlb=force). */
static int swiotlb_forced(void)
{
	char line[1024] = "";

	read_line("/proc/cmdline", line, sizeof(line));
	return !!strstr(line, "swiotlb=force");
}

/* The dma-buf's unsignalled fences as a sync_file, or -errno. */
static int export_fence(int fd)
{
	struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_RW, .fd = -1 };

	return ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) ? -errno : e.fd;
}

/*
 * Waits up to @ms for the sync_file @sync; its status in *@status (1
 * signalled, < 0 signalled with that error, 0 still pending). 0 or -errno.
 */
static int fence_wait(int sync, int ms, int *status)
{
	struct pollfd p = { .fd = sync, .events = POLLIN };
	struct sync_file_info info;
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (ioctl(sync, SYNC_IOC_FILE_INFO, &info))
		return -errno;
	*status = info.status;
	return 0;
}

/* How long a block of @bytes may take: 100 ms per 2 KiB under TCG, and room. */
static int block_ms(__u64 bytes)
{
	return 3000 + (int)(bytes / 2048) * 250;
}

static int buf_sync(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) ? -errno : 0;
}

/*
 * A dma-buf of dmavec_bar's device memory: @n ranges {BAR offset, length}
 * of one allocation of the whole BAR, which starts at offset 0, so that
 * BAR offsets are host file offsets. *@bar is the device file, which holds
 * the allocation; @bdf (if not NULL) gets ivshmem's PCI name. -1 on failure.
 */
static int bar_export(int *bar, char *bdf, size_t len, const __u64 (*r)[2], int n)
{
	struct dmavec_export e = { .count = n, .fd_flags = O_RDWR | O_CLOEXEC };
	struct dmavec_alloc a = { 0 };
	struct dmavec_range rr[4];
	struct dmavec_info info;
	int i;

	*bar = open_node("dmavec-", bdf, len);
	if (*bar < 0 || n > 4 || ioctl(*bar, DMAVEC_IOCTL_INFO, &info))
		return -1;
	a.size = info.bar_size;
	if (ioctl(*bar, DMAVEC_IOCTL_ALLOC, &a))
		return -1;
	memset(rr, 0, sizeof(rr));
	for (i = 0; i < n; i++) {
		rr[i].handle = a.handle;
		rr[i].offset = r[i][0];
		rr[i].length = r[i][1];
	}
	e.ranges = (__u64)(unsigned long)rr;
	return ioctl(*bar, DMAVEC_IOCTL_EXPORT, &e) ? -1 : e.fd;
}

FIXTURE(iio) {
	int dev, buf;			/* /dev/iio:deviceN and its buffer0 */
	char sys[PATH_MAX];		/* the IIO device's sysfs directory */
	int attached[MAX_ATTACHED];	/* dma-bufs attached to buffer0 */
	int nattached;
	int nengines;			/* dmavec_edu_dma's engines */
	char engine[MAX_ENGINES][64];	/* ... by PCI name */
	char unbound[64];		/* ivshmem, while a test has it unbound */
	struct vfio_dev vd;		/* ivshmem, while a test has it on vfio-pci */
	int vfio;			/* ... which the teardown gives back */
	int vfio_stock;			/* vfio-pci exports upstream's way */
	int hold;			/* the engines' hold parameter is set */
};

static int iio_write(struct _test_data_iio *self, const char *attr, const char *s)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", self->sys, attr);
	return write_file(path, s);
}

static int iio_enable(struct _test_data_iio *self, int on)
{
	return iio_write(self, "buffer0/enable", on ? "1" : "0");
}

static int iio_attach(struct _test_data_iio *self, int fd)
{
	int f = fd;

	if (ioctl(self->buf, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &f))
		return -errno;
	if (self->nattached < MAX_ATTACHED)
		self->attached[self->nattached++] = fd;
	return 0;
}

static int iio_detach(struct _test_data_iio *self, int fd)
{
	int f = fd, i;

	if (ioctl(self->buf, IIO_BUFFER_DMABUF_DETACH_IOCTL, &f))
		return -errno;
	for (i = 0; i < self->nattached; i++) {
		if (self->attached[i] == fd) {
			self->attached[i] = self->attached[--self->nattached];
			break;
		}
	}
	return 0;
}

static int iio_enqueue(struct _test_data_iio *self, int fd, __u32 flags, __u64 bytes)
{
	struct iio_dmabuf d = { .fd = fd, .flags = flags, .bytes_used = bytes };

	return ioctl(self->buf, IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, &d) ? -errno : 0;
}

/* The debugfs counter @file of all engines. */
static void engines_read(struct _test_data_iio *self, const char *file,
			 unsigned long long *val)
{
	int k;

	for (k = 0; k < self->nengines; k++)
		val[k] = engine_val(self->engine[k], file);
}

static void engines_preps(struct _test_data_iio *self, unsigned long long *preps)
{
	engines_read(self, "preps", preps);
}

/* The type bufinfo shows for buffer0's attachment to @fd (an engine's device). */
static int iio_attached_type(struct _test_data_iio *self, int fd, char *type, size_t len)
{
	unsigned long ino = fd_ino(fd);
	int k;

	for (k = 0; k < self->nengines; k++)
		if (!attached_type(ino, self->engine[k], type, len))
			return 0;
	return -1;
}

/*
 * One block of @bytes into the attached dma-buf @fd with @seed, the buffer
 * disabled: ENQUEUE queues the block, whose fence stays pending until the
 * buffer is enabled; then the fence signals without error, the one engine
 * that ran it counts one prep (its index in *@engine) and @bytes moved,
 * none aborted, and the buffer is disabled again.
 */
static void capture(struct __test_metadata *_metadata, struct _test_data_iio *self,
		    int fd, __u64 bytes, __u32 seed, int *engine)
{
	unsigned long long before[MAX_ENGINES], after[MAX_ENGINES];
	unsigned long long moved0[MAX_ENGINES], moved1[MAX_ENGINES];
	unsigned long long aborted0[MAX_ENGINES], aborted1[MAX_ENGINES];
	int sync, status = 0, k, moved = 0;
	const char *e;

	ASSERT_EQ(0, set_seed(seed));
	engines_preps(self, before);
	engines_read(self, "bytes", moved0);
	engines_read(self, "aborted", aborted0);
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, bytes));
	sync = export_fence(fd);
	ASSERT_LE(0, sync);
	ASSERT_EQ(0, fence_wait(sync, 0, &status));
	EXPECT_EQ(0, status) TH_LOG("a block completed with the buffer disabled");
	ASSERT_EQ(0, iio_enable(self, 1));
	ASSERT_EQ(0, fence_wait(sync, block_ms(bytes), &status));
	ASSERT_EQ(1, status) TH_LOG("the block's fence: status %d (0: still pending)", status);
	close(sync);
	ASSERT_EQ(0, iio_enable(self, 0));
	engines_preps(self, after);
	engines_read(self, "bytes", moved1);
	engines_read(self, "aborted", aborted1);
	*engine = -1;
	for (k = 0; k < self->nengines; k++) {
		if (after[k] != before[k]) {
			moved++;
			*engine = k;
			e = self->engine[k];
			EXPECT_EQ(before[k] + 1, after[k]) TH_LOG("engine %s: preps", e);
			EXPECT_EQ(moved0[k] + bytes, moved1[k]) TH_LOG("engine %s: bytes", e);
			EXPECT_EQ(aborted0[k], aborted1[k]) TH_LOG("engine %s: aborted", e);
		}
	}
	ASSERT_EQ(1, moved) TH_LOG("%d engines prepped the block", moved);
}

FIXTURE_SETUP(iio)
{
	char node[NAME_MAX + 8];

	self->dev = -1;
	self->buf = -1;
	if (iio_find(self->sys, sizeof(self->sys), node, sizeof(node))) {
		/* The VM runner binds the engine: missing there, it fails. */
		ASSERT_FALSE(dmavec_runner()) TH_LOG("no IIO device named " IIO_NAME);
		SKIP(return, "no IIO device named " IIO_NAME " (an edu bound to dmavec_edu_dma)");
	}
	self->nengines = engines_find(self->engine);
	if (!self->nengines && !dmavec_runner())
		SKIP(return, "no debugfs " EDU_DMA "/ (debugfs mounted?)");
	ASSERT_LT(0, self->nengines) TH_LOG("no engine in " EDU_DMA);
	ASSERT_EQ(0, access(SEED, W_OK));
	/* A buffer left enabled cannot change its scan elements. */
	iio_enable(self, 0);
	ASSERT_EQ(0, iio_write(self, "buffer0/in_voltage0_en", "1"));
	self->dev = open(node, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", node, strerror(errno));
	self->buf = 0;
	ASSERT_EQ(0, ioctl(self->dev, IIO_BUFFER_GET_FD_IOCTL, &self->buf));
	ASSERT_LE(0, self->buf);
}

/*
 * The tests leave the dma-bufs they attached open: they are detached here,
 * with the buffer disabled first.
 */
FIXTURE_TEARDOWN(iio)
{
	int f;

	if (self->hold)
		write_file(HOLD, "0");
	iio_enable(self, 0);
	while (self->nattached) {
		f = self->attached[--self->nattached];
		ioctl(self->buf, IIO_BUFFER_DMABUF_DETACH_IOCTL, &f);
	}
	if (self->buf >= 0)
		close(self->buf);
	if (self->dev >= 0)
		close(self->dev);
	if (self->unbound[0])
		write_file(BAR_DRIVER "/bind", self->unbound);
	if (self->vfio)
		vfio_close(&self->vd);
}

/*
 * dmavec_bar's buffer: BAR pages [5, 7) then [1, 3), 16 KiB, captured whole
 * in one block. The attachment has the DMA-vector type; behind a
 * translating IOMMU the engine gets one IOVA entry for both ranges, else
 * one per range. The host file holds the pattern at each range's offsets
 * and the host's fill everywhere else of pages [0, 8).
 */
TEST_F(iio, capture_into_two_reversed_bar_ranges)
{
	static const __u64 r[2][2] = { { 5 * PAGE, 2 * PAGE }, { 1 * PAGE, 2 * PAGE } };
	static __u8 want[8 * PAGE], got[8 * PAGE], cap[4 * PAGE];
	const __u32 seed = 0x10000000, fill = 0x1f11;
	unsigned long long nents;
	char type[64];
	int bar, fd, k;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_AGENT);
	fd = bar_export(&bar, NULL, 0, r, 2);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4 * PAGE, lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, agent_fill(0, sizeof(want), fill));
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, iio_attached_type(self, fd, type, sizeof(type)))
		TH_LOG("buffer0's attachment is not in " BUFINFO);
	EXPECT_STREQ("dma_vec", type);

	capture(_metadata, self, fd, 4 * PAGE, seed, &k);
	nents = engine_val(self->engine[k], "last_nents");
	TH_LOG("engine %s: %llu entries (%s)", self->engine[k], nents,
	       translated(self->engine[k]) ? "translated" : "not translated");
	EXPECT_EQ(translated(self->engine[k]) ? 1 : 2, nents);

	agent_pattern(fill, want, sizeof(want));
	capture_pattern(seed, cap, sizeof(cap));
	memcpy(want + r[0][0], cap, r[0][1]);
	memcpy(want + r[1][0], cap + r[0][1], r[1][1]);
	ASSERT_EQ(0, host_read(0, got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(got)))
		TH_LOG("host file offset %ld", first_diff(want, got, sizeof(got)));
	close(bar);
}

/*
 * dmavec_ctest's system memory (16 discontiguous pages): the DMA-vector
 * type; a 16 KiB block, four of its pages, read back through the mmap.
 */
TEST_F(iio, capture_into_ctest_ram)
{
	static __u8 want[4 * PAGE];
	unsigned long long nents, want_nents;
	char type[64];
	__u8 *map;
	int fd, k;

	DMAVEC_NEEDS(return, NEED_CTEST);
	fd = read_fd_from(CTEST_EXPORT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(CTEST_SIZE, lseek(fd, 0, SEEK_END));
	map = mmap(NULL, CTEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, iio_attached_type(self, fd, type, sizeof(type)));
	EXPECT_STREQ("dma_vec", type);

	capture(_metadata, self, fd, sizeof(want), 0x20000000, &k);
	nents = engine_val(self->engine[k], "last_nents");
	TH_LOG("engine %s: %llu entries", self->engine[k], nents);
	/*
	 * Four discontiguous pages: one IOVA entry, else one per page (bounce
	 * slots may merge); the engine gets the entries up to bytes_used.
	 */
	if (translated(self->engine[k]))
		want_nents = 1;
	else
		want_nents = swiotlb_forced() ? 0 : 4;
	if (want_nents)
		EXPECT_EQ(want_nents, nents);

	capture_pattern(0x20000000, want, sizeof(want));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(-1, first_diff(want, map, sizeof(want)))
		TH_LOG("buffer offset %ld", first_diff(want, map, sizeof(want)));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	munmap(map, CTEST_SIZE);
}

/* udmabuf of a memfd: the sg_table type; a block of the whole 16 KiB. */
TEST_F(iio, capture_into_udmabuf)
{
	static __u8 want[4 * PAGE];
	char type[64];
	__u8 *map;
	int fd, k;

	DMAVEC_NEEDS(return, NEED_UDMABUF);
	fd = udmabuf_alloc(sizeof(want));
	ASSERT_LE(0, fd) TH_LOG("udmabuf creation failed");
	map = mmap(NULL, sizeof(want), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, iio_attached_type(self, fd, type, sizeof(type)));
	EXPECT_STREQ("sg_table", type);

	capture(_metadata, self, fd, sizeof(want), 0x30000000, &k);
	TH_LOG("engine %s: %llu entries", self->engine[k],
	       engine_val(self->engine[k], "last_nents"));

	capture_pattern(0x30000000, want, sizeof(want));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(-1, first_diff(want, map, sizeof(want)))
		TH_LOG("buffer offset %ld", first_diff(want, map, sizeof(want)));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	munmap(map, sizeof(want));
}

/*
 * A block of 1.5 pages of dmavec_ctest's 16-page buffer, prefilled with
 * 0xa5 by the CPU: exactly bytes_used bytes are captured, the rest of the
 * page and the other pages keep the fill. The seed wraps around 2^32 in the
 * block.
 */
TEST_F(iio, partial_block_writes_bytes_used_only)
{
	const __u64 used = PAGE + PAGE / 2;
	const __u32 seed = 0xfffffe00;
	static __u8 want[PAGE + PAGE / 2];
	__u8 *map;
	int fd, k;

	DMAVEC_NEEDS(return, NEED_CTEST);
	fd = read_fd_from(CTEST_EXPORT);
	ASSERT_LE(0, fd);
	map = mmap(NULL, CTEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	memset(map, 0xa5, CTEST_SIZE);
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
	ASSERT_EQ(0, iio_attach(self, fd));

	capture(_metadata, self, fd, used, seed, &k);

	capture_pattern(seed, want, used);
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(-1, first_diff(want, map, used))
		TH_LOG("buffer offset %ld", first_diff(want, map, used));
	EXPECT_EQ(-1, first_not(map + used, 0xa5, CTEST_SIZE - used))
		TH_LOG("buffer offset %lld written past bytes_used",
		       (long long)used + first_not(map + used, 0xa5, CTEST_SIZE - used));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	munmap(map, CTEST_SIZE);
}

/*
 * A block queued into an attached dma-buf, then revoked. The test fills
 * host file bytes [@base, @base + @span) with @fill and attaches the
 * dma-buf; @bytes are queued with @seed, the buffer disabled (the fence
 * pending), and @revoke revokes the dma-buf by the test's own means. The
 * block is cancelled: its fence signals -ECANCELED, no engine preps
 * anything once the buffer is enabled, ENQUEUE fails with ENODEV, the
 * kernel log gets no line, and the host file keeps the fill. @type, if
 * set, is the attachment's type bufinfo shows.
 */
struct queued_revocation {
	__u64 base, span, bytes;
	__u32 fill, seed;
	const char *type;
	int (*revoke)(struct _test_data_iio *self);
};

static void revoke_queued(struct __test_metadata *_metadata, struct _test_data_iio *self,
			  int fd, const struct queued_revocation *q)
{
	static char log1[1 << 17], log2[1 << 17];
	static __u8 want[8 * PAGE], got[8 * PAGE];
	unsigned long long before[MAX_ENGINES], after[MAX_ENGINES];
	int sync, status = 0, k, n1, n2;
	char type[64];

	ASSERT_GE(sizeof(want), q->span);
	ASSERT_EQ(0, agent_fill(q->base, q->span, q->fill));
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, set_seed(q->seed));
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, q->bytes));
	if (q->type) {
		ASSERT_EQ(0, iio_attached_type(self, fd, type, sizeof(type)));
		EXPECT_STREQ(q->type, type);
	}
	sync = export_fence(fd);
	ASSERT_LE(0, sync);
	ASSERT_EQ(0, fence_wait(sync, 0, &status));
	ASSERT_EQ(0, status) TH_LOG("the queued block's fence signalled already");
	engines_preps(self, before);

	n1 = klog(log1, sizeof(log1));
	ASSERT_LT(0, n1);
	ASSERT_EQ(0, q->revoke(self));
	ASSERT_EQ(0, fence_wait(sync, 5000, &status));
	EXPECT_EQ(-ECANCELED, status) TH_LOG("the cancelled block's fence: status %d", status);
	close(sync);
	ASSERT_EQ(0, iio_enable(self, 1));
	sleep(1);
	engines_preps(self, after);
	for (k = 0; k < self->nengines; k++)
		EXPECT_EQ(before[k], after[k]) TH_LOG("engine %s prepped", self->engine[k]);
	EXPECT_EQ(-ENODEV, iio_enqueue(self, fd, 0, q->bytes));
	ASSERT_EQ(0, iio_enable(self, 0));
	n2 = klog(log2, sizeof(log2));
	EXPECT_EQ(n1, n2) TH_LOG("new: %.*s", n2 > n1 ? n2 - n1 : 0, log2 + n1);
	EXPECT_EQ(0, memcmp(log1, log2, n1));
	agent_pattern(q->fill, want, q->span);
	ASSERT_EQ(0, host_read(q->base, got, q->span));
	EXPECT_EQ(-1, first_diff(want, got, q->span))
		TH_LOG("host file offset %#llx written",
		       q->base + first_diff(want, got, q->span));
}

/* Unbinds dmavec_bar from ivshmem (self->unbound), which rebinds it at teardown. */
static int bar_unbind(struct _test_data_iio *self)
{
	return write_file(BAR_DRIVER "/unbind", self->unbound);
}

/* Revokes dmavec_test's export of ivshmem's BAR (its revoke file). */
static int rtest_revoke(struct _test_data_iio *self)
{
	return write_file(RTEST_BAR "revoke", "1");
}

/*
 * Revocation with a block queued, by unbinding dmavec_bar from ivshmem
 * (its uAPI has no revoke ioctl; removal revokes its dma-bufs for good):
 * revoke_queued(). Bound again, a new export of the same pages captures.
 */
TEST_F(iio, revocation_cancels_the_queued_block)
{
	static const __u64 r[2][2] = { { 5 * PAGE, 2 * PAGE }, { 1 * PAGE, 2 * PAGE } };
	static __u8 want[8 * PAGE], got[8 * PAGE], cap[4 * PAGE];
	const struct queued_revocation q = {
		.span = sizeof(want), .bytes = 4 * PAGE, .fill = 0x5f55, .seed = 0x50000000,
		.type = "dma_vec", .revoke = bar_unbind,
	};
	const __u32 fill2 = 0x5f56;
	char bdf[64], path[PATH_MAX];
	int bar, fd, k;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_AGENT);
	fd = bar_export(&bar, bdf, sizeof(bdf), r, 2);
	ASSERT_LE(0, fd);
	snprintf(self->unbound, sizeof(self->unbound), "%s", bdf);
	revoke_queued(_metadata, self, fd, &q);
	EXPECT_EQ(0, iio_detach(self, fd));
	close(fd);
	close(bar);

	/* Bound again: a new export of the same pages captures. */
	ASSERT_EQ(0, write_file(BAR_DRIVER "/bind", bdf));
	snprintf(path, sizeof(path), BAR_DRIVER "/%s", bdf);
	ASSERT_EQ(0, access(path, F_OK));
	self->unbound[0] = '\0';
	fd = bar_export(&bar, NULL, 0, r, 2);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, agent_fill(0, sizeof(want), fill2));
	ASSERT_EQ(0, iio_attach(self, fd));
	capture(_metadata, self, fd, 4 * PAGE, 0x51000000, &k);
	agent_pattern(fill2, want, sizeof(want));
	capture_pattern(0x51000000, cap, sizeof(cap));
	memcpy(want + r[0][0], cap, r[0][1]);
	memcpy(want + r[1][0], cap + r[0][1], r[1][1]);
	ASSERT_EQ(0, host_read(0, got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(got)))
		TH_LOG("host file offset %ld", first_diff(want, got, sizeof(got)));
	close(bar);
}

/*
 * A reset of ivshmem (sysfs reset): dmavec_bar revokes its buffers before
 * the reset and restores them after. The block queued meanwhile is
 * cancelled (-ECANCELED) and never runs; the same buffer then captures
 * again, mapped anew by the next ENQUEUE.
 */
TEST_F(iio, reset_cancels_the_queued_block_then_captures)
{
	static const __u64 r[2][2] = { { 5 * PAGE, 2 * PAGE }, { 1 * PAGE, 2 * PAGE } };
	static __u8 cap[4 * PAGE], got[2 * PAGE];
	unsigned long long before[MAX_ENGINES], after[MAX_ENGINES];
	const __u32 seed = 0x58000000;
	char bdf[64], path[PATH_MAX];
	int bar, fd, sync, status = 0, k;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_AGENT);
	fd = bar_export(&bar, bdf, sizeof(bdf), r, 2);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, set_seed(seed));
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, 4 * PAGE));
	sync = export_fence(fd);
	ASSERT_LE(0, sync);
	engines_preps(self, before);

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bdf);
	ASSERT_EQ(0, write_file(path, "1"));
	ASSERT_EQ(0, fence_wait(sync, 5000, &status));
	EXPECT_EQ(-ECANCELED, status) TH_LOG("the cancelled block's fence: status %d", status);
	close(sync);
	ASSERT_EQ(0, iio_enable(self, 1));
	sleep(1);
	engines_preps(self, after);
	for (k = 0; k < self->nengines; k++)
		EXPECT_EQ(before[k], after[k]) TH_LOG("engine %s prepped", self->engine[k]);
	ASSERT_EQ(0, iio_enable(self, 0));

	/* Restored: the same buffer captures, at both ranges. */
	capture(_metadata, self, fd, 4 * PAGE, seed + 1, &k);
	capture_pattern(seed + 1, cap, sizeof(cap));
	ASSERT_EQ(0, host_read(r[0][0], got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(cap, got, sizeof(got)));
	ASSERT_EQ(0, host_read(r[1][0], got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(cap + r[0][1], got, sizeof(got)));
	close(fd);
	close(bar);
}

/*
 * Revocation and restore of one buffer (dmavec_test's export of ivshmem's
 * BAR, 16 single pages in reverse order, and its revoke file), with a
 * block queued: revoke_queued(). Once restored, the same buffer captures
 * again (mapped anew at ENQUEUE).
 */
TEST_F(iio, restored_buffer_captures_again)
{
	static __u8 want[6 * PAGE], got[6 * PAGE], cap[2 * PAGE];
	/* Host pages [RTEST_PAGE(2), RTEST_PAGE(0) + 2): buffer pages 2, 1, 0 and the gaps. */
	const __u64 base = RTEST_PAGE(2) * PAGE;
	const struct queued_revocation q = {
		.base = base, .span = sizeof(want), .bytes = 2 * PAGE, .fill = 0x6f66,
		.seed = 0x60000000, .type = "dma_vec", .revoke = rtest_revoke,
	};
	struct dmavec_alloc a = { 0 };
	struct dmavec_info info;
	int bar, fd, k;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_RTEST | NEED_AGENT);
	/*
	 * Hold the whole BAR, so that no scrub of an earlier test's allocation
	 * zeroes the host's fill under the test: ALLOC waits for the scrubber.
	 */
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_LE(0, bar);
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_INFO, &info));
	a.size = info.bar_size;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &a));
	fd = read_fd_from(RTEST_BAR "export");
	ASSERT_LE(0, fd);
	revoke_queued(_metadata, self, fd, &q);

	ASSERT_EQ(0, write_file(RTEST_BAR "revoke", "0"));
	capture(_metadata, self, fd, 2 * PAGE, 0x61000000, &k);
	agent_pattern(q.fill, want, sizeof(want));
	capture_pattern(0x61000000, cap, sizeof(cap));
	memcpy(want + (RTEST_PAGE(0) * PAGE - base), cap, PAGE);
	memcpy(want + (RTEST_PAGE(1) * PAGE - base), cap + PAGE, PAGE);
	ASSERT_EQ(0, host_read(base, got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(got)))
		TH_LOG("host file offset %#llx", base + first_diff(want, got, sizeof(got)));
	close(bar);
}

/*
 * ivshmem bound to vfio-pci for the test, given back by the teardown; NULL,
 * or why the test is skipped. DMAVEC_VFIO_EXPECT says how vfio-pci exports
 * its dma-bufs: "stock" (upstream, the sg_table type) or "dmavec" (through
 * dmavec, the DMA-vector type).
 */
static const char *vfio_take(struct __test_metadata *_metadata, struct _test_data_iio *self)
{
	const char *e = getenv("DMAVEC_VFIO_EXPECT"), *why = "";
	int ret;

	if (!e || (strcmp(e, "stock") && strcmp(e, "dmavec")))
		return "DMAVEC_VFIO_EXPECT is neither 'dmavec' nor 'stock'";
	self->vfio_stock = !strcmp(e, "stock");
	if (find_ivshmem(self->vd.bdf, sizeof(self->vd.bdf)))
		return "no ivshmem-plain device (1af4:1110)";
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK) || access("/dev/iommu", F_OK))
		return "no vfio-pci driver or no /dev/iommu";
	self->vfio = 1;
	ret = vfio_open(&self->vd, 8 * PAGE, &why);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s: %s", self->vd.bdf, why, strerror(-ret));
	return NULL;
}

/* BAR pages [5, 7) then [1, 3), as the dmavec_bar buffers above. */
static const struct vfio_region_dma_range vfio_ranges[2] = {
	{ .offset = 5 * PAGE, .length = 2 * PAGE },
	{ .offset = 1 * PAGE, .length = 2 * PAGE },
};

/*
 * A block of vfio-pci's dma-buf @fd (vfio_ranges), over host pages [0, 8),
 * revoked by @revoke with revoke_queued(): the attachment's type is
 * sg_table with upstream's vfio-pci, dma_vec where vfio-pci exports
 * through dmavec.
 */
static void vfio_revoke_queued(struct __test_metadata *_metadata, struct _test_data_iio *self,
			       int fd, __u32 fill, __u32 seed,
			       int (*revoke)(struct _test_data_iio *self))
{
	const struct queued_revocation q = {
		.span = 8 * PAGE, .bytes = 4 * PAGE, .fill = fill, .seed = seed,
		.type = self->vfio_stock ? "sg_table" : "dma_vec", .revoke = revoke,
	};

	revoke_queued(_metadata, self, fd, &q);
}

/* Clears PCI_COMMAND_MEMORY through vfio's config region. */
static int vfio_memory_off(struct _test_data_iio *self)
{
	return vfio_set_memory(&self->vd, 0);
}

/* Closing the vfio device (and iommufd) revokes its dma-bufs for good. */
static int vfio_device_close(struct _test_data_iio *self)
{
	struct vfio_dev *d = &self->vd;
	int ret = close(d->dev) || close(d->iommufd) ? -errno : 0;

	d->dev = -1;
	d->iommufd = -1;
	return ret;
}

/*
 * vfio-pci's dma-buf of ivshmem's BAR 2, revoked by clearing
 * PCI_COMMAND_MEMORY through vfio's config region, with a block queued:
 * vfio_revoke_queued(). Memory enabled again, the same dma-buf captures,
 * mapped anew by the next ENQUEUE, at both ranges and nowhere else.
 */
TEST_F(iio, vfio_memory_disable_cancels_the_queued_block)
{
	static __u8 want[8 * PAGE], got[8 * PAGE], cap[4 * PAGE];
	const __u32 fill = 0x8f88, seed = 0x80000000;
	const char *skip;
	int fd, k;

	DMAVEC_NEEDS(return, NEED_AGENT);
	skip = vfio_take(_metadata, self);
	if (skip)
		SKIP(return, "%s", skip);
	fd = vfio_dmabuf(&self->vd, BAR2, 0, 2, vfio_ranges);
	ASSERT_LE(0, fd) TH_LOG("VFIO_DEVICE_FEATURE_DMA_BUF: %s", strerror(-fd));
	vfio_revoke_queued(_metadata, self, fd, fill, seed, vfio_memory_off);

	ASSERT_EQ(0, vfio_set_memory(&self->vd, 1));
	capture(_metadata, self, fd, 4 * PAGE, seed + 1, &k);
	agent_pattern(fill, want, sizeof(want));
	capture_pattern(seed + 1, cap, sizeof(cap));
	memcpy(want + vfio_ranges[0].offset, cap, vfio_ranges[0].length);
	memcpy(want + vfio_ranges[1].offset, cap + vfio_ranges[0].length, vfio_ranges[1].length);
	ASSERT_EQ(0, host_read(0, got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(got)))
		TH_LOG("host file offset %ld", first_diff(want, got, sizeof(got)));
	EXPECT_EQ(0, iio_detach(self, fd));
	close(fd);
}

/*
 * vfio-pci's dma-buf of ivshmem's BAR 2, revoked for good by closing the
 * vfio device, with a block queued: vfio_revoke_queued(). Closing the
 * dma-buf's own fd would revoke nothing: IIO's attachment holds it.
 */
TEST_F(iio, vfio_device_close_cancels_the_queued_block)
{
	const char *skip;
	int fd;

	DMAVEC_NEEDS(return, NEED_AGENT);
	skip = vfio_take(_metadata, self);
	if (skip)
		SKIP(return, "%s", skip);
	fd = vfio_dmabuf(&self->vd, BAR2, 0, 2, vfio_ranges);
	ASSERT_LE(0, fd) TH_LOG("VFIO_DEVICE_FEATURE_DMA_BUF: %s", strerror(-fd));
	vfio_revoke_queued(_metadata, self, fd, 0x9f99, 0x90000000, vfio_device_close);
	EXPECT_EQ(0, iio_detach(self, fd));
	close(fd);
}

/*
 * Closing the dma-buf's last fd revokes nothing: IIO's attachment holds
 * the dma-buf, and the block queued before the close captures once the
 * buffer is enabled (its fence, exported before, signals without error),
 * at both ranges of the host file.
 */
TEST_F(iio, vfio_dmabuf_close_revokes_nothing)
{
	static __u8 want[8 * PAGE], got[8 * PAGE], cap[4 * PAGE];
	const __u32 fill = 0xaf99, seed = 0xa0000000;
	int fd, sync, status = 0;
	const char *skip;

	DMAVEC_NEEDS(return, NEED_AGENT);
	skip = vfio_take(_metadata, self);
	if (skip)
		SKIP(return, "%s", skip);
	fd = vfio_dmabuf(&self->vd, BAR2, 0, 2, vfio_ranges);
	ASSERT_LE(0, fd) TH_LOG("VFIO_DEVICE_FEATURE_DMA_BUF: %s", strerror(-fd));
	ASSERT_EQ(0, agent_fill(0, sizeof(want), fill));
	ASSERT_EQ(0, iio_attach(self, fd));
	/* Detached when the teardown closes the buffer, not by its fd. */
	self->nattached--;
	ASSERT_EQ(0, set_seed(seed));
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, 4 * PAGE));
	sync = export_fence(fd);
	ASSERT_LE(0, sync);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, iio_enable(self, 1));
	ASSERT_EQ(0, fence_wait(sync, block_ms(4 * PAGE), &status));
	EXPECT_EQ(1, status) TH_LOG("the block's fence: status %d (0: still pending)", status);
	close(sync);
	ASSERT_EQ(0, iio_enable(self, 0));
	agent_pattern(fill, want, sizeof(want));
	capture_pattern(seed, cap, sizeof(cap));
	memcpy(want + vfio_ranges[0].offset, cap, vfio_ranges[0].length);
	memcpy(want + vfio_ranges[1].offset, cap + vfio_ranges[0].length, vfio_ranges[1].length);
	ASSERT_EQ(0, host_read(0, got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(got)))
		TH_LOG("host file offset %ld", first_diff(want, got, sizeof(got)));
}

/*
 * A block running on the engine when the exporter revokes is waited for.
 * The engine holds the block once it has started it (its hold parameter):
 * the revocation (dmavec_test's revoke file, written by a child) does not
 * return while the engine holds the block, whose fence stays pending;
 * released, the block completes, and when the revocation has returned its
 * fence has signalled without error and the whole block is in the host
 * file.
 */
TEST_F(iio, revocation_waits_for_the_running_block)
{
	static __u8 want[6 * PAGE], got[6 * PAGE], cap[2 * PAGE];
	const __u64 base = RTEST_PAGE(2) * PAGE;
	const __u32 fill = 0x7f77, seed = 0x70000000;
	int bar, fd, sync, status = 0, k, i, held = 0, wstatus;
	struct dmavec_alloc a = { 0 };
	struct dmavec_info info;
	pid_t pid;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_RTEST | NEED_AGENT);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_LE(0, bar);
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_INFO, &info));
	a.size = info.bar_size;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &a));
	fd = read_fd_from(RTEST_BAR "export");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, agent_fill(base, sizeof(want), fill));
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, set_seed(seed));
	ASSERT_EQ(0, write_file(HOLD, "1"));
	self->hold = 1;
	ASSERT_EQ(0, iio_enable(self, 1));
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, 2 * PAGE));
	sync = export_fence(fd);
	ASSERT_LE(0, sync);
	/* TIMEOUT: 5 s for the engine's worker to start the block. */
	for (i = 0; i < 1000 && !held; i++) {
		for (k = 0; k < self->nengines; k++)
			held |= engine_val(self->engine[k], "held") == 1;
		if (!held)
			usleep(5000);
	}
	ASSERT_TRUE(held) TH_LOG("no engine started the block");

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(write_file(RTEST_BAR "revoke", "1") ? 1 : 0);
	/* Held, the block cannot complete: the revocation must still wait. */
	usleep(500000);
	EXPECT_EQ(0, waitpid(pid, &wstatus, WNOHANG))
		TH_LOG("the revocation returned while the engine held the block");
	ASSERT_EQ(0, fence_wait(sync, 0, &status));
	EXPECT_EQ(0, status) TH_LOG("the held block's fence: status %d", status);
	ASSERT_EQ(0, write_file(HOLD, "0"));
	self->hold = 0;
	ASSERT_EQ(pid, waitpid(pid, &wstatus, 0));
	EXPECT_TRUE(WIFEXITED(wstatus) && !WEXITSTATUS(wstatus));
	ASSERT_EQ(0, fence_wait(sync, 0, &status));
	EXPECT_EQ(1, status) TH_LOG("fence status %d when the revocation returned", status);
	close(sync);
	ASSERT_EQ(0, write_file(RTEST_BAR "revoke", "0"));
	ASSERT_EQ(0, iio_enable(self, 0));

	agent_pattern(fill, want, sizeof(want));
	capture_pattern(seed, cap, sizeof(cap));
	memcpy(want + (RTEST_PAGE(0) * PAGE - base), cap, PAGE);
	memcpy(want + (RTEST_PAGE(1) * PAGE - base), cap + PAGE, PAGE);
	ASSERT_EQ(0, host_read(base, got, sizeof(got)));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(got)))
		TH_LOG("host file offset %#llx", base + first_diff(want, got, sizeof(got)));
	close(bar);
}

/*
 * Bad requests, each with the IIO core's errno and without a kernel log
 * line: ATTACH of a file that is not a dma-buf (dma_buf_get(): EINVAL) or
 * of no file (EBADF), a second ATTACH of the same dma-buf (EBUSY); ENQUEUE
 * of a dma-buf never attached (EPERM), of 0 bytes or more than its size,
 * with unknown flags, or cyclic on a capture buffer (EINVAL), of a length
 * the engine cannot move, not a multiple of the buffer's length_align_bytes
 * (EINVAL, and nothing queued: enabling the buffer preps nothing); DETACH
 * of a dma-buf never attached (EPERM).
 */
TEST_F(iio, bad_requests_are_refused)
{
	static char log1[1 << 17], log2[1 << 17];
	unsigned long long before[MAX_ENGINES], after[MAX_ENGINES];
	int mfd, fd, other, f, n1, n2, k;
	char path[PATH_MAX + 32], align[32];

	DMAVEC_NEEDS(return, NEED_UDMABUF);
	mfd = memfd_create("dmavec_iio", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4 * PAGE));
	fd = udmabuf_alloc(4 * PAGE);
	ASSERT_LE(0, fd);
	other = udmabuf_alloc(4 * PAGE);
	ASSERT_LE(0, other);
	n1 = klog(log1, sizeof(log1));
	ASSERT_LT(0, n1);

	EXPECT_EQ(-EINVAL, iio_attach(self, mfd));
	EXPECT_EQ(-EBADF, iio_attach(self, -1));
	ASSERT_EQ(0, iio_attach(self, fd));
	f = fd;
	EXPECT_EQ(-1, ioctl(self->buf, IIO_BUFFER_DMABUF_ATTACH_IOCTL, &f));
	EXPECT_EQ(EBUSY, errno);

	EXPECT_EQ(-EPERM, iio_enqueue(self, other, 0, 4 * PAGE));
	EXPECT_EQ(-EINVAL, iio_enqueue(self, mfd, 0, 4 * PAGE));
	EXPECT_EQ(-EINVAL, iio_enqueue(self, fd, 0, 0));
	EXPECT_EQ(-EINVAL, iio_enqueue(self, fd, 0, 4 * PAGE + 1));
	EXPECT_EQ(-EINVAL, iio_enqueue(self, fd, 1U << 1, 4 * PAGE));
	EXPECT_EQ(-EINVAL, iio_enqueue(self, fd, 1U << 31, 4 * PAGE));
	EXPECT_EQ(-EINVAL, iio_enqueue(self, fd, IIO_BUFFER_DMABUF_CYCLIC, 4 * PAGE));
	/* dmavec_edu_dma moves 32-bit words. */
	snprintf(path, sizeof(path), "%s/buffer0/length_align_bytes", self->sys);
	ASSERT_EQ(0, read_line(path, align, sizeof(align)));
	ASSERT_STREQ("4", align);
	engines_preps(self, before);
	EXPECT_EQ(-EINVAL, iio_enqueue(self, fd, 0, 4 * PAGE - 2));
	/* Enabling submits what is queued, before it returns. */
	ASSERT_EQ(0, iio_enable(self, 1));
	engines_preps(self, after);
	ASSERT_EQ(0, iio_enable(self, 0));
	for (k = 0; k < self->nengines; k++)
		EXPECT_EQ(before[k], after[k]) TH_LOG("engine %s prepped", self->engine[k]);
	f = other;
	EXPECT_EQ(-1, ioctl(self->buf, IIO_BUFFER_DMABUF_DETACH_IOCTL, &f));
	EXPECT_EQ(EPERM, errno);

	n2 = klog(log2, sizeof(log2));
	EXPECT_EQ(n1, n2) TH_LOG("new: %.*s", n2 > n1 ? n2 - n1 : 0, log2 + n1);
	EXPECT_EQ(0, memcmp(log1, log2, n1));
	EXPECT_EQ(0, iio_detach(self, fd));
	close(other);
	close(fd);
	close(mfd);
}

#define NODMA		"/sys/module/dmavec_edu_dma/parameters/nodma"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FAILSLAB	"/sys/kernel/debug/failslab/ignore-gfp-wait"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait"

/* A udmabuf of @n pages, every other page of a memfd (export_pages' layout). */
static int udmabuf_pages(unsigned int n)
{
	struct udmabuf_create_list *l;
	int mfd, dev, fd = -1;
	unsigned int i;

	static const __u8 zero[PAGE];

	l = calloc(1, sizeof(*l) + n * sizeof(l->list[0]));
	mfd = memfd_create("dmavec_iio", MFD_ALLOW_SEALING);
	if (!l || mfd < 0 || ftruncate(mfd, 2 * n * PAGE) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK))
		goto out;
	/*
	 * Every page allocated in memfd order, so that a page of the buffer
	 * rarely touches the next one (the page allocator decides: the entries
	 * the engine gets are reported, not assumed).
	 */
	for (i = 0; i < 2 * n; i++)
		if (pwrite(mfd, zero, PAGE, i * PAGE) != (ssize_t)PAGE)
			goto out;
	l->flags = UDMABUF_FLAGS_CLOEXEC;
	l->count = n;
	for (i = 0; i < n; i++) {
		l->list[i].memfd = mfd;
		l->list[i].offset = 2 * i * PAGE;
		l->list[i].size = PAGE;
	}
	dev = open("/dev/udmabuf", O_RDWR);
	if (dev >= 0) {
		fd = ioctl(dev, UDMABUF_CREATE_LIST, l);
		close(dev);
	}
out:
	if (mfd >= 0)
		close(mfd);
	free(l);
	return fd;
}

static unsigned long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/*
 * ENQUEUE of all of @fd's @bytes with the buffer enabled, so that the block
 * is submitted in the ioctl: *@ns from the ioctl's entry to the engine's prep
 * (CLOCK_MONOTONIC, the engine's ktime_get_ns()); *@allocs the allocations
 * that cannot sleep the ioctl made (the engine makes none), counted with
 * fail-nth (-1 without it); then waits for the block.
 */
static void timed_enqueue(struct __test_metadata *_metadata, struct _test_data_iio *self,
			  int fd, __u64 bytes, int k, unsigned long long *ns, long *allocs)
{
	unsigned long long t0, prep;
	char nth[32] = "";
	int f = -1, sync, status = 0;

	if (*allocs >= 0) {
		f = open(FAIL_NTH, O_RDWR);
		ASSERT_LE(0, f);
		ASSERT_EQ(5, write(f, "10000", 5));
	}
	t0 = now_ns();
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, bytes));
	if (f >= 0) {
		ASSERT_LT(0, pread(f, nth, sizeof(nth) - 1, 0));
		ASSERT_EQ(1, pwrite(f, "0", 1, 0));
		close(f);
	}
	prep = engine_val(self->engine[k], "last_prep_ns");
	ASSERT_LT(t0, prep);
	*ns = prep - t0;
	if (*allocs >= 0)
		*allocs = 10000 - strtol(nth, NULL, 10);
	sync = export_fence(fd);
	if (sync >= 0) {
		ASSERT_EQ(0, fence_wait(sync, block_ms(bytes), &status));
		close(sync);
	}
	ASSERT_EQ(1, status) TH_LOG("the block's fence: status %d", status);
}

/*
 * DETACH with a block queued: accepted (0), as upstream; the attachment
 * lives on until its block is done, which still captures once the buffer
 * is enabled; the dma-buf is no longer attached (ENQUEUE: EPERM).
 */
TEST_F(iio, detach_with_a_queued_block_lets_it_complete)
{
	static __u8 want[4 * PAGE], got[4 * PAGE];
	const __u32 seed = 0x68000000;
	int fd, sync, status = 0;
	__u8 *map;

	DMAVEC_NEEDS(return, NEED_UDMABUF);
	fd = udmabuf_alloc(sizeof(want));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, iio_attach(self, fd));
	ASSERT_EQ(0, set_seed(seed));
	ASSERT_EQ(0, iio_enqueue(self, fd, 0, sizeof(want)));
	sync = export_fence(fd);
	ASSERT_LE(0, sync);
	ASSERT_EQ(0, iio_detach(self, fd));
	ASSERT_EQ(0, iio_enable(self, 1));
	ASSERT_EQ(0, fence_wait(sync, block_ms(sizeof(want)), &status));
	EXPECT_EQ(1, status) TH_LOG("the detached block's fence: status %d", status);
	close(sync);
	ASSERT_EQ(0, iio_enable(self, 0));
	EXPECT_EQ(-EPERM, iio_enqueue(self, fd, 0, sizeof(want)));
	map = mmap(NULL, sizeof(got), PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	memcpy(got, map, sizeof(got));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	munmap(map, sizeof(got));
	capture_pattern(seed, want, sizeof(want));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(want)));
	close(fd);
}

/*
 * The route run only (DMAVEC_IIO_UNROUTABLE, set by the VM's init): edu sits
 * behind another host bridge, from which P2PDMA cannot reach ivshmem's BAR.
 * IIO's ATTACH of a dmavec BAR buffer fails with EPERM (dmavec's attach
 * policy), and nothing is logged; a udmabuf still attaches and captures.
 */
TEST_F(iio, unroutable_bar_attach_is_eperm)
{
	static const __u64 r[1][2] = { { 1 * PAGE, 2 * PAGE } };
	static char log1[1 << 17], log2[1 << 17];
	static __u8 want[2 * PAGE], got[2 * PAGE];
	const __u32 seed = 0x60000000;
	int bar, fd, ram, n1, n2, k;
	__u8 *map;

	if (!getenv("DMAVEC_IIO_UNROUTABLE"))
		SKIP(return, "the route run's topology only (DMAVEC_IIO_UNROUTABLE)");
	DMAVEC_NEEDS(return, NEED_DEV | NEED_UDMABUF);
	fd = bar_export(&bar, NULL, 0, r, 1);
	ASSERT_LE(0, fd);
	n1 = klog(log1, sizeof(log1));
	ASSERT_LT(0, n1);
	EXPECT_EQ(-EPERM, iio_attach(self, fd));
	n2 = klog(log2, sizeof(log2));
	EXPECT_EQ(n1, n2) TH_LOG("new: %.*s", n2 > n1 ? n2 - n1 : 0, log2 + n1);
	EXPECT_EQ(0, memcmp(log1, log2, n1));

	ram = udmabuf_alloc(2 * PAGE);
	ASSERT_LE(0, ram);
	ASSERT_EQ(0, iio_attach(self, ram));
	capture(_metadata, self, ram, 2 * PAGE, seed, &k);
	map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, ram, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, buf_sync(ram, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	memcpy(got, map, sizeof(got));
	ASSERT_EQ(0, buf_sync(ram, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	munmap(map, 2 * PAGE);
	capture_pattern(seed, want, sizeof(want));
	EXPECT_EQ(-1, first_diff(want, got, sizeof(want)));
	close(ram);
	close(fd);
	close(bar);
}

/*
 * IIO's submit, DMA-vector against sg_table: a dmavec_ctest buffer of n
 * discontiguous pages (export_pages) and a udmabuf of the same layout (n
 * pages, every other page of a memfd), whole blocks, the engine completing
 * them without edu (nodma). The first ENQUEUE maps; for each later one, the
 * time from the ioctl's entry to the engine's prep, and the allocations
 * that cannot sleep that the submit makes, counted with fail-nth (failslab
 * and fail_page_alloc ignoring the allocations that may sleep: the enqueue's
 * fence; the engine takes its descriptors from a pool; the median of the
 * enqueues, as a rare allocation on the way is not the submit's). The DMA-vector
 * submit allocates nothing; the sg_table submit allocates its array of
 * struct dma_vec (counted twice under kmemleak, which allocates a record of
 * its own for each allocation: at least one here). With
 * DMAVEC_IIO_BENCH (make bench): n = 1, 16 and 256, DMAVEC_BENCH_REPS
 * pairs of enqueues (21), one of each buffer, alternately first; for
 * scripts/bench.py, one "==DMAVEC== IIOBENCH <n> <type> <entries> <median
 * ns> <allocations per submit>" line per buffer and one "==DMAVEC==
 * IIORATIO <n> <median of the pairs' DMA-vector/sg_table ratios, x1000>";
 * otherwise n = 16, 3 pairs.
 */
TEST_F(iio, submit_allocates_nothing_for_dma_vectors)
{
	static const unsigned int bench_ns[] = { 1, 16, 256 }, check_ns[] = { 16 };
	const int bench = !!getenv("DMAVEC_IIO_BENCH");
	const unsigned int *ns = bench ? bench_ns : check_ns;
	const unsigned int nn = bench ? 3 : 1;
	const char *r = getenv("DMAVEC_BENCH_REPS");
	int reps = bench ? (r ? atoi(r) : 21) : 3;
	unsigned long long *t[2], *ratio, before[MAX_ENGINES], after[MAX_ENGINES], nents[2];
	long *al[2];
	char type[64], gfp_slab[8] = "", gfp_page[8] = "", nodma[8] = "";
	unsigned int c, i;
	int fd[2], k, e, kind, have_nth;
	long allocs, a0;
	char num[16];

	ASSERT_LT(0, reps);
	ratio = calloc(reps, sizeof(*ratio));
	ASSERT_NE(NULL, ratio);
	for (kind = 0; kind < 2; kind++) {
		t[kind] = calloc(reps, sizeof(*t[kind]));
		al[kind] = calloc(reps, sizeof(*al[kind]));
		ASSERT_NE(NULL, t[kind]);
		ASSERT_NE(NULL, al[kind]);
	}
	have_nth = !access(FAIL_NTH, W_OK) && !access(FAILSLAB, W_OK);
	if (!have_nth && dmavec_runner())
		ASSERT_TRUE(have_nth) TH_LOG("no fail-nth and failslab: the kernel lacks FAILSLAB");
	ASSERT_EQ(0, read_line(NODMA, nodma, sizeof(nodma)));
	ASSERT_EQ(0, write_file(NODMA, "1"));
	if (have_nth) {
		/* Only what cannot sleep: not the fence the enqueue allocates. */
		read_line(FAILSLAB, gfp_slab, sizeof(gfp_slab));
		ASSERT_EQ(0, write_file(FAILSLAB, "Y"));
		if (!read_line(FAILPAGE, gfp_page, sizeof(gfp_page)))
			ASSERT_EQ(0, write_file(FAILPAGE, "Y"));
	}
	for (c = 0; c < nn; c++) {
		const __u64 bytes = ns[c] * PAGE;

		/* 0: dmavec (DMA-vector), 1: udmabuf (sg_table) */
		snprintf(num, sizeof(num), "%u", ns[c]);
		ASSERT_EQ(0, write_file(CTEST_EXPORT_PAGES, num));
		ASSERT_EQ(0, read_line(CTEST_EXPORT_PAGES, num, sizeof(num)));
		fd[0] = atoi(num);
		fd[1] = udmabuf_pages(ns[c]);
		ASSERT_LE(0, fd[0]);
		ASSERT_LE(0, fd[1]);
		/* Attached first: an enabled buffer without dma-bufs is in fileio mode. */
		ASSERT_EQ(0, iio_attach(self, fd[0]));
		ASSERT_EQ(0, iio_attach(self, fd[1]));
		ASSERT_EQ(0, iio_enable(self, 1));
		/* The first enqueue of each maps: not timed; it names the engine. */
		for (kind = 0; kind < 2; kind++) {
			engines_preps(self, before);
			allocs = -1;
			timed_enqueue(_metadata, self, fd[kind], bytes, 0, &t[kind][0], &allocs);
			engines_preps(self, after);
			for (k = -1, e = 0; e < self->nengines; e++)
				if (after[e] != before[e])
					k = e;
			ASSERT_LE(0, k);
			ASSERT_EQ(0, iio_attached_type(self, fd[kind], type, sizeof(type)));
			ASSERT_STREQ(kind ? "sg_table" : "dma_vec", type);
			nents[kind] = engine_val(self->engine[k], "last_nents");
		}
		/*
		 * In pairs, one submit of each buffer, the one that goes first
		 * alternating: what drifts during the run (the host's load under
		 * TCG) weighs on both alike, and the median of the pairs' ratios
		 * is the comparison.
		 */
		for (i = 0; i < (unsigned int)reps; i++) {
			for (e = 0; e < 2; e++) {
				kind = e ^ (i & 1);
				al[kind][i] = have_nth ? 0 : -1;
				timed_enqueue(_metadata, self, fd[kind], bytes, k, &t[kind][i],
					      &al[kind][i]);
			}
			ratio[i] = t[0][i] * 1000 / (t[1][i] ? t[1][i] : 1);
		}
		for (kind = 0; kind < 2; kind++) {
			/*
			 * The median: what every submit allocates, not what the
			 * kernel allocates once in a while on the way (seen once
			 * in a run).
			 */
			qsort(al[kind], reps, sizeof(*al[kind]), cmp_long);
			a0 = al[kind][reps / 2];
			/* None for the array, at least one for the sg_table. */
			if (have_nth)
				EXPECT_TRUE(kind ? a0 >= 1 : a0 == 0)
					TH_LOG("%s: %ld allocations per submit",
					       kind ? "sg_table" : "dma_vec", a0);
			qsort(t[kind], reps, sizeof(*t[kind]), cmp_ull);
			if (bench)
				printf("==DMAVEC== IIOBENCH %u %s %llu %llu %ld\n", ns[c],
				       kind ? "sg_table" : "dma_vec", nents[kind],
				       t[kind][reps / 2], a0);
		}
		qsort(ratio, reps, sizeof(*ratio), cmp_ull);
		if (bench) {
			printf("==DMAVEC== IIORATIO %u %llu\n", ns[c], ratio[reps / 2]);
			fflush(stdout);
		}
		ASSERT_EQ(0, iio_enable(self, 0));
		for (kind = 0; kind < 2; kind++) {
			ASSERT_EQ(0, iio_detach(self, fd[kind]));
			close(fd[kind]);
		}
	}
	write_file(NODMA, nodma[0] == 'Y' ? "1" : "0");
	if (gfp_slab[0])
		write_file(FAILSLAB, gfp_slab);
	if (gfp_page[0])
		write_file(FAILPAGE, gfp_page);
	for (kind = 0; kind < 2; kind++) {
		free(al[kind]);
		free(t[kind]);
	}
	free(ratio);
}

TEST_HARNESS_MAIN
