#!/bin/sh
# run.sh SECONDS: builds the libFuzzer targets with ASan and UBSan and runs
# each for SECONDS on a seed corpus made with openssl. Any finding (a
# crash, a leak, undefined behaviour) fails the run and leaves the input
# in build-fuzz/findings.
set -eu
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
b="$top/build-fuzz"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cd "$top"
make -s BUILD="$b" CC=clang \
    CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san" \
    "$b/libocspxy.a"
libs=$(pkg-config --libs fcgi hiredis libcurl openssl)
cflags=$(pkg-config --cflags fcgi hiredis libcurl openssl)
rm -rf "$b/seeds" "$b/findings"
mkdir -p "$b/findings"
sh tests/fuzz/seeds.sh "$b/seeds"
status=0
for t in request get response; do
	# shellcheck disable=SC2086
	clang -g -O1 -fsanitize=fuzzer $san $cflags -D_GNU_SOURCE -Isrc \
	    -o "$b/fuzz_$t" "tests/fuzz/fuzz_$t.c" "$b/libocspxy.a" $libs
	mkdir -p "$b/corpus-$t"
	if "$b/fuzz_$t" -max_total_time="$secs" -timeout=10 \
	    -artifact_prefix="$b/findings/$t-" -print_final_stats=1 \
	    "$b/corpus-$t" "$b/seeds/$t" >"$b/fuzz_$t.log" 2>&1; then
		echo "fuzz_$t: ${secs}s, $(grep -c . "$b/fuzz_$t.log") log lines, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$b/fuzz_$t.log" | cut -d' ' -f2) runs, no finding"
	else
		echo "fuzz_$t: FINDING (see $b/fuzz_$t.log):"
		grep -E 'ERROR|SUMMARY|runtime error' "$b/fuzz_$t.log" | head -5
		status=1
	fi
done
exit $status
