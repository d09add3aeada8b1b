// SPDX-License-Identifier: GPL-2.0
/*
 * Importers that cannot use the exporter's MMIO, in two VM runs of their own.
 *
 * unroutable_import_is_eperm_and_quiet: P2PDMA cannot route the importer to
 * the exporter's MMIO. The VM runner's
 * "pxb" topology puts edu behind a PCIe expander bridge: a second host bridge,
 * which is not on the P2PDMA whitelist, so pci_p2pdma_map_type() answers
 * PCI_P2PDMA_MAP_NOT_SUPPORTED for edu and ivshmem, and on its first query
 * for a client it reports why in the kernel log. IMPORT is reached from user
 * space: it must fail with EPERM and leave the kernel log as it was (dmavec
 * asks with pci_p2pdma_map_type_nowarn()).
 *
 * bus_addr_beyond_the_mask_is_erange: exporter and importer behind one PCIe
 * switch (bus addresses, no DMA API call), with an 8 GiB BAR that the
 * firmware places above 4 GiB, and edu's 32-bit DMA mask: the map fails
 * with ERANGE instead of handing edu addresses it would truncate, and
 * without a log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define PAGE 4096ULL

/* The whole kernel log (SYSLOG_ACTION_READ_ALL). */
static int klog(char *buf, int len)
{
	return klogctl(3, buf, len);
}

/* A dma-buf of one newly allocated page of the exporter @bar, or -1. */
static int export_page(int bar)
{
	struct dmavec_alloc a = { .size = PAGE };
	struct dmavec_range r = { .length = PAGE };
	struct dmavec_export e = { .count = 1, .fd_flags = O_RDWR | O_CLOEXEC };

	if (ioctl(bar, DMAVEC_IOCTL_ALLOC, &a))
		return -1;
	r.handle = a.handle;
	e.ranges = (__u64)(unsigned long)&r;
	return ioctl(bar, DMAVEC_IOCTL_EXPORT, &e) ? -1 : e.fd;
}

TEST(unroutable_import_is_eperm_and_quiet)
{
	static char before[1 << 17], after[1 << 17];
	struct dmavec_edu_import im = { 0 };
	int bar = open_node("dmavec-", NULL, 0);
	int edu = open_node("dmavec-edu-", NULL, 0);
	int n1, n2, i;

	/* A topology user space cannot ask for: the runner boots it for this test. */
	if (!dmavec_runner())
		SKIP(return, "needs edu behind another host bridge (the VM runner's route mode)");
	ASSERT_GE(bar, 0);
	ASSERT_GE(edu, 0) TH_LOG("no edu importer");
	im.fd = export_page(bar);
	ASSERT_GE(im.fd, 0);
	n1 = klog(before, sizeof(before));
	ASSERT_GT(n1, 0);
	/* The first query for this client, and one answered from P2PDMA's cache. */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-1, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
		EXPECT_EQ(EPERM, errno);
	}
	n2 = klog(after, sizeof(after));
	EXPECT_EQ(n1, n2) TH_LOG("new: %.*s", n2 > n1 ? n2 - n1 : 0, after + n1);
	EXPECT_EQ(0, memcmp(before, after, n1));
	close(im.fd);
	close(edu);
	close(bar);
}

TEST(bus_addr_beyond_the_mask_is_erange)
{
	static char before[1 << 17], after[1 << 17];
	struct dmavec_edu_import im = { 0 };
	struct dmavec_edu_info info;
	struct dmavec_info bi;
	char bdf[256];
	int bar = open_node("dmavec-", bdf, sizeof(bdf));
	int edu = open_node("dmavec-edu-", NULL, 0);
	int n1, n2;

	if (!dmavec_runner())
		SKIP(return, "needs dmavec_edu dma_bits=32, 8 GiB BAR (the VM runner's far route)");
	ASSERT_GE(bar, 0);
	ASSERT_GE(edu, 0) TH_LOG("no edu importer");
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_INFO, &bi));
	ASSERT_GT(bar_phys(bdf, bi.bar_index), 0xffffffffULL) TH_LOG("the BAR is below 4 GiB");
	im.fd = export_page(bar);
	ASSERT_GE(im.fd, 0);
	n1 = klog(before, sizeof(before));
	ASSERT_GT(n1, 0);
	/* Attach decides the route (bus addresses); the map checks the mask. */
	ASSERT_EQ(0, ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im));
	EXPECT_EQ(-1, ioctl(edu, DMAVEC_EDU_IOCTL_INFO, &info));
	EXPECT_EQ(ERANGE, errno);
	n2 = klog(after, sizeof(after));
	EXPECT_EQ(n1, n2) TH_LOG("new: %.*s", n2 > n1 ? n2 - n1 : 0, after + n1);
	EXPECT_EQ(0, memcmp(before, after, n1));
	ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
	close(im.fd);
	close(edu);
	close(bar);
}

TEST_HARNESS_MAIN
