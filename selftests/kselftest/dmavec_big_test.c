// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory past 4 GiB: the VM runner's "big" runs give ivshmem an
 * 8 GiB BAR (a sparse host file), which the firmware places above 4 GiB,
 * and boot once per IOMMU mode: strict and lazy (translated: one IOVA
 * range), passthrough and off (the direct path: MMIO at its own address).
 * DMAVEC_EXPECT_MAP says which map type the mode gives ("iova" or
 * "direct").
 *
 * large_free_is_zeroed_before_reuse also runs in the check run (16 MiB
 * BAR): freeing three quarters of the BAR goes to the background scrubber,
 * and the ALLOC that needs that memory again waits for it and gets zeroes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

/*
 * Zeroing gigabytes of a BAR under TCG takes a while, and an ALLOC may wait
 * for it: a liveness bound, not a timing (tests are never timed).
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

#define PAGE 4096ULL
#define GIB 1073741824ULL
#define CTEST_IMPORT "/sys/kernel/debug/dmavec_ctest/import"

static int expect_direct(void)
{
	const char *e = getenv("DMAVEC_EXPECT_MAP");

	return e && !strcmp(e, "direct");
}

static int alloc(int bar, __u64 size, __u32 *h)
{
	struct dmavec_alloc a = { .size = size };

	if (ioctl(bar, DMAVEC_IOCTL_ALLOC, &a))
		return -errno;
	*h = a.handle;
	return 0;
}

static int free_handle(int bar, __u32 h)
{
	struct dmavec_free f = { .handle = h };

	return ioctl(bar, DMAVEC_IOCTL_FREE, &f) ? -errno : 0;
}

/* A dma-buf of @n ranges (offset, length) of allocation @h, or -errno. */
static int export(int bar, __u32 h, const __u64 (*r)[2], int n)
{
	struct dmavec_range ranges[8];
	struct dmavec_export e = { .count = n, .fd_flags = O_RDWR | O_CLOEXEC };
	int i;

	memset(ranges, 0, sizeof(ranges));
	for (i = 0; i < n; i++) {
		ranges[i].handle = h;
		ranges[i].offset = r[i][0];
		ranges[i].length = r[i][1];
	}
	e.ranges = (__u64)(unsigned long)ranges;
	return ioctl(bar, DMAVEC_IOCTL_EXPORT, &e) ? -errno : e.fd;
}

static int info(int bar, struct dmavec_info *i)
{
	return ioctl(bar, DMAVEC_IOCTL_INFO, i) ? -errno : 0;
}

TEST(large_free_is_zeroed_before_reuse)
{
	struct dmavec_info i;
	__u64 size, off[3], whole[1][2];
	__u32 h = 0;
	int bar, buf, k;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_AGENT);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	ASSERT_EQ(0, info(bar, &i));
	ASSERT_EQ(i.bar_size, i.bytes_free) TH_LOG("the BAR is not free");
	/* 6 GiB of an 8 GiB BAR: the checked offsets are 4 GiB, 5 GiB and the last page. */
	size = i.bar_size / 4 * 3;
	off[0] = size / 3 * 2;
	off[1] = size / 6 * 5;
	off[2] = size - PAGE;
	ASSERT_EQ(0, alloc(bar, size, &h));
	whole[0][0] = 0;
	whole[0][1] = size;
	buf = export(bar, h, (const __u64 (*)[2])whole, 1);
	ASSERT_GE(buf, 0);
	/* What a user left in the memory (lowest fit: the allocation is at BAR offset 0). */
	for (k = 0; k < 3; k++)
		ASSERT_EQ(0, agent_fill(off[k], PAGE, 4200 + k));
	/* FREE, then the last reference (the dma-buf), then the file: each returns at once. */
	EXPECT_EQ(0, free_handle(bar, h));
	close(buf);
	close(bar);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	ASSERT_EQ(0, info(bar, &i));
	/* Memory being zeroed counts as free; it is part of bytes_free. */
	EXPECT_EQ(i.bar_size, i.bytes_free);
	EXPECT_LE(i.bytes_scrubbing, size);
	TH_LOG("%llu MiB still being zeroed after the close",
	       (unsigned long long)i.bytes_scrubbing >> 20);
	/* Only a quarter is free otherwise: this ALLOC waits for the scrubber. */
	ASSERT_EQ(0, alloc(bar, size, &h));
	ASSERT_EQ(0, info(bar, &i));
	EXPECT_EQ(0, i.bytes_scrubbing);
	for (k = 0; k < 3; k++) {
		EXPECT_EQ(PAGE, agent_zero(off[k], PAGE))
			TH_LOG("offset %#llx", (unsigned long long)off[k]);
	}
	EXPECT_EQ(0, free_handle(bar, h));
	close(bar);
}

/* "kind K entries N bytes B maxlen M unaligned U" of one import through dmavec_ctest. */
struct report {
	char kind[16];
	unsigned long long entries, bytes, maxlen, unaligned;
	int err;
};

static int ctest_import(int fd, const char *limits, struct report *r)
{
	char buf[160];
	int f, n;

	memset(r, 0, sizeof(*r));
	snprintf(buf, sizeof(buf), "%d%s%s\n", fd, limits ? " " : "", limits ? limits : "");
	f = open(CTEST_IMPORT, O_RDWR);
	if (f < 0)
		return -1;
	if (write(f, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		close(f);
		return -1;
	}
	n = pread(f, buf, sizeof(buf) - 1, 0);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "error %d", &r->err) == 1)
		return 0;
	return sscanf(buf, "kind %15s entries %llu bytes %llu maxlen %llu unaligned %llu",
		      r->kind, &r->entries, &r->bytes, &r->maxlen, &r->unaligned) == 5 ? 0 : -1;
}

static unsigned long long ceil_div(unsigned long long a, unsigned long long b)
{
	return a / b + !!(a % b);
}

/*
 * Entries expected for the @n ranges @r split every @seg bytes: the whole
 * IOVA range behind an IOMMU, each physically contiguous run on the direct
 * path.
 */
static unsigned long long split(const __u64 (*r)[2], int n, __u64 seg, int direct)
{
	unsigned long long total = 0, run = 0;
	int i;

	if (!direct) {
		for (i = 0; i < n; i++)
			total += r[i][1];
		return ceil_div(total, seg);
	}
	/* The direct path: one run per physically contiguous stretch. */
	for (i = 0; i < n; i++) {
		run += r[i][1];
		if (i + 1 == n || r[i][0] + r[i][1] != r[i + 1][0]) {
			total += ceil_div(run, seg);
			run = 0;
		}
	}
	return total;
}

/*
 * Exports of 6 GiB and 8 GiB, in one range and in several swapped ranges,
 * imported through the C importer API three ways: with the device's limits
 * (a maximum segment of UINT_MAX, rounded down to a page, and a 4 GiB
 * boundary: never one entry), stating no limit (one entry per run: one in
 * all behind an IOMMU), and stating 1 GiB and 5 GiB maxima (ceil(size /
 * max) per run). Every entry is page aligned and they sum to the size.
 */
TEST(large_exports_map_to_page_aligned_entries)
{
	static const __u64 six[][2] = { { 0, 6 * GIB } };
	static const __u64 six_swapped[][2] = { { 3 * GIB, 3 * GIB }, { 0, 3 * GIB } };
	static const __u64 eight[][2] = { { 0, 8 * GIB } };
	static const __u64 eight_swapped[][2] = {
		{ 6 * GIB, 2 * GIB }, { 4 * GIB, 2 * GIB }, { 2 * GIB, 2 * GIB }, { 0, 2 * GIB },
	};
	static const struct {
		const char *name;
		const __u64 (*r)[2];
		int n;
		__u64 size;
	} cases[] = {
		{ "6 GiB", six, 1, 6 * GIB },
		{ "6 GiB swapped", six_swapped, 2, 6 * GIB },
		{ "8 GiB", eight, 1, 8 * GIB },
		{ "8 GiB swapped", eight_swapped, 4, 8 * GIB },
	};
	int direct = expect_direct();
	struct dmavec_info i;
	struct report rep;
	unsigned int c;
	__u32 h = 0;
	int bar;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_CTEST);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	ASSERT_EQ(0, info(bar, &i));
	if (i.bar_size < 8 * GIB && !dmavec_runner())
		SKIP(return, "needs an 8 GiB BAR (the VM runner's big mode)");
	ASSERT_GE(i.bar_size, 8 * GIB) TH_LOG("needs the 8 GiB BAR of the big runs");
	ASSERT_EQ(0, alloc(bar, 8 * GIB, &h));
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		int fd = export(bar, h, cases[c].r, cases[c].n);

		ASSERT_GE(fd, 0) TH_LOG("%s", cases[c].name);
		/* The device's limits. */
		ASSERT_EQ(0, ctest_import(fd, NULL, &rep));
		ASSERT_EQ(0, rep.err) TH_LOG("%s", cases[c].name);
		EXPECT_STREQ(direct ? "direct" : "iova", rep.kind);
		EXPECT_EQ(cases[c].size, rep.bytes);
		EXPECT_EQ(0, rep.unaligned);
		EXPECT_GE(rep.entries, 2);
		EXPECT_LE(rep.maxlen, 0xffffffffULL - PAGE + 1);
		/* No limit. */
		ASSERT_EQ(0, ctest_import(fd, "18446744073709551615 18446744073709551615", &rep));
		ASSERT_EQ(0, rep.err);
		EXPECT_EQ(split(cases[c].r, cases[c].n, ~0ULL, direct), rep.entries)
			TH_LOG("%s, no limit", cases[c].name);
		EXPECT_EQ(cases[c].size, rep.bytes);
		EXPECT_EQ(0, rep.unaligned);
		if (!direct)
			EXPECT_EQ(1, rep.entries);
		/* 1 GiB and 5 GiB maxima, no boundary. */
		ASSERT_EQ(0, ctest_import(fd, "1073741824 18446744073709551615", &rep));
		ASSERT_EQ(0, rep.err);
		EXPECT_EQ(split(cases[c].r, cases[c].n, GIB, direct), rep.entries)
			TH_LOG("%s, 1 GiB", cases[c].name);
		EXPECT_EQ(GIB, rep.maxlen);
		EXPECT_EQ(0, rep.unaligned);
		ASSERT_EQ(0, ctest_import(fd, "5368709120 18446744073709551615", &rep));
		ASSERT_EQ(0, rep.err);
		EXPECT_EQ(split(cases[c].r, cases[c].n, 5 * GIB, direct), rep.entries)
			TH_LOG("%s, 5 GiB", cases[c].name);
		EXPECT_EQ(cases[c].size, rep.bytes);
		EXPECT_EQ(0, rep.unaligned);
		/* Bad limits: EINVAL, nothing mapped. */
		ASSERT_EQ(0, ctest_import(fd, "4095 18446744073709551615", &rep));
		EXPECT_EQ(-EINVAL, rep.err);
		ASSERT_EQ(0, ctest_import(fd, "1073741824 0", &rep));
		EXPECT_EQ(-EINVAL, rep.err);
		close(fd);
	}
	EXPECT_EQ(0, free_handle(bar, h));
	close(bar);
}

/*
 * edu DMAs into a 6 GiB dma-buf of two swapped 3 GiB ranges: buffer offset
 * b is BAR offset 3 GiB + b below 3 GiB, and b - 3 GiB above. Its writes at
 * buffer offsets 1 GiB + x and 2 GiB + y land past 4 GiB and past 5 GiB of
 * the BAR, one across the two ranges lands at both ends, one past 4 GiB of
 * the buffer lands at 1 GiB: all checked in the host file, and read back.
 * edu states no segment limit: one IOVA entry behind an IOMMU, one entry
 * per range on the direct path; either way its DMA addresses are above
 * 4 GiB, which it programs into its 64-bit address registers.
 */
TEST(edu_dma_past_4_gib)
{
	static const __u64 swapped[][2] = { { 3 * GIB, 3 * GIB }, { 0, 3 * GIB } };
	static const struct { __u64 buf, len, host; } x[] = {
		{ GIB + 12345, 6000, 4 * GIB + 12345 },
		{ 2 * GIB + 777, 4096, 5 * GIB + 777 },
		{ 3 * GIB - 3000, 3000, 6 * GIB - 3000 },
		{ 3 * GIB, 3000, 0 },
		{ 4 * GIB + 5, 2048, GIB + 5 },
	};
	struct dmavec_edu_import im = { 0 };
	struct dmavec_edu_info ei;
	struct dmavec_info i;
	__u8 want[6000], got[6000];
	unsigned int k;
	__u32 h = 0;
	int bar, edu, fd;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_EDU | NEED_AGENT);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	edu = open_node("dmavec-edu-", NULL, 0);
	ASSERT_GE(edu, 0) TH_LOG("no edu importer");
	ASSERT_EQ(0, info(bar, &i));
	if (i.bar_size < 8 * GIB && !dmavec_runner())
		SKIP(return, "needs an 8 GiB BAR (the VM runner's big mode)");
	ASSERT_GE(i.bar_size, 8 * GIB) TH_LOG("needs the 8 GiB BAR of the big runs");
	ASSERT_EQ(0, alloc(bar, 6 * GIB, &h));
	fd = export(bar, h, swapped, 2);
	ASSERT_GE(fd, 0);
	im.fd = fd;
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &ei));
	EXPECT_EQ(6 * GIB, ei.size);
	if (expect_direct()) {
		EXPECT_EQ(DMAVEC_EDU_MAP_DIRECT, ei.map_type);
		EXPECT_EQ(2, ei.entries);
	} else {
		EXPECT_EQ(DMAVEC_EDU_MAP_IOVA, ei.map_type);
		EXPECT_EQ(1, ei.entries);
	}
	EXPECT_GT(ei.first_addr + 6 * GIB - 1, 0xffffffffULL);
	TH_LOG("map type %u, %u entries, first DMA address %#llx", ei.map_type, ei.entries,
	       (unsigned long long)ei.first_addr);
	/* The first range starts 3 GiB into the BAR; on the direct path edu sees it there. */
	if (expect_direct())
		EXPECT_GT(ei.first_addr, 0xffffffffULL);
	for (k = 0; k < ARRAY_SIZE(x); k++) {
		__u32 seed = 6100 + k;

		ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_WRITE, x[k].buf, x[k].len, seed, NULL))
			TH_LOG("write at buffer offset %#llx", (unsigned long long)x[k].buf);
		EXPECT_EQ((long)x[k].len, agent_check(x[k].host, x[k].len, seed))
			TH_LOG("host offset %#llx", (unsigned long long)x[k].host);
		ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_READ, x[k].buf, x[k].len, 0, got));
		agent_pattern(seed, want, x[k].len);
		EXPECT_EQ(0, memcmp(want, got, x[k].len));
	}
	/* The write across the two ranges, checked as the buffer sees it. */
	ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_WRITE, 3 * GIB - 2000, 4000, 6200, NULL));
	agent_pattern(6200, want, 4000);
	EXPECT_EQ(2000, agent_check(6 * GIB - 2000, 2000, 6200));
	ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_READ, 3 * GIB - 2000, 4000, 0, got));
	EXPECT_EQ(0, memcmp(want, got, 4000));
	ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
	close(fd);
	EXPECT_EQ(0, free_handle(bar, h));
	close(edu);
	close(bar);
}

/* The whole kernel log (SYSLOG_ACTION_READ_ALL). */
static int klog(char *buf, int len)
{
	return klogctl(3, buf, len);
}

/*
 * edu loaded with dma_bits=32: a 6 GiB buffer cannot be mapped for it on
 * any path (ERANGE, before any DMA call); one page at the bottom of the
 * BAR (above 4 GiB) is reached through the IOMMU in translated modes, and
 * refused with ERANGE on the direct path, where the DMA API would warn.
 * The kernel log stays as it was.
 */
TEST(narrow_importer_is_erange_and_quiet)
{
	static char before[1 << 17], after[1 << 17];
	static const __u64 six[][2] = { { 0, 6 * GIB } };
	static const __u64 page[][2] = { { 0, PAGE } };
	struct dmavec_edu_import im = { 0 };
	struct dmavec_edu_info ei;
	int bar, edu, big, small, n1, n2;
	__u32 h = 0;

	/* dmavec_edu loaded with dma_bits=32, which user space cannot tell. */
	if (!dmavec_runner())
		SKIP(return, "needs dmavec_edu dma_bits=32, 8 GiB BAR (the VM runner's big mode)");
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	edu = open_node("dmavec-edu-", NULL, 0);
	ASSERT_GE(edu, 0);
	ASSERT_EQ(0, alloc(bar, 6 * GIB, &h));
	big = export(bar, h, six, 1);
	ASSERT_GE(big, 0);
	small = export(bar, h, page, 1);
	ASSERT_GE(small, 0);
	n1 = klog(before, sizeof(before));
	ASSERT_GT(n1, 0);
	im.fd = big;
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
	EXPECT_EQ(-1, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &ei));
	EXPECT_EQ(ERANGE, errno);
	EXPECT_EQ(-ERANGE, edu_xfer(edu, DMAVEC_EDU_IOCTL_WRITE, 0, PAGE, 1, NULL));
	im.fd = small;
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
	if (expect_direct()) {
		EXPECT_EQ(-1, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &ei));
		EXPECT_EQ(ERANGE, errno);
	} else {
		ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &ei));
		EXPECT_LE(ei.first_addr + PAGE - 1, 0xffffffffULL);
		ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_WRITE, 0, PAGE, 6300, NULL));
		EXPECT_EQ(PAGE, agent_check(0, PAGE, 6300));
	}
	n2 = klog(after, sizeof(after));
	EXPECT_EQ(n1, n2) TH_LOG("new: %.*s", n2 > n1 ? n2 - n1 : 0, after + n1);
	EXPECT_EQ(0, memcmp(before, after, n1));
	ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
	close(small);
	close(big);
	EXPECT_EQ(0, free_handle(bar, h));
	close(edu);
	close(bar);
}

TEST_HARNESS_MAIN
