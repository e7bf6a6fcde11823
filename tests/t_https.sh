#!/bin/bash
# t_https.sh: responders that speak https.  ca1's `openssl ocsp` responder
# r1 sits behind nginx with TLS (t_tls_front) on three ports: TP with a
# certificate for 127.0.0.1 from ca1, WP with one from ca1 for another
# name (other.test), UP with a self-signed one for 127.0.0.1.  The proxy
# has `responder ca1.crt https://127.0.0.1:TP/` and `upstream_ca ca1.crt`.
# Checked: fetched, verified (Response verify OK), stored with its https
# responder, then a hit; a client naming the https host fetched over https
# and learned so; the learned responder used by a request to the proxy
# itself; `ocspxy warm` of a leaf whose AIA is https; ocspxy-refresh
# refreshing an https entry; refused, with libcurl's reason in the log and
# nothing stored: a wrong name, an untrusted certificate, the system's CAs
# (no upstream_ca), a port outside upstream_https_ports; config refusals.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

t_built ocspxy-fcgi ocspxy-refresh ocspxy

t_base
CA1=$T/pki/ca1
TP=$(t_port)
WP=$(t_port)
UP=$(t_port)
HTTPS=https://127.0.0.1:$TP
check "fixture: TLS certificate for localhost and 127.0.0.1 (ca1)" \
    tf_tls_leaf tls 0x1010 || t_done
check "fixture: TLS certificate for other.test (ca1)" \
    t_cert ca1 other 0x1030 "/O=ocspxy test/CN=other.test" leaf || t_done
cat "$CA1/other.crt" "$CA1/ca.crt" >"$CA1/other-chain.pem"
check "fixture: a self-signed TLS certificate for 127.0.0.1" \
    t_selfsigned selfsigned IP:127.0.0.1 || t_done
check "fixture: a ca1 leaf whose AIA is $HTTPS/" \
    _t_leaf ca1 https1 0x1040 "$HTTPS/" V || t_done
# nextUpdate a day ahead: a stored entry is not due for a refresh
t_responder_start r1 ca1 "$PKI_PORT1" -ndays 1 ||
    { fail "responder ca1"; t_done; }
check "fixture: nginx with TLS in front of r1 on ports $TP, $WP, $UP" \
    t_tls_front tls "$PKI_PORT1" "$TP:$CA1/tls-chain.pem:$CA1/tls.key" \
    "$WP:$CA1/other-chain.pem:$CA1/other.key" \
    "$UP:$T/pki/selfsigned.crt:$T/pki/selfsigned.key" || t_done
for l in good1 revoked1 short1 unknown1 https1; do
	t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done
# The fronts answer over TLS (curl, which trusts ca1): what the proxy
# refuses below, it refuses by its own checks.
t_post "$T/front" "$HTTPS/" "$T/req-unknown1.der" --cacert "$CA1/ca.crt" \
    >"$T/front.code"
check "fixture: the front on $TP answers an OCSP POST over TLS (curl --cacert ca1)" \
    t_vleaf "$T/front.body" unknown1 unknown

# conf FILE [key value]...: t_conf with https to any high port, ca1 as the
# only CA trusted upstream.
conf()
{
	local f=$1
	shift
	t_conf "$f" upstream_https_ports 1024-65535 upstream_ca "$CA1/ca.crt" \
	    "$@"
}
conf "$T/ocspxy.conf" responder "$CA1/ca.crt $HTTPS/"
CONF=$T/ocspxy.conf

# newlog NAME: the lines $T/cgi.err gained since the last newlog, into
# $T/NAME.log.
CGI_SEEN=0
newlog()
{
	touch "$T/cgi.err"
	tail -n +$((CGI_SEEN + 1)) "$T/cgi.err" >"$T/$1.log"
	CGI_SEEN=$(wc -l <"$T/cgi.err")
}

# status FILE: the status of a CGI answer (its first line).
status() { sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$1"; }

K1=$(t_kleaf good1)
KR=$(t_kleaf revoked1)
KS=$(t_kleaf short1)
KH=$(t_kleaf https1)
KH1=$($OPENSSL x509 -in "$CA1/ca.crt" -noout -ocspid |
    sed -n 's/^ *Public key OCSP hash: *//p' | tr -d ' ' | tr 'A-F' 'a-f')
LEARNED=ocspxy:responder:$KH1

# ---------------------------------------------------------------- 1
t_note "1: responder ca1.crt $HTTPS/, through nginx and ocspxy-fcgi"
t_proxy_start "$CONF"
c0=$(t_responder_count r1)
code=$(PQ_HOST=127.0.0.1:$NP t_post_leaf "$T/a1" good1)
check "1: good1 asked of the proxy itself: 200" test "$code" = 200
check "1: the answer verifies (Response verify OK, good)" \
    t_vleaf "$T/a1.body" good1 good
check "1: fetched once from r1, through the TLS front" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
check "1: the log says fetched from $HTTPS, stored" \
    grep -q "$K1: fetched from $HTTPS: good, .*stored" "$T/fcgi.log"
t_redis_field "$K1" response "$T/a1.stored"
check "1: stored under $K1, the answer byte for byte" \
    cmp -s "$T/a1.stored" "$T/a1.body"
check "1: the entry's responder is $HTTPS (refreshed over https)" \
    test "$(t_hget "$K1" ocsp_responder)" = "$HTTPS"
code=$(PQ_HOST=127.0.0.1:$NP t_post_leaf "$T/a2" good1)
check "1: again: 200, the same bytes" \
    bash -c '[ "$1" = 200 ] && cmp -s "$2" "$3"' _ "$code" "$T/a2.body" \
    "$T/a1.body"
check "1: again: a hit (r1 served no further request)" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))

# ---------------------------------------------------------------- 2
t_note "2: learned responders keep https"
c0=$(t_responder_count r1)
code=$(PQ_HOST=127.0.0.1:$TP t_post_leaf "$T/b1" revoked1)
check "2: revoked1 with Host 127.0.0.1:$TP (the https responder's): 200" \
    test "$code" = 200
check "2: the answer verifies (revoked)" t_vleaf "$T/b1.body" revoked1 revoked
check "2: fetched over https from r1 (once)" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
check "2: the entry's responder is $HTTPS" \
    test "$(t_hget "$KR" ocsp_responder)" = "$HTTPS"
check "2: learned for ca1 ($LEARNED) as $HTTPS" \
    test "$(rcli --raw get "$LEARNED")" = "$HTTPS"
t_fcgi_stop
t_nginx_stop

# No responder line now: the learned responder alone says https.
conf "$T/learned.conf"
c0=$(t_responder_count r1)
T_CGI_CONF=$T/learned.conf PQ_HOST=localhost t_cgi_leaf "$T/b2" short1
newlog b2
check "2: short1 asked of the proxy itself, no responder line: 200" \
    test "$(status "$T/b2.hdr")" = 200
check "2: the answer verifies (good)" t_vleaf "$T/b2.body" short1 good
check "2: fetched from the learned $HTTPS" \
    grep -q "fetched from $HTTPS:" "$T/b2.log"
check "2: r1 served it (once)" test "$(t_responder_count r1)" -eq $((c0 + 1))
check "2: short1's entry names $HTTPS" \
    test "$(t_hget "$KS" ocsp_responder)" = "$HTTPS"

c0=$(t_responder_count r1)
timeout -k 2 30 "$OCSPXY_BUILD/ocspxy" -c "$T/learned.conf" warm \
    "$CA1/https1.crt" "$CA1/ca.crt" >"$T/warm.out" 2>"$T/run-warm.err" \
    </dev/null
check "2: ocspxy warm of a leaf whose AIA is $HTTPS/: exit 0, stored, verified" \
    bash -c '[ "$1" = 0 ] && grep -q "stored, verified" "$2"' _ "$?" \
    "$T/warm.out"
t_redis_field "$KH" response "$T/b3.der"
check "2: warm: the stored response verifies (good)" \
    t_vleaf "$T/b3.der" https1 good
check "2: warm: r1 served it (once)" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
check "2: warm: the entry names $HTTPS" \
    test "$(t_hget "$KH" ocsp_responder)" = "$HTTPS"

# ---------------------------------------------------------------- 3
t_note "3: ocspxy-refresh refreshes an https entry"
# thisUpdate has 1 s resolution: a refresh in the same second would sign
# the very bytes stored
[ "$(t_now)" -gt "$(t_hget "$K1" thisupd)" ] || sleep 1.1
t_redis_field "$K1" response "$T/c1-old.der"
n=$(t_now)
# past half its validity, last checked two hours ago: due
rcli hset "$K1" thisupd $((n - 50000)) nextupd $((n + 36400)) \
    lastchecked $((n - 7200)) >/dev/null
c0=$(t_responder_count r1)
timeout -k 2 40 "$OCSPXY_BUILD/ocspxy-refresh" -c "$CONF" --once -v \
    2>"$T/run-c1.err" </dev/null
check "3: ocspxy-refresh --once: exit 0" test "$?" = 0
t_redis_field "$K1" response "$T/c1-new.der"
check "3: good1 refreshed: a new response" \
    ! cmp -s "$T/c1-old.der" "$T/c1-new.der"
check "3: the new response: Response verify OK (good)" \
    t_vleaf "$T/c1-new.der" good1 good
read -r rtu rnu <<<"$(t_resp_times "$T/c1-new.der")"
check "3: thisupd and nextupd are the new response's" \
    test "$(t_hget "$K1" thisupd) $(t_hget "$K1" nextupd)" = "$rtu $rnu"
check "3: through the TLS front: r1 served exactly 1 request" \
    test "$(t_responder_count r1)" -eq $((c0 + 1))
check "3: the entry still names $HTTPS" \
    test "$(t_hget "$K1" ocsp_responder)" = "$HTTPS"

# ---------------------------------------------------------------- 4
t_note "4: refused: the reason in the log, no request behind, nothing stored"
# refused NAME PREFIX LEAF STATUS TEXT...: good1 asked of the proxy
# itself under config $T/NAME.conf (its entries under PREFIX): STATUS,
# the new log lines hold each TEXT, r1 got no request, nothing stored.
refused()
{
	local name=$1 prefix=$2 leaf=$3 want=$4 c t
	shift 4
	c=$(t_responder_count r1)
	T_CGI_CONF=$T/$name.conf PQ_HOST=localhost t_cgi_leaf "$T/$name" "$leaf"
	newlog "$name"
	check "4 $name: answered $want" test "$(status "$T/$name.hdr")" = "$want"
	for t in "$@"; do
		check "4 $name: the log says: $t" grep -qF -- "$t" "$T/$name.log"
	done
	check "4 $name: r1 got no request" test "$(t_responder_count r1)" = "$c"
	check "4 $name: nothing stored under $prefix" \
	    test -z "$(rcli --scan --pattern "$prefix*")"
}

conf "$T/wrongname.conf" prefix wn_ responder "$CA1/ca.crt https://127.0.0.1:$WP/"
refused wrongname wn_ good1 503 "refused the server's certificate" \
    "no alternative certificate subject name matches target host name '127.0.0.1'" \
    "upstream_ca $CA1/ca.crt"
conf "$T/untrusted.conf" prefix ut_ responder "$CA1/ca.crt https://127.0.0.1:$UP/"
refused untrusted ut_ good1 503 "refused the server's certificate" \
    "SSL certificate problem: self" "certificate"
t_conf "$T/system.conf" prefix sys_ upstream_https_ports 1024-65535 \
    responder "$CA1/ca.crt $HTTPS/"
refused system sys_ good1 503 "refused the server's certificate" \
    "SSL certificate problem:" "verified against the system's CAs"
t_conf "$T/port.conf" prefix port_ upstream_ca "$CA1/ca.crt" \
    responder "$CA1/ca.crt $HTTPS/"
refused port port_ good1 403 \
    "port $TP is not in upstream_https_ports" "(403)"
# a Host naming the https responder's host on another port is http
conf "$T/other.conf" prefix oth_ responder "$CA1/ca.crt $HTTPS/"
c0=$(t_responder_count r1)
T_CGI_CONF=$T/other.conf PQ_HOST=127.0.0.1:$PKI_PORT1 t_cgi_leaf "$T/oth" good1
newlog oth
check "4: Host 127.0.0.1:$PKI_PORT1 (r1 itself, not the https port): 200" \
    test "$(status "$T/oth.hdr")" = 200
check "4: ... fetched over http" \
    grep -q "fetched from http://127.0.0.1:$PKI_PORT1:" "$T/oth.log"

# Host "https:" and path "//127.0.0.1:TP/" must not read as the URL
# https://127.0.0.1:TP/: an empty port is the default one, so this is
# http://https//127.0.0.1:TP/ (port 80: refused before any DNS query)
conf "$T/trick.conf" prefix tr_ responder "$CA1/ca.crt $HTTPS/"
c0=$(t_responder_count r1)
T_CGI_CONF=$T/trick.conf t_cgi REQUEST_METHOD=POST \
    CONTENT_TYPE=application/ocsp-request \
    CONTENT_LENGTH="$(stat -c %s "$T/req-good1.der")" HTTP_HOST=https: \
    REQUEST_URI="//127.0.0.1:$TP/" REMOTE_ADDR=127.0.0.1 \
    -- "$T/req-good1.der" >"$T/trick.raw"
newlog trick
check "4: Host 'https:', path '//127.0.0.1:$TP/': 403, not fetched from $HTTPS" \
    test "$(status "$T/trick.raw")" = 403
check "4: ... the log names http://https//127.0.0.1:$TP/ refused" \
    grep -qF "upstream http://https//127.0.0.1:$TP/: refused: port 80" \
    "$T/trick.log"
check "4: ... r1 got no request, nothing stored" \
    test "$(t_responder_count r1):$(rcli --scan --pattern 'tr_*')" = "$c0:"

t_note "4: config"
echo "responder $CA1/ca.crt ftp://127.0.0.1/" >"$T/ftp.conf"
check "4: responder ftp://...: exit 2 at start, naming the line and key" \
    t_conf_refused ftp responder
check "4: the message says which schemes" \
    grep -q "only http:// and https:// responders" "$T/ftp.err"
echo "upstream_ca $T/none.pem" >"$T/noca.conf"
check "4: upstream_ca of a missing file: exit 2 at start, naming the key" \
    t_conf_refused noca upstream_ca
echo "upstream_ca $CA1/ca.key" >"$T/keyca.conf"
check "4: upstream_ca of a file without certificates: exit 2, naming the key" \
    t_conf_refused keyca upstream_ca
check "4: ... the message says it holds no certificate" \
    grep -q "no PEM certificate" "$T/keyca.err"

t_done
