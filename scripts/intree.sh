#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make intree: the kernel with the whole series of patches/series applied
# (posted and test-only), dmavec in drivers/dma-buf/dmavec, built with dmavec
# =m and =y. The =y kernel boots in the VM and its built-in KUnit suites must
# pass. The source is the cached patched tree (the patch entries) plus the
# commits generated from this repository, brought in by scripts/series.py:
# only files whose content changed are written, so builds are incremental.
#
# Usage: scripts/intree.sh [m|y|yplain|boot|kunit|kunit-build|source]...   (default: m y boot)
#   source: only bring the source up to date, and print its directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

"$here/setup.sh" all
src=$(readlink -f "$DMAVEC_CACHE/src/current")
base="$DMAVEC_CACHE/intree/$(basename "$src")"
tree="$base/src"

# The source: a hard-link copy of the patched tree, made once per patch
# series; series.py never writes through a link (a file it changes is a new
# file).
if [ ! -f "$tree/.dmavec-ready" ]; then
	rm -rf "$DMAVEC_CACHE/intree"
	mkdir -p "$base"
	cp -al "$src" "$tree.tmp"
	touch "$tree.tmp/.dmavec-ready"
	mv "$tree.tmp" "$tree"
fi
# This tree, as it is now (committed or not), as the generated commits put it.
python3 "$DMAVEC_ROOT/scripts/series.py" intree "$src" "$tree"

toolchain=$( { /usr/bin/rustc --version; clang$LLVM_SUFFIX --version | head -n1; } )

# build V: the kernel with dmavec =V, in its own cached build directory. The
# =y kernel is the one that boots, with vfio-pci converted to dmavec: it gets
# the debug flavour (KASAN, lockdep, kmemleak, DMA-API debugging). yplain is
# the same without them, for make bench only.
build() {
	local v=$1 key out flavour=plain cfg=$1
	case $v in
	y) flavour=debug ;;
	yplain) cfg=y ;;
	esac
	key=$( { cat "$DMAVEC_ROOT/kernel/base.config" "$DMAVEC_ROOT/kernel/$flavour.config" \
		"$DMAVEC_ROOT/kernel/intree-$cfg.config"; echo "$toolchain"; echo build-log-v1; } | sha256sum | cut -c1-12)
	out="$base/build-$v-$key"
	if [ ! -f "$out/.config-ready" ]; then
		rm -rf "$base/build-$v-"*
		mkdir -p "$out"
		# The test kernel of the same flavour (scripts/kernel.sh) is built from
		# this tree with the same fragments less dmavec's: its objects are a
		# start, and the build below redoes what the configuration changes
		# (Kbuild tracks each object's CONFIG_ symbols).
		local seed
		seed=$(readlink -f "$DMAVEC_CACHE/build/$flavour" 2>/dev/null || true)
		if [ -n "$seed" ] && [ -f "$seed/.dmavec-ready" ] &&
		   [ "$(readlink -f "$seed/source")" = "$(readlink -f "$tree")" ]; then
			echo "[intree] starting from the objects of $seed" >&2
			cp -a "$seed/." "$out/"
			rm -f "$out/.dmavec-ready" "$out/.dmavec-toolchain"
			touch "$out/.dmavec-seeded"
		fi
		kconfig "$out" "$tree" "$DMAVEC_ROOT/kernel/base.config" \
			"$DMAVEC_ROOT/kernel/$flavour.config" "$DMAVEC_ROOT/kernel/intree-$cfg.config" ||
			return 1
		touch "$out/.config-ready"
	fi
	echo "[intree] building the kernel with dmavec =$v in $out" >&2
	# Builds are incremental: the log of every build is kept, so that a warning
	# of the first one is still seen.
	local start kind=incremental
	start=$(date +%s)
	[ -f "$out/vmlinux" ] || kind="first build"
	# The first build after the seed: from the test kernel's objects.
	[ -f "$out/.dmavec-seeded" ] && kind="first build, from the $flavour kernel's objects"
	make -s -C "$tree" O="$out" "${KMAKE_VARS[@]}" -j"${DMAVEC_JOBS:-3}" bzImage modules 2>&1 |
		tee -a "$out/.dmavec-build.log" >&2
	[ "${PIPESTATUS[0]}" -eq 0 ] || return 1
	echo "$(( $(date +%s) - start )) s ($kind), $(python3 "$here/figures.py" stamp)" |
		python3 "$here/figures.py" set "intree-$v"
	rm -f "$out/.dmavec-seeded"
	patch_warnings "$out/.dmavec-build.log" || return 1
	ln -sfn "$out" "$base/build-$v"
	if [ "$v" = m ]; then
		local k
		for k in dmavec dmavec_bar dmavec_edu dmavec_bench; do
			[ -f "$out/drivers/dma-buf/dmavec/$k.ko" ] ||
				{ echo "[intree] $k.ko missing" >&2; return 1; }
		done
	else
		grep -q ' dmavec_phys_vec_check$' "$out/System.map" ||
			{ echo "[intree] dmavec is not in vmlinux" >&2; return 1; }
	fi
}

# boot: the =y kernel in the VM, its built-in KUnit suites reported.
boot() {
	local out="$base/build-y" ird="$DMAVEC_ROOT/out/intree"
	mkdir -p "$ird"
	DMAVEC_NO_MODULES=1 "$here/initramfs.sh" "$ird" "$ird/initrd.gz"
	python3 "$DMAVEC_ROOT/selftests/vm/run.py" --kernel "$out/arch/x86/boot/bzImage" \
		--initrd "$ird/initrd.gz" --mode intree --quiet --timeout 1200 \
		--log "$DMAVEC_ROOT/out/logs/vm-intree.log" ${DMAVEC_INTREE_COUNTS:+--counts "$DMAVEC_INTREE_COUNTS"}
}

# kunit: the hermetic KUnit suites, as a kernel developer runs them: kunit.py
# configures a kernel of the tree's own .kunitconfig (drivers/dma-buf/dmavec/.kunitconfig)
# merged with the dma-buf core's (drivers/dma-buf/.kunitconfig: its own suites,
# which the series must keep passing) for x86_64, builds it and runs
# it under QEMU. kunit-build only configures and
# builds (make check does that in the background, at low priority, while its VMs
# run). The build directory is cached like the others, keyed by the .kunitconfig
# and the toolchain; kunit.py rebuilds what changed.
kunit() {
	local cmd=$1 key out opts=() v nokvm=()
	key=$( { cat "$DMAVEC_ROOT/.kunitconfig" "$tree/drivers/dma-buf/.kunitconfig"
		 echo "$toolchain"; echo kunit-v2; } | sha256sum | cut -c1-12)
	out="$base/kunit-$key"
	[ -d "$out" ] || rm -rf "$base/kunit-"*
	for v in "${KMAKE_VARS[@]}"; do opts+=(--make_options "$v"); done
	# Two CPUs: the dma-buf core's fence suite has a race case that skips on one.
	[ "$cmd" = run ] && opts+=(--timeout=900 --qemu_args "-smp 2")
	# kunit.py asks QEMU for KVM first, which hangs on these machines (see
	# selftests/vm/run.py): without /dev/kvm, QEMU falls back to TCG.
	[ -e /dev/kvm ] && nokvm=(unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec "$0" "$@"')
	"${nokvm[@]}" python3 "$tree/tools/testing/kunit/kunit.py" "$cmd" \
		--kunitconfig="$tree/drivers/dma-buf/dmavec" --kunitconfig="$tree/drivers/dma-buf" \
		--arch=x86_64 --build_dir="$out" \
		--jobs="${DMAVEC_JOBS:-3}" "${opts[@]}"
}

for what in "${@:-m y boot}"; do
	for w in $what; do
		case $w in
		m|y|yplain) build "$w" ;;
		boot) boot ;;
		kunit) kunit run ;;
		kunit-build) kunit build ;;
		source) echo "$tree" ;;
		*) echo "usage: $0 [m|y|yplain|boot|kunit|kunit-build|source]..." >&2; exit 2 ;;
		esac
	done
done
