/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the dmavec kselftests that need the test VMs' setup, on top
 * of dmavec_util.h: QEMU's edu device through the dmavec_edu importer
 * (<linux/dmavec_edu.h>), the test modules' debugfs files, the VM runner's
 * host agent (host_agent.h), and what of them a test needs.
 */
#ifndef DMAVEC_EDU_UTIL_H
#define DMAVEC_EDU_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dmavec_edu.h>
#include <linux/udmabuf.h>

#include "host_agent.h"
#include "dmavec_util.h"

#define BUFINFO		"/sys/kernel/debug/dma_buf/bufinfo"

/* The first line of @path, without its newline. */
static inline int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

/*
 * The mapping type debugfs shows for @dev's attachment to the dma-buf of
 * inode @ino ("\t<device>\t<type>" under its line), in @type; -1 if none.
 */
static inline int attached_type(unsigned long ino, const char *dev, char *type, size_t len)
{
	char line[512], name[128], t[64];
	unsigned long cur = 0, i;
	FILE *f = fopen(BUFINFO, "r");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* size flags mode count exp_name ino name */
		if (line[0] != '\t' &&
		    sscanf(line, "%*s %*s %*s %*s %*s %lu", &i) == 1)
			cur = i;
		else if (cur == ino && sscanf(line, "\t%127s %63s", name, t) == 2 &&
			 !strcmp(name, dev)) {
			snprintf(type, len, "%s", t);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* The inode number of the file behind @fd (a dma-buf's, as bufinfo lists it); 0 if unknown. */
static inline unsigned long fd_ino(int fd)
{
	char path[64], line[128];
	unsigned long ino = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ino: %lu", &ino) == 1)
			break;
	fclose(f);
	return ino;
}

/* A udmabuf of @len bytes of a new memfd; its file descriptor, or -1. */
static inline int udmabuf_alloc(size_t len)
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

/* edu's WRITE or READ (@cmd) of @len bytes at buffer offset @off; 0 or -errno. */
static inline int edu_xfer(int edu, unsigned long cmd, __u64 off, __u64 len, __u32 seed,
			   void *data)
{
	struct dmavec_edu_xfer x = {
		.offset = off, .length = len, .seed = seed, .data = (__u64)(unsigned long)data,
	};

	return ioctl(edu, cmd, &x) ? -errno : 0;
}

/* edu's INFO of its import; 0 or -errno. */
static inline int edu_info(int edu, struct dmavec_edu_info *i)
{
	return ioctl(edu, DMAVEC_EDU_IOCTL_INFO, i) ? -errno : 0;
}

/* edu's IMPORT of the dma-buf @fd; 0 or -errno. */
static inline int edu_import(int edu, int fd)
{
	struct dmavec_edu_import im = { .fd = fd };

	return ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im) ? -errno : 0;
}

/* The value of "<key>: <n>" in @file, or 0. */
static inline unsigned long long read_key(const char *file, const char *key)
{
	unsigned long long v = 0;
	char line[128], fmt[64];
	FILE *f = fopen(file, "r");

	if (!f)
		return 0;
	snprintf(fmt, sizeof(fmt), "%s: %%llu", key);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Reads a file descriptor number a test module's debugfs file hands out. */
static inline int read_fd_from(const char *path)
{
	char buf[32], *end;
	int f = open(path, O_RDONLY), n, fd = -1;

	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n > 0) {
		buf[n] = '\0';
		fd = strtol(buf, &end, 10);
		if (end == buf)
			fd = -1;
	}
	return fd;
}

/* Physical start of BAR @bar of PCI device @bdf, from sysfs, or 0. */
static inline unsigned long long bar_phys(const char *bdf, int bar)
{
	unsigned long long s = 0, e, f;
	char path[PATH_MAX], line[128];
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	for (i = 0; i <= bar && fgets(line, sizeof(line), fp); i++)
		;
	fclose(fp);
	return sscanf(line, "%llx %llx %llx", &s, &e, &f) == 3 ? s : 0;
}

/* What a test needs besides dmavec_util.h's NEED_*, for dmavec_missing_all(). */
enum {
	NEED_EDU = 1 << 8,	/* a /dev/dmavec-edu-* node: dmavec_edu bound to edu */
	NEED_CTEST = 1 << 9,	/* debugfs dmavec_ctest/: the C API test module */
	NEED_RTEST = 1 << 10,	/* debugfs dmavec_test/: the Rust API test module */
	NEED_AGENT = 1 << 11,	/* the VM runner's host agent (host_agent.h) */
	NEED_DMA_HEAP = 1 << 12,	/* /dev/dma_heap/system */
	NEED_UDMABUF = 1 << 13,	/* /dev/udmabuf */
};

/*
 * dmavec_missing() of all the needs, this header's too, checked in this
 * order: NEED_DEV, NEED_EDU, NEED_STATS, NEED_CTEST, NEED_RTEST,
 * NEED_DMA_HEAP, NEED_UDMABUF, NEED_AGENT.
 */
static inline const char *dmavec_missing_all(unsigned int needs)
{
	const char *why;

	if (dmavec_runner())
		return NULL;
	why = dmavec_missing(needs & NEED_DEV);
	if (why)
		return why;
	if ((needs & NEED_EDU) && !have_node("dmavec-edu-"))
		return "no /dev/dmavec-edu-* node (dmavec_edu and QEMU's edu)";
	why = dmavec_missing(needs & NEED_STATS);
	if (why)
		return why;
	if ((needs & NEED_CTEST) && access("/sys/kernel/debug/dmavec_ctest/export", R_OK))
		return "no debugfs dmavec_ctest/ (the dmavec_ctest test module)";
	if ((needs & NEED_RTEST) && access("/sys/kernel/debug/dmavec_test/import", R_OK))
		return "no debugfs dmavec_test/ (the dmavec_test test module)";
	if ((needs & NEED_DMA_HEAP) && access("/dev/dma_heap/system", R_OK))
		return "no /dev/dma_heap/system (CONFIG_DMABUF_HEAPS_SYSTEM)";
	if ((needs & NEED_UDMABUF) && access("/dev/udmabuf", R_OK | W_OK))
		return "no /dev/udmabuf (CONFIG_UDMABUF)";
	if ((needs & NEED_AGENT) && !agent_available())
		return "no host agent on " HOST_AGENT_TTY " (the dmavec VM runner's)";
	return NULL;
}

/* DMAVEC_NEEDS() of dmavec_util.h, for all the needs (dmavec_missing_all()). */
#undef DMAVEC_NEEDS
#define DMAVEC_NEEDS(statement, needs) do {				\
	const char *__why = dmavec_missing_all(needs);			\
									\
	if (__why)							\
		SKIP(statement, "%s", __why);				\
} while (0)

#endif /* DMAVEC_EDU_UTIL_H */
