#!/bin/sh
# Install the Debian packages pgfleet needs to build and test, when missing.
# As root: apt-get update once, then apt-get install. Otherwise: print the
# exact command and exit non-zero. Silent and fast when nothing is missing.
# make check-clock adds faketime with PGFLEET_DEPS_EXTRA=faketime scripts/deps.sh.
set -eu

# The second line: what the operations tests use (curl for /metrics, iproute2
# and util-linux's unshare for the README test, systemd for systemd-analyze,
# sysusers and tmpfiles, man-db and bash-completion for what make install puts
# there, dpkg-dev, debhelper and lintian for make deb and the package test).
# The third: clang and libclang-rt-dev (libFuzzer) for fuzz-smoke and make fuzz,
# chromium for t_web_chromium (the console as a browser shows it), python3 for the
# tests' small HTTPS and UDP receivers (notifications, wake-on-LAN).
pkgs="gcc make pkg-config libpq-dev libyaml-dev libssl-dev libevent-dev check
      postgresql postgresql-common postgresql-client valgrind openssl util-linux procps
      curl iproute2 systemd man-db bash-completion dpkg-dev debhelper lintian
      clang libclang-rt-dev chromium python3"
[ "${PGFLEET_DEPS_EXTRA:-}" ] && pkgs="$pkgs $PGFLEET_DEPS_EXTRA"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing packages:$missing (and no apt-get here: install them by hand)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: installed$missing"
