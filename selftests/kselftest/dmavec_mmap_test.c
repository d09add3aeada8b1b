// SPDX-License-Identifier: GPL-2.0
/*
 * kselftests of CPU mappings of dmavec buffers, on MMIO: 16 pages of
 * ivshmem's BAR, discontiguous and in reverse order, exported by the
 * dmavec_test module (debugfs dmavec_test/bar/). What the guest writes
 * through the mapping is checked on the host side of the shared memory,
 * and the other way round. Mappings are shared-only, refuse GUP, SIGBUS
 * once revoked, and work again once restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define BAR "/sys/kernel/debug/dmavec_test/bar/"
#define STATS "/sys/kernel/debug/dmavec/stats"
#define PAGE 4096
#define NPAGES 16
#define BASE_PAGE 256

/* Host file offset of buffer page @j (see dmavec_test.rs). */
static __u64 host_off(int j)
{
	return (__u64)(BASE_PAGE + 2 * (NPAGES - 1 - j)) * PAGE;
}

FIXTURE(bar) {
	int fd;
	__u8 *map;
};

/* The BAR exports of dmavec_test, of ivshmem's BAR (which dmavec_bar drives). */
#define NEED_BAR_EXPORT (NEED_RTEST | NEED_DEV)

FIXTURE_SETUP(bar)
{
	DMAVEC_NEEDS(return, NEED_BAR_EXPORT);
	self->fd = read_fd_from(BAR "export");
	ASSERT_GE(self->fd, 0);
	self->map = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
}

FIXTURE_TEARDOWN(bar)
{
	munmap(self->map, NPAGES * PAGE);
	close(self->fd);
}

TEST_F(bar, guest_writes_reach_the_host)
{
	__u8 want[PAGE], got[PAGE];
	int j;

	DMAVEC_NEEDS(return, NEED_AGENT);
	for (j = 0; j < NPAGES; j++) {
		agent_pattern(100 + j, want, PAGE);
		memcpy(self->map + j * PAGE, want, PAGE);
	}
	for (j = 0; j < NPAGES; j++) {
		agent_pattern(100 + j, want, PAGE);
		ASSERT_EQ(0, agent_read(host_off(j), got, PAGE));
		EXPECT_EQ(0, memcmp(want, got, PAGE)) TH_LOG("page %d", j);
	}
}

TEST_F(bar, host_writes_reach_the_guest)
{
	__u8 want[PAGE];
	int j;

	DMAVEC_NEEDS(return, NEED_AGENT);
	for (j = 0; j < NPAGES; j += 5) {
		ASSERT_EQ(0, agent_fill(host_off(j), PAGE, 7000 + j));
		agent_pattern(7000 + j, want, PAGE);
		EXPECT_EQ(0, memcmp(want, self->map + j * PAGE, PAGE)) TH_LOG("page %d", j);
	}
}

TEST_F(bar, gup_fails_on_the_mapping)
{
	struct iovec iov = { .iov_base = self->map, .iov_len = PAGE };
	int p[2];

	self->map[0] = 1;
	ASSERT_EQ(0, pipe(p));
	/* vmsplice pins the user pages: PFN-mapped I/O memory has none. */
	EXPECT_EQ(-1, vmsplice(p[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	close(p[0]);
	close(p[1]);
}

/*
 * DMA_BUF_IOCTL_SYNC reaches dmavec's CPU access hooks: for MMIO, mapped
 * uncached and never bounced, they succeed and sync nothing, even with a
 * device mapping of the buffer live (cpu_syncs does not move; a system
 * memory buffer's syncs are checked by the switch run, with bounce buffers).
 */
TEST_F(bar, sync_and_set_name)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	unsigned long long before = read_key(STATS, "cpu_syncs");
	struct dmavec_edu_import im = { .fd = self->fd };
	struct dmavec_edu_info info;
	char line[256], want[64];
	int found = 0, edu;
	FILE *f;

	DMAVEC_NEEDS(return, NEED_EDU | NEED_STATS);
	edu = open_node("dmavec-edu-", NULL, 0);
	ASSERT_GE(edu, 0);
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
	/* INFO maps the buffer for edu. */
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &info));
	EXPECT_EQ(0, ioctl(self->fd, DMA_BUF_IOCTL_SYNC, &sync));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	EXPECT_EQ(0, ioctl(self->fd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(before, read_key(STATS, "cpu_syncs"));
	ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
	close(edu);
	sync.flags = 0xdead;
	EXPECT_EQ(-1, ioctl(self->fd, DMA_BUF_IOCTL_SYNC, &sync));
	EXPECT_EQ(EINVAL, errno);

	snprintf(want, sizeof(want), "dmavec-test-%d", getpid());
	ASSERT_EQ(0, ioctl(self->fd, DMA_BUF_SET_NAME_B, want));
	f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want) && strstr(line, "dmavec_test"))
			found = 1;
	fclose(f);
	EXPECT_EQ(1, found);
}

TEST(private_mapping_is_refused)
{
	void *p;
	int fd;

	DMAVEC_NEEDS(return, NEED_BAR_EXPORT);
	fd = read_fd_from(BAR "export");
	ASSERT_GE(fd, 0);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, (NPAGES + 1) * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	close(fd);
}

/* Revoked: the mapping is zapped and any access raises SIGBUS. */
TEST_SIGNAL(revoked_mapping_sigbuses, SIGBUS)
{
	__u8 *map;
	int fd;

	DMAVEC_NEEDS(return, NEED_BAR_EXPORT);
	fd = read_fd_from(BAR "export");
	ASSERT_GE(fd, 0);
	map = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 0x5a;
	ASSERT_EQ(0, write_file(BAR "revoke", "1"));
	map[0] = 0xa5;
	/* Not reached: the access above raises SIGBUS. */
	write_file(BAR "revoke", "0");
}

TEST(restored_mapping_works_again)
{
	__u8 *map;
	__u8 got;
	int fd;

	DMAVEC_NEEDS(return, NEED_BAR_EXPORT | NEED_AGENT);
	fd = read_fd_from(BAR "export");
	ASSERT_GE(fd, 0);
	map = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[PAGE] = 0x11;
	ASSERT_EQ(0, write_file(BAR "revoke", "1"));
	/* A new mmap of a revoked buffer is refused. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, write_file(BAR "revoke", "0"));
	map[PAGE] = 0x22;
	ASSERT_EQ(0, agent_read(host_off(1), &got, 1));
	EXPECT_EQ(0x22, got);
	munmap(map, NPAGES * PAGE);
	close(fd);
}

TEST_HARNESS_MAIN
