#!/bin/bash
# t_man.sh: the manual pages are valid mdoc (mandoc -T lint) and name
# every config key the program accepts.
. "$(dirname "$0")/lib.sh"
t_setup

top=$(cd "$(dirname "$0")/.." && pwd)
for page in "$top"/man/*.[158]; do
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	check "$(basename "$page"): mandoc -T lint finds nothing${out:+: $out}" \
	    test -z "$out"
done
# Every key of src/config.c is documented in ocspxy.conf(5).
keys=$(sed -n 's/^[[:space:]]*{ *"\([a-z_]*\)", C_.*/\1/p' "$top/src/config.c")
check "config keys found in src/config.c" test -n "$keys"
for k in $keys; do
	check "ocspxy.conf(5) documents $k" \
	    grep -q "^\.It Ic $k\|Ic $k " "$top/man/ocspxy.conf.5"
done
t_done
