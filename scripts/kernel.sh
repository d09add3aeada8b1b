#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the dmavec test kernel of one flavour and print its build
# directory. The directory is keyed by the patched source, the config
# fragments and the toolchain, so any change to one of them builds anew and
# nothing else does.
#
# Usage: scripts/kernel.sh debug|plain
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

flavour=${1:?usage: $0 debug|plain}
[ -f "$DMAVEC_ROOT/kernel/$flavour.config" ] || { echo "unknown flavour $flavour" >&2; exit 2; }

"$here/setup.sh" all
patched=$(readlink -f "$DMAVEC_CACHE/src/current")

toolchain=$( { /usr/bin/rustc --version; clang$LLVM_SUFFIX --version | head -n1; "$BINDGEN" --version; } )
key=$( { basename "$patched"; cat "$DMAVEC_ROOT/kernel/base.config" "$DMAVEC_ROOT/kernel/$flavour.config";
	 echo "$toolchain"; echo build-log-v1 clippy intree-source; } | sha256sum | cut -c1-12)
out="$DMAVEC_CACHE/build/$flavour-$key"

if [ ! -f "$out/.dmavec-ready" ]; then
	# Built from the in-tree source (scripts/intree.sh: the patched source
	# with the series' commits in), dmavec left out of its configuration:
	# what it compiles is the patched source's, which the key covers. The
	# in-tree kernels of its flavour then start from its objects and rebuild
	# only what their configuration changes. A ready build needs no source.
	src=$("$here/intree.sh" source)
	echo "[kernel] building $flavour kernel in $out (this takes a while)" >&2
	rm -rf "$out"
	mkdir -p "$out"
	# CLIPPY=1: the Rust of the series (rust/kernel) is linted as it is built.
	kmake() { make -s -C "$src" O="$out" "${KMAKE_VARS[@]}" CLIPPY=1 "$@"; }
	kconfig "$out" "$src" "$DMAVEC_ROOT/kernel/base.config" \
		"$DMAVEC_ROOT/kernel/$flavour.config" || exit 1
	[ -n "${DMAVEC_CONFIG_ONLY:-}" ] && { echo "$out"; exit 0; }
	start=$(date +%s)
	# The log is kept: patch_warnings reads it on every use of the build.
	kmake -j"${DMAVEC_JOBS:-3}" bzImage modules 2>&1 | tee "$out/.dmavec-build.log" >&2
	echo "[kernel] $flavour kernel built in $(( $(date +%s) - start )) s" >&2
	echo "$(( $(date +%s) - start )) s, $(python3 "$here/figures.py" stamp)" |
		python3 "$here/figures.py" set "kernel-$flavour"
	echo "$toolchain" > "$out/.dmavec-toolchain"
	touch "$out/.dmavec-ready"
	# Keep the cache bounded: drop older builds of the same flavour, then
	# the source trees no build uses any more.
	for old in "$DMAVEC_CACHE/build/$flavour-"*; do
		[ "$old" = "$out" ] || rm -rf "$old"
	done
	"$here/setup.sh" prune
fi
patch_warnings "$out/.dmavec-build.log" || exit 1
ln -sfn "$out" "$DMAVEC_CACHE/build/$flavour"
echo "$out"
