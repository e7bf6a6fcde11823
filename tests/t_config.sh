#!/bin/bash
# t_config.sh: the config file of ocspxy-fcgi (errors: exit 2 and one
# stderr line naming file, line and key), and CGI mode (the binary run
# once without a FastCGI socket, as a CGI program).

. "$(dirname "$0")/lib.sh"
t_setup

BIN=$OCSPXY_BUILD/ocspxy-fcgi
t_built ocspxy-fcgi

# run_conf NAME: run the binary with config $T/NAME.conf in CGI mode on a
# PUT (so that a config it accepts gives a quick 405 and exit 0).
# Exit status in $rc, stderr in $T/NAME.err.
run_conf()
{
	env -i PATH="$PATH" REQUEST_METHOD=PUT HTTP_HOST=127.0.0.1:1 \
	    REQUEST_URI=/ GATEWAY_INTERFACE=CGI/1.1 \
	    ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
	    ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} \
	    timeout 10 "$BIN" -c "${2:-$T/$1.conf}" </dev/null \
	    >"$T/$1.out" 2>"$T/$1.err"
	rc=$?
}

# bad_conf NAME LINE KEY: the config is refused: exit 2, one stderr line
# with the file name, the line number and the key.
bad_conf()
{
	local name=$1 line=$2 key=$3 f=$T/$1.conf msg
	run_conf "$name"
	check "$name: exit status 2" test "$rc" = 2
	msg=$(cat "$T/$name.err")
	check "$name: exactly one stderr line" test "$(wc -l <"$T/$name.err")" = 1
	check "$name: message names the file, line $line and key '$key' ($msg)" \
	    bash -c 'm=$1; [[ $m == *"$2"* && $m == *"$2:$3"* && $m == *"$4"* ]]' \
	    _ "$msg" "$f" "$line" "$key"
	check "$name: nothing on stdout" test ! -s "$T/$name.out"
}

t_redis_start || { fail "redis-server does not start"; t_done; }

# a config with every key of the spec is accepted
printf 'redis unix:%s\nprefix ocspxy_\nupstream_timeout 5\nmax_request_bytes 16384\nclock_skew 300\n' \
    "$T/redis.sock" >"$T/full.conf"
run_conf full
check "config with redis, prefix, upstream_timeout, max_request_bytes, clock_skew accepted" \
    test "$rc" = 0
check "accepted config: nothing on stderr but the request's log line" \
    test "$(wc -l <"$T/full.err")" -le 1
printf 'redis 127.0.0.1:6379\n' >"$T/tcp.conf"
run_conf tcp
check "redis host:port accepted" test "$rc" = 0

# unknown key on line 3
printf 'redis unix:%s\nprefix ocspxy_\nno_such_key 1\nclock_skew 300\n' \
    "$T/redis.sock" >"$T/unknown.conf"
bad_conf unknown 3 no_such_key

# bad values, each on line 2
for kv in "upstream_timeout abc" "upstream_timeout" "max_request_bytes -5" \
    "clock_skew 12x" "max_request_bytes 99999999999999999999" \
    "redis 127.0.0.1:notaport" "upstream_ports"; do
	k=${kv%% *}
	n=bad-$(echo "$kv" | tr -c 'a-z0-9_\n' '-')
	printf 'prefix p_\n%s\nupstream_timeout 3\n' "$kv" >"$T/$n.conf"
	bad_conf "$n" 2 "$k"
done

# missing file
run_conf missing "$T/does-not-exist.conf"
check "missing config file: exit status 2" test "$rc" = 2
check "missing config file: one stderr line naming the file" \
    bash -c '[ "$(wc -l <"$1")" = 1 ] && grep -qF "$2" "$1"' _ \
    "$T/missing.err" "$T/does-not-exist.conf"

# the other programs read -c the same way; a word after the options or an
# unknown option is a usage error (exit 2) for each
for b in ocspxy-refresh ocspxy-fcgi; do
	timeout 10 "$OCSPXY_BUILD/$b" -c "$T/does-not-exist.conf" </dev/null \
	    >/dev/null 2>"$T/missing-$b.err"
	rc=$?
	check "$b -c missing: exit 2, one stderr line naming the file" \
	    bash -c '[ "$1" = 2 ] && [ "$(wc -l <"$2")" = 1 ] && grep -qF "$3" "$2"' \
	    _ "$rc" "$T/missing-$b.err" "$T/does-not-exist.conf"
	for args in "word" "-x" "-c"; do
		timeout 10 "$OCSPXY_BUILD/$b" $args </dev/null >/dev/null \
		    2>"$T/usage-$b.err"
		rc=$?
		check "$b $args: exit 2 with its usage" \
		    bash -c '[ "$1" = 2 ] && grep -q "^usage: $2 \[-v\]" "$3"' \
		    _ "$rc" "$b" "$T/usage-$b.err"
	done
done
timeout 10 "$OCSPXY_BUILD/ocspxy-refresh" --config "$T/does-not-exist.conf" \
    --verbose </dev/null >/dev/null 2>"$T/missing-long.err"
rc=$?
check "ocspxy-refresh --config missing --verbose (long forms): exit 2, naming the file" \
    bash -c '[ "$1" = 2 ] && grep -qF "$2" "$3"' _ "$rc" \
    "$T/does-not-exist.conf" "$T/missing-long.err"

# ---------------------------------------------------------------- CGI mode
t_note "CGI mode"
t_pki || { fail "test PKI"; t_done; }
t_responder_start r1 ca1 "$PKI_PORT1" || { fail "responder ca1"; t_done; }
t_conf "$T/ocspxy.conf"
H1=127.0.0.1:$PKI_PORT1
req=$T/req-good1.der
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$req"
len=$(stat -c %s "$req")

c0=$(t_responder_count r1)
t_cgi_leaf "$T/cgi1" good1
check "CGI POST: exit status 0" test $? = 0
check "CGI POST: first line 'Status: 200 ...'" \
    grep -qE '^Status: 200( |$)' <(head -1 "$T/cgi1.hdr")
check "CGI POST: Content-Type application/ocsp-response" \
    test "$(t_hdr "$T/cgi1.hdr" Content-Type)" = application/ocsp-response
check "CGI POST: Content-Length = body size" \
    test "$(t_hdr "$T/cgi1.hdr" Content-Length)" = "$(stat -c %s "$T/cgi1.body")"
check "CGI POST: body is a verified good answer for good1" \
    t_vleaf "$T/cgi1.body" good1 good
check "CGI POST: went upstream" test "$(t_responder_count r1)" -eq $((c0 + 1))
key=$(t_kleaf good1)
check "CGI POST: stored in Redis under $key" t_exists "$key"
t_redis_field "$key" response "$T/cgi1.stored"
check "CGI POST: stored response = the answer" cmp -s "$T/cgi1.stored" "$T/cgi1.body"

c0=$(t_responder_count r1)
gp=$(t_get_path "$req")
t_cgi REQUEST_METHOD=GET HTTP_HOST="$H1" REQUEST_URI="/$gp" -- /dev/null \
    >"$T/cgi2.out"
check "CGI GET: exit status 0" test $? = 0
t_cgi_split "$T/cgi2.out" "$T/cgi2.hdr" "$T/cgi2.body"
check "CGI GET: Status: 200" grep -qE '^Status: 200( |$)' <(head -1 "$T/cgi2.hdr")
check "CGI GET: body is a verified good answer" t_vleaf "$T/cgi2.body" good1 good
check "CGI GET: from the cache (no upstream request)" \
    test "$(t_responder_count r1)" -eq "$c0"

t_cgi REQUEST_METHOD=PUT HTTP_HOST="$H1" REQUEST_URI=/ -- /dev/null >"$T/cgi3.out"
check "CGI PUT: Status: 405" grep -qE '^Status: 405( |$)' <(head -1 "$T/cgi3.out")

t_conf "$T/small.conf" max_request_bytes 64
T_CGI_CONF=$T/small.conf t_cgi_leaf "$T/cgi4" good1
check "CGI POST of $len bytes with max_request_bytes 64: Status: 413" \
    grep -qE '^Status: 413( |$)' <(head -1 "$T/cgi4.raw")

t_conf "$T/prefix.conf" prefix test_
T_CGI_CONF=$T/prefix.conf t_cgi_leaf "$T/cgi5" good1
check "prefix test_: stored under $(t_kleaf good1 test_)" \
    t_exists "$(t_kleaf good1 test_)"

# issuer_dir: the issuers found in a directory verify what is stored
# (ocspxy refresh says "verified"); an empty directory verifies nothing.
mkdir -p "$T/issuers" "$T/noissuers"
cp "$(t_issuer good1)" "$T/issuers/ca1.crt"
t_conf "$T/dir.conf" issuer_dir "$T/issuers"
t_conf "$T/nodir.conf" issuer_dir "$T/noissuers"
out=$("$OCSPXY_BUILD/ocspxy" -c "$T/dir.conf" refresh "$(t_kleaf good1)" \
    2>>"$T/cgi.err")
check "issuer_dir holding ca1: the refreshed answer is verified ($out)" \
    grep -q 'stored, verified$' <<<"$out"
out=$("$OCSPXY_BUILD/ocspxy" -c "$T/nodir.conf" refresh \
    "$(t_kleaf good1)" 2>>"$T/cgi.err")
check "issuer_dir without ca1: stored, not verified ($out)" \
    grep -q 'stored$' <<<"$out"
printf 'issuer_dir %s\n' "$T/missing" >"$T/baddir.conf"
check "issuer_dir that does not exist: exit 2 naming file, line and key" \
    t_conf_refused baddir issuer_dir

t_done
