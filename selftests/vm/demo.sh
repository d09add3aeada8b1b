#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The `make demo` report, run inside the guest after the modules are loaded.

M='==DMAVEC=='
demo() { echo "$M DEMO $*"; }

demo "kernel: $(uname -r)"
if dmesg | grep -q "DMAR: IOMMU enabled"; then
	demo "IOMMU: Intel VT-d enabled (emulated), $(dmesg | grep -o 'Default domain type: [A-Za-z]*' | head -n1)"
else
	demo "IOMMU: not enabled"
fi
for d in /sys/bus/pci/devices/*; do
	id="$(cat $d/vendor):$(cat $d/device)"
	case $id in
	0x1af4:0x1110) what="ivshmem (exporter)" ;;
	0x1234:0x11e8) what="edu (DMA engine)" ;;
	*) continue ;;
	esac
	drv=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)
	grp="none"
	[ -e $d/iommu_group ] && grp="group $(basename $(readlink $d/iommu_group)), $(cat $d/iommu_group/type) domain"
	demo "device $(basename $d) $what: driver ${drv:-none}, IOMMU $grp"
	if [ -r /sys/kernel/debug/dmavec_bar/$(basename $d)/bar ]; then
		set -- $(cat /sys/kernel/debug/dmavec_bar/$(basename $d)/bar)
		demo "  exported BAR $2 at $4, $6 bytes ($(( $6 / 1048576 )) MiB)"
	fi
done
demo "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
if /tests/dmavec_demo; then
	echo "$M STEP demo-data-path ok"
else
	echo "$M STEP demo-data-path fail"
fi
