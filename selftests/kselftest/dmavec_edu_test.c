// SPDX-License-Identifier: GPL-2.0
/*
 * End to end: QEMU's edu device DMAs into and out of device memory that
 * dmavec_bar exports (ivshmem's BAR), through the struct dma_vec array
 * dmavec maps it to, behind the emulated Intel IOMMU. Data is checked from
 * the host side of ivshmem's shared-memory file and through the dma-buf's
 * mmap. Also: revocation reaches the importer, a stale IOVA faults in the
 * IOMMU, and the dma-buf core's sg_table importers are refused MMIO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define PAGE 4096ULL

/* "bus-addr" when the runner put both devices behind one switch with iommu=pt. */
static int bus_addr_topology(void)
{
	const char *e = getenv("DMAVEC_EXPECT_MAP");

	return e && !strcmp(e, "bus-addr");
}

/* Whether the kernel bounces every streaming mapping (swiotlb=force). */
static int swiotlb_forced(void)
{
	char line[1024] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	return !!strstr(line, "swiotlb=force");
}

FIXTURE(e2e) {
	int bar, edu, buf;
	char bdf[256];
	struct dmavec_alloc a;
	__u8 *map;
};

/*
 * A 2-page dma-buf of discontiguous, reversed BAR pages: buffer page 0 is
 * device memory page 16, buffer page 1 is page 4. The whole BAR is one
 * allocation, so device memory offsets are host file offsets.
 */
FIXTURE_SETUP(e2e)
{
	struct dmavec_info info;
	struct dmavec_range r[2];
	struct dmavec_export e = { .count = 2, .fd_flags = O_RDWR | O_CLOEXEC };
	struct dmavec_edu_import im = { 0 };

	DMAVEC_NEEDS(return, NEED_DEV | NEED_EDU);
	self->bar = open_node("dmavec-", self->bdf, sizeof(self->bdf));
	ASSERT_GE(self->bar, 0);
	self->edu = open_node("dmavec-edu-", NULL, 0);
	ASSERT_GE(self->edu, 0) TH_LOG("no edu importer");
	ASSERT_EQ(0, ioctl(self->bar, DMAVEC_IOCTL_INFO, &info));
	memset(&self->a, 0, sizeof(self->a));
	self->a.size = info.bar_size;
	ASSERT_EQ(0, ioctl(self->bar, DMAVEC_IOCTL_ALLOC, &self->a));
	memset(r, 0, sizeof(r));
	r[0].handle = self->a.handle;
	r[0].offset = 16 * PAGE;
	r[0].length = PAGE;
	r[1].handle = self->a.handle;
	r[1].offset = 4 * PAGE;
	r[1].length = PAGE;
	e.ranges = (__u64)(unsigned long)r;
	ASSERT_EQ(0, ioctl(self->bar, DMAVEC_IOCTL_EXPORT, &e));
	self->buf = e.fd;
	self->map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, self->buf, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	im.fd = self->buf;
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
}

FIXTURE_TEARDOWN(e2e)
{
	ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH);
	munmap(self->map, 2 * PAGE);
	close(self->buf);
	close(self->edu);
	close(self->bar);
}

/*
 * (a) Translated IOMMU: one IOVA entry for both ranges, not the physical
 * address. (b) Behind a common switch with identity domains: PCI bus
 * addresses, one entry per range (they are not adjacent).
 */
TEST_F(e2e, map_type_and_addresses)
{
	struct dmavec_edu_info i;
	__u64 phys = bar_phys(self->bdf, 2);

	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_INFO, &i));
	ASSERT_NE(0, phys);
	EXPECT_EQ(2 * PAGE, i.size);
	TH_LOG("first DMA address %#llx, BAR pages at %#llx and %#llx",
	       (unsigned long long)i.first_addr, (unsigned long long)(phys + 16 * PAGE),
	       (unsigned long long)(phys + 4 * PAGE));
	if (bus_addr_topology()) {
		EXPECT_EQ(DMAVEC_EDU_MAP_BUS_ADDR, i.map_type);
		EXPECT_EQ(2, i.entries);
		/* x86: the bus offset of the BAR is 0. */
		EXPECT_EQ(phys + 16 * PAGE, i.first_addr);
	} else {
		EXPECT_EQ(DMAVEC_EDU_MAP_IOVA, i.map_type);
		EXPECT_EQ(1, i.entries);
		EXPECT_NE(phys + 16 * PAGE, i.first_addr);
		EXPECT_NE(phys + 4 * PAGE, i.first_addr);
	}
}

/* (a) edu writes a pattern into the device memory: checked in the host file and the mmap. */
TEST_F(e2e, device_write_reaches_the_host)
{
	__u8 want[PAGE];

	DMAVEC_NEEDS(return, NEED_AGENT);
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, PAGE, 77, NULL));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, PAGE, PAGE, 78, NULL));
	EXPECT_EQ(PAGE, agent_check(16 * PAGE, PAGE, 77));
	EXPECT_EQ(PAGE, agent_check(4 * PAGE, PAGE, 78));
	agent_pattern(77, want, PAGE);
	EXPECT_EQ(0, memcmp(want, self->map, PAGE));
	agent_pattern(78, want, PAGE);
	EXPECT_EQ(0, memcmp(want, self->map + PAGE, PAGE));
}

/* (a) The host writes, edu reads the device memory back to the guest. */
TEST_F(e2e, device_reads_what_the_host_wrote)
{
	__u8 want[2 * PAGE], got[2 * PAGE];

	DMAVEC_NEEDS(return, NEED_AGENT);
	ASSERT_EQ(0, agent_fill(16 * PAGE, PAGE, 501));
	ASSERT_EQ(0, agent_fill(4 * PAGE, PAGE, 502));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_READ, 0, 2 * PAGE, 0, got));
	agent_pattern(501, want, PAGE);
	agent_pattern(502, want + PAGE, PAGE);
	EXPECT_EQ(0, memcmp(want, got, 2 * PAGE));
}

/* Transfers outside the buffer are refused before the device is touched. */
TEST_F(e2e, bad_ranges_are_refused)
{
	EXPECT_EQ(-EINVAL, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, PAGE, 2 * PAGE, 1, NULL));
	EXPECT_EQ(-EINVAL, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 0, 1, NULL));
	EXPECT_EQ(-EOVERFLOW, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, ~0ULL, 2, 1, NULL));
}

/*
 * (d) The IOMMU is real: after the mapping is gone, edu's DMA to its old
 * IOVA faults in the IOMMU and the host bytes stay as they were.
 */
TEST_F(e2e, stale_iova_faults)
{
	static char log[1 << 17];
	struct dmavec_edu_info i;
	int n, tries;

	if (bus_addr_topology())
		SKIP(return, "identity domains: no IOMMU translation to fault");
	DMAVEC_NEEDS(return, NEED_AGENT);
	/* RAW_WRITE checks its module parameter first: EPERM, else EINVAL for no length. */
	if (edu_xfer(self->edu, DMAVEC_EDU_IOCTL_RAW_WRITE, 0, 0, 0, NULL) == -EPERM &&
	    !dmavec_runner())
		SKIP(return, "dmavec_edu is loaded without unsafe_raw_dma=1");
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_INFO, &i));
	ASSERT_EQ(0, agent_fill(16 * PAGE, 2048, 900));
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH));
	/*
	 * The runner's window for the fault, in the kernel log's own order (it
	 * reads the window from the guest's dump of the log; KERN_INFO keeps
	 * the marker itself off the console).
	 */
	ASSERT_EQ(0, write_file("/dev/kmsg", "<6>==DMAVEC== EXPECT dmar-fault\n"));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_RAW_WRITE, i.first_addr, 2048, 901,
			      NULL));
	/* The fault is reported from the IOMMU's interrupt: wait for it (2 s at most). */
	for (n = 0, tries = 0; tries < 40; tries++) {
		n = klogctl(3, log, sizeof(log) - 1);
		ASSERT_GT(n, 0);
		log[n] = '\0';
		if (strstr(log, "DMAR: [DMA Write"))
			break;
		usleep(50000);
	}
	ASSERT_EQ(0, write_file("/dev/kmsg", "<6>==DMAVEC== EXPECT-END dmar-fault\n"));
	EXPECT_NE(NULL, strstr(log, "DMAR: [DMA Write"));
	EXPECT_EQ(2048, agent_check(16 * PAGE, 2048, 900));
}

/* What the fail-nth sweeps below work on: the importer, its dma-buf, one command. */
struct sweep_ctx {
	int edu;
	struct dmavec_edu_import im;
	unsigned long cmd;
	struct dmavec_edu_info info;
	__u8 data[2048];
	int bad_state;	/* an undo failed */
};

static int sweep_import(void *p)
{
	struct sweep_ctx *c = p;

	return ioctl(c->edu, DMAVEC_EDU_IOCTL_IMPORT, &c->im) ? -errno : 0;
}

/* Absorbed (an internal retry): undo the import. */
static void sweep_import_after(void *p, int ret)
{
	struct sweep_ctx *c = p;

	if (ret >= 0)
		c->bad_state += ioctl(c->edu, DMAVEC_EDU_IOCTL_DETACH) != 0;
}

/* A fresh import, mapped first when the command is DETACH. */
static int sweep_reimport(void *p)
{
	struct sweep_ctx *c = p;

	if (ioctl(c->edu, DMAVEC_EDU_IOCTL_DETACH) || sweep_import(c))
		return -1;
	if (c->cmd == DMAVEC_EDU_IOCTL_DETACH)
		return ioctl(c->edu, DMAVEC_EDU_IOCTL_INFO, &c->info);
	return 0;
}

static int sweep_cmd(void *p)
{
	struct sweep_ctx *c = p;
	struct dmavec_edu_xfer x = { .length = sizeof(c->data), .seed = 400 };
	void *arg = &x;

	if (c->cmd == DMAVEC_EDU_IOCTL_READ)
		x.data = (__u64)(unsigned long)c->data;
	else if (c->cmd == DMAVEC_EDU_IOCTL_INFO)
		arg = &c->info;
	return ioctl(c->edu, c->cmd, arg) ? -errno : 0;
}

/*
 * An allocation failure anywhere in IMPORT (the importer API's dynamic
 * attach) is ENOMEM, leaves nothing behind, and the next IMPORT works
 * (fail_sweep() in dmavec_util.h).
 */
TEST_F(e2e, import_allocation_failures_are_enomem)
{
	static const struct fail_sweep_ops ops = {
		.call = sweep_import, .after = sweep_import_after,
	};
	struct sweep_ctx c = { .edu = self->edu, .im = { .fd = self->buf } };
	struct fail_sweep_counts n;

	if (!fail_nth_available())
		SKIP(return, "no fault injection in this kernel (plain flavour)");
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH));
	ASSERT_EQ(0, fail_sweep(&ops, &c, &n));
	TH_LOG("fail-nth: %d failures injected (IMPORT, %d absorbed)", n.injected, n.absorbed);
	EXPECT_GE(n.enomem, 1);
	EXPECT_EQ(0, n.other);
	EXPECT_EQ(0, n.unconsumed);
	EXPECT_EQ(0, c.bad_state);
	/* The import that succeeded works. */
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_INFO, &c.info));
	EXPECT_EQ(2 * PAGE, c.info.size);
}

/*
 * An allocation failure anywhere in WRITE, READ, INFO or DETACH, each from a
 * fresh import so that the call also maps the buffer (the importer API's
 * map, the mapping core's array) or unmaps it, is ENOMEM and leaves nothing
 * half done: the next call works, and the data path is intact afterwards.
 */
TEST_F(e2e, xfer_allocation_failures_are_enomem)
{
	static const struct fail_sweep_ops ops = {
		.prepare = sweep_reimport, .call = sweep_cmd,
	};
	static const struct {
		unsigned long cmd;
		const char *name;
	} cmds[] = {
		{ DMAVEC_EDU_IOCTL_WRITE, "WRITE" },
		{ DMAVEC_EDU_IOCTL_READ, "READ" },
		{ DMAVEC_EDU_IOCTL_INFO, "INFO" },
		{ DMAVEC_EDU_IOCTL_DETACH, "DETACH" },
	};
	static struct sweep_ctx c;
	struct fail_sweep_counts n;
	static __u8 want[2048];
	int i, total = 0;

	if (!fail_nth_available())
		SKIP(return, "no fault injection in this kernel (plain flavour)");
	DMAVEC_NEEDS(return, NEED_AGENT);
	c.edu = self->edu;
	c.im.fd = self->buf;
	for (i = 0; i < 4; i++) {
		c.cmd = cmds[i].cmd;
		ASSERT_EQ(0, fail_sweep(&ops, &c, &n)) TH_LOG("%s", cmds[i].name);
		TH_LOG("fail-nth: %d failures injected (%s, %d absorbed)", n.injected,
		       cmds[i].name, n.absorbed);
		/* Failed with ENOMEM, or absorbed the failure (an internal retry). */
		EXPECT_EQ(0, n.other) TH_LOG("%s", cmds[i].name);
		EXPECT_EQ(0, n.unconsumed) TH_LOG("%s", cmds[i].name);
		total += n.injected;
	}
	/* READ allocates its buffer; a one-entry IOVA mapping allocates nothing. */
	EXPECT_GE(total, 1);
	/* Nothing half done: the device's write reaches the host, and reads back. */
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_IMPORT, &c.im));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 2048, 451, NULL));
	EXPECT_EQ(2048, agent_check(16 * PAGE, 2048, 451));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_READ, 0, 2048, 0, c.data));
	agent_pattern(451, want, sizeof(want));
	EXPECT_EQ(0, memcmp(want, c.data, sizeof(want)));
}

/* (c) Revocation: the exporter goes away during the import; no DMA is issued after. */
TEST_F(e2e, exporter_removal_stops_the_importer)
{
	struct dmavec_edu_info i;
	char path[PATH_MAX];

	DMAVEC_NEEDS(return, NEED_AGENT);
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 2048, 300, NULL));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", self->bdf);
	ASSERT_EQ(0, write_file(path, "1"));
	EXPECT_EQ(-ENODEV, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 2048, 301, NULL));
	EXPECT_EQ(-1, ioctl(self->edu, DMAVEC_EDU_IOCTL_INFO, &i));
	EXPECT_EQ(ENODEV, errno);
	/* The last bytes the device wrote are still the first pattern. */
	EXPECT_EQ(2048, agent_check(16 * PAGE, 2048, 300));
	ASSERT_EQ(0, write_file("/sys/bus/pci/rescan", "1"));
}

/*
 * An invalidation does not wait for a whole transfer: edu runs its DMA under
 * a fence, without the reservation lock, and stops at the next chunk. An
 * 8 KiB WRITE takes 4 chunks of 2 transfers of about 100 ms; the exporter is
 * removed 250 ms into it. The WRITE fails with ENODEV and its last chunk
 * never reaches the host, where a transfer that held the reservation lock
 * throughout would have made the removal wait and succeeded (issue 12,
 * item 10).
 */
TEST_F(e2e, removal_cuts_a_transfer_short)
{
	__u8 want[2 * PAGE], got[2048];
	char path[PATH_MAX];
	int status;
	pid_t pid;

	DMAVEC_NEEDS(return, NEED_AGENT);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int r = edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 2 * PAGE, 302, NULL);

		_exit(r == -ENODEV ? 0 : r == 0 ? 1 : 2);
	}
	usleep(250000);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", self->bdf);
	ASSERT_EQ(0, write_file(path, "1"));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("WRITE: %s", WEXITSTATUS(status) == 1 ?
		"completed: the removal waited for it" : "failed otherwise");
	/* Buffer bytes 6 KiB to 8 KiB are device memory page 4, second half. */
	agent_pattern(302, want, 2 * PAGE);
	ASSERT_EQ(0, agent_read(4 * PAGE + 2048, got, sizeof(got)));
	EXPECT_NE(0, memcmp(want + 3 * 2048, got, sizeof(got)));
	ASSERT_EQ(0, write_file("/sys/bus/pci/rescan", "1"));
}

/* Bus mastering of the edu device: bit 2 of its PCI command register. */
static int edu_bus_master(const char *bdf)
{
	char path[PATH_MAX];
	unsigned char cmd;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, &cmd, 1, 4);
	close(fd);
	return n == 1 ? !!(cmd & 0x4) : -EIO;
}

/*
 * A transfer that outlives dma_timeout_ms: edu's engine cannot be stopped,
 * so the driver turns bus mastering off (it can no longer reach memory that
 * is unmapped or handed back) and fails with ETIMEDOUT. The next transfer
 * is refused with EBUSY while the engine still runs; once it is idle, bus
 * mastering goes back on for the next one. edu takes 100 ms (QEMU's virtual
 * clock) per transfer: the VM's init loads the driver with a shorter
 * timeout for this test and says so in DMAVEC_EDU_TIMEOUT_MS.
 */
TEST_F(e2e, timeout_stops_bus_mastering)
{
	char bdf[256];
	int e;

	if (!getenv("DMAVEC_EDU_TIMEOUT_MS"))
		SKIP(return, "edu's driver runs with its default timeout");
	e = open_node("dmavec-edu-", bdf, sizeof(bdf));
	ASSERT_GE(e, 0);
	close(e);
	ASSERT_EQ(1, edu_bus_master(bdf));

	EXPECT_EQ(-ETIMEDOUT, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 64, 1, NULL));
	EXPECT_EQ(0, edu_bus_master(bdf));
	/* The engine still runs the transfer that timed out. */
	EXPECT_EQ(-EBUSY, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 64, 1, NULL));
	EXPECT_EQ(0, edu_bus_master(bdf));

	/*
	 * Idle again: not EBUSY but a transfer that starts, with bus mastering
	 * back on, and times out in turn, turning it off again.
	 */
	usleep(500 * 1000);
	EXPECT_EQ(-ETIMEDOUT, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_READ, 0, 64, 1, NULL));
	EXPECT_EQ(0, edu_bus_master(bdf));
	usleep(500 * 1000);
}

/* (e) A dma-buf core importer without peer2peer (vgem's PRIME import) is refused. */
struct drm_prime_handle {
	__u32 handle;
	__u32 flags;
	__s32 fd;
};

#define DRM_IOCTL_PRIME_FD_TO_HANDLE _IOWR('d', 0x2e, struct drm_prime_handle)

TEST_F(e2e, legacy_importer_is_refused)
{
	struct drm_prime_handle h = { .fd = self->buf };
	char path[64];
	int i, card = -1;

	for (i = 0; i < 8 && card < 0; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		card = open(path, O_RDWR);
	}
	if (card < 0 && !dmavec_runner())
		SKIP(return, "no DRM device (CONFIG_DRM_VGEM)");
	ASSERT_GE(card, 0) TH_LOG("no DRM device (vgem)");
	EXPECT_EQ(-1, ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h));
	EXPECT_EQ(EPERM, errno);
	close(card);
}

/* DMA_BUF_IOCTL_SYNC on @fd; 0 or -errno. */
static int buf_sync(int fd, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) ? -errno : 0;
}

/*
 * A second exporter on the helper: system memory pages (dmavec_ctest, the C
 * API), 16 discontiguous pages. edu writes and reads them through one IOVA
 * entry; the data is checked through the dma-buf's mmap, with the ownership
 * hand-overs of DMA_BUF_IOCTL_SYNC. The switch run boots with swiotlb=force:
 * there edu's mapping bounces, and only the exporter's CPU access hooks
 * make the device's writes visible through the mmap and the CPU's reach the
 * device (issue 12, item 3).
 */
TEST(ram_exporter_round_trip)
{
	struct dmavec_edu_import im = { 0 };
	struct dmavec_edu_info i;
	__u8 want[2 * PAGE], got[2 * PAGE], *map;
	unsigned long long syncs;
	int edu, fd;

	DMAVEC_NEEDS(return, NEED_EDU | NEED_STATS | NEED_CTEST);
	edu = open_node("dmavec-edu-", NULL, 0);
	ASSERT_GE(edu, 0);
	fd = read_fd_from("/sys/kernel/debug/dmavec_ctest/export");
	ASSERT_GT(fd, 2);
	im.fd = fd;
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &i));
	if (bus_addr_topology()) {
		/* Identity domain: dma_map_phys() per discontiguous page. */
		EXPECT_EQ(DMAVEC_EDU_MAP_DIRECT, i.map_type);
		if (swiotlb_forced()) {
			/* Bounce slots, which may follow each other and merge. */
			EXPECT_GE(i.entries, 1);
			EXPECT_LE(i.entries, 16);
		} else {
			EXPECT_EQ(16, i.entries);
		}
	} else {
		EXPECT_EQ(DMAVEC_EDU_MAP_IOVA, i.map_type);
		EXPECT_EQ(1, i.entries);
	}
	EXPECT_EQ(16 * PAGE, i.size);

	/* edu writes across the boundary between buffer pages 3 and 4. */
	ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_WRITE, 3 * PAGE + 1024, 2 * PAGE, 42, NULL));
	map = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	agent_pattern(42, want, 2 * PAGE);
	syncs = read_key("/sys/kernel/debug/dmavec/stats", "cpu_syncs");
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	EXPECT_EQ(0, memcmp(want, map + 3 * PAGE + 1024, 2 * PAGE));
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	/*
	 * Each hook syncs every dma_map_phys() run of edu's mapping on the
	 * direct path, one per discontiguous page (bounce slots may merge the
	 * entries, not the runs), and nothing on the IOVA path.
	 */
	if (bus_addr_topology()) {
		EXPECT_EQ(syncs + 2 * 16,
			  read_key("/sys/kernel/debug/dmavec/stats", "cpu_syncs"));
	} else {
		EXPECT_EQ(syncs, read_key("/sys/kernel/debug/dmavec/stats", "cpu_syncs"));
	}
	/* The CPU writes, edu reads. */
	agent_pattern(43, want, 2 * PAGE);
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	memcpy(map + 9 * PAGE, want, 2 * PAGE);
	ASSERT_EQ(0, buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
	ASSERT_EQ(0, edu_xfer(edu, DMAVEC_EDU_IOCTL_READ, 9 * PAGE, 2 * PAGE, 0, got));
	EXPECT_EQ(0, memcmp(want, got, 2 * PAGE));
	munmap(map, 16 * PAGE);
	ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
	close(fd);
	close(edu);
}

#define CTEST "/sys/kernel/debug/dmavec_ctest/"

/* Whether the first edu device is in a translated (DMA, DMA-FQ) IOMMU domain. */
static int edu_translated(void)
{
	char path[PATH_MAX], vendor[16], device[16], type[32] = "";
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;

	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", de->d_name);
		if (read_line(path, vendor, sizeof(vendor)))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", de->d_name);
		if (read_line(path, device, sizeof(device)))
			continue;
		if (strcmp(vendor, "0x1234") || strcmp(device, "0x11e8"))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type",
			 de->d_name);
		read_line(path, type, sizeof(type));
		break;
	}
	if (d)
		closedir(d);
	return !strcmp(type, "DMA") || !strcmp(type, "DMA-FQ");
}

/* Slots in use in the default swiotlb pool; -1 without a pool (no debugfs file then). */
static long long swiotlb_used(void)
{
	long long n = -1;
	FILE *f = fopen("/sys/kernel/debug/swiotlb/io_tlb_used", "r");

	if (f) {
		if (fscanf(f, "%lld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

FIXTURE(untrusted) {
	int edu, buf, cpu;
};

/*
 * edu's DMA minimum alignment mask: none, where a bounce slot keeps no low
 * address bits, or a page's, where it keeps the offset in the page (NVMe
 * sets one).
 */
FIXTURE_VARIANT(untrusted) {
	const char *min_align_mask;
};

FIXTURE_VARIANT_ADD(untrusted, no_min_align) {
	.min_align_mask = "0",
};

FIXTURE_VARIANT_ADD(untrusted, page_min_align) {
	.min_align_mask = "0xfff",
};

FIXTURE_SETUP(untrusted)
{
	self->edu = -1;
	self->buf = -1;
	self->cpu = -1;
}

FIXTURE_TEARDOWN(untrusted)
{
	write_file(CTEST "cpu_buf", "-1");
	if (self->cpu >= 0)
		close(self->cpu);
	if (self->edu >= 0) {
		ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH);
		close(self->edu);
	}
	if (self->buf >= 0)
		close(self->buf);
	write_file(CTEST "edu_untrusted", "0");
	write_file(CTEST "edu_min_align_mask", "0");
}

/*
 * An untrusted importer (pci_dev->untrusted: a device behind an
 * external-facing port) of system memory whose first range starts mid-page:
 * the IOMMU DMA layer bounces that range through swiotlb (it is not aligned
 * to the IOVA granule), on the IOVA path as on the direct one. edu's writes
 * reach the CPU after DMA_BUF_IOCTL_SYNC START and the CPU's reach edu after
 * END only if the CPU access hooks sync that bounce slot (issue 25, item 4).
 * On the IOVA path, with edu's page minimum alignment mask, the slot is
 * linked and nothing syncs it; with none, dma_iova_link() fails (-ENXIO: it
 * maps the slot as if it kept the range's offset in the page). The buffer
 * has no mmap (its first range is not a whole page): the CPU's view is the
 * exporter's own, dmavec_ctest's "cpu" file. Needs a translated IOMMU and a
 * swiotlb pool (swiotlb=force): the runner's bounce run.
 */
TEST_F(untrusted, bounced_ram_round_trip)
{
	const char *mode = getenv("DMAVEC_MODE");
	__u8 want[2 * PAGE], got[2 * PAGE];
	struct dmavec_edu_info i;
	long long used;
	char num[16];

	DMAVEC_NEEDS(return, NEED_EDU | NEED_CTEST);
	/* Elsewhere a skip; in the bounce run, which boots for this test, a failure. */
	if (!mode || strcmp(mode, "bounce")) {
		if (!edu_translated())
			SKIP(return, "edu is not in a translated IOMMU domain");
		if (swiotlb_used() < 0)
			SKIP(return, "no swiotlb pool (boot with swiotlb=force)");
	}
	ASSERT_TRUE(edu_translated());
	used = swiotlb_used();
	ASSERT_GE(used, 0) TH_LOG("no swiotlb pool");
	ASSERT_EQ(0, write_file(CTEST "edu_min_align_mask", variant->min_align_mask));
	ASSERT_EQ(0, write_file(CTEST "edu_untrusted", "1"));
	self->edu = open_node("dmavec-edu-", NULL, 0);
	ASSERT_GE(self->edu, 0);
	self->buf = read_fd_from(CTEST "export_unaligned");
	ASSERT_GT(self->buf, 2);
	ASSERT_EQ(0, edu_import(self->edu, self->buf));
	/* Maps: 16 pages less the first range's 256 bytes. */
	ASSERT_EQ(0, edu_info(self->edu, &i));
	EXPECT_EQ(16 * PAGE - 256, i.size);
	/* The first range sits in a bounce slot while edu's mapping lives. */
	EXPECT_GT(swiotlb_used(), used);
	snprintf(num, sizeof(num), "%d", self->buf);
	ASSERT_EQ(0, write_file(CTEST "cpu_buf", num));
	self->cpu = open(CTEST "cpu", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->cpu, 0);

	/* edu writes the bounced first range and the page after it. */
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, 2 * PAGE, 42, NULL));
	agent_pattern(42, want, 2 * PAGE);
	ASSERT_EQ(0, buf_sync(self->buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	ASSERT_EQ(2 * PAGE, pread(self->cpu, got, 2 * PAGE, 0));
	EXPECT_EQ(0, memcmp(want, got, 2 * PAGE)) TH_LOG("edu's write is not in the buffer");
	ASSERT_EQ(0, buf_sync(self->buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ));
	/* The CPU writes the same bytes, edu reads them. */
	agent_pattern(43, want, 2 * PAGE);
	ASSERT_EQ(0, buf_sync(self->buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE));
	ASSERT_EQ(2 * PAGE, pwrite(self->cpu, want, 2 * PAGE, 0));
	ASSERT_EQ(0, buf_sync(self->buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_READ, 0, 2 * PAGE, 0, got));
	EXPECT_EQ(0, memcmp(want, got, 2 * PAGE)) TH_LOG("the CPU's write does not reach edu");
	/* dma_map_phys() per run, which the hooks sync: no IOVA path for this importer. */
	EXPECT_EQ(DMAVEC_EDU_MAP_DIRECT, i.map_type);
}

TEST_HARNESS_MAIN
