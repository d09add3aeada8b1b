# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree front end. Kbuild reads ./Kbuild, never this file, so this
# Makefile only drives the host side:
#
#   make            build the modules against the cached debug test kernel
#                   (set up and built on first use); KDIR=<build dir> to
#                   build against another kernel
#   make check      everything: set-up, kernel, style gates, modules, VM suite
#   make demo       boot the VM (plain kernel) and show the exported device memory
#   make bench      map/unmap cost: dmavec's array against the dma-buf core's
#                   sg_table helper and the bare DMA calls, one table
#   make soak       long reliability runs (fuzzer, churn, fault injection) with figures
#   make series     the kernel patch series of patches/series: out/series/
#                   (posted, with its cover letter) and out/series-test/
#                   (test-only); DMAVEC_AUTHOR="Name <address>" signs them
#   make series-check  git am of both on the base kernel; each posted patch
#                   built in turn (W=1), checkpatch, kernel-doc,
#                   checkkconfigsymbols, get_maintainer.pl (long)
#   make intree     build the kernel with the whole series applied (dmavec in
#                   drivers/dma-buf/dmavec), =m and =y, and boot the =y
#                   kernel with its KUnit suites
#   make kunit      the hermetic KUnit suites through kunit.py (.kunitconfig,
#                   x86_64 under QEMU, in the in-tree source)
#   make rust-analyzer   rust-project.json for editors (crates of this tree
#                   and of the kernel they build against)
#   make kernel     build the test kernel of FLAVOUR (debug|plain)
#   make setup      install the host tools and fetch the kernel source
#   make clean      remove build output (the cache in /var/cache/dmavec stays)

FLAVOUR ?= debug

.PHONY: all modules check demo bench soak series series-check intree kunit rust-analyzer \
	kernel setup clean

all modules:
	@scripts/modules.sh $(FLAVOUR) >/dev/null

check:
	@scripts/check.sh

demo:
	@scripts/demo.sh

bench:
	@scripts/bench.sh

soak:
	@scripts/soak.sh

series:
	@scripts/series.sh series

series-check:
	@scripts/series.sh check

intree:
	@scripts/intree.sh

kunit:
	@scripts/intree.sh kunit

rust-analyzer:
	@scripts/rust-analyzer.sh

kernel:
	@scripts/kernel.sh $(FLAVOUR)

setup:
	@scripts/setup.sh all

clean:
	rm -rf out
