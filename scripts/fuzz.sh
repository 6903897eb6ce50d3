#!/bin/sh
# The libFuzzer targets of tests/fuzz/ (make fuzz, make fuzz-smoke).
#   fuzz.sh need CC            is CC a clang that links -fsanitize=fuzzer? (else say what to install)
#   fuzz.sh smoke DIR T...     each DIR/fuzz_T over tests/fuzz/T/ once
#   fuzz.sh run DIR T...       each DIR/fuzz_T for $FUZZ_TIME seconds, one after the other,
#                              then a table; non-zero when any target crashed
# Generated corpora go to DIR/corpus/T, crash inputs to DIR/crashes/T, and
# every file a target writes to DIR/tmp/T (TMPDIR): never into the tree.
set -u

fuzz_max_len() {
	case "$1" in
	wire) echo 20000 ;;
	render) echo 4096 ;;
	*) echo 8192 ;;
	esac
}

need() {
	cc=$1
	msg="fuzz: needs clang with libFuzzer (Debian packages clang and libclang-rt-dev);"
	msg="$msg as root: scripts/deps.sh installs them"
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "$msg ($cc not found)" >&2
		return 1
	fi
	t=$(mktemp -d) || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	    > "$t/t.c"
	if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$t/t" "$t/t.c" >/dev/null 2>&1; then
		rm -rf "$t"
		echo "$msg ($cc cannot link -fsanitize=fuzzer)" >&2
		return 1
	fi
	rm -rf "$t"
}

# Environment of one target: its own TMPDIR, leaks and UB fatal.
prepare() {
	dir=$1 t=$2
	mkdir -p "$dir/corpus/$t" "$dir/crashes/$t" "$dir/tmp/$t"
	TMPDIR=$(cd "$dir/tmp/$t" && pwd)
	export TMPDIR
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	export ASAN_OPTIONS UBSAN_OPTIONS
}

smoke() {
	dir=$1
	shift
	rc=0
	for t in "$@"; do
		prepare "$dir" "$t"
		n=$(find "tests/fuzz/$t" -type f | wc -l)
		if "$dir/fuzz_$t" -runs=0 -max_len="$(fuzz_max_len "$t")" \
		    -artifact_prefix="$dir/crashes/$t/" "tests/fuzz/$t/" >"$dir/smoke-$t.log" 2>&1; then
			echo "fuzz-smoke: $t: $n seeds ok"
		else
			echo "fuzz-smoke: $t: FAILED (see $dir/smoke-$t.log)"
			tail -n 30 "$dir/smoke-$t.log"
			rc=1
		fi
	done
	return $rc
}

run() {
	dir=$1
	shift
	time=${FUZZ_TIME:-60}
	rc=0
	table=""
	for t in "$@"; do
		prepare "$dir" "$t"
		stamp="$dir/crashes/$t/.stamp"
		: >"$stamp"
		log="$dir/fuzz-$t.log"
		echo "== fuzz_$t for ${time}s (log: $log)"
		start=$(date +%s)
		"$dir/fuzz_$t" -max_total_time="$time" -max_len="$(fuzz_max_len "$t")" \
		    -timeout="${FUZZ_TIMEOUT:-25}" -print_final_stats=1 \
		    -artifact_prefix="$dir/crashes/$t/" "$dir/corpus/$t" "tests/fuzz/$t" >"$log" 2>&1
		st=$?
		secs=$(($(date +%s) - start))
		# a slow-unit-* file is libFuzzer's note of a run over -report_slow_units
		# (10 s) of wall time, which a loaded machine gives any input: not a
		# failure (the fuzzer goes on and exits 0); -timeout's timeout-* is one
		crashes=$(find "$dir/crashes/$t" -type f -newer "$stamp" ! -name .stamp ! -name 'slow-unit-*' | wc -l)
		[ "$st" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
		find "$dir/crashes/$t" -type f -newer "$stamp" -name 'slow-unit-*' |
		    sed "s|^|fuzz: $t: slow unit (not counted as a crash; rerun it alone to time it): |"
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		corp=$(find "$dir/corpus/$t" -type f | wc -l)
		cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
		if [ "$crashes" -ne 0 ]; then
			rc=1
			grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5
			find "$dir/crashes/$t" -type f -newer "$stamp" ! -name .stamp ! -name 'slow-unit-*'
		fi
		table="$table$(printf '%-8s %12s %8s %6s %8s %6s' "$t" "${execs:-?}" "$corp" "${cov:-?}" \
		    "$crashes" "${secs}s")
"
	done
	echo
	printf '%-8s %12s %8s %6s %8s %6s\n' target execs corpus cov crashes time
	printf '%s' "$table"
	return $rc
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
need) need "${1:-clang}" ;;
smoke) smoke "$@" ;;
run) run "$@" ;;
*)
	echo "usage: $0 need CC | smoke DIR TARGET... | run DIR TARGET..." >&2
	exit 2
	;;
esac
