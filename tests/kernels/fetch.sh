#!/bin/sh
# Download and unpack the newest amd64 kernel of each Debian suite of the
# kernel matrix, through a private apt configuration (the machine's own
# sources and lists are not touched), cached between runs.
#
#   fetch.sh [SUITE...]     default: bullseye bookworm trixie
#
# Prints one line per suite: SUITE RELEASE PACKAGE-VERSION DIR
# DIR holds the package's files (boot/vmlinuz-RELEASE, modules) for boot.sh.
# Cache: $EXECTRACE_KERNEL_CACHE (default /var/cache/exectrace-kernels).
set -eu
cache=${EXECTRACE_KERNEL_CACHE:-/var/cache/exectrace-kernels}
mirror=${EXECTRACE_DEBIAN_MIRROR:-http://deb.debian.org}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ $# -gt 0 ] || set -- bullseye bookworm trixie
mkdir -p "$cache"

for suite in "$@"; do
	d=$cache/apt-$suite
	mkdir -p "$d/lists/partial" "$d/archives/partial"
	cat >"$d/sources.list" <<LIST
deb [signed-by=$keyring] $mirror/debian $suite main
deb [signed-by=$keyring] $mirror/debian-security $suite-security main
LIST
	apt="-o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=/dev/null
	     -o Dir::State::Lists=$d/lists -o Dir::Cache=$d -o Dir::Cache::archives=$d/archives
	     -o APT::Sandbox::User=root -o Debug::NoLocking=1"
	# shellcheck disable=SC2086
	if ! apt-get -qq $apt update >"$d/update.log" 2>&1; then
		echo "fetch: apt-get update for $suite failed (offline?); using the cached lists" >&2
		sed 's/^/  /' "$d/update.log" >&2
	fi
	# The metapackage depends on the newest image of the suite.
	# shellcheck disable=SC2086
	pkg=$(apt-cache $apt show linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' |
		sort -V | tail -n 1)
	[ -n "$pkg" ] || { echo "fetch: no linux-image-amd64 in $suite" >&2; exit 1; }
	# shellcheck disable=SC2086
	ver=$(apt-cache $apt show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
	rel=${pkg#linux-image-}
	root=$cache/$rel
	if [ ! -f "$root/.unpacked-$ver" ]; then
		deb=$(ls "$d/archives/${pkg}_"*"_amd64.deb" 2>/dev/null | tail -n 1 || true)
		case "$deb" in *"_$(echo "$ver" | sed 's/:/%3a/')_"*) ;; *)
			echo "fetch: downloading $pkg $ver" >&2
			# shellcheck disable=SC2086
			(cd "$d/archives" && apt-get -qq $apt download "$pkg=$ver" >"$d/download.log" 2>&1) ||
				{ cat "$d/download.log" >&2; echo "fetch: cannot download $pkg $ver" >&2; exit 1; }
			deb=$(ls "$d/archives/${pkg}_"*"_amd64.deb" | tail -n 1) ;;
		esac
		rm -rf "$root"
		mkdir -p "$root"
		dpkg-deb -x "$deb" "$root"
		touch "$root/.unpacked-$ver"
	fi
	echo "$suite $rel $ver $root"
done
