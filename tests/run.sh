#!/bin/bash
# tests/run.sh [--asan] [NAME...]: the ocspxy test suite.
#
# Runs $OCSPXY_BUILD/test-unit (if built; its exit status is one result),
# then every tests/t_*.sh (or only those NAMEs, e.g. "t_fcgi"), each in its
# own bash with OCSPXY_RESULTS pointing at one shared results file.  A test
# script that exits non-zero without recording a fail counts as one fail.
# Ends with exactly one line "N passed, N failed"; exits 1 if any failed.
#
# --asan: the binaries were built with -fsanitize=address,undefined
# (OCSPXY_BUILD defaults to build-asan/ if it exists, else build/); the
# sanitizers abort on the first report and every test script turns a
# report found in its logs into a fail.
# --both: the whole suite with build/, then again with build-asan/ and
# the sanitizers (what make check does), one total at the end.
#
# Environment: OCSPXY_BUILD (default <tree>/build), OCSPXY_KEEP=1 keeps
# each test's temp folder, OCSPXY_TIMEOUT seconds per script (default 300).

set -u
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TESTS_DIR/.." && pwd)

asan=0
both=0
names=()
for a in "$@"; do
	case $a in
	--asan) asan=1 ;;
	--both) both=1 ;;
	-h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $a" >&2; exit 2 ;;
	*) names+=("${a%.sh}") ;;
	esac
done

results=$(mktemp /tmp/ocspxy-results.XXXXXX)
trap 'rm -f "$results"' EXIT
export OCSPXY_RESULTS=$results
timeout_s=${OCSPXY_TIMEOUT:-300}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
nfail() { grep -cx fail "$results"; }

want()
{
	local n
	[ ${#names[@]} -eq 0 ] && return 0
	for n in "${names[@]}"; do
		[ "$n" = "$1" ] && return 0
	done
	return 1
}


# One pass of the suite with the build in $OCSPXY_BUILD.
suite()
{
	local pki_done=
	if [ -z "${OCSPXY_BUILD:-}" ]; then
		if [ $asan = 1 ] && [ -d "$SRC_DIR/build-asan" ]; then
			OCSPXY_BUILD=$SRC_DIR/build-asan
		else
			OCSPXY_BUILD=$SRC_DIR/build
		fi
	fi
	OCSPXY_BUILD=$(cd "$OCSPXY_BUILD" 2>/dev/null && pwd || echo "$OCSPXY_BUILD")
	export OCSPXY_BUILD
	if [ $asan = 1 ]; then
		export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:exitcode=86}
		export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:exitcode=86}
		export OCSPXY_ASAN=1
	fi

	echo "# OCSPXY_BUILD=$OCSPXY_BUILD${OCSPXY_ASAN:+ (asan)}"

	if want test-unit; then
		if [ -x "$OCSPXY_BUILD/test-unit" ]; then
			echo "# test-unit"
			s=$(now)
			if "$OCSPXY_BUILD/test-unit"; then
				echo "ok - unit tests (test-unit exit 0)"
				echo pass >>"$results"
			else
				echo "FAIL - unit tests (test-unit exit $?)"
				echo fail >>"$results"
			fi
			echo "# test-unit: $(elapsed "$s") s"
		else
			echo "# no $OCSPXY_BUILD/test-unit: unit tests skipped"
		fi
	fi

	# the fixtures' self-test first: when it fails, the others mean little
	for f in "$TESTS_DIR"/t_pki.sh "$TESTS_DIR"/t_*.sh; do
		[ -f "$f" ] || continue
		case $f in
		*/t_pki.sh) [ -n "${pki_done:-}" ] && continue; pki_done=1 ;;
		esac
		name=$(basename "$f" .sh)
		want "$name" || continue
		echo "# $name"
		before=$(nfail)
		s=$(now)
		timeout -k 5 "$timeout_s" bash "$f" </dev/null
		rc=$?
		if [ $rc -ne 0 ] && [ "$(nfail)" -eq "$before" ]; then
			if [ $rc -eq 124 ]; then
				echo "FAIL - $name: killed after ${timeout_s} s"
			else
				echo "FAIL - $name: exited $rc without recording a failure"
			fi
			echo fail >>"$results"
		fi
		echo "# $name: $(elapsed "$s") s"
	done
}

t0=$(now)
if [ $both = 1 ]; then
	export OCSPXY_BOTH=1
	OCSPXY_BUILD=$SRC_DIR/build asan=0 suite
	unset OCSPXY_ASAN ASAN_OPTIONS UBSAN_OPTIONS
	OCSPXY_BUILD=$SRC_DIR/build-asan asan=1 suite
else
	suite
fi
pass=$(grep -cx pass "$results")
failed=$(nfail)
echo "# total: $(elapsed "$t0") s"
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
