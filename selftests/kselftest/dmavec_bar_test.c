// SPDX-License-Identifier: GPL-2.0
/*
 * kselftests of the dmavec_bar exporter: binding to QEMU's ivshmem, what it
 * reports about the exported BAR, unbind/rebind, and that the BAR is the
 * memory the host sees (checked through the VM runner's host agent): after
 * a rebind, a scrub, a multi-range export, and a reset.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_dev.h"
#include "dmavec_edu_util.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define DRIVER "/sys/bus/pci/drivers/dmavec_bar"
#define PAGE 4096ULL

static unsigned long read_hex(const char *path)
{
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lx", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Finds the first ivshmem (1af4:1110) device; returns 0 and its name. */
static int find_ivshmem(char *bdf, size_t len)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d = opendir(PCI_DEVICES);
	int ret = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/vendor", de->d_name);
		if (read_hex(path) != 0x1af4)
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/device", de->d_name);
		if (read_hex(path) != 0x1110)
			continue;
		snprintf(bdf, len, "%s", de->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Reads "key: value" from the debugfs bar file. */
static int bar_field(const char *bdf, const char *key, unsigned long long *val)
{
	char path[PATH_MAX], line[128], fmt[64];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/sys/kernel/debug/dmavec_bar/%s/bar", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	snprintf(fmt, sizeof(fmt), "%s: %%lli", key);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, val) == 1)
			found = 1;
	fclose(f);
	return found ? 0 : -1;
}

FIXTURE(ivshmem) {
	char bdf[256];
};

FIXTURE_SETUP(ivshmem)
{
	int found = find_ivshmem(self->bdf, sizeof(self->bdf));

	if (found && !dmavec_runner())
		SKIP(return, "no ivshmem-plain device (1af4:1110)");
	ASSERT_EQ(0, found) TH_LOG("no ivshmem device (1af4:1110) in the VM");
	if (access(DRIVER, F_OK) && !dmavec_runner())
		SKIP(return, "no dmavec_bar driver (the dmavec_bar module)");
}

FIXTURE_TEARDOWN(ivshmem)
{
}

TEST_F(ivshmem, bound_to_dmavec_bar)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", self->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_GT(n, 0);
	link[n] = '\0';
	EXPECT_STREQ("dmavec_bar", basename(link));

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/enable", self->bdf);
	EXPECT_EQ(1, read_hex(path));
}

TEST_F(ivshmem, debugfs_reports_the_bar)
{
	unsigned long long index, start, size, rs, re, rf;
	char path[PATH_MAX], line[256];
	const char *want;
	FILE *f;
	int i, n;

	DMAVEC_NEEDS(return, NEED_STATS);
	ASSERT_EQ(0, bar_field(self->bdf, "index", &index));
	ASSERT_EQ(0, bar_field(self->bdf, "start", &start));
	ASSERT_EQ(0, bar_field(self->bdf, "size", &size));
	EXPECT_EQ(2, index);

	/* Line 'index' of sysfs 'resource' is "start end flags" of that BAR. */
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource", self->bdf);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	for (i = 0; i <= (int)index; i++)
		ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	fclose(f);
	n = sscanf(line, "%llx %llx %llx", &rs, &re, &rf);
	ASSERT_EQ(3, n);
	EXPECT_EQ(rs, start);
	EXPECT_EQ(re - rs + 1, size);

	/* The runner tells the guest the size of the host file. */
	want = getenv("DMAVEC_SHM_SIZE");
	if (want)
		EXPECT_EQ(strtoull(want, NULL, 0), size);
}

TEST_F(ivshmem, unbind_and_rebind)
{
	char path[PATH_MAX];
	unsigned long long size;

	DMAVEC_NEEDS(return, NEED_STATS);
	snprintf(path, sizeof(path), DRIVER "/%s", self->bdf);
	ASSERT_EQ(0, write_str(DRIVER "/unbind", self->bdf));
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_NE(0, bar_field(self->bdf, "size", &size));

	ASSERT_EQ(0, write_str(DRIVER "/bind", self->bdf));
	EXPECT_EQ(0, access(path, F_OK));
	EXPECT_EQ(0, bar_field(self->bdf, "size", &size));
}

TEST_F(ivshmem, bar_is_the_host_memory)
{
	const size_t len = 4096, off_host = 0, off_guest = 8192;
	__u8 want[4096], got[4096];
	char path[PATH_MAX];
	__u8 *bar;
	int fd;

	DMAVEC_NEEDS(return, NEED_AGENT);
	/* Host writes, guest reads through a mapping of the BAR. */
	ASSERT_EQ(0, agent_fill(off_host, len, 0x1234)) TH_LOG("host agent did not answer");
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource2", self->bdf);
	fd = open(path, O_RDWR | O_SYNC);
	ASSERT_GE(fd, 0);
	bar = mmap(NULL, 4 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, bar);
	agent_pattern(0x1234, want, len);
	memcpy(got, bar + off_host, len);
	EXPECT_EQ(0, memcmp(want, got, len));

	/* Guest writes through the BAR, host reads its file. */
	agent_pattern(0xbeef, want, len);
	memcpy(bar + off_guest, want, len);
	munmap(bar, 4 * len);
	ASSERT_EQ(0, agent_read(off_guest, got, len));
	EXPECT_EQ(0, memcmp(want, got, len));
}

/*
 * Stale data across binds (issue 25, item 7): the host fills the whole BAR
 * with a pattern, dmavec_bar is unbound and bound again, and an ALLOC of
 * the whole BAR hands out zeroes only: memory never zeroed since the bind
 * is zeroed by ALLOC before it returns.
 */
TEST_F(ivshmem, rebind_hands_out_zeroes)
{
	struct dmavec_info info = { 0 };
	struct dmavec_alloc all = { 0 };
	struct dmavec_free fr = { 0 };
	__u8 got[4096], zero[4096] = { 0 };
	unsigned long long off;
	int bar, i;

	DMAVEC_NEEDS(return, NEED_AGENT);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_INFO, &info));
	close(bar);
	ASSERT_EQ(0, write_str(DRIVER "/unbind", self->bdf));
	ASSERT_EQ(0, agent_fill(0, info.bar_size, 0x7e57));
	ASSERT_EQ(0, write_str(DRIVER "/bind", self->bdf));
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	all.size = info.bar_size;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &all));
	/* The first, a middle and the last page, read in the host file. */
	for (i = 0; i < 3; i++) {
		off = i * (info.bar_size / 2);
		if (off >= info.bar_size)
			off = info.bar_size - sizeof(got);
		ASSERT_EQ(0, agent_read(off, got, sizeof(got)));
		EXPECT_EQ(0, memcmp(zero, got, sizeof(got)))
			TH_LOG("BAR offset %#llx holds the previous contents", off);
	}
	fr.handle = all.handle;
	EXPECT_EQ(0, ioctl(bar, DMAVEC_IOCTL_FREE, &fr));
	close(bar);
}

/*
 * Allocations that wait together for one scrub (issue 25, item 1). The whole
 * BAR is allocated, filled by the host and freed; dmavec_test's scrub_hold
 * holds the scrubber before it zeroes it, while WAITERS processes ALLOC an
 * eighth of the BAR each and wait for it (debugfs "alloc_waiting" counts
 * them). Then the scrubber runs, they all get their memory, and they all
 * free it at once. Each of their allocations is larger than what a free
 * zeroes inline, so each must be queued for the scrubber: none may find its
 * queue without room ("lost_scrubs"), and once the scrubber is done the host
 * file holds zeroes where the host wrote.
 */
#define WAITERS 6

TEST_F(ivshmem, waiters_behind_one_scrub_keep_room_for_their_scrubs)
{
	struct dmavec_info info = { 0 };
	struct dmavec_alloc all = { 0 };
	struct dmavec_free fr = { 0 };
	unsigned long long lost, waiting;
	int bar, i, status, go[2], done[2];
	__u8 got[4096], zero[4096] = { 0 };
	pid_t pid[WAITERS];
	char ok;

	DMAVEC_NEEDS(return, NEED_STATS | NEED_RTEST | NEED_AGENT);
	bar = open_node("dmavec-", NULL, 0);
	ASSERT_GE(bar, 0);
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_INFO, &info));
	/* Each waiter's allocation is more than a free zeroes inline (1 MiB). */
	ASSERT_GT(info.bar_size / 8, 1ULL << 20) TH_LOG("BAR too small for the test");
	ASSERT_EQ(0, bar_field(self->bdf, "lost_scrubs", &lost));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));

	all.size = info.bar_size;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &all));
	ASSERT_EQ(0, agent_fill(0, 4096, 0x5c5c));
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, agent_fill(i * (info.bar_size / 8), 4096, 0x5c5c + i));
	ASSERT_EQ(0, write_file("/sys/kernel/debug/dmavec_test/scrub_hold", "1"));
	fr.handle = all.handle;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_FREE, &fr));

	for (i = 0; i < WAITERS; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (!pid[i]) {
			struct dmavec_alloc a = { .size = info.bar_size / 8 };
			struct dmavec_free f = { 0 };
			int fd = open_node("dmavec-", NULL, 0);

			ok = fd >= 0 && !ioctl(fd, DMAVEC_IOCTL_ALLOC, &a);
			if (write(done[1], &ok, 1) != 1 || read(go[0], &ok, 1) != 1)
				_exit(2);
			f.handle = a.handle;
			_exit(ioctl(fd, DMAVEC_IOCTL_FREE, &f) ? 1 : 0);
		}
	}
	/* Every waiter waits for the held scrub. */
	for (i = 0; i < 1000; i++) {
		if (!bar_field(self->bdf, "alloc_waiting", &waiting) && waiting == WAITERS)
			break;
		usleep(10000);
	}
	EXPECT_EQ(WAITERS, waiting);
	ASSERT_EQ(0, write_file("/sys/kernel/debug/dmavec_test/scrub_hold", "0"));
	for (i = 0; i < WAITERS; i++) {
		ASSERT_EQ(1, read(done[0], &ok, 1));
		EXPECT_TRUE(ok) TH_LOG("a waiter's ALLOC failed");
	}
	/* All free at once. */
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(1, write(go[1], "g", 1));
	for (i = 0; i < WAITERS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* This ALLOC of the whole BAR waits until every scrub is done. */
	memset(&all, 0, sizeof(all));
	all.size = info.bar_size;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &all));
	ASSERT_EQ(0, bar_field(self->bdf, "lost_scrubs", &waiting));
	EXPECT_EQ(lost, waiting) TH_LOG("freed allocations found no room to be scrubbed");
	for (i = 0; i < WAITERS; i++) {
		ASSERT_EQ(0, agent_read(i * (info.bar_size / 8), got, sizeof(got)));
		EXPECT_EQ(0, memcmp(zero, got, sizeof(got))) TH_LOG("eighth %d not zeroed", i);
	}
	fr.handle = all.handle;
	EXPECT_EQ(0, ioctl(bar, DMAVEC_IOCTL_FREE, &fr));
	close(bar);
}

/*
 * Two discontiguous ranges, the second before the first: one allocation of
 * the whole BAR starts at offset 0, so the host file offsets are known.
 */
TEST_F(dev, export_two_ranges_reaches_the_host)
{
	struct dmavec_range r[2];
	__u8 want[PAGE], got[PAGE], *map;
	__u32 h = 0;
	int buf;

	DMAVEC_NEEDS(return, NEED_AGENT);
	ASSERT_EQ(0, alloc(self->fd, self->info.bar_size, 0, &h));
	r[0] = (struct dmavec_range){ .handle = h, .offset = 8 * PAGE, .length = 2 * PAGE };
	r[1] = (struct dmavec_range){ .handle = h, .offset = 2 * PAGE, .length = PAGE };
	buf = export(self->fd, r, 2, O_RDWR | O_CLOEXEC);
	ASSERT_GE(buf, 0);
	EXPECT_EQ(3 * PAGE, lseek(buf, 0, SEEK_END));
	EXPECT_EQ(FD_CLOEXEC, fcntl(buf, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(buf, F_GETFL) & O_ACCMODE);
	map = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	agent_pattern(31, want, PAGE);
	memcpy(map + 2 * PAGE, want, PAGE);
	ASSERT_EQ(0, agent_read(2 * PAGE, got, PAGE));
	EXPECT_EQ(0, memcmp(want, got, PAGE));
	agent_pattern(32, want, PAGE);
	memcpy(map + PAGE, want, PAGE);
	ASSERT_EQ(0, agent_read(9 * PAGE, got, PAGE));
	EXPECT_EQ(0, memcmp(want, got, PAGE));
	munmap(map, 3 * PAGE);
	close(buf);
	EXPECT_EQ(0, free_handle(self->fd, h));
}

/*
 * A reset through sysfs with a dma-buf exported and mmapped: its exports
 * are revoked around the reset (the counter moves) and restored after it,
 * so the mapping works again and reaches the host file.
 */
TEST(reset_revokes_then_restores)
{
	char bdf[256], path[PATH_MAX];
	struct dmavec_range r = { .length = PAGE };
	struct dmavec_info info;
	unsigned long long before;
	int dev, buf;
	__u8 *map, got;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_STATS | NEED_AGENT);
	dev = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, dev_name(bdf, sizeof(bdf)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bdf);
	ASSERT_EQ(0, access(path, W_OK)) TH_LOG("%s has no reset method", bdf);
	ASSERT_EQ(0, ioctl(dev, DMAVEC_IOCTL_INFO, &info));
	/* The whole BAR, so the buffer starts at offset 0 of the host file. */
	ASSERT_EQ(0, alloc(dev, info.bar_size, 0, &r.handle));
	buf = export(dev, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 0x33;

	before = read_key("/sys/kernel/debug/dmavec/stats", "revocations");
	ASSERT_EQ(0, write_file(path, "1"));
	EXPECT_EQ(before + 1, read_key("/sys/kernel/debug/dmavec/stats", "revocations"));

	map[0] = 0x44;
	ASSERT_EQ(0, agent_read(0, &got, 1));
	EXPECT_EQ(0x44, got);
	munmap(map, PAGE);
	close(buf);
	free_handle(dev, r.handle);
	close(dev);
}

/* dmavec_bar's count of scrubs it deferred past a reset. */
static unsigned long long deferred_scrubs(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/kernel/debug/dmavec_bar/%s/bar", bdf);
	return read_key(path, "deferred_scrubs");
}

#define RESET_PAGES 256

/*
 * FREE during a reset: memory decode is off between reset_prepare and
 * reset_done, so a scrub then would be lost and the next ALLOC would hand
 * out the old data. The scrub must wait for reset_done (issue 12, item 6).
 * RESET_PAGES one-page allocations (pages 0 to RESET_PAGES - 1 of an empty
 * BAR, lowest fit) are filled by the host, then freed one by one, 2 ms
 * apart, while another process resets the device; after the reset every one
 * of them must be zero in the host file, and free. The reset is repeated
 * until some FREE landed inside it (the deferred-scrub count moved).
 */
TEST(free_during_reset_is_scrubbed)
{
	unsigned long long before = 0, after = 0;
	char bdf[256], path[PATH_MAX];
	__u32 h[RESET_PAGES];
	struct dmavec_info info;
	int dev, i, n, tries;

	DMAVEC_NEEDS(return, NEED_DEV | NEED_STATS | NEED_AGENT);
	dev = open_node("dmavec-", bdf, sizeof(bdf));
	ASSERT_GE(dev, 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bdf);
	ASSERT_EQ(0, access(path, W_OK)) TH_LOG("%s has no reset method", bdf);
	ASSERT_EQ(0, ioctl(dev, DMAVEC_IOCTL_INFO, &info));
	ASSERT_EQ(info.bar_size, info.bytes_free) TH_LOG("the BAR is not free");
	for (tries = 0; tries < 10 && after == before; tries++) {
		pid_t pid;
		int status;

		for (i = 0; i < RESET_PAGES; i++)
			ASSERT_EQ(0, alloc(dev, PAGE, 0, &h[i]));
		ASSERT_EQ(0, agent_fill(0, RESET_PAGES * PAGE, 77 + tries));
		before = deferred_scrubs(bdf);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid)
			_exit(write_file(path, "1") ? 1 : 0);
		for (n = 0; n < RESET_PAGES && !waitpid(pid, &status, WNOHANG); n++) {
			EXPECT_EQ(0, free_handle(dev, h[n]));
			usleep(2000);
		}
		if (n == RESET_PAGES)
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		for (i = n; i < RESET_PAGES; i++)
			EXPECT_EQ(0, free_handle(dev, h[i]));
		after = deferred_scrubs(bdf);
		/* Every page is zero and free again, whenever it was freed. */
		EXPECT_EQ(RESET_PAGES * PAGE, agent_zero(0, RESET_PAGES * PAGE));
		ASSERT_EQ(0, ioctl(dev, DMAVEC_IOCTL_INFO, &info));
		EXPECT_EQ(info.bar_size, info.bytes_free);
	}
	TH_LOG("%d resets, %llu scrubs deferred past the last one", tries, after - before);
	EXPECT_LT(before, after) TH_LOG("no FREE landed inside a reset");
	close(dev);
}

TEST_HARNESS_MAIN
