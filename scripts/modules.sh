#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the dmavec modules out of tree against a kernel build directory.
#
# Usage: scripts/modules.sh FLAVOUR [make args...]
#   KDIR=<kernel build dir>  build against another kernel (default: the
#                            cached test kernel of FLAVOUR, built if missing)
#   MO=<dir>                 output directory (default: out/FLAVOUR)
# Prints the output directory on success.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

flavour=${1:?usage: $0 debug|plain [make args]}
shift
if [ -z "${KDIR:-}" ]; then
	KDIR=$("$here/kernel.sh" "$flavour")
else
	# Another kernel: only the host tools are needed.
	"$here/setup.sh" packages >&2
	"$here/setup.sh" bindgen >&2
fi
mo=${MO:-$DMAVEC_ROOT/out/$flavour}
mkdir -p "$mo"
make -s -C "$KDIR" M="$DMAVEC_ROOT" MO="$mo" "${KMAKE_VARS[@]}" \
	CONFIG_DMAVEC=m CONFIG_DMAVEC_BAR=m CONFIG_DMAVEC_EDU=m CONFIG_DMAVEC_KUNIT_TEST=y CONFIG_DMAVEC_QEMU_TEST=y \
	CONFIG_DMAVEC_BENCH=m \
	"$@" modules >&2
echo "$mo"
