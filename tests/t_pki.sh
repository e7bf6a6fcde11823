#!/bin/bash
# t_pki.sh: self-test of the fixtures in lib.sh, no ocspxy involved.
# Real redis-server, the test PKI, real `openssl ocsp` responders queried
# directly, the fake upstream and the response re-dating tool.

. "$(dirname "$0")/lib.sh"
t_setup

check "redis-server starts on a unix socket" t_redis_start
check "redis answers PING" test "$(rcli ping)" = PONG
printf '\x30\x03\x0a\x01\x00\n\r\x00end' >"$T/bin.in"
rcli -x hset tkey f <"$T/bin.in" >/dev/null
t_redis_field tkey f "$T/bin.out"
check "t_redis_field returns binary values byte-exact" cmp -s "$T/bin.in" "$T/bin.out"
t_redis_snapshot tkey "$T/snap1"
rcli hset tkey g 1 >/dev/null
t_redis_snapshot tkey "$T/snap2"
check "t_redis_snapshot tells a changed hash" ! cmp -s "$T/snap1" "$T/snap2"
t_redis_restart
check "redis restarts (empty: no persistence)" test "$(rcli exists tkey)" = 0

check "test PKI is made" t_pki
check "ca2-ocsp is a delegated OCSP signer (EKU, nocheck)" \
    bash -c "openssl x509 -in '$T/pki/ca2/ca2-ocsp.crt' -noout -text |
	grep -q 'OCSP Signing' && openssl x509 -in '$T/pki/ca2/ca2-ocsp.crt' \
	-noout -text | grep -q 'OCSP No Check'"
check "leaf AIA points at the ca1 responder" \
    bash -c "openssl x509 -in '$(t_crt good1)' -noout -ocsp_uri |
	grep -qx 'http://127.0.0.1:$PKI_PORT1/'"
check "short1 has a 1-byte serial" \
    test "$(openssl x509 -in "$(t_crt short1)" -noout -serial)" = serial=05
case $(t_kleaf short1) in
ocspxy_[0-9a-f]*0x5) ok "t_key short1 ends in 0x5 ($(t_kleaf short1))" ;;
*) fail "t_key short1: $(t_kleaf short1)" ;;
esac
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$T/req1.der"
h=$(openssl ocsp -reqin "$T/req1.der" -req_text | sed -n 's/^ *Issuer Key Hash: //p' |
    tr 'A-F' 'a-f')
check "t_key matches the request's issuerKeyHash" \
    test "$(t_kleaf good1)" = "ocspxy_${h}0x1001"
check "t_key with a prefix" test "$(t_kleaf good1 px_)" = "px_${h}0x1001"

check "responder ca1 (self-signing CA) starts" t_responder_start r1 ca1 "$PKI_PORT1"
check "responder ca2 (delegated signer) starts" t_responder_start r2 ca2 "$PKI_PORT2"

u1=http://127.0.0.1:$PKI_PORT1/
u2=http://127.0.0.1:$PKI_PORT2/ca2/
for l in good1:good revoked1:revoked short1:good unknown1:unknown; do
	n=${l%%:*} st=${l#*:}
	t_query "$n" "$(t_crt "$n")" "$(t_issuer "$n")" "$u1" "$T/$n.der"
	check "direct query $n: $st, verified" t_vleaf "$T/$n.der" "$n" "$st"
done
for l in good2:good revoked2:revoked; do
	n=${l%%:*} st=${l#*:}
	t_query "$n" "$(t_crt "$n")" "$(t_issuer "$n")" "$u2" "$T/$n.der"
	check "direct query $n (delegated signer, path /ca2/): $st, verified" \
	    t_vleaf "$T/$n.der" "$n" "$st"
done
check "t_vleaf refuses the wrong status" ! t_vleaf "$T/good1.der" good1 revoked
check "t_vleaf refuses another cert's response" ! t_vleaf "$T/good1.der" short1 good
check "responder count ca1 = 4" test "$(t_responder_count r1)" = 4
check "responder count ca2 = 2" test "$(t_responder_count r2)" = 2

read -r tu nu <<<"$(t_resp_times "$T/good1.der")"
now=$(date +%s)
check "-nmin 60: nextUpdate = thisUpdate + 3600" test "$((nu - tu))" = 3600
check "thisUpdate is now" test "$((now - tu))" -le 5

T_DIGEST=-sha256 t_query s256 "$(t_crt good2)" "$(t_issuer good2)" "$u2" "$T/s256.der"
T_DIGEST=-sha256 check "SHA-256 CertID answered and verified" \
    t_vleaf "$T/s256.der" good2 good

t_query nonce "$(t_crt good1)" "$(t_issuer good1)" "$u1" "$T/nonce.der" -nonce
check "nonce echoed by the responder" \
    bash -c "grep -q 'Response verify OK' '$T/query-nonce.log' &&
	! grep -qiE 'nonce' '$T/query-nonce.log'"

# GET: http://host/<url-encoded base64 of the DER request>
path=$(t_get_path "$T/req1.der")
code=$(t_http "$T/get" "$u1$path")
check "GET to the responder: 200" test "$code" = 200
check "GET answer verified" t_vleaf "$T/get.body" good1 good

# bad responses
check "forged responder answers" t_forged "$T/evil.der"
check "forged response does not verify" ! t_vleaf "$T/evil.der" good1 good
python3 "$TESTS_DIR/ocsp_retime.py" "$T/good1.der" "$T/expired1.der" \
    "$T/pki/ca1/ca.key" --this -7200 --next -3600 --produced -7200
check "re-dated response: signature still OK (t_vsig)" t_vsig "$T/expired1.der" good1
check "re-dated response: expired, refused by t_vleaf" ! t_vleaf "$T/expired1.der" good1 good
python3 "$TESTS_DIR/ocsp_retime.py" "$T/good2.der" "$T/expired2.der" \
    "$T/pki/ca2/ca2-ocsp.key" --this -7200 --next -3600 --produced -7200
t_vleaf "$T/expired2.der" good2 good
check "re-dated ECDSA response: signature OK, times invalid" \
    grep -q 'Status times invalid' "$T/expired2.der.verify"
check "re-dated ECDSA response: Response verify OK" \
    grep -q '^Response verify OK' "$T/expired2.der.verify"
python3 "$TESTS_DIR/ocsp_retime.py" "$T/good2.der" "$T/broken2.der" \
    "$T/pki/ca2/ca2-ocsp.key" --break-signature
check "broken signature does not verify" ! t_vleaf "$T/broken2.der" good2 good
check "broken signature: t_vsig refuses it too" ! t_vsig "$T/broken2.der" good2
check "forged response: t_vsig refuses it" ! t_vsig "$T/evil.der" good1

fp=$(t_port)
t_fake_start g "$fp" garbage
code=$(t_http "$T/fake" -X POST --data-binary @"$T/req1.der" \
    -H 'Content-Type: application/ocsp-request' "http://127.0.0.1:$fp/p")
check "fake upstream (garbage) answers 200" test "$code" = 200
check "garbage does not verify" ! t_vleaf "$T/fake.body" good1 good
check "fake upstream logs the request" grep -q '^REQ POST /p$' "$T/fake-g.log"
t_fake_stop g

t_responder_stop r1
check "stopped responder no longer listens" t_wait_gone "$PKI_PORT1"
check "responder restarts on the same port" t_responder_start r1 ca1 "$PKI_PORT1"
t_query again "$(t_crt good1)" "$(t_issuer good1)" "$u1" "$T/again.der"
check "restarted responder answers" t_vleaf "$T/again.der" good1 good

t_done
