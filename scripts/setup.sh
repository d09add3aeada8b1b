#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Idempotent host set-up for dmavec: Debian packages, bindgen, and the
# Debian linux-source-7.3 tarball, downloaded only (never installed), with
# the project's patch series applied. Every artefact lives under
# $DMAVEC_CACHE, keyed by what produced it, so CI and later sessions reuse it.
#
# Usage: scripts/setup.sh [packages|bindgen|source|all]   (default: all)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

log() { printf '[setup] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
PKGS=(rustc-web rust-web-src rust-web-clippy rustfmt-web clang-22 lld-22 llvm-22
      libclang-22-dev flex bison bc libelf-dev libssl-dev cpio kmod
      qemu-system-x86 busybox-static make gcc xz-utils python3-docutils
      perl git uuid-dev libcap-dev)

setup_packages() {
	local missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# A dpkg trigger can fail transiently on a fresh machine: configure
	# what is half-installed and try once more before giving up.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ dpkg --configure -a && apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null; }
}

# ----------------------------------------------------------------- bindgen
setup_bindgen() {
	[ -x "$BINDGEN" ] && return 0
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	local cargo
	cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
	"$cargo" install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION" \
		--root "$DMAVEC_CACHE/tools/bindgen-$BINDGEN_VERSION"
}

# ------------------------------------------------------------ kernel source
# A private apt configuration for the trixie-backports suite, whose mirror
# and keyring are taken from the machine's own Debian sources. It never
# touches the system's apt state: the package is downloaded, not installed.
apt_private() {
	local d="$DMAVEC_CACHE/apt"
	mkdir -p "$d/lists/partial" "$d/parts" "$d/cache/archives/partial" "$d/debs"
	local src=/etc/apt/sources.list.d/debian.sources uri keyring
	if [ -f "$src" ]; then
		uri=$(awk '/^URIs:/{print $2; exit}' "$src")
		keyring=$(awk '/^Signed-By:/{print $2; exit}' "$src")
	else
		uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
		keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	[ -n "$uri" ] || { log "no Debian mirror found in the system sources"; exit 1; }
	cat > "$d/parts/backports.sources" <<EOS
Types: deb
URIs: $uri
Suites: trixie-backports
Components: main
Signed-By: ${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
EOS
	apt-get -qq -o Dir::State::Lists="$d/lists" -o Dir::Etc::SourceList=/dev/null \
		-o Dir::Etc::SourceParts="$d/parts" -o Dir::Cache="$d/cache" \
		-o Dir::State::status=/dev/null -o APT::Sandbox::User=root "$@"
}

# Drops source trees that are neither current nor the source of a cached
# kernel build (a build of an older patch series stays usable until the
# build that replaces it is ready; kernel.sh prunes it then).
prune_sources() {
	local old cur b used=""
	cur=$(readlink -f "$DMAVEC_CACHE/src/current")
	# No build yet on a fresh machine: the glob then matches nothing.
	for b in "$DMAVEC_CACHE"/build/*/source; do
		[ -e "$b" ] && used="$used$(readlink -f "$b")"$'\n'
	done
	for old in "$DMAVEC_CACHE/src/linux-"*; do
		[ -d "$old" ] || continue
		case $old in *.tmp) continue ;; esac
		# Compared resolved, as $cur and $used are: the cache may be
		# reached through a symbolic link.
		old=$(readlink -f "$old")
		[ "$old" = "$cur" ] && continue
		printf '%s\n' "$used" | grep -qxF "$old" && continue
		rm -rf "$old"
	done
}

setup_source() {
	local debs="$DMAVEC_CACHE/apt/debs"
	local deb
	deb=$(ls "$debs"/linux-source-${KERNEL_SERIES}_*.deb 2>/dev/null | sort -V | tail -n1 || true)
	if [ -z "$deb" ]; then
		log "downloading linux-source-$KERNEL_SERIES (download only)"
		apt_private update
		mkdir -p "$debs"
		(cd "$debs" && apt_private download "linux-source-$KERNEL_SERIES")
		deb=$(ls "$debs"/linux-source-${KERNEL_SERIES}_*.deb | sort -V | tail -n1)
	fi
	local ver
	ver=$(dpkg-deb -f "$deb" Version)
	local key
	key=$(kernel_src_key "$ver")
	local dst="$DMAVEC_CACHE/src/$key"
	if [ -f "$dst/.dmavec-ready" ]; then
		ln -sfn "$dst" "$DMAVEC_CACHE/src/current"
		return 0
	fi
	log "unpacking linux-source $ver into $dst"
	rm -rf "$dst" "$dst.tmp"
	mkdir -p "$dst.tmp"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -O --wildcards "./usr/src/linux-source-$KERNEL_SERIES.tar.xz" |
		tar -xJ -C "$dst.tmp" --strip-components=1
	# The patch and kernel entries of both series (posted and test), in
	# their order; the commits generated from this tree go into the in-tree
	# kernels only (scripts/intree.sh).
	log "applying the patch and kernel entries of patches/series"
	python3 "$DMAVEC_ROOT/scripts/series.py" source "$dst.tmp"
	echo "$ver" > "$dst.tmp/.dmavec-version"
	touch "$dst.tmp/.dmavec-ready"
	mv "$dst.tmp" "$dst"
	ln -sfn "$dst" "$DMAVEC_CACHE/src/current"
	prune_sources
}

what=${1:-all}
mkdir -p "$DMAVEC_CACHE"
# One set-up at a time (make check and make demo may race on a fresh cache).
exec 9>"$DMAVEC_CACHE/.setup.lock"
flock 9
case $what in
packages) setup_packages ;;
bindgen) setup_bindgen ;;
source) setup_source ;;
prune) prune_sources ;;
all) setup_packages; setup_bindgen; setup_source ;;
*) echo "usage: $0 [packages|bindgen|source|prune|all]" >&2; exit 2 ;;
esac
