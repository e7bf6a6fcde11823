#!/bin/bash
# t_fcgi.sh: ocspxy-fcgi under spawn-fcgi behind nginx, with a real Redis
# and real `openssl ocsp` responders (ca1: the CA signs its own responses;
# ca2: a delegated signer, served under the path /ca2/).  Clients are
# `openssl ocsp` (answers verified with -CAfile: "Response verify OK") and
# curl for raw HTTP.

. "$(dirname "$0")/lib.sh"
t_setup

t_begin
# both test CAs are known issuers: every answer's signature is checked
t_conf "$T/ocspxy.conf" issuer "$T/pki/roots.pem"
t_proxy_start "$T/ocspxy.conf" 2
DEAD=$(t_port) # nothing listens there

for l in good1 revoked1 short1 unknown1 good2 revoked2; do
	t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done

# The upstream is http://<Host header><path>: the Host's port must reach
# ocspxy through nginx (Debian's fastcgi_params sets HTTP_HOST to $host,
# which has no port, and libfcgi returns the first of duplicate params).
FP=$(t_port)
t_fake_start hostcheck "$FP" http500
code=$(t_post "$T/hostcheck" "$PX/some/path/" "$T/req-good1.der" \
    -H "Host: 127.0.0.1:$FP")
if ! check "Host with a port reaches ocspxy: upstream http://127.0.0.1:$FP/some/path/ asked" \
    grep -q '^REQ POST /some/path/$' "$T/fake-hostcheck.log"; then
	t_note "fcgi log: $(tail -1 "$T/fcgi.log")"
	grep -q 'HTTP_HOST' /etc/nginx/fastcgi_params &&
	    t_note "/etc/nginx/fastcgi_params sets $(grep -h 'HTTP_HOST' /etc/nginx/fastcgi_params | grep -v '^#' | tr -s ' \t' ' '):" \
		"a later fastcgi_param HTTP_HOST in the site is sent second and libfcgi returns the first"
fi
check "upstream request has Host 127.0.0.1:$FP and the OCSP Content-Type" \
    bash -c "grep -qi '^HDR Host: 127.0.0.1:$FP\$' '$T/fake-hostcheck.log' &&
	grep -qi '^HDR Content-Type: application/ocsp-request\$' '$T/fake-hostcheck.log'"
check "upstream got the client's DER request byte-identical" \
    cmp -s "$T/fake-hostcheck.d/req-1.der" "$T/req-good1.der"
code=$(t_http "$T/hostcheck-get" -H "Host: 127.0.0.1:$FP" \
    "$PX/some/get/$(t_get_path "$T/req-good1.der")")
check "GET /some/get/<b64>: upstream is http://127.0.0.1:$FP/some/get/ (POST)" \
    grep -q '^REQ POST /some/get/$' "$T/fake-hostcheck.log"
check "GET: upstream got the decoded DER request" \
    cmp -s "$T/fake-hostcheck.d/req-2.der" "$T/req-good1.der"
t_fake_stop hostcheck

# pq NAME LEAF OUT [extra openssl args]: openssl ocsp through the proxy,
# URL path and Host header those of the leaf's responder (PQ_HOST
# overrides the Host).  The request sent is saved in $T/NAME.req.
pq()
{
	local name=$1 leaf=$2 out=$3
	shift 3
	t_query "$name" "$(t_crt "$leaf")" "$(t_issuer "$leaf")" \
	    "$PX$(t_leaf_path "$leaf")" "$out" \
	    -header "Host=${PQ_HOST:-$(t_leaf_host "$leaf")}" \
	    -reqout "$T/$name.req" "$@"
}

# entry_ok LEAF RESPFILE REQFILE RESPONDER STATUS: the Redis entry of LEAF
# holds what the spec says, one result line per field.
entry_ok()
{
	local leaf=$1 resp=$2 req=$3 responder=$4 st=$5 key tu nu lc now
	key=$(t_kleaf "$leaf")
	if ! t_exists "$key"; then
		fail "$leaf: no Redis entry $key"
		return 1
	fi
	ok "$leaf: stored under $key"
	check "$leaf: ocsp_responder = $responder" \
	    test "$(t_hget "$key" ocsp_responder)" = "$responder"
	t_redis_field "$key" response "$T/$leaf.stored-resp"
	check "$leaf: stored response byte-identical to the client's" \
	    cmp -s "$T/$leaf.stored-resp" "$resp"
	t_redis_field "$key" request "$T/$leaf.stored-req"
	check "$leaf: stored request = the DER request sent" \
	    cmp -s "$T/$leaf.stored-req" "$req"
	read -r tu nu <<<"$(t_resp_times "$resp")"
	check "$leaf: thisupd = the response's This Update ($tu)" \
	    test "$(t_hget "$key" thisupd)" = "$tu"
	check "$leaf: nextupd = the response's Next Update ($nu)" \
	    test "$(t_hget "$key" nextupd)" = "$nu"
	check "$leaf: status = $st" test "$(t_hget "$key" status)" = "$st"
	check "$leaf: nonce = 0" test "$(t_hget "$key" nonce)" = 0
	lc=$(t_hget "$key" lastchecked)
	now=$(date +%s)
	check "$leaf: lastchecked ~ now ($lc)" \
	    test "${lc:-0}" -ge $((now - 30)) -a "${lc:-0}" -le $((now + 2))
}

# ---------------------------------------------------------------- ca1, POST
t_note "ca1: the CA signs its own responses; POST to /"

c0=$(t_responder_count r1)
openssl ocsp -issuer "$(t_issuer good1)" -cert "$(t_crt good1)" \
    -cert "$(t_crt revoked1)" -url "$PX/" -header "Host=$H1" -no_nonce \
    -respout "$T/two.der" -CAfile "$T/pki/roots.pem" >"$T/two.log" 2>&1
openssl ocsp -respin "$T/two.der" -issuer "$(t_issuer good1)" \
    -cert "$(t_crt good1)" -cert "$(t_crt revoked1)" \
    -CAfile "$T/pki/roots.pem" -no_nonce >"$T/two.verify" 2>&1
check "two-certificate request: answer verified, good1 good, revoked1 revoked" \
    bash -c "grep -q '^Response verify OK' '$T/two.verify' &&
	grep -q ': good\$' '$T/two.verify' && grep -q ': revoked\$' '$T/two.verify'"
check "two-certificate request went upstream" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
check "two-certificate request: nothing stored for good1" \
    ! t_exists "$(t_kleaf good1)"
check "two-certificate request: nothing stored for revoked1" \
    ! t_exists "$(t_kleaf revoked1)"

c0=$(t_responder_count r1)
pq good1 good1 "$T/good1.der"
check "POST miss good1: Response verify OK, good" t_vleaf "$T/good1.der" good1 good
check "POST miss good1 went upstream once" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
entry_ok good1 "$T/good1.der" "$T/good1.req" "$H1" good

c0=$(t_responder_count r1)
pq good1hit good1 "$T/good1-hit.der"
check "POST hit good1: Response verify OK, good" t_vleaf "$T/good1-hit.der" good1 good
check "POST hit good1: no upstream request" \
    test "$(t_responder_count r1)" -eq "$c0"
check "POST hit good1: same bytes as the stored response" \
    cmp -s "$T/good1-hit.der" "$T/good1.der"

# headers of a 200 served from the cache
key1=$(t_kleaf good1)
code=$(t_post_leaf "$T/h" good1)
check "curl POST good1: 200" test "$code" = 200
check "curl POST good1: body verified" t_vleaf "$T/h.body" good1 good
check "200: Content-Type application/ocsp-response" \
    test "$(t_hdr "$T/h.hdr" Content-Type)" = application/ocsp-response
check "200: Content-Length = body size" \
    test "$(t_hdr "$T/h.hdr" Content-Length)" = "$(stat -c %s "$T/h.body")"
for h in Date Last-Modified Expires; do
	v=$(t_hdr "$T/h.hdr" "$h")
	check "200: $h ends in GMT ($v)" bash -c "[[ '$v' == *' GMT' ]]"
done
check "200: exactly one Date header" \
    test "$(tr -d '\r' <"$T/h.hdr" | grep -ci '^date:')" = 1
check "200: Last-Modified = thisUpdate (RFC 5019)" \
    test "$(date -u -d "$(t_hdr "$T/h.hdr" Last-Modified)" +%s)" = "$(t_hget "$key1" thisupd)"
check "200: Expires = nextUpdate (RFC 5019)" \
    test "$(date -u -d "$(t_hdr "$T/h.hdr" Expires)" +%s)" = "$(t_hget "$key1" nextupd)"
check "200: ETag present" grep -qiE '^etag: *"?[^" ]+' "$T/h.hdr"
cc=$(t_hdr "$T/h.hdr" Cache-Control)
check "200: Cache-Control: max-age=N, public, no-transform, must-revalidate ($cc)" \
    bash -c "[[ '$cc' =~ ^max-age=[0-9]+,\ public,\ no-transform,\ must-revalidate$ ]]"
ma=$(echo "$cc" | sed -n 's/^max-age=\([0-9]*\).*/\1/p')
left=$(($(t_hget "$key1" nextupd) - $(date +%s)))
check "200: max-age ($ma) = seconds to nextUpdate ($left)" \
    test "${ma:-x}" -ge $((left - 5)) -a "${ma:-x}" -le $((left + 5))

c0=$(t_responder_count r1)
pq revoked1 revoked1 "$T/revoked1.der"
check "POST miss revoked1: Response verify OK, revoked" \
    t_vleaf "$T/revoked1.der" revoked1 revoked
check "revoked1 went upstream" test "$(t_responder_count r1)" -eq $((c0 + 1))
entry_ok revoked1 "$T/revoked1.der" "$T/revoked1.req" "$H1" revoked

# ---------------------------------------------------------------- GET
t_note "GET /<url-encoded base64 DER>"
gp=$(t_get_path "$T/req-short1.der")
c0=$(t_responder_count r1)
code=$(t_http "$T/gs" -H "Host: $H1" "$PX/$gp")
check "GET short1 (1-byte serial): 200" test "$code" = 200
check "GET short1: Response verify OK, good" t_vleaf "$T/gs.body" short1 good
check "GET short1 went upstream" test "$(t_responder_count r1)" -eq $((c0 + 1))
case $(t_kleaf short1) in
*0x5) ok "short1 key ends in 0x5" ;;
*) fail "short1 key $(t_kleaf short1) does not end in 0x5" ;;
esac
entry_ok short1 "$T/gs.body" "$T/req-short1.der" "$H1" good
c0=$(t_responder_count r1)
code=$(t_http "$T/gs2" -H "Host: $H1" "$PX/$gp")
check "GET short1 again: 200, verified, from the cache" \
    bash -c "[ '$code' = 200 ] && [ $(t_responder_count r1) -eq $c0 ]"
check "GET short1 again: same bytes" cmp -s "$T/gs2.body" "$T/gs.body"
code=$(t_http "$T/gbad" -H "Host: $H1" "$PX/bm90IGFuIE9DU1AgcmVxdWVzdA%3D%3D")
check "GET with a path that is no OCSP request: 400" test "$code" = 400

# ---------------------------------------------------------------- nonce
t_note "nonces"
c0=$(t_responder_count r1)
pq nonce-u1 unknown1 "$T/nonce-u1.der" -nonce
check "nonce request unknown1 (uncached): Response verify OK, unknown" \
    t_vleaf "$T/nonce-u1.der" unknown1 unknown
check "nonce request: the answer carries the client's nonce" \
    bash -c "grep -q '^Response verify OK' '$T/query-nonce-u1.log' &&
	! grep -qi 'nonce' '$T/query-nonce-u1.log'"
check "nonce request went upstream" test "$(t_responder_count r1)" -eq $((c0 + 1))
check "nonce request: nothing stored for unknown1" ! t_exists "$(t_kleaf unknown1)"

t_redis_snapshot "$key1" "$T/g1.snap" "${T_CORE_FIELDS[@]}"
c0=$(t_responder_count r1)
pq nonce-g1 good1 "$T/nonce-g1.der" -nonce
check "nonce request good1 (cached): goes upstream anyway" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
check "nonce request good1 (cached): answer carries the nonce, verified" \
    bash -c "grep -q '^Response verify OK' '$T/query-nonce-g1.log' &&
	! grep -qi 'nonce' '$T/query-nonce-g1.log'"
t_redis_snapshot "$key1" "$T/g1.snap2" "${T_CORE_FIELDS[@]}"
check "nonce answer not stored over good1's entry" cmp -s "$T/g1.snap" "$T/g1.snap2"

c0=$(t_responder_count r1)
pq unknown1 unknown1 "$T/unknown1.der"
check "POST unknown1: Response verify OK, unknown" t_vleaf "$T/unknown1.der" unknown1 unknown
entry_ok unknown1 "$T/unknown1.der" "$T/unknown1.req" "$H1" unknown

# ---------------------------------------------------------------- prune, no-cache
t_note "X-prune-from-cache, Cache-Control: no-cache"
c0=$(t_responder_count r1)
code=$(t_post_leaf "$T/prune" revoked1 -H 'X-prune-from-cache: 1')
check "X-prune-from-cache: 1 -> 410" test "$code" = 410
check "pruned key is gone from Redis" ! t_exists "$(t_kleaf revoked1)"
check "prune asks nothing upstream" test "$(t_responder_count r1)" -eq "$c0"

c0=$(t_responder_count r1)
code=$(t_post_leaf "$T/nc" good1 -H 'Cache-Control: no-cache')
check "Cache-Control: no-cache on a cached cert: 200" test "$code" = 200
check "no-cache: answer verified" t_vleaf "$T/nc.body" good1 good
check "no-cache: fetched upstream" test "$(t_responder_count r1)" -eq $((c0 + 1))

# an entry written by someone else (the Perl ocsp_proxy's layout) is served
t_query d-rev1 "$(t_crt revoked1)" "$(t_issuer revoked1)" "http://$H1/" "$T/d-rev1.der"
read -r tu nu <<<"$(t_resp_times "$T/d-rev1.der")"
kr=$(t_kleaf revoked1)
rcli hset "$kr" ocsp_responder "$H1" thisupd "$tu" nextupd "$nu" \
    status revoked nonce 0 lastchecked "$(date +%s)" >/dev/null
rcli -x hset "$kr" request <"$T/req-revoked1.der" >/dev/null
rcli -x hset "$kr" response <"$T/d-rev1.der" >/dev/null
c0=$(t_responder_count r1)
pq planted revoked1 "$T/planted.der"
check "entry planted in Redis by another writer: served, verified revoked" \
    t_vleaf "$T/planted.der" revoked1 revoked
check "planted entry: byte-identical, no upstream request" \
    bash -c '[ "$1" -eq "$2" ] && cmp -s "$3" "$4"' _ \
    "$(t_responder_count r1)" "$c0" "$T/planted.der" "$T/d-rev1.der"

# ---------------------------------------------------------------- ca2
t_note "ca2: delegated signer, responder under /ca2/"
req=$T/req-good2.der
gp=$(t_get_path "$req")
c0=$(t_responder_count r2)
code=$(t_http "$T/g2" -H "Host: $H2" "$PX/ca2/$gp")
check "GET /ca2/<b64> good2: 200" test "$code" = 200
check "GET good2: Response verify OK (delegated signer), good" \
    t_vleaf "$T/g2.body" good2 good
check "GET good2 went upstream" test "$(t_responder_count r2)" -eq $((c0 + 1))
entry_ok good2 "$T/g2.body" "$req" "$H2/ca2/" good
c0=$(t_responder_count r2)
pq good2 good2 "$T/good2.der"
check "POST /ca2/ good2: hit, verified" t_vleaf "$T/good2.der" good2 good
check "POST good2 hit: no upstream request" test "$(t_responder_count r2)" -eq "$c0"

T_DIGEST=-sha256 pq s256 good2 "$T/s256.der"
T_DIGEST=-sha256 check "SHA-256 CertID good2: Response verify OK, good" \
    t_vleaf "$T/s256.der" good2 good
check "SHA-256 CertID: stored under the SHA-256 issuerKeyHash" \
    t_exists "$(t_kleaf good2 "" sha256)"

# responder down
t_responder_stop r2
t_note "ca2 responder stopped"
pq down-g2 good2 "$T/down-g2.der"
check "responder down: cached good2 still answered, verified" \
    t_vleaf "$T/down-g2.der" good2 good
n0=$(t_loglines)
code=$(t_post_leaf "$T/down-r2" revoked2)
check "responder down: uncached revoked2 -> 503" test "$code" = 503
check "responder down: nothing stored for revoked2" ! t_exists "$(t_kleaf revoked2)"
check "503 logged one line, and one for the breaker that opened" \
    bash -c "test $(t_loglines) -eq $((n0 + 2)) &&
	tail -2 '$T/fcgi.log' | grep -q 'responder 127.0.0.1:$PKI_PORT2: circuit open'"
pq down-n2 good2 "$T/down-n2.der" -nonce
check "responder down: nonce request answered from the cache, Response verify OK" \
    grep -q '^Response verify OK' "$T/query-down-n2.log"
check "responder down: nonce answer is the cached good2 response" \
    t_vleaf "$T/down-n2.der" good2 good
code=$(t_post_leaf "$T/down-nc" good2 -H 'Cache-Control: no-cache')
check "responder down: no-cache answered from the cache (200)" test "$code" = 200
check "responder down: no-cache answer verified" t_vleaf "$T/down-nc.body" good2 good
t_responder_start r2 ca2 "$PKI_PORT2"
sleep 2.6 # the breaker's first back-off (2 s +-25 %): then one trial
pq revoked2 revoked2 "$T/revoked2.der"
check "responder back: revoked2 verified, revoked" t_vleaf "$T/revoked2.der" revoked2 revoked
entry_ok revoked2 "$T/revoked2.der" "$T/revoked2.req" "$H2/ca2/" revoked

# ---------------------------------------------------------------- request errors
t_note "bad requests (each: its status, one log line)"
# err DESC STATUS CURL-ARGS...
err()
{
	local desc=$1 want=$2 n0 code
	shift 2
	n0=$(t_loglines)
	code=$(t_http "$T/err" "$@")
	check "$desc -> $want" test "$code" = "$want"
	check "$desc: one log line" test "$(t_loglines)" -eq $((n0 + 1))
}
r=$T/req-good1.der
err "PUT" 405 -X PUT -H "Host: $H1" -H 'Content-Type: application/ocsp-request' \
    --data-binary "@$r" "$PX/"
err "DELETE" 405 -X DELETE -H "Host: $H1" "$PX/"
err "POST with Content-Type text/plain" 400 -H "Host: $H1" \
    -H 'Content-Type: text/plain' --data-binary "@$r" "$PX/"
err "POST without a Host header (HTTP/1.0)" 400 --http1.0 -H 'Host:' \
    -H 'Content-Type: application/ocsp-request' --data-binary "@$r" "$PX/"
head -c 200 /dev/urandom >"$T/garbage"
err "POST with a garbage body" 400 -H "Host: $H1" \
    -H 'Content-Type: application/ocsp-request' --data-binary "@$T/garbage" "$PX/"
# a GET whose last segment is base64 of something else: the log says
# what that segment was found to be
err "GET of base64 that is no OCSP request" 400 -H "Host: $H1" \
    "$PX/$(printf 'not an OCSP request' | base64)"
check "... the log line gives the reason for the last segment" \
    eval 'tail -1 "$T/fcgi.log" | grep -q "holds no base64 OCSP request: ."'
head -c 20000 /dev/zero >"$T/big"
err "POST of 20000 bytes (max_request_bytes 16384)" 413 -H "Host: $H1" \
    -H 'Content-Type: application/ocsp-request' --data-binary "@$T/big" "$PX/"

# upstream failure with a stale entry: 503, entry untouched
ks=$(t_kleaf short1)
rcli hset "$ks" nextupd $(($(date +%s) - 600)) >/dev/null
t_redis_snapshot "$ks" "$T/s1.snap" "${T_CORE_FIELDS[@]}"
n0=$(t_loglines)
code=$(PQ_HOST=127.0.0.1:$DEAD t_post_leaf "$T/dead" short1)
check "upstream down, cached entry expired: 503" test "$code" = 503
t_redis_snapshot "$ks" "$T/s1.snap2" "${T_CORE_FIELDS[@]}"
check "upstream down: the expired entry is untouched" cmp -s "$T/s1.snap" "$T/s1.snap2"
check "upstream down: one log line, and one for the breaker that opened" \
    test "$(t_loglines)" -eq $((n0 + 2))

# ---------------------------------------------------------------- bad upstreams
t_note "bad upstreams: nothing stored, a cached entry stays as it was"
# genuine responses straight from r1, to be re-dated or served wrongly
t_query d-good1 "$(t_crt good1)" "$(t_issuer good1)" "http://$H1/" "$T/d-good1.der"
t_query d-short1 "$(t_crt short1)" "$(t_issuer short1)" "http://$H1/" \
    "$T/other-short1.der"
t_bad_responses "$T/d-good1.der" "$T/bad"

# bad_upstream LABEL MODE: good1 through a fake upstream.
bad_upstream()
{
	local label=$1 mode=$2 fp c0 code
	fp=$(t_port)
	t_fake_start "$label" "$fp" "$mode" || { fail "$label: fake upstream"; return; }
	# a) cached and valid, no-cache forces the fetch: the cache answers
	rcli del "$key1" >/dev/null # a fresh, genuine entry from r1
	pq "re-$label" good1 "$T/re-$label.der"
	if ! t_vleaf "$T/re-$label.der" good1 good || ! t_exists "$key1"; then
		fail "$label: could not cache good1 from the real responder first"
	fi
	t_redis_snapshot "$key1" "$T/$label.snap" "${T_CORE_FIELDS[@]}"
	if [ "$mode" != hang ]; then
		code=$(PQ_HOST=127.0.0.1:$fp t_post_leaf "$T/$label-a" good1 -H 'Cache-Control: no-cache')
		check "$label, no-cache, cached: 200" test "$code" = 200
		check "$label, no-cache, cached: answer (from the cache) verified" \
		    t_vleaf "$T/$label-a.body" good1 good
		check "$label: the upstream was asked" test "$(t_fake_count "$label")" -ge 1
		t_redis_snapshot "$key1" "$T/$label.snap2" "${T_CORE_FIELDS[@]}"
		check "$label: cached entry byte-identical afterwards" \
		    cmp -s "$T/$label.snap" "$T/$label.snap2"
	fi
	# b) not cached: 503, nothing stored
	rcli del "$key1" >/dev/null
	c0=$(t_fake_count "$label")
	local s e
	s=$(date +%s)
	code=$(PQ_HOST=127.0.0.1:$fp t_post_leaf "$T/$label-b" good1)
	e=$(date +%s)
	check "$label, not cached: 503" test "$code" = 503
	check "$label, not cached: nothing stored" ! t_exists "$key1"
	[ "$mode" = hang ] &&
	    check "$label: answered within upstream_timeout 3 s (+2)" \
		test $((e - s)) -le 5
	t_fake_stop "$label"
}
bad_upstream garbage garbage
bad_upstream http500 http500
bad_upstream other "file:$T/other-short1.der"
bad_upstream expired "file:$T/bad/expired.der"
bad_upstream notyet "file:$T/bad/future.der"
bad_upstream forged "file:$T/bad/forged.der"
bad_upstream badsig "file:$T/bad/badsig.der"
bad_upstream close close
bad_upstream hang hang

# thisUpdate 60 s ahead is within clock_skew (300): accepted and stored
python3 "$TESTS_DIR/ocsp_retime.py" "$T/d-good1.der" "$T/skew-good1.der" \
    "$T/pki/ca1/ca.key" --this 60 --next 3660 --produced 60
fp=$(t_port)
t_fake_start skew "$fp" "file:$T/skew-good1.der"
rcli del "$key1" >/dev/null
code=$(PQ_HOST=127.0.0.1:$fp t_post_leaf "$T/skew" good1)
check "thisUpdate 60 s ahead (clock_skew 300): 200" test "$code" = 200
check "thisUpdate 60 s ahead: answer verified" t_vleaf "$T/skew.body" good1 good
check "thisUpdate 60 s ahead: stored" t_exists "$key1"
t_fake_stop skew

# ---------------------------------------------------------------- Redis down
t_note "Redis down (answers still come from upstream)"
t_redis_stop
pq nored good1 "$T/nored.der"
check "Redis down: good1 answered from upstream, verified" t_vleaf "$T/nored.der" good1 good
t_redis_start
# each child has its own connection: a few requests, so both see Redis back
for i in 1 2 3 4; do
	pq "reds$i" good1 "$T/reds$i.der"
	t_exists "$key1" && break
	sleep 0.3
done
check "Redis back: good1 answered, verified" t_vleaf "$T/reds$i.der" good1 good
check "Redis back: good1 stored again (within 4 requests)" t_exists "$key1"

check "ocspxy-fcgi children all still running" t_fcgi_alive
# A request read to its end is closed at once (no lingering close), one
# left unread (413) the libfcgi way: nginx saw every answer whole.
# On a TCP listen socket (spawn-fcgi -p, a systemd ListenStream) the
# accepted connections must not keep the listen socket's one-second idle
# timeout: a body that comes 1.5 s after the parameters is still read.
TP=$(t_port)
spawn-fcgi -a 127.0.0.1 -p "$TP" -P "$T/tcp.pid" -F 1 -- \
    /bin/sh -c 'l=$1; shift; exec "$@" 2>>"$l"' sh "$T/fcgi-tcp.log" \
    "$OCSPXY_BUILD/ocspxy-fcgi" -c "$T/ocspxy.conf" \
    >>"$T/spawn-fcgi.log" 2>&1 </dev/null || fail "spawn-fcgi on TCP port $TP"
_t_wait_file "$T/tcp.pid" 5 && t_fcgi_pids "$T/tcp.pid"
t_wait_listen "$TP" 10 || fail "ocspxy-fcgi on TCP port $TP"
python3 "$TESTS_DIR/fcgi_client.py" 127.0.0.1 "$TP" "$T/req-good1.der" \
    "$T/slow.raw" 1.5 REQUEST_METHOD=POST CONTENT_TYPE=application/ocsp-request \
    "CONTENT_LENGTH=$(stat -c %s "$T/req-good1.der")" "HTTP_HOST=$H1" \
    REQUEST_URI=/ REMOTE_ADDR=127.0.0.1 SERVER_PORT=80
t_cgi_split "$T/slow.raw" "$T/slow.hdr" "$T/slow.body"
check "FastCGI over TCP, body 1.5 s after the parameters: 200" \
    grep -q '^Status: 200' "$T/slow.hdr"
check "... the answer verifies" t_vleaf "$T/slow.body" good1 good
_t_stop_pidfile "$T/tcp.pid"

check "nginx's error log: no FastCGI connection reset or cut short" \
    eval '! grep -Ei "reset by peer|prematurely closed|broken pipe" "$T/nginx-error.log"'
t_done
