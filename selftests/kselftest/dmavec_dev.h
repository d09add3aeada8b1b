/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dmavec_bar device of dmavec_uapi_test and dmavec_bar_test: its uAPI
 * calls, which return 0 or a file descriptor and -errno on failure, and the
 * fixture "dev" (the first /dev/dmavec-* node, opened, with its INFO).
 * Include after kselftest_harness.h and dmavec_util.h.
 */
#ifndef DMAVEC_DEV_H
#define DMAVEC_DEV_H

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/types.h>

static inline int alloc(int dev, __u64 size, __u64 align, __u32 *handle)
{
	struct dmavec_alloc a = { .size = size, .align = align };
	int ret = ioctl(dev, DMAVEC_IOCTL_ALLOC, &a);

	if (!ret)
		*handle = a.handle;
	return ret ? -errno : 0;
}

static inline int free_handle(int dev, __u32 handle)
{
	struct dmavec_free f = { .handle = handle };

	return ioctl(dev, DMAVEC_IOCTL_FREE, &f) ? -errno : 0;
}

static inline int export(int dev, struct dmavec_range *r, __u32 count, __u32 fd_flags)
{
	struct dmavec_export e = {
		.ranges = (__u64)(unsigned long)r,
		.count = count,
		.fd_flags = fd_flags,
	};

	return ioctl(dev, DMAVEC_IOCTL_EXPORT, &e) ? -errno : e.fd;
}

/* The PCI name of the device behind the first /dev/dmavec-* node. */
static inline int dev_name(char *bdf, size_t len)
{
	int fd = open_node("dmavec-", bdf, len);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

FIXTURE(dev) {
	int fd;
	struct dmavec_info info;
};

FIXTURE_SETUP(dev)
{
	DMAVEC_NEEDS(return, NEED_DEV);
	self->fd = open_node("dmavec-", NULL, 0);
	ASSERT_GE(self->fd, 0) TH_LOG("no /dev/dmavec-* device");
	ASSERT_EQ(0, ioctl(self->fd, DMAVEC_IOCTL_INFO, &self->info));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

#endif /* DMAVEC_DEV_H */
