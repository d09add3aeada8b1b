// SPDX-License-Identifier: GPL-2.0
/*
 * The `make demo` program, run in the guest: allocate device memory with
 * dmavec_bar, export two ranges of it as one dma-buf, mmap it, write a
 * pattern, and have the host read it back from ivshmem's shared-memory
 * file through the runner's host agent.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define M "==DMAVEC== DEMO "
#define KIB 1024ULL

/* edu imports the dma-buf and DMAs a pattern into it; the host checks its file. */
static int edu_demo(int buf, struct dmavec_range *r, unsigned long long bar)
{
	static const char *const kinds[] = { "iova", "direct", "bus-addr", "sg-table" };
	struct dmavec_edu_import im = { .fd = buf };
	struct dmavec_edu_xfer x = { 0 };
	struct dmavec_edu_info i;
	char name[256];
	long n0, n1;
	int edu;

	edu = open_node("dmavec-edu-", name, sizeof(name));
	if (edu < 0 || ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im) ||
	    ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &i)) {
		printf(M "FAIL: the edu importer could not import the dma-buf\n");
		return -1;
	}
	printf(M "/dev/dmavec-edu-%s imported it: map type %s, %u entr%s, %llu KiB, %s %#llx\n",
	       name, i.map_type < 4 ? kinds[i.map_type] : "?", i.entries,
	       i.entries == 1 ? "y" : "ies", (unsigned long long)i.size / 1024,
	       "first DMA address", (unsigned long long)i.first_addr);
	printf(M "  (the memory is at physical %#llx and %#llx: the device sees an IOVA)\n",
	       (unsigned long long)(bar + r[0].offset),
	       (unsigned long long)(bar + r[1].offset));
	/* edu's DMA engine writes 2 KiB at the end of range 0 and 2 KiB at the start of range 1. */
	x.offset = r[0].length - 2048;
	x.length = 2048;
	x.seed = 4242;
	if (ioctl(edu, DMAVEC_EDU_IOCTL_WRITE, &x))
		return -1;
	x.offset = r[0].length;
	x.seed = 4243;
	if (ioctl(edu, DMAVEC_EDU_IOCTL_WRITE, &x))
		return -1;
	n0 = agent_check(r[0].offset + r[0].length - 2048, 2048, 4242);
	n1 = agent_check(r[1].offset, 2048, 4243);
	printf(M "edu DMA'd 4 KiB across the two ranges; host file: %ld of 4096 bytes match%s\n",
	       n0 + n1, n0 + n1 == 4096 ? "" : "  <-- MISMATCH");
	ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
	close(edu);
	return n0 + n1 == 4096 ? 0 : -1;
}

int main(void)
{
	struct dmavec_info info;
	struct dmavec_alloc a;
	struct dmavec_range r[2];
	struct dmavec_export e;
	const char *why = dmavec_missing_all(NEED_DEV | NEED_EDU | NEED_AGENT);
	char name[256];
	size_t len, ok;
	long n0, n1;
	__u8 *map;
	int dev;

	if (why) {
		printf(M "SKIP: %s\n", why);
		return KSFT_SKIP;
	}
	dev = open_node("dmavec-", name, sizeof(name));
	if (dev < 0 || ioctl(dev, DMAVEC_IOCTL_INFO, &info)) {
		printf(M "FAIL: no dmavec device\n");
		return 1;
	}
	printf(M "/dev/dmavec-%s: BAR %u, %llu MiB of device memory, %llu MiB free\n", name,
	       info.bar_index, (unsigned long long)info.bar_size >> 20,
	       (unsigned long long)info.bytes_free >> 20);

	/* All of it: one allocation from offset 0, so the host offsets are known. */
	memset(&a, 0, sizeof(a));
	a.size = info.bar_size;
	if (ioctl(dev, DMAVEC_IOCTL_ALLOC, &a)) {
		perror("ALLOC");
		return 1;
	}
	/* A 512 KiB dma-buf: 256 KiB at 4 MiB, then 256 KiB at 1 MiB. */
	memset(r, 0, sizeof(r));
	r[0].handle = a.handle;
	r[0].offset = 4096 * KIB;
	r[0].length = 256 * KIB;
	r[1].handle = a.handle;
	r[1].offset = 1024 * KIB;
	r[1].length = 256 * KIB;
	memset(&e, 0, sizeof(e));
	e.ranges = (__u64)(unsigned long)r;
	e.count = 2;
	e.fd_flags = O_RDWR | O_CLOEXEC;
	if (ioctl(dev, DMAVEC_IOCTL_EXPORT, &e)) {
		perror("EXPORT");
		return 1;
	}
	len = r[0].length + r[1].length;
	printf(M "exported as dma-buf fd %d: %zu KiB in 2 ranges, %s\n", e.fd, len / 1024,
	       "256 KiB at 4 MiB then 256 KiB at 1 MiB");

	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* Each range is the pattern's continuation: seed per range, checked by the host. */
	agent_pattern(2026, map, r[0].length);
	agent_pattern(2027, map + r[0].length, r[1].length);
	printf(M "wrote a %zu KiB pattern through the dma-buf's mmap\n", len / 1024);

	/* The host compares its shared-memory file at the two device-memory offsets. */
	n0 = agent_check(r[0].offset, r[0].length, 2026);
	n1 = agent_check(r[1].offset, r[1].length, 2027);
	ok = (n0 < 0 || n1 < 0) ? 0 : (size_t)(n0 + n1);
	printf(M "host file at 4 MiB and 1 MiB: %zu of %zu bytes match%s\n", ok, len,
	       ok == len ? "" : "  <-- MISMATCH");
	munmap(map, len);
	if (ok != len)
		return 1;
	return edu_demo(e.fd, r, bar_phys(name, 2)) ? 1 : 0;
}
