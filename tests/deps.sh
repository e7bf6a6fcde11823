#!/bin/sh
# deps.sh [bench|deb]: installs the Debian packages that building, running
# and testing ocspxy need, when any is missing. Installing starts no service
# we rely on: the tests and `make run` start their own.
# deb: only what `make deb` needs, the Build-Depends of debian/control
# (with apt-get build-dep, which adds build-essential and dpkg-dev).
set -eu

if [ "${1:-}" = deb ]; then
	top=$(cd "$(dirname "$0")/.." && pwd)
	if command -v dpkg-checkbuilddeps >/dev/null 2>&1 &&
	    dpkg-checkbuilddeps "$top/debian/control" 2>/dev/null; then
		exit 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "deps: not root: install the Build-Depends of debian/control first" >&2
		exit 1
	fi
	echo "deps: installing the Build-Depends of debian/control"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get build-dep -y -qq --no-install-recommends "$top" >/dev/null
	exit 0
fi

pkgs="gcc make pkg-config libc6-dev libfcgi-dev libhiredis-dev
libcurl4-openssl-dev libssl-dev openssl curl redis-server redis-tools
spawn-fcgi lighttpd apache2 libapache2-mod-fcgid haproxy python3 mandoc
clang libclang-rt-14-dev valgrind systemd dpkg-dev debhelper lintian
redis-sentinel"
[ "${1:-}" = bench ] && pkgs="$pkgs wrk hyperfine linux-perf"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
# nginx-light has the FastCGI module; any other nginx flavour does too.
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"

[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root: install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts some services on install; we run our own instances.
for s in nginx lighttpd apache2 haproxy redis-server; do
	if command -v systemctl >/dev/null 2>&1 &&
	    systemctl is-active --quiet "$s" 2>/dev/null; then
		systemctl stop "$s" || true
	fi
done
