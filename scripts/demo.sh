#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot the VM on the plain kernel with the modules loaded and
# print what exists: the device, its exported BAR, the IOMMU domains.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$DMAVEC_ROOT"

kdir=$(vm_ready plain)
echo "booting the VM (QEMU q35, TCG, intel-iommu) ..."
status=0
python3 selftests/vm/run.py --kernel "$kdir/arch/x86/boot/bzImage" \
	--initrd out/plain/initrd.gz --mode demo --quiet \
	--log out/logs/vm-demo.log --timeout 600 > out/logs/vm-demo.result || status=$?
echo
echo "dmavec demo"
echo "-----------"
sed -n 's/.*==DMAVEC== DEMO //p' out/logs/vm-demo.log
grep -E '^(iommu:|.*DMAR: IOMMU enabled)' out/logs/vm-demo.log | sed 's/^DMESG| //; s/^\[[^]]*\] //; s/^/  /' | head -n 8
echo
echo "end-to-end suite (edu DMA through the array) on the plain kernel:"
grep -E "kselftest dmavec_edu_test" out/logs/vm-demo.result | sed 's/^ */  /'
tail -n 1 out/logs/vm-demo.result
[ $status -eq 0 ] || { grep FAIL out/logs/vm-demo.result; exit $status; }
