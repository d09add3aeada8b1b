/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmavec_edu_dma's IIO device (dmavec_iio_test.c), which the DMA engine
 * (dmavec_edu_dma.c) adds on its channel when it binds to an edu.
 */
#ifndef DMAVEC_EDU_DMA_H
#define DMAVEC_EDU_DMA_H

struct device;
struct dma_chan;

void *dmavec_iio_test_add(struct device *dev, struct dma_chan *chan);
void dmavec_iio_test_remove(struct device *dev, void *group);

#endif /* DMAVEC_EDU_DMA_H */
