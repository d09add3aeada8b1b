// SPDX-License-Identifier: GPL-2.0
/*
 * dmavec_iio_test: an IIO device whose buffer is IIO's DMA-engine buffer
 * (industrialio-buffer-dmaengine) on a dmavec_edu_dma channel, so that the
 * test VMs can exercise IIO's DMABUF uAPI (IIO_BUFFER_DMABUF_ATTACH_IOCTL,
 * IIO_BUFFER_DMABUF_ENQUEUE_IOCTL, IIO_BUFFER_DMABUF_DETACH_IOCTL) end to
 * end. Test-only.
 *
 * The device, "dmavec_iio_test" on the faux bus, has one input channel,
 * in_voltage0: unsigned 32-bit little-endian samples, which are
 * dmavec_edu_dma's capture pattern (sample n of a DMABUF block is
 * dmavec_edu_dma's seed + n). Its buffer captures only (direction in);
 * the DMA-engine buffer maps the dma-bufs for the edu device that runs the
 * channel.
 *
 * Loading fails with -ENODEV unless a free channel of an edu device bound
 * to dmavec_edu_dma exists; the module parameter "device" (a PCI name,
 * e.g. 0000:00:04.0) picks the edu device when set.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/device/faux.h>
#include <linux/dmaengine.h>
#include <linux/iio/buffer-dmaengine.h>
#include <linux/iio/iio.h>
#include <linux/module.h>
#include <linux/string.h>

#define IIO_TEST_NAME "dmavec_iio_test"
#define PROVIDER_NAME "dmavec_edu_dma"

static char *edu_name;
module_param_named(device, edu_name, charp, 0444);
MODULE_PARM_DESC(device,
		 "PCI name of the edu device bound to dmavec_edu_dma to use (default: any)");

static struct dma_chan *iio_test_chan;
static struct faux_device *iio_test_fdev;
/* The error of the faux device's probe, for the module's init. */
static int iio_test_probe_err;

static const struct iio_chan_spec iio_test_channels[] = {
	{
		.type = IIO_VOLTAGE,
		.indexed = 1,
		.channel = 0,
		.scan_index = 0,
		.scan_type = {
			.sign = 'u',
			.realbits = 32,
			.storagebits = 32,
			.endianness = IIO_LE,
		},
	},
};

/* iio_device_register() wants an info; the channel has no attribute to read. */
static const struct iio_info iio_test_info = {
};

/**
 * iio_test_filter() - accepts dmavec_edu_dma's channels
 * @chan: a free channel of a DMA device
 * @data: unused
 *
 * Called by dma_request_channel() under the dmaengine core's device list
 * lock, for the channels of every DMA device.
 *
 * Return: true if @chan's DMA device is a device bound to the driver named
 * dmavec_edu_dma and, when the module parameter "device" is set, has that
 * name.
 */
static bool iio_test_filter(struct dma_chan *chan, void *data)
{
	struct device *dev = chan->device->dev;
	const struct device_driver *drv = READ_ONCE(dev->driver);

	if (!drv || strcmp(drv->name, PROVIDER_NAME))
		return false;
	return !edu_name || !strcmp(dev_name(dev), edu_name);
}

/**
 * iio_test_probe() - creates the IIO device on the faux device
 * @fdev: the faux device
 *
 * Everything is device-managed on @fdev: unbinding it (faux_device_destroy())
 * unregisters the IIO device, then frees its buffer. The channel is the
 * module's and is released after that.
 *
 * Return: 0 or a negative errno, which is also left in iio_test_probe_err.
 */
static int iio_test_probe(struct faux_device *fdev)
{
	struct device *dev = &fdev->dev;
	struct iio_dev *indio_dev;
	int ret;

	indio_dev = devm_iio_device_alloc(dev, 0);
	if (!indio_dev) {
		ret = -ENOMEM;
		goto out;
	}
	indio_dev->name = IIO_TEST_NAME;
	indio_dev->info = &iio_test_info;
	indio_dev->modes = INDIO_BUFFER_HARDWARE;
	indio_dev->channels = iio_test_channels;
	indio_dev->num_channels = ARRAY_SIZE(iio_test_channels);

	ret = devm_iio_dmaengine_buffer_setup_with_handle(dev, indio_dev,
							  iio_test_chan,
							  IIO_BUFFER_DIRECTION_IN);
	if (ret)
		goto out;
	ret = devm_iio_device_register(dev, indio_dev);
out:
	iio_test_probe_err = ret;
	return ret;
}

static const struct faux_device_ops iio_test_faux_ops = {
	.probe = iio_test_probe,
};

static int __init iio_test_init(void)
{
	dma_cap_mask_t mask;
	int ret;

	dma_cap_zero(mask);
	dma_cap_set(DMA_SLAVE, mask);
	iio_test_chan = dma_request_channel(mask, iio_test_filter, NULL);
	if (!iio_test_chan)
		return -ENODEV;

	iio_test_probe_err = -ENOMEM;
	iio_test_fdev = faux_device_create(IIO_TEST_NAME, NULL,
					   &iio_test_faux_ops);
	if (!iio_test_fdev) {
		/* Not created, or its probe failed and it is gone. */
		ret = iio_test_probe_err ?: -ENOMEM;
		pr_err("cannot create the IIO device: %d\n", ret);
		dma_release_channel(iio_test_chan);
		return ret;
	}
	return 0;
}

static void __exit iio_test_exit(void)
{
	/* The IIO device and its buffer go first: they use the channel. */
	faux_device_destroy(iio_test_fdev);
	dma_release_channel(iio_test_chan);
}

module_init(iio_test_init);
module_exit(iio_test_exit);

MODULE_DESCRIPTION("IIO device capturing through dmavec_edu_dma, for IIO's DMABUF tests (test VMs only)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IIO_DMAENGINE_BUFFER");
