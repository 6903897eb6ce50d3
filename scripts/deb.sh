#!/bin/sh
# make deb: build the Debian packages pgfleet and pgfleet-agent from a copy of
# this tree (dpkg-buildpackage writes beside the source, so the copy keeps the
# clone clean), then run lintian on them when it is installed.
#   scripts/deb.sh OUTDIR        -> OUTDIR/pgfleet_VERSION_ARCH.deb, OUTDIR/pgfleet-agent_...
# JOBS (default 2) parallel jobs. Exit non-zero when the build fails or lintian
# reports an error or a warning that debian/*.lintian-overrides does not explain.
set -eu
out=${1:?usage: scripts/deb.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
for t in dpkg-buildpackage dh; do
	command -v $t > /dev/null || { echo "deb: $t missing (packages dpkg-dev, debhelper: run scripts/deps.sh as root)" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -SVersion)
rm -rf "$out"
mkdir -p "$out/src"
src=$out/src/pgfleet-$version
mkdir "$src"
# the tree as it is (committed or not), without build outputs and git
(cd "$root" && tar -cf - --exclude=./.git --exclude='./build*' --exclude='*.o' --exclude='*.d' .) | (cd "$src" && tar -xf -)
echo "deb: building pgfleet $version in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b -j"${JOBS:-2}") > "$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed (whole log: $out/build.log)" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out/"
rm -rf "$out/src"
ls -1 "$out"/*.deb
if command -v lintian > /dev/null; then
	echo "deb: lintian"
	lintian --fail-on error,warning --info --suppress-tags-from-file "$root/debian/lintian-explained" \
		"$out"/*.changes
	echo "deb: lintian clean (errors and warnings; debian/lintian-explained lists the tags left and why)"
else
	echo "deb: lintian not installed, not run (scripts/deps.sh installs it as root)"
fi
