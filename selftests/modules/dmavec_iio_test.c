// SPDX-License-Identifier: GPL-2.0
/*
 * The IIO device of dmavec_edu_dma: an IIO device whose buffer is IIO's
 * DMA-engine buffer (industrialio-buffer-dmaengine) on the channel of the
 * edu device it belongs to, so that the test VMs can exercise IIO's DMABUF
 * uAPI (IIO_BUFFER_DMABUF_ATTACH_IOCTL, IIO_BUFFER_DMABUF_ENQUEUE_IOCTL,
 * IIO_BUFFER_DMABUF_DETACH_IOCTL) end to end. Test-only; part of the
 * dmavec_edu_dma module, so that it also works built in: binding an edu to
 * dmavec_edu_dma adds the IIO device, unbinding removes it first.
 *
 * The device, named "dmavec_iio_test", a child of the edu PCI device, has
 * one input channel, in_voltage0: unsigned 32-bit little-endian samples,
 * which are dmavec_edu_dma's capture pattern (sample n of a DMABUF block is
 * dmavec_edu_dma's seed + n). Its buffer captures only (direction in); the
 * DMA-engine buffer maps the dma-bufs for the edu device that runs the
 * channel.
 */
#include <linux/device.h>
#include <linux/dmaengine.h>
#include <linux/err.h>
#include <linux/iio/buffer-dmaengine.h>
#include <linux/iio/iio.h>
#include <linux/module.h>

#include "dmavec_edu_dma.h"

#define IIO_TEST_NAME "dmavec_iio_test"

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

static void iio_test_release_chan(void *chan)
{
	dma_release_channel(chan);
}

static int iio_test_setup(struct device *dev, struct dma_chan *chan)
{
	struct iio_dev *indio_dev;
	int ret;

	/* Released after the buffer that uses it is gone. */
	ret = devm_add_action_or_reset(dev, iio_test_release_chan, chan);
	if (ret)
		return ret;

	indio_dev = devm_iio_device_alloc(dev, 0);
	if (!indio_dev)
		return -ENOMEM;
	indio_dev->name = IIO_TEST_NAME;
	indio_dev->info = &iio_test_info;
	indio_dev->modes = INDIO_BUFFER_HARDWARE;
	indio_dev->channels = iio_test_channels;
	indio_dev->num_channels = ARRAY_SIZE(iio_test_channels);

	ret = devm_iio_dmaengine_buffer_setup_with_handle(dev, indio_dev, chan,
							  IIO_BUFFER_DIRECTION_IN);
	if (ret)
		return ret;
	return devm_iio_device_register(dev, indio_dev);
}

/**
 * dmavec_iio_test_add() - adds the IIO device on a channel
 * @dev: the DMA device's device (the edu PCI device), the IIO device's parent
 * @chan: the channel, taken with dma_get_slave_channel(); it is released
 *	with the rest, or right away on failure
 *
 * Everything is device-managed in a devres group of @dev, so that
 * dmavec_iio_test_remove() tears it down before @dev is unbound: the IIO
 * device is unregistered, its buffer freed, and then the channel released.
 *
 * Return: the group, for dmavec_iio_test_remove(), or an ERR_PTR().
 */
void *dmavec_iio_test_add(struct device *dev, struct dma_chan *chan)
{
	void *group;
	int ret;

	group = devres_open_group(dev, NULL, GFP_KERNEL);
	if (!group) {
		dma_release_channel(chan);
		return ERR_PTR(-ENOMEM);
	}
	ret = iio_test_setup(dev, chan);
	if (ret) {
		devres_release_group(dev, group);
		return ERR_PTR(ret);
	}
	devres_close_group(dev, group);
	return group;
}

/**
 * dmavec_iio_test_remove() - removes what dmavec_iio_test_add() added
 * @dev: the device given to dmavec_iio_test_add()
 * @group: what it returned
 *
 * On return the channel is free again: no descriptor of the IIO device's
 * buffer is queued on it (the buffer's teardown stops its DMA).
 */
void dmavec_iio_test_remove(struct device *dev, void *group)
{
	devres_release_group(dev, group);
}

MODULE_IMPORT_NS("IIO_DMAENGINE_BUFFER");
