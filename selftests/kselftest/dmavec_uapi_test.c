// SPDX-License-Identifier: GPL-2.0
/*
 * kselftests of the dmavec_bar user API (uapi/linux/dmavec.h) on QEMU's
 * ivshmem: every ioctl's success path and every errno the documentation
 * lists, dma-buf fd lifetime in both orders, removal with live fds, and
 * that no error path writes to the kernel log.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "dmavec_util.h"
#include "dmavec_dev.h"

#define PAGE 4096ULL

/* The layout the driver asserts too (driver/uapi.rs). */
static_assert(sizeof(struct dmavec_info) == 64, "dmavec_info");
static_assert(offsetof(struct dmavec_info, bar_index) == 24, "dmavec_info.bar_index");
static_assert(sizeof(struct dmavec_alloc) == 40, "dmavec_alloc");
static_assert(sizeof(struct dmavec_free) == 16, "dmavec_free");
static_assert(sizeof(struct dmavec_range) == 24, "dmavec_range");
static_assert(sizeof(struct dmavec_export) == 40, "dmavec_export");

static __u64 bytes_free(int dev)
{
	struct dmavec_info i;

	return ioctl(dev, DMAVEC_IOCTL_INFO, &i) ? 0 : i.bytes_free;
}

/* The kernel log, to check that error paths leave no line in it. */
static int klog(char *buf, int len)
{
	return klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
}

TEST_F(dev, info)
{
	const char *want = getenv("DMAVEC_SHM_SIZE");
	int i;

	EXPECT_EQ(PAGE, self->info.page_size);
	EXPECT_EQ(2, self->info.bar_index);
	if (want)
		EXPECT_EQ(strtoull(want, NULL, 0), self->info.bar_size);
	EXPECT_EQ(self->info.bar_size, self->info.bytes_free);
	EXPECT_EQ(DMAVEC_FEATURE_MMAP | DMAVEC_FEATURE_P2PDMA, self->info.features);
	EXPECT_EQ(0, self->info.reserved0);
	EXPECT_LE(self->info.bytes_scrubbing, self->info.bytes_free);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, self->info.reserved[i]);
}

TEST_F(dev, alloc_and_free)
{
	__u32 h1 = 0, h2 = 0;

	ASSERT_EQ(0, alloc(self->fd, 16 * PAGE, 0, &h1));
	EXPECT_NE(0, h1);
	ASSERT_EQ(0, alloc(self->fd, PAGE, 1 << 20, &h2));
	EXPECT_NE(h1, h2);
	EXPECT_EQ(self->info.bar_size - 17 * PAGE, bytes_free(self->fd));
	EXPECT_EQ(0, free_handle(self->fd, h1));
	EXPECT_EQ(0, free_handle(self->fd, h2));
	EXPECT_EQ(self->info.bar_size, bytes_free(self->fd));
}

TEST_F(dev, alloc_errors)
{
	struct dmavec_alloc a = { .size = PAGE };
	__u32 h = 0, all = 0;

	EXPECT_EQ(-EINVAL, alloc(self->fd, 0, 0, &h));
	EXPECT_EQ(-EINVAL, alloc(self->fd, PAGE + 1, 0, &h));
	EXPECT_EQ(-EINVAL, alloc(self->fd, PAGE, 3 * PAGE, &h));
	EXPECT_EQ(-EINVAL, alloc(self->fd, PAGE, PAGE / 2, &h));
	a.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_ALLOC, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = 0;
	a.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_ALLOC, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENOSPC, alloc(self->fd, self->info.bar_size + PAGE, 0, &h));
	ASSERT_EQ(0, alloc(self->fd, self->info.bar_size, 0, &all));
	EXPECT_EQ(-ENOSPC, alloc(self->fd, PAGE, 0, &h));
	EXPECT_EQ(0, free_handle(self->fd, all));
	EXPECT_EQ(-EFAULT, ioctl(self->fd, DMAVEC_IOCTL_ALLOC, (void *)8) ? -errno : 0);
}

TEST_F(dev, free_errors)
{
	struct dmavec_free f = { 0 };
	__u32 h = 0;

	EXPECT_EQ(-ENOENT, free_handle(self->fd, 0));
	EXPECT_EQ(-ENOENT, free_handle(self->fd, 12345));
	ASSERT_EQ(0, alloc(self->fd, PAGE, 0, &h));
	f.handle = h;
	f.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_FREE, &f));
	EXPECT_EQ(EINVAL, errno);
	f.flags = 0;
	f.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_FREE, &f));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, free_handle(self->fd, h));
	EXPECT_EQ(-ENOENT, free_handle(self->fd, h));
}

TEST_F(dev, bad_pointers_fault)
{
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_FREE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_EXPORT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, export_without_free_fd_is_emfile)
{
	struct dmavec_range r = { .length = PAGE };
	struct rlimit old, none;
	int ret;

	int fill[64], n = 0;

	ASSERT_EQ(0, alloc(self->fd, PAGE, 0, &r.handle));
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	/* No free descriptor: a low limit, and every slot below it taken. */
	none = old;
	none.rlim_cur = 64;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &none));
	while (n < 64 && (fill[n] = dup(0)) >= 0)
		n++;
	ret = export(self->fd, &r, 1, O_RDWR);
	while (n--)
		close(fill[n]);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(-EMFILE, ret);
	EXPECT_EQ(self->info.bar_size - PAGE, bytes_free(self->fd));
	EXPECT_EQ(0, free_handle(self->fd, r.handle));
}

/* What the fail-nth sweeps below work on: the device, an allocation, a range of it. */
struct sweep_ctx {
	int dev;
	__u32 handle;
	struct dmavec_range range;
	__u64 bar_size;
	int bad_state;	/* a failed call left something behind */
};

static int sweep_alloc(void *p)
{
	struct sweep_ctx *c = p;

	return alloc(c->dev, PAGE, 0, &c->handle);
}

static void sweep_alloc_after(void *p, int ret)
{
	struct sweep_ctx *c = p;

	if (ret >= 0)
		free_handle(c->dev, c->handle);
	c->bad_state += bytes_free(c->dev) != c->bar_size;
}

static int sweep_export(void *p)
{
	struct sweep_ctx *c = p;

	return export(c->dev, &c->range, 1, O_RDWR);
}

static void sweep_close(void *p, int ret)
{
	if (ret >= 0)
		close(ret);
}

static int sweep_info(void *p)
{
	struct sweep_ctx *c = p;
	struct dmavec_info info;

	return ioctl(c->dev, DMAVEC_IOCTL_INFO, &info) ? -errno : 0;
}

static int sweep_free(void *p)
{
	struct sweep_ctx *c = p;

	return free_handle(c->dev, c->handle);
}

/* A failed FREE left the allocation as it was: it frees normally now. */
static void sweep_free_after(void *p, int ret)
{
	struct sweep_ctx *c = p;

	if (ret < 0) {
		c->bad_state += bytes_free(c->dev) != c->bar_size - PAGE;
		c->bad_state += free_handle(c->dev, c->handle) != 0;
	}
}

/*
 * An allocation failure anywhere in ALLOC or EXPORT is ENOMEM and nothing
 * else, and leaves nothing behind (fail_sweep() in dmavec_util.h).
 */
TEST_F(dev, allocation_failures_are_enomem)
{
	static const struct fail_sweep_ops alloc_ops = {
		.call = sweep_alloc, .after = sweep_alloc_after,
	};
	static const struct fail_sweep_ops export_ops = {
		.call = sweep_export, .after = sweep_close,
	};
	struct sweep_ctx c = { .dev = self->fd, .bar_size = self->info.bar_size };
	struct fail_sweep_counts n;
	int ret;

	if (!fail_nth_available())
		SKIP(return, "no fault injection in this kernel (plain flavour)");
	ASSERT_EQ(0, fail_sweep(&alloc_ops, &c, &n));
	TH_LOG("fail-nth: %d failures injected (ALLOC, %d absorbed)", n.injected, n.absorbed);
	EXPECT_GE(n.enomem, 1);
	EXPECT_EQ(0, n.other);
	EXPECT_EQ(0, n.unconsumed);
	EXPECT_EQ(0, c.bad_state);
	EXPECT_EQ(self->info.bar_size - PAGE, bytes_free(self->fd));
	c.range.handle = c.handle;
	c.range.length = PAGE;
	ret = fail_sweep(&export_ops, &c, &n);
	ASSERT_GE(ret, 0);
	close(ret);
	TH_LOG("fail-nth: %d failures injected (EXPORT, %d absorbed)", n.injected, n.absorbed);
	EXPECT_GE(n.enomem, 1);
	EXPECT_EQ(0, n.other);
	EXPECT_EQ(0, n.unconsumed);
	EXPECT_EQ(0, free_handle(self->fd, c.handle));
	EXPECT_EQ(self->info.bar_size, bytes_free(self->fd));
}

/*
 * The same sweep over INFO and FREE (FREE from a fresh ALLOC each time): a
 * failure is ENOMEM and leaves the allocation as it was.
 */
TEST_F(dev, info_and_free_allocation_failures_are_enomem)
{
	static const struct fail_sweep_ops info_ops = { .call = sweep_info };
	static const struct fail_sweep_ops free_ops = {
		.prepare = sweep_alloc, .call = sweep_free, .after = sweep_free_after,
	};
	struct sweep_ctx c = { .dev = self->fd, .bar_size = self->info.bar_size };
	struct fail_sweep_counts n;

	if (!fail_nth_available())
		SKIP(return, "no fault injection in this kernel (plain flavour)");
	ASSERT_EQ(0, fail_sweep(&info_ops, &c, &n));
	TH_LOG("fail-nth: %d failures injected (INFO)", n.injected);
	EXPECT_EQ(0, n.other);
	EXPECT_EQ(0, n.unconsumed);
	ASSERT_EQ(0, fail_sweep(&free_ops, &c, &n));
	TH_LOG("fail-nth: %d failures injected (FREE, %d absorbed)", n.injected, n.absorbed);
	EXPECT_EQ(0, n.other);
	EXPECT_EQ(0, n.unconsumed);
	EXPECT_EQ(0, c.bad_state);
	EXPECT_EQ(self->info.bar_size, bytes_free(self->fd));
}

TEST_F(dev, unknown_ioctl)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(DMAVEC_IOCTL_MAGIC, 0x7f), 0));
	EXPECT_EQ(ENOTTY, errno);
	/* Same number, other size: not this ABI. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(DMAVEC_IOCTL_MAGIC, 0x00, __u64), 0));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, export_errors)
{
	struct dmavec_range r = { .length = PAGE };
	struct dmavec_export e = { .count = 1 };
	__u32 h = 0;

	ASSERT_EQ(0, alloc(self->fd, 4 * PAGE, 0, &h));
	r.handle = h;
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 0, O_RDWR));
	EXPECT_EQ(-E2BIG, export(self->fd, &r, DMAVEC_MAX_RANGES + 1, O_RDWR));
	EXPECT_EQ(-EFAULT, export(self->fd, (void *)8, 1, O_RDWR));
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_RDWR | O_NONBLOCK));
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_ACCMODE));
	r.handle = 999;
	EXPECT_EQ(-ENOENT, export(self->fd, &r, 1, O_RDWR));
	r.handle = h;
	r.offset = PAGE / 2;
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_RDWR));
	r.offset = 0;
	r.length = 0;
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_RDWR));
	r.length = PAGE + 1;
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_RDWR));
	r.offset = 3 * PAGE;
	r.length = 2 * PAGE;
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_RDWR));
	r.offset = ~0ULL & ~(PAGE - 1);
	r.length = PAGE;
	EXPECT_EQ(-EOVERFLOW, export(self->fd, &r, 1, O_RDWR));
	r.offset = 0;
	r.reserved = 1;
	EXPECT_EQ(-EINVAL, export(self->fd, &r, 1, O_RDWR));
	r.reserved = 0;
	e.ranges = (__u64)(unsigned long)&r;
	e.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_EXPORT, &e));
	EXPECT_EQ(EINVAL, errno);
	e.flags = 0;
	e.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_EXPORT, &e));
	EXPECT_EQ(EINVAL, errno);
	e.reserved[0] = 0;
	/* fd is output only: a stale value from an earlier call is refused. */
	e.fd = 3;
	EXPECT_EQ(-1, ioctl(self->fd, DMAVEC_IOCTL_EXPORT, &e));
	EXPECT_EQ(EINVAL, errno);
	e.fd = 0;
	e.fd_flags = O_RDWR | O_CLOEXEC;
	EXPECT_EQ(0, ioctl(self->fd, DMAVEC_IOCTL_EXPORT, &e));
	EXPECT_EQ(0, close(e.fd));
	EXPECT_EQ(0, free_handle(self->fd, h));
}

TEST_F(dev, errors_leave_no_log_line)
{
	static char before[1 << 17], after[1 << 17];
	struct dmavec_range r = { .handle = 999, .length = PAGE };
	int n1, n2;
	__u32 h = 0;

	n1 = klog(before, sizeof(before));
	ASSERT_GT(n1, 0);
	alloc(self->fd, 0, 0, &h);
	alloc(self->fd, self->info.bar_size * 2, 0, &h);
	free_handle(self->fd, 4242);
	export(self->fd, &r, 1, O_RDWR);
	export(self->fd, &r, DMAVEC_MAX_RANGES + 1, O_RDWR);
	ioctl(self->fd, _IO(DMAVEC_IOCTL_MAGIC, 0x7f), 0);
	n2 = klog(after, sizeof(after));
	EXPECT_EQ(n1, n2);
	EXPECT_EQ(0, memcmp(before, after, n1));
}

TEST_F(dev, read_only_export_refuses_writable_mmap)
{
	struct dmavec_range r = { .length = PAGE };
	int buf;

	ASSERT_EQ(0, alloc(self->fd, PAGE, 0, &r.handle));
	buf = export(self->fd, &r, 1, O_RDONLY);
	ASSERT_GE(buf, 0);
	EXPECT_EQ(0, fcntl(buf, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0));
	EXPECT_EQ(EACCES, errno);
	close(buf);
	free_handle(self->fd, r.handle);
}

/* FREE of an exported allocation: the dma-buf keeps the memory. */
TEST_F(dev, free_keeps_exported_memory_until_release)
{
	struct dmavec_range r = { .length = 4 * PAGE };
	__u8 *map;
	int buf;

	ASSERT_EQ(0, alloc(self->fd, 4 * PAGE, 0, &r.handle));
	buf = export(self->fd, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	ASSERT_EQ(0, free_handle(self->fd, r.handle));
	EXPECT_EQ(self->info.bar_size - 4 * PAGE, bytes_free(self->fd));
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 0x42;
	EXPECT_EQ(0x42, map[0]);
	munmap(map, 4 * PAGE);
	close(buf);
	EXPECT_EQ(self->info.bar_size, bytes_free(self->fd));
}

/* The device fd goes first: dma-bufs stay valid until their last reference. */
TEST(device_fd_closed_first)
{
	struct dmavec_range r = { .length = 2 * PAGE };
	int dev, buf;
	__u64 size;
	__u8 *map;

	DMAVEC_NEEDS(return, NEED_DEV);
	dev = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev, 0);
	size = bytes_free(dev);
	ASSERT_EQ(0, alloc(dev, 2 * PAGE, 0, &r.handle));
	buf = export(dev, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	close(dev);
	map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[PAGE] = 7;
	EXPECT_EQ(7, map[PAGE]);
	dev = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev, 0);
	EXPECT_EQ(size - 2 * PAGE, bytes_free(dev));
	munmap(map, 2 * PAGE);
	close(buf);
	EXPECT_EQ(size, bytes_free(dev));
	close(dev);
}

/* The dma-buf goes first, then the device fd frees the allocation. */
TEST(dmabuf_closed_first)
{
	struct dmavec_range r = { .length = PAGE };
	int dev, dev2, buf;
	__u64 size;

	DMAVEC_NEEDS(return, NEED_DEV);
	dev = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev, 0);
	size = bytes_free(dev);
	ASSERT_EQ(0, alloc(dev, PAGE, 0, &r.handle));
	buf = export(dev, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	close(buf);
	dev2 = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev2, 0);
	EXPECT_EQ(size - PAGE, bytes_free(dev2));
	close(dev);
	EXPECT_EQ(size, bytes_free(dev2));
	close(dev2);
}

/* Freed memory is scrubbed before it is handed out again. */
TEST(freed_memory_is_zeroed)
{
	struct dmavec_range r;
	struct dmavec_info info;
	int dev, buf, i;
	__u8 *map;

	DMAVEC_NEEDS(return, NEED_DEV);
	dev = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, ioctl(dev, DMAVEC_IOCTL_INFO, &info));
	ASSERT_EQ(0, alloc(dev, info.bar_size, 0, &r.handle));
	r.offset = 0;
	r.length = 4 * PAGE;
	r.reserved = 0;
	buf = export(dev, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0xa5, 4 * PAGE);
	munmap(map, 4 * PAGE);
	close(buf);
	ASSERT_EQ(0, free_handle(dev, r.handle));
	/* The whole BAR again, so from offset 0 again. */
	ASSERT_EQ(0, alloc(dev, info.bar_size, 0, &r.handle));
	buf = export(dev, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	map = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (i = 0; i < 4 * PAGE; i++)
		if (map[i])
			break;
	EXPECT_EQ(4 * PAGE, i);
	munmap(map, 4 * PAGE);
	close(buf);
	close(dev);
}

/* Touches @p in a child; returns the signal that killed it, or 0. */
static int touch_signal(__u8 *p)
{
	int status;
	pid_t pid = fork();

	if (!pid) {
		p[0] = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/*
 * Remove the device with a dma-buf exported, mmapped and its device fd
 * open: the mapping SIGBUSes, ioctls fail with ENODEV, every fd closes;
 * rescan brings the device back with all its memory free.
 */
TEST(remove_and_rescan_with_live_fds)
{
	struct dmavec_range r = { .length = 2 * PAGE };
	char bdf[256], path[PATH_MAX];
	struct dmavec_info info;
	int dev, buf, i;
	__u8 *map;
	__u32 h = 0;

	DMAVEC_NEEDS(return, NEED_DEV);
	dev = open_node("dmavec-", NULL, 0);
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, dev_name(bdf, sizeof(bdf)));
	ASSERT_EQ(0, alloc(dev, 2 * PAGE, 0, &r.handle));
	buf = export(dev, &r, 1, O_RDWR);
	ASSERT_GE(buf, 0);
	map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, touch_signal(map));

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
	ASSERT_EQ(0, write_file(path, "1"));
	EXPECT_EQ(SIGBUS, touch_signal(map));
	EXPECT_EQ(-1, ioctl(dev, DMAVEC_IOCTL_INFO, &info));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, alloc(dev, PAGE, 0, &h));
	EXPECT_EQ(-ENODEV, export(dev, &r, 1, O_RDWR));
	EXPECT_EQ(0, free_handle(dev, r.handle));
	munmap(map, 2 * PAGE);
	EXPECT_EQ(0, close(buf));
	EXPECT_EQ(0, close(dev));

	ASSERT_EQ(0, write_file("/sys/bus/pci/rescan", "1"));
	for (i = 0; i < 50 && (dev = open_node("dmavec-", NULL, 0)) < 0; i++)
		usleep(100000);
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, ioctl(dev, DMAVEC_IOCTL_INFO, &info));
	EXPECT_EQ(info.bar_size, info.bytes_free);
	close(dev);
}

TEST_HARNESS_MAIN
