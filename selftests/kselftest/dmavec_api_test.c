// SPDX-License-Identifier: GPL-2.0
/*
 * kselftests of the dmavec exporter and importer APIs, through the test
 * modules' debugfs files: the C API (dmavec_ctest) and the Rust API
 * (dmavec_test), importing for QEMU's edu device behind the emulated IOMMU.
 *  - dmavec buffers, exported from C, imported from C and from Rust: the
 *    mapping core, one IOVA entry, one dma_iova_sync() per map;
 *  - buffers of other exporters (a dma-buf heap, udmabuf): the importer API
 *    presents the DMA side of their sg_table, entries adding up to the size;
 *  - bad file descriptors get a precise errno.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-heap.h>
#include <linux/types.h>
#include <linux/udmabuf.h>

#include "kselftest_harness.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define CTEST "/sys/kernel/debug/dmavec_ctest/"
#define RTEST "/sys/kernel/debug/dmavec_test/"
#define STATS "/sys/kernel/debug/dmavec/stats"

struct report {
	char kind[32];
	unsigned long entries, bytes;
	int error;
};

/* Writes @fd to an import file and parses what it reports. */
static int import(const char *file, int fd, struct report *r)
{
	char buf[160];
	int f, n;

	memset(r, 0, sizeof(*r));
	f = open(file, O_RDWR);
	if (f < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d\n", fd);
	if (write(f, buf, n) != n) {
		close(f);
		return -1;
	}
	lseek(f, 0, SEEK_SET);
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "error %d", &r->error) == 1)
		return 0;
	n = sscanf(buf, "kind %31s entries %lu bytes %lu", r->kind, &r->entries,
		   &r->bytes);
	return n == 3 ? 0 : -1;
}

static int heap_alloc(size_t len)
{
	struct dma_heap_allocation_data d = {
		.len = len,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open("/dev/dma_heap/system", O_RDONLY), ret;

	if (heap < 0)
		return -1;
	ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d);
	close(heap);
	return ret ? -1 : (int)d.fd;
}

FIXTURE(importers) {
	const char *file;
};

FIXTURE_VARIANT(importers) {
	const char *file;
	unsigned int needs;
};

FIXTURE_VARIANT_ADD(importers, c_api) {
	.file = CTEST "import",
	.needs = NEED_STATS | NEED_CTEST,
};

FIXTURE_VARIANT_ADD(importers, rust_api) {
	.file = RTEST "import",
	.needs = NEED_STATS | NEED_CTEST | NEED_RTEST,
};

FIXTURE_SETUP(importers)
{
	DMAVEC_NEEDS(return, variant->needs);
	self->file = variant->file;
}

FIXTURE_TEARDOWN(importers)
{
}

TEST_F(importers, dmavec_buffer_is_one_iova_entry)
{
	unsigned long long before;
	struct report r;
	int fd = read_fd_from(CTEST "export");

	ASSERT_GE(fd, 0);
	before = read_key(STATS, "iova_syncs");
	ASSERT_EQ(0, import(self->file, fd, &r));
	EXPECT_EQ(0, r.error);
	EXPECT_STREQ("iova", r.kind);
	EXPECT_EQ(1, r.entries);
	EXPECT_EQ(16 * 4096, r.bytes);
	EXPECT_EQ(before + 1, read_key(STATS, "iova_syncs"));
	close(fd);
}

/*
 * A dma-heap buffer through both importer faces: the DMA side of the heap's
 * sg_table. The importers raise edu's maximum segment to UINT_MAX, and the
 * IOMMU maps the table at one IOVA range, so the entries (the DMA segments,
 * not the heap's chunks) are one. foreign_mapping_keeps_importer_limits
 * checks the same path with tight limits.
 */
TEST_F(importers, dma_heap_buffer_entries_add_up)
{
	const size_t len = 1 << 20;
	struct report r;
	int fd;

	DMAVEC_NEEDS(return, NEED_DMA_HEAP);
	fd = heap_alloc(len);
	ASSERT_GE(fd, 0) TH_LOG("no /dev/dma_heap/system");
	ASSERT_EQ(0, import(self->file, fd, &r));
	EXPECT_EQ(0, r.error);
	EXPECT_STREQ("sg-table", r.kind);
	EXPECT_EQ(1, r.entries);
	EXPECT_EQ(len, r.bytes);
	close(fd);
}

/*
 * Another exporter's sg_table is presented within the importer's limits: a
 * 60 KiB dma-heap buffer (15 single pages: the system heap takes larger
 * chunks only for 64 KiB and more) mapped for edu with a 4 KiB maximum
 * segment and an 8 KiB segment boundary gives entries of at most 4 KiB,
 * none crossing an 8 KiB boundary; the IOMMU maps the table at contiguous
 * IOVA, and merging it without the limits would give one 60 KiB entry. The
 * mapping is made for DMA_TO_DEVICE: asking again for DMA_FROM_DEVICE is
 * EBUSY, for DMA_TO_DEVICE it returns the mapping (issue 12, item 5).
 */
TEST(foreign_mapping_keeps_importer_limits)
{
	const size_t len = 15 * 4096;
	unsigned long entries, bytes, total, maxlen, crossing;
	int fd, f, n, other, same;
	char buf[256], kind[32];

	DMAVEC_NEEDS(return, NEED_RTEST | NEED_DMA_HEAP);
	fd = heap_alloc(len);
	ASSERT_GE(fd, 0) TH_LOG("no /dev/dma_heap/system");
	f = open(RTEST "import", O_RDWR);
	ASSERT_GE(f, 0);
	n = snprintf(buf, sizeof(buf), "%d 4096 8191\n", fd);
	ASSERT_EQ(n, write(f, buf, n));
	n = pread(f, buf, sizeof(buf) - 1, 0);
	close(f);
	ASSERT_GT(n, 0);
	buf[n] = '\0';
	n = sscanf(buf, "kind %31s entries %lu bytes %lu total %lu", kind, &entries, &bytes,
		   &total);
	ASSERT_EQ(4, n) TH_LOG("report: %s", buf);
	n = sscanf(strchr(buf, '\n') + 1, "maxlen %lu crossing %lu other-dir %d same-dir %d",
		   &maxlen, &crossing, &other, &same);
	ASSERT_EQ(4, n) TH_LOG("report: %s", buf);
	EXPECT_STREQ("sg-table", kind);
	EXPECT_EQ(len, bytes);
	EXPECT_EQ(len, total);
	EXPECT_GE(entries, len / 4096);
	EXPECT_LE(maxlen, 4096);
	EXPECT_EQ(0, crossing);
	EXPECT_EQ(-EBUSY, other);
	EXPECT_EQ(0, same);
	close(fd);
}

TEST_F(importers, udmabuf_entries_add_up)
{
	const size_t len = 64 * 4096;
	struct report r;
	int fd;

	DMAVEC_NEEDS(return, NEED_UDMABUF);
	fd = udmabuf_alloc(len);
	ASSERT_GE(fd, 0) TH_LOG("udmabuf creation failed");
	ASSERT_EQ(0, import(self->file, fd, &r));
	EXPECT_EQ(0, r.error);
	EXPECT_STREQ("sg-table", r.kind);
	EXPECT_EQ(len, r.bytes);
	close(fd);
}

/*
 * Attach and map through the importer API under fault injection: every
 * injected failure is ENOMEM, and the import works again without it.
 */
TEST_F(importers, allocation_failures_are_enomem)
{
	struct report r;
	int n, fd = read_fd_from(CTEST "export"), enomem = 0, other = 0, done = 0;
	int left, absorbed = 0;

	if (!fail_nth_available())
		SKIP(return, "no fault injection in this kernel (plain flavour)");
	ASSERT_GE(fd, 0);
	for (n = 1; n < 300 && !done; n++) {
		char buf[160];
		int f = open(self->file, O_RDWR), len, got;

		ASSERT_GE(f, 0);
		len = snprintf(buf, sizeof(buf), "%d\n", fd);
		/* Armed around the write alone, which attaches and maps. */
		ASSERT_EQ(0, fail_nth(n));
		got = write(f, buf, len);
		left = fail_left();
		fail_nth(0);
		ASSERT_EQ(len, got);
		lseek(f, 0, SEEK_SET);
		got = read(f, buf, sizeof(buf) - 1);
		close(f);
		ASSERT_GT(got, 0);
		buf[got] = '\0';
		memset(&r, 0, sizeof(r));
		if (sscanf(buf, "error %d", &r.error) != 1)
			ASSERT_EQ(1, sscanf(buf, "kind %31s", r.kind));
		/* Until it succeeds without a failure injected (see dmavec_uapi_test). */
		if (!r.error && left)
			done = 1;
		else if (!r.error)
			absorbed++;
		else if (r.error == -ENOMEM)
			enomem++;
		else
			other++;
	}
	EXPECT_EQ(1, done);
	TH_LOG("fail-nth: %d failures injected (attach+map, %d absorbed)",
	       enomem + other + absorbed, absorbed);
	EXPECT_GE(enomem, 1);
	EXPECT_EQ(0, other);
	EXPECT_STREQ("iova", r.kind);
	close(fd);
}

/* dmavec_ctest's export file, opened by prepare and read by call. */
static int export_file = -1;

static int export_prepare(void *ctx)
{
	export_file = open(CTEST "export", O_RDONLY);
	return export_file < 0 ? -1 : 0;
}

/* One dmavec_export() of the C test module: a new fd, or -errno. */
static int export_call(void *ctx)
{
	char buf[32];
	int n = read(export_file, buf, sizeof(buf) - 1), ret;

	ret = n < 0 ? -errno : n == 0 ? -EIO : 0;
	close(export_file);
	if (ret)
		return ret;
	buf[n] = '\0';
	return atoi(buf);
}

static void export_after(void *ctx, int ret)
{
	if (ret >= 0)
		close(ret);
}

/*
 * dmavec_export() under fault injection, from C: every allocation on its
 * way fails in turn. Each failure must be ENOMEM with nothing created, so
 * the module frees its pages itself; a dma-buf that existed when the error
 * was returned would be released through dmavec's ops too, and the pages
 * freed twice (KASAN), or kept (kmemleak). The sweep runs with 0 to 16 other
 * buffers alive, so that a registry that grew with their number would grow,
 * and could fail, during one of the sweeps (issue 12, item 2).
 */
TEST(c_export_fails_cleanly_at_every_allocation)
{
	static const struct fail_sweep_ops ops = {
		.prepare = export_prepare,
		.call = export_call,
		.after = export_after,
	};
	struct fail_sweep_counts c;
	int held[16], p, fd, injected = 0;

	DMAVEC_NEEDS(return, NEED_CTEST);
	if (!fail_nth_available())
		SKIP(return, "no fault injection in this kernel (plain flavour)");
	for (p = 0; p <= 16; p++) {
		fd = fail_sweep(&ops, NULL, &c);
		ASSERT_GE(fd, 0) TH_LOG("%d buffers alive: %d", p, fd);
		EXPECT_GE(c.enomem, 1);
		EXPECT_EQ(0, c.other);
		EXPECT_EQ(0, c.unconsumed);
		injected += c.injected;
		close(fd);
		if (p < 16) {
			held[p] = read_fd_from(CTEST "export");
			ASSERT_GE(held[p], 0);
		}
	}
	for (p = 0; p < 16; p++)
		close(held[p]);
	TH_LOG("fail-nth: %d failures injected (dmavec_export from C, 17 sweeps)", injected);
}

TEST_F(importers, bad_fds_are_refused)
{
	struct report r;
	int null = open("/dev/null", O_RDONLY);

	ASSERT_EQ(0, import(self->file, 1000, &r));
	EXPECT_EQ(-EBADF, r.error);
	ASSERT_GE(null, 0);
	ASSERT_EQ(0, import(self->file, null, &r));
	EXPECT_EQ(-EINVAL, r.error);
	close(null);
}

/* Revokes and restores @fd with dmavec_revoke(); its return value, or 1. */
static int c_revoke(int fd)
{
	char buf[64];
	int f = open(CTEST "revoke", O_RDWR), n, ret = 1;

	if (f < 0)
		return 1;
	n = snprintf(buf, sizeof(buf), "%d\n", fd);
	if (write(f, buf, n) == n) {
		n = pread(f, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "revoke %d", &ret) != 1)
				ret = 1;
		}
	}
	close(f);
	return ret;
}

/*
 * dmavec_revoke() checks that the dma-buf is dmavec's before it touches its
 * private data: a dma-heap buffer gets -EINVAL and is left alone; a dmavec
 * buffer is revoked (the counter moves) and restored (issue 12, item 9).
 */
TEST(revoke_checks_the_exporter)
{
	unsigned long long before;
	int heap, mine;

	DMAVEC_NEEDS(return, NEED_STATS | NEED_CTEST | NEED_DMA_HEAP);
	before = read_key(STATS, "revocations");
	heap = heap_alloc(4096);
	mine = read_fd_from(CTEST "export");
	ASSERT_GE(heap, 0) TH_LOG("no /dev/dma_heap/system");
	ASSERT_GE(mine, 0);
	EXPECT_EQ(-EINVAL, c_revoke(heap));
	EXPECT_EQ(before, read_key(STATS, "revocations"));
	EXPECT_EQ(0, c_revoke(mine));
	EXPECT_EQ(before + 1, read_key(STATS, "revocations"));
	close(heap);
	close(mine);
}

/* A child process that runs @fn(@arg) and exits with its result. */
static pid_t spawn(int (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();

	if (!pid)
		_exit(fn(arg));
	return pid;
}

static int write_hold(const char *arg)
{
	return write_file(CTEST "hold", arg) ? 1 : 0;
}

static int read_buffers(const char *unused)
{
	char line[512];
	FILE *f = fopen("/sys/kernel/debug/dmavec/buffers", "r");

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		;
	fclose(f);
	return 0;
}

/*
 * A reader of debugfs dmavec/buffers waits for the reservation lock of each
 * buffer it prints, and one importer may hold it long. The reader must not
 * hold the registry's lock meanwhile: an export (which registers its buffer)
 * completes while the lock is still held, as the holder counts (issue 12,
 * item 13).
 */
TEST(slow_importer_does_not_stall_exports)
{
	int held, fd, status, ms = 0, n = -1, f;
	char arg[64];
	pid_t holder, reader;

	DMAVEC_NEEDS(return, NEED_STATS | NEED_CTEST);
	held = read_fd_from(CTEST "export");
	ASSERT_GE(held, 0);
	snprintf(arg, sizeof(arg), "%d 3000", held);
	holder = spawn(write_hold, arg);
	ASSERT_GT(holder, 0);
	usleep(300000);
	reader = spawn(read_buffers, NULL);
	ASSERT_GT(reader, 0);
	usleep(300000);
	/* The reader is blocked on the held buffer; an export still goes through. */
	fd = read_fd_from(CTEST "export");
	EXPECT_GE(fd, 0);
	ASSERT_EQ(reader, waitpid(reader, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(holder, waitpid(holder, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	f = open(CTEST "hold", O_RDONLY);
	ASSERT_GE(f, 0);
	memset(arg, 0, sizeof(arg));
	ASSERT_LT(0, read(f, arg, sizeof(arg) - 1));
	close(f);
	f = sscanf(arg, "held %d exports %d", &ms, &n);
	ASSERT_EQ(2, f) TH_LOG("%s", arg);
	EXPECT_EQ(1, n) TH_LOG("the export waited for the reservation lock's holder");
	close(fd);
	close(held);
}

/* Counts the lines of debugfs dmavec/buffers that contain @needle. */
static int buffers_matching(const char *needle)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/sys/kernel/debug/dmavec/buffers", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

TEST(debugfs_lists_live_buffers)
{
	const char *want = "exporter dmavec_ctest size 65536 ram ranges 16";
	int before, fd;

	DMAVEC_NEEDS(return, NEED_STATS | NEED_CTEST);
	before = buffers_matching(want);
	fd = read_fd_from(CTEST "export");
	ASSERT_GE(before, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(before + 1, buffers_matching(want));
	/* The last reference goes with the fd: the buffer leaves the list. */
	close(fd);
	EXPECT_EQ(before, buffers_matching(want));
}

TEST_HARNESS_MAIN
