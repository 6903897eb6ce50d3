#!/bin/sh
# Functions longer than 80 lines (FUNCLEN_MAX) in the production C code: the *.c files
# git tracks (every *.c outside a git checkout), tests/ left out. A function's length is
# the lines between its "{" and "}" in column 0, its name the last line before them
# that starts with "name(". Prints "file:line name (N lines)" per function, longest
# first, and exits 1 when there is any (make lint, run first by make check).
set -eu
max=${FUNCLEN_MAX:-80}
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c')
else
	files=$(find . -name '*.c' ! -path './build*' | sed 's|^\./||' | sort)
fi
files=$(printf '%s\n' "$files" | grep -v -e '^tests/' -e '^$' || true)
[ -n "$files" ] || { echo "funclen: no C file found" >&2; exit 2; }
# shellcheck disable=SC2086 # file names of the tree: no blank in them
long=$(awk -v max="$max" '
FNR == 1 { open = 0; name = "?"; at = 0 }
/^[A-Za-z_][A-Za-z0-9_]*\(/ { name = $0; sub(/\(.*/, "", name); at = FNR }
/^\{/ { open = FNR }
/^\}/ && open {
	n = FNR - open - 1
	if (n > max)
		printf "%d\t%s:%d %s (%d lines)\n", n, FILENAME, at, name, n
	open = 0; name = "?"
}' $files | sort -t '	' -k1,1nr | cut -f2-)
if [ -n "$long" ]; then
	printf '%s\n' "$long"
	echo "funclen: $(printf '%s\n' "$long" | wc -l) function(s) over $max lines: split them along their steps" >&2
	exit 1
fi
echo "funclen: no function over $max lines ($(printf '%s\n' "$files" | wc -l) files)"
