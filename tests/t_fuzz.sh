#!/bin/bash
# t_fuzz.sh: a short run of each libFuzzer target (ASan + UBSan) on seeds
# made with openssl; any finding fails. Runs once per suite (with the
# sanitizer pass of make check, or alone). OCSPXY_FUZZ_SECS per target.
. "$(dirname "$0")/lib.sh"
t_setup

if [ -z "${OCSPXY_ASAN:-}" ] && [ -n "${OCSPXY_BOTH:-}" ]; then
	t_note "fuzz smoke runs with the sanitizer pass"
	t_done
fi
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${OCSPXY_FUZZ_SECS:-8}
out=$(sh "$top/tests/fuzz/run.sh" "$secs" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
for t in request get response; do
	check "fuzz_$t: ${secs} s without a finding" \
	    grep -q "^fuzz_$t: ${secs}s, .* no finding" <<<"$out"
done
check "fuzz run exit 0" test "$rc" = 0
t_done
