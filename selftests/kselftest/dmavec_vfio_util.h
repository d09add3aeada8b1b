/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ivshmem-plain (1af4:1110) bound to vfio-pci and opened through iommufd,
 * for the kselftests that take vfio-pci's dma-bufs of its BAR 2
 * (VFIO_DEVICE_FEATURE_DMA_BUF): dmavec_vfio_test, where edu imports them,
 * and dmavec_iio_test, where IIO captures into them. On top of
 * dmavec_edu_util.h.
 */
#ifndef DMAVEC_VFIO_UTIL_H
#define DMAVEC_VFIO_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "dmavec_edu_util.h"

#define PCI_DEVICES	"/sys/bus/pci/devices"
#define BAR2		VFIO_PCI_BAR2_REGION_INDEX

/* The text of @path (at most @len - 1 bytes, NUL-terminated); 0 or -1. */
static inline int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static inline int dev_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	return read_text(path, buf, len);
}

static inline int dev_attr_write(const char *bdf, const char *attr, const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	return write_file(path, val);
}

/* The PCI name of the ivshmem-plain device in @bdf; 0 or -1. */
static inline int find_ivshmem(char *bdf, size_t len)
{
	DIR *d = opendir(PCI_DEVICES);
	char ven[16], dev[16];
	struct dirent *de;
	int ret = -1;

	if (!d)
		return -1;
	while (ret && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= len)
			continue;
		if (dev_attr(de->d_name, "vendor", ven, sizeof(ven)) ||
		    dev_attr(de->d_name, "device", dev, sizeof(dev)))
			continue;
		if (!strncmp(ven, "0x1af4", 6) && !strncmp(dev, "0x1110", 6)) {
			memcpy(bdf, de->d_name, strlen(de->d_name) + 1);
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

/* The name of the driver @bdf is bound to, "" if none. */
static inline void driver_of(const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX], *name;
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	drv[0] = '\0';
	if (n <= 0)
		return;
	link[n] = '\0';
	name = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (strlen(name) < len)
		memcpy(drv, name, strlen(name) + 1);
}

/* The driver ivshmem had when the program started (dmavec_bar), "" if unknown. */
static char orig_drv[64];

static void __attribute__((constructor)) note_original_driver(void)
{
	char bdf[64];

	if (!find_ivshmem(bdf, sizeof(bdf)))
		driver_of(bdf, orig_drv, sizeof(orig_drv));
	if (!strcmp(orig_drv, "vfio-pci"))
		orig_drv[0] = '\0';
}

/* Whether PCI device @bdf sits in a translated (DMA) IOMMU domain. */
static inline int translated(const char *bdf)
{
	char type[32] = "";

	if (dev_attr(bdf, "iommu_group/type", type, sizeof(type)))
		return 0;
	return !strcmp(type, "DMA\n") || !strcmp(type, "DMA-FQ\n");
}

/* ivshmem bound to vfio-pci and opened through iommufd. */
struct vfio_dev {
	char bdf[64];		/* ivshmem's PCI name, found by the caller */
	int dev, iommufd;	/* the vfio device cdev and /dev/iommu, or -1 */
	__u32 ioas;		/* the IOAS the device is attached to */
	__u64 bar_size;		/* BAR 2's size */
	__u64 cfg_off;		/* the config region's offset in @dev */
};

/* VFIO_DEVICE_FEATURE_DMA_BUF of @nr ranges of @region; the dma-buf's fd or -errno. */
static inline int vfio_dmabuf(struct vfio_dev *d, __u32 region, __u32 flags, __u32 nr,
			      const struct vfio_region_dma_range *r)
{
	size_t sz = sizeof(struct vfio_device_feature) +
		    sizeof(struct vfio_device_feature_dma_buf) + nr * sizeof(*r);
	struct vfio_device_feature *f = calloc(1, sz);
	struct vfio_device_feature_dma_buf *b;
	int ret;

	if (!f)
		return -ENOMEM;
	f->argsz = sz;
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	b = (void *)f->data;
	b->region_index = region;
	b->open_flags = O_RDWR | O_CLOEXEC;
	b->flags = flags;
	b->nr_ranges = nr;
	memcpy(b->dma_ranges, r, nr * sizeof(*r));
	ret = ioctl(d->dev, VFIO_DEVICE_FEATURE, f);
	if (ret < 0)
		ret = -errno;
	free(f);
	return ret;
}

/* The size and offset in the device file of region @index; 0 or -errno. */
static inline int vfio_region(struct vfio_dev *d, __u32 index, __u64 *size, __u64 *off)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(d->dev, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	if (size)
		*size = ri.size;
	if (off)
		*off = ri.offset;
	return 0;
}

/* Sets or clears PCI_COMMAND_MEMORY through vfio's config region; 0 or -errno. */
static inline int vfio_set_memory(struct vfio_dev *d, int on)
{
	off_t off = d->cfg_off + PCI_COMMAND;
	__u16 cmd;

	if (pread(d->dev, &cmd, 2, off) != 2)
		return -errno;
	if (on)
		cmd |= PCI_COMMAND_MEMORY;
	else
		cmd &= ~PCI_COMMAND_MEMORY;
	return pwrite(d->dev, &cmd, 2, off) == 2 ? 0 : -errno;
}

static inline int vfio_fail(const char **why, const char *what)
{
	int err = errno ? errno : EIO;

	*why = what;
	return -err;
}

/*
 * Binds ivshmem (@d->bdf) to vfio-pci, opens it through iommufd, attaches
 * it to a new IOAS and enables its memory decoding; BAR 2 must have at
 * least @min_bar bytes. 0, or -errno and what failed in *@why; vfio_close()
 * either way.
 */
static inline int vfio_open(struct vfio_dev *d, __u64 min_bar, const char **why)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	char path[PATH_MAX], drv[64];
	glob_t g;

	d->dev = -1;
	d->iommufd = -1;
	errno = 0;
	driver_of(d->bdf, drv, sizeof(drv));
	if (drv[0] && dev_attr_write(d->bdf, "driver/unbind", d->bdf))
		return vfio_fail(why, "unbind from its driver");
	if (dev_attr_write(d->bdf, "driver_override", "vfio-pci"))
		return vfio_fail(why, "driver_override");
	if (write_file("/sys/bus/pci/drivers_probe", d->bdf))
		return vfio_fail(why, "drivers_probe");
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/vfio-dev/vfio*", d->bdf);
	if (glob(path, 0, NULL, &g))
		return vfio_fail(why, "no vfio-dev/vfio*: not bound to vfio-pci");
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", strrchr(g.gl_pathv[0], '/') + 1);
	globfree(&g);
	d->dev = open(path, O_RDWR | O_CLOEXEC);
	if (d->dev < 0)
		return vfio_fail(why, "open the vfio device cdev");
	d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (d->iommufd < 0)
		return vfio_fail(why, "open /dev/iommu");
	bind.iommufd = d->iommufd;
	if (ioctl(d->dev, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return vfio_fail(why, "VFIO_DEVICE_BIND_IOMMUFD");
	if (ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &ioas))
		return vfio_fail(why, "IOMMU_IOAS_ALLOC");
	d->ioas = ioas.out_ioas_id;
	at.pt_id = d->ioas;
	if (ioctl(d->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		return vfio_fail(why, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	if (vfio_region(d, BAR2, &d->bar_size, NULL) ||
	    vfio_region(d, VFIO_PCI_CONFIG_REGION_INDEX, NULL, &d->cfg_off))
		return vfio_fail(why, "VFIO_DEVICE_GET_REGION_INFO");
	if (d->bar_size < min_bar) {
		errno = ENOSPC;
		return vfio_fail(why, "BAR 2 is too small");
	}
	if (vfio_set_memory(d, 1))
		return vfio_fail(why, "enable memory decoding through the config region");
	return 0;
}

/*
 * Closes what is open of @d and gives ivshmem back to the driver it had
 * when the program started, with no override left; 0 if it is back.
 */
static inline int vfio_close(struct vfio_dev *d)
{
	char drv[64];

	if (d->dev >= 0)
		close(d->dev);
	if (d->iommufd >= 0)
		close(d->iommufd);
	d->dev = -1;
	d->iommufd = -1;
	dev_attr_write(d->bdf, "driver_override", "\n");
	driver_of(d->bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		dev_attr_write(d->bdf, "driver/unbind", d->bdf);
	write_file("/sys/bus/pci/drivers_probe", d->bdf);
	driver_of(d->bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci") || (orig_drv[0] && strcmp(drv, orig_drv))) {
		fprintf(stderr, "# %s: bound to '%s' after the test, not to '%s'\n",
			d->bdf, drv, orig_drv);
		return -1;
	}
	return 0;
}

#endif /* DMAVEC_VFIO_UTIL_H */
