# SPDX-License-Identifier: GPL-2.0
# Shared settings for the dmavec scripts; sourced, not executed.

DMAVEC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DMAVEC_CACHE=${DMAVEC_CACHE:-/var/cache/dmavec}
KERNEL_SERIES=7.3
BINDGEN_VERSION=0.73.2
BINDGEN=$DMAVEC_CACHE/tools/bindgen-$BINDGEN_VERSION/bin/bindgen
LLVM_SUFFIX=-22

# The kernel is built with Debian's rustc-web and LLVM 22, never with the
# rustup toolchain (it has no rust-src).
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export LIBCLANG_PATH=/usr/lib/llvm-22/lib

# Make variables every kernel / module build uses.
KMAKE_VARS=(LLVM=$LLVM_SUFFIX RUSTC=/usr/bin/rustc BINDGEN=$BINDGEN
	    RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver)

# Key of the patched source tree: upstream version + what the patch entries
# and kernel entries of patches/series change (the diff hunks of the
# patches, the files and hooks of the kernel entries: regenerating a patch or
# rewording a commit message does not force a kernel rebuild, and neither
# does any change to dmavec's own files, which the in-tree builds take from
# this tree through scripts/series.py).
kernel_src_key() {
	echo "linux-$1-p$(python3 "$DMAVEC_ROOT/scripts/series.py" key)"
}

# kconfig OUT SRC FRAGMENT...: .config in OUT from allnoconfig plus the
# fragments, and check that every line of them stuck (a symbol set, or
# "is not set" not set); prints what did not and fails.
kconfig() {
	local out=$1 src=$2 line sym bad=0
	shift 2
	make -s -C "$src" O="$out" "${KMAKE_VARS[@]}" allnoconfig || return 1
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$@" >/dev/null || return 1
	make -s -C "$src" O="$out" "${KMAKE_VARS[@]}" olddefconfig || return 1
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF "$line" "$out/.config" ||
			{ echo "[kconfig] not set: $line" >&2; bad=1; } ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			grep -q "^$sym=" "$out/.config" && { echo "[kconfig] still set: $sym" >&2; bad=1; } ;;
		esac
	done < <(cat "$@")
	[ $bad -eq 0 ]
}

# patch_warnings LOG: fail, printing them, on compiler warnings that the
# kernel build log LOG shows in a file the patch series touches (a patch that
# adds a warning is rejected upstream). C reports "file:line:col: warning:",
# rustc "--> file:line:col" under its warning; a build that succeeded has no
# errors left to match.
patch_warnings() {
	local log=$1 files re
	files=$(python3 "$DMAVEC_ROOT/scripts/series.py" kernel-files |
		grep -E '\.(c|h|rs)$' | sort -u | sed 's/[.]/[.]/g' | paste -sd'|')
	[ -n "$files" ] || return 0
	re="((^|[ /])($files):[0-9]+:[0-9]+: warning:)|(^ *--> (.*/)?($files):[0-9]+:[0-9]+)"
	if grep -E "$re" "$log" >&2; then
		echo "[kernel] compiler warnings in files the patch series touches (above)" >&2
		return 1
	fi
}

# vm_ready FLAVOUR: the kernel, the modules and the initramfs of FLAVOUR, for a
# VM run (cached where they are up to date); prints the kernel build directory.
vm_ready() {
	local kdir
	kdir=$("$DMAVEC_ROOT/scripts/kernel.sh" "$1") || return 1
	"$DMAVEC_ROOT/scripts/modules.sh" "$1" >/dev/null || return 1
	"$DMAVEC_ROOT/scripts/initramfs.sh" "$DMAVEC_ROOT/out/$1" "$DMAVEC_ROOT/out/$1/initrd.gz" ||
		return 1
	mkdir -p "$DMAVEC_ROOT/out/logs"
	echo "$kdir"
}
