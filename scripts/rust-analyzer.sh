#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make rust-analyzer: rust-project.json for editors, at the top of this
# tree. The kernel's generator (make M=... rust-analyzer) finds our crates
# through the marker Makefiles; it does not know that the users of the
# dmavec crate import it (--extern dmavec), which is added here.
#
# Usage: scripts/rust-analyzer.sh [OUTPUT]   (default: ./rust-project.json)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

out=${1:-$DMAVEC_ROOT/rust-project.json}
KDIR=${KDIR:-$("$here/kernel.sh" debug)}
mo="$DMAVEC_ROOT/out/rust-analyzer"
mkdir -p "$mo"
make -s -C "$KDIR" M="$DMAVEC_ROOT" MO="$mo" "${KMAKE_VARS[@]}" \
	CONFIG_DMAVEC=m CONFIG_DMAVEC_BAR=m CONFIG_DMAVEC_EDU=m CONFIG_DMAVEC_KUNIT_TEST=y CONFIG_DMAVEC_QEMU_TEST=y \
	CONFIG_DMAVEC_BENCH=m \
	rust-analyzer
python3 - "$mo/rust-project.json" "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
idx = {c.get("display_name"): i for i, c in enumerate(d["crates"])}
for user in ("dmavec_bar", "dmavec_edu", "dmavec_test", "dmavec_bench"):
    if user not in idx or "dmavec" not in idx:
        sys.exit(f"rust-analyzer: crate {user} or dmavec missing")
    deps = d["crates"][idx[user]].setdefault("deps", [])
    if not any(x.get("name") == "dmavec" for x in deps):
        deps.append({"crate": idx["dmavec"], "name": "dmavec"})
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
echo "$out"
