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
#include <unistd.h>
#include <linux/dma-heap.h>
#include <linux/types.h>
#include <linux/udmabuf.h>

#include "kselftest_harness.h"
#include "dmavec_util.h"

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

static int udmabuf_alloc(size_t len)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
	int mfd, dev, fd;

	mfd = memfd_create("dmavec", MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -1;
	if (ftruncate(mfd, len) || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		close(mfd);
		return -1;
	}
	dev = open("/dev/udmabuf", O_RDWR);
	if (dev < 0) {
		close(mfd);
		return -1;
	}
	c.memfd = mfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	close(dev);
	close(mfd);
	return fd;
}

FIXTURE(importers) {
	const char *file;
};

FIXTURE_VARIANT(importers) {
	const char *file;
};

FIXTURE_VARIANT_ADD(importers, c_api) {
	.file = CTEST "import",
};

FIXTURE_VARIANT_ADD(importers, rust_api) {
	.file = RTEST "import",
};

FIXTURE_SETUP(importers)
{
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

TEST_F(importers, dma_heap_buffer_entries_add_up)
{
	const size_t len = 1 << 20;
	struct report r;
	int fd = heap_alloc(len);

	ASSERT_GE(fd, 0) TH_LOG("no /dev/dma_heap/system");
	ASSERT_EQ(0, import(self->file, fd, &r));
	EXPECT_EQ(0, r.error);
	EXPECT_STREQ("sg-table", r.kind);
	EXPECT_GE(r.entries, 1);
	EXPECT_EQ(len, r.bytes);
	close(fd);
}

TEST_F(importers, udmabuf_entries_add_up)
{
	const size_t len = 64 * 4096;
	struct report r;
	int fd = udmabuf_alloc(len);

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
	int before = buffers_matching(want);
	int fd = read_fd_from(CTEST "export");

	ASSERT_GE(before, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(before + 1, buffers_matching(want));
	/* The last reference goes with the fd: the buffer leaves the list. */
	close(fd);
	EXPECT_EQ(before, buffers_matching(want));
}

TEST_HARNESS_MAIN
