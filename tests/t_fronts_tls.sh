#!/bin/bash
# t_fronts_tls.sh: TLS servers that lean on ocspxy, each the real server
# with the file this tree ships, around one set-up (Redis, the test CA
# ca1 and its `openssl ocsp` responder r1, ocspxy-fcgi behind nginx):
#
# HAProxy fed by the proxy (haproxy/ocspxy-stapling.cfg; HAProxy 2.6
# fetches nothing itself):
#   - with an empty <cert>.ocsp it staples nothing; `ocspxy export
#     --haproxy SOCKET` sends it the cached response: a good staple that
#     verifies, without a reload;
#   - ocspxy-refresh with haproxy_socket sends the valid responses when it
#     starts (HAProxy restarted with an empty file staples again);
#   - the file from `ocspxy export`: responder down, HAProxy restarted, the
#     staple is still good;
#   - a refresh: `show ssl ocsp-response` shows the new thisUpdate and the
#     staple is the new response, same HAProxy process;
#   - an unreachable socket: one log line, the refresh pass goes on.
#
# Client certificates (mTLS), Apache (apache/ocspxy-mtls.conf) and nginx
# (nginx/ocspxy-mtls.conf), clients from ca1 (alice good, mallory revoked,
# carol good but never seen by the proxy), asked with curl --cert:
#   - responder up: alice gets in, mallory is refused; 20 more handshakes
#     ask the proxy (its hits) and never the responder;
#   - responder down: alice in, mallory out, carol out (nothing cached: the
#     check fails closed), then across a restart of the web server;
#   - Apache with SSLOCSPUseRequestNonce on (what the README warns of):
#     every handshake asks the responder; down, alice is locked out.
#
# HAProxy goes first: its refresh daemon is stopped before the mTLS part
# counts the responder's requests, and the mTLS part's outage opens the
# proxy's breaker for r1.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

t_base
CA=$T/pki/ca1
check "TLS server certificate for localhost (ca1)" tf_tls_leaf tls 0x1010 ||
    t_done
clients()
{
	tf_client_cert alice 0x3001 V && tf_client_cert mallory 0x3002 R &&
	    tf_client_cert carol 0x3003 V
}
check "client certificates from ca1: alice (good), mallory (revoked), carol (good)" \
    clients || t_done
t_responder_start r1 ca1 "$PKI_PORT1" || { fail "responder ca1"; t_done; }
H1=127.0.0.1:$PKI_PORT1
# nginx names the proxy itself in the Host: the responder of ca1 is
# configured (a warm-up would do as well).
t_conf "$T/ocspxy.conf" issuer "$CA/ca.crt" responder "$CA/ca.crt http://$H1/"
t_proxy_start "$T/ocspxy.conf" 2

# ================================================================ HAProxy
t_note "HAProxy, fed by the proxy"
HX=$T/haproxy
mkdir -p "$HX/certs"
SOCK=$HX/admin.sock
SITE=$HX/certs/site.pem
HP=$(t_port)
# HAProxy's certificate file: the certificate, its issuer, the key.
cat "$CA/tls.crt" "$CA/ca.crt" "$CA/tls.key" >"$SITE"
KT=$(t_key "$CA/ca.crt" "$CA/tls.crt")
tf_haproxy_cfg "$HP" "$HX/certs" "$SOCK" "$HX/haproxy.cfg"
OX=$OCSPXY_BUILD/ocspxy

# log_wait REGEX FILE: until a line of FILE matches (at most 5 s).
log_wait()
{
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qs -- "$1" "$2" && return 0
		sleep 0.05
	done
	return 1
}

# past SECS: waits until the clock has passed SECS (a response signed now
# then has a later thisUpdate).
past()
{
	while [ "$(t_now)" -le "${1:-0}" ]; do
		sleep 0.1
	done
}

# hx_good F: a handshake with HAProxy ($T/F.s) carries a good staple.
hx_good()
{
	tf_sclient "$HP" "$T/$1.s"
	[ "$(tf_staple "$T/$1.s")" = good ]
}

# hx_staple TAG F: a handshake with HAProxy staples a good response that
# verifies (Response verify OK) and is the cached one, byte for byte.
hx_staple()
{
	local tag=$1 f=$T/$2
	check "$tag: HAProxy staples a good response" hx_good "$2" || return 1
	t_redis_field "$KT" response "$f.cached.der"
	if tf_staple_der "$f.s" "$f.der"; then
		check "$tag: the staple verifies (Response verify OK, good)" \
		    t_verify "$f.der" "$CA/ca.crt" "$CA/tls.crt" "$CA/ca.crt" good
		check "$tag: the staple is the cached response, byte for byte" \
		    cmp -s "$f.der" "$f.cached.der"
	else
		fail "$tag: no staple found in the handshake messages"
	fi
}

"$OX" -c "$T/ocspxy.conf" warm "$SITE" >"$T/hx-warm.out" 2>"$T/run-hx-warm.err"
check "ocspxy warm site.pem (HAProxy's file: certificate, issuer, key): stored" \
    test "$(t_hget "$KT" status)" = good
: >"$SITE.ocsp"
check "HAProxy starts (haproxy -c first), site.pem.ocsp empty" \
    tf_haproxy_start hx "$HP" "$HX/haproxy.cfg" || t_done
HXPID=$HAPROXY_PID_hx
tf_sclient "$HP" "$T/hx0.s"
check "empty .ocsp file: HAProxy staples nothing (the control)" \
    test "$(tf_staple "$T/hx0.s")" = none
tf_haproxy_cli "$SOCK" "show ssl ocsp-response" >"$T/hx-show.out"
check "show ssl ocsp-response lists the certificate (the empty file enables it)" \
    grep -q '^Certificate ID key : ' "$T/hx-show.out"

"$OX" -c "$T/ocspxy.conf" export --haproxy "$SOCK" >"$T/hx-push.out" \
    2>"$T/run-hx-push.err"
check "ocspxy export --haproxy SOCKET: exit 0, sent 1 of 1" \
    bash -c '[ "$1" = 0 ] && grep -q "^sent 1 of 1 responses to haproxy " "$2"' \
    _ "$?" "$T/hx-push.out"
hx_staple "after export --haproxy, no reload" hx1
check "the same HAProxy process (no reload)" test "$HAPROXY_PID_hx" = "$HXPID"

# The refresh daemon, sending what it stores. Nothing is due now: entries
# last checked less than refresh_max_age ago, before half of their hour.
cat "$T/ocspxy.conf" >"$T/refresh.conf"
cat >>"$T/refresh.conf" <<EOF
haproxy_socket $SOCK
refresh_interval 1
refresh_min_age 60
refresh_workers 2
EOF
tf_haproxy_stop hx "$HP"
: >"$SITE.ocsp"
check "HAProxy restarted with an empty .ocsp file again" \
    tf_haproxy_start hx "$HP" "$HX/haproxy.cfg"
"$OCSPXY_BUILD/ocspxy-refresh" -v -c "$T/refresh.conf" </dev/null \
    >/dev/null 2>"$T/run-refresh.err" &
RPID=$!
_t_record "$RPID"
check "ocspxy-refresh at start: \"1 of 1 responses sent\" to HAProxy" \
    log_wait "haproxy $SOCK: 1 of 1 responses sent" "$T/run-refresh.err"
hx_staple "after the daemon's start" hx2

"$OX" -c "$T/ocspxy.conf" export "$HX/certs" "$SITE" >"$T/hx-export.out" \
    2>"$T/run-hx-export.err"
check "ocspxy export DIR site.pem: exit 0, site.pem.ocsp" \
    test "$?" = 0 -a -s "$SITE.ocsp"
# (verified as a copy: t_verify writes beside it, and HAProxy would take
# any other file in its crt folder for a certificate)
cp "$SITE.ocsp" "$T/site.pem.ocsp"
check "site.pem.ocsp verifies (Response verify OK, good)" \
    t_verify "$T/site.pem.ocsp" "$CA/ca.crt" "$CA/tls.crt" "$CA/ca.crt" good
t_responder_stop r1
t_wait_gone "$PKI_PORT1"
tf_haproxy_stop hx "$HP"
check "responder down, HAProxy restarted (with the exported file)" \
    tf_haproxy_start hx "$HP" "$HX/haproxy.cfg"
HXPID=$HAPROXY_PID_hx
hx_staple "responder down, after the restart" hx3
check "... which is the file's" cmp -s "$T/hx3.der" "$SITE.ocsp"

# A refresh: the entry made due (last checked long ago), the responder
# back. openssl ocsp signs each answer anew: a later thisUpdate.
read -r tu0 _ <<<"$(t_resp_times "$SITE.ocsp")"
t_responder_start r1 ca1 "$PKI_PORT1" || fail "responder restarts"
past "$tu0"
rcli hset "$KT" lastchecked 0 >/dev/null
for ((i = 0; i < 100; i++)); do
	tu=$(tf_haproxy_thisupd "$SOCK") && [ "$tu" -gt "$tu0" ] && break
	sleep 0.1
done
check "after a refresh: show ssl ocsp-response shows a new thisUpdate ($(date -u -d "@${tu:-0}" +%T) > $(date -u -d "@$tu0" +%T))" \
    test "${tu:-0}" -gt "$tu0"
check "... the cache's thisUpdate" test "$(t_hget "$KT" thisupd)" = "${tu:-x}"
check "the daemon's pass says 1 sent to haproxy" \
    log_wait 'refresh pass: .* 1 sent to haproxy' "$T/run-refresh.err"
hx_staple "after the refresh" hx4
check "the staple is the new response (not the file's)" \
    bash -c '[ -s "$1" ] && ! cmp -s "$1" "$2"' _ "$T/hx4.der" "$SITE.ocsp"
check "the same HAProxy process (no reload)" test "$HAPROXY_PID_hx" = "$HXPID"
kill -HUP "$RPID"
check "SIGHUP: the daemon reads its config again and sends HAProxy the valid responses again" \
    log_wait "re-read" "$T/run-refresh.err" &&
    check "... \"1 of 1 responses sent\" a second time" \
	bash -c 'for i in $(seq 100); do
	    [ "$(grep -c "1 of 1 responses sent" "$1")" = 2 ] && exit 0
	    sleep 0.05; done; exit 1' _ "$T/run-refresh.err"
t_kill "$RPID"
check "ocspxy-refresh logged no failure" \
    bash -c '! grep -q "error\|warning" "$1"' _ "$T/run-refresh.err"

# Failures: one log line each, the pass goes on.
sed "s|^haproxy_socket .*|haproxy_socket $HX/none.sock|" "$T/refresh.conf" \
    >"$T/refresh-bad.conf"
rcli hset "$KT" lastchecked 0 >/dev/null
# a new thisUpdate: a response stored (the same bytes are not sent)
past "$(t_hget "$KT" thisupd)"
"$OCSPXY_BUILD/ocspxy-refresh" --once -c "$T/refresh-bad.conf" </dev/null \
    >/dev/null 2>"$T/run-refresh-bad.err"
check "haproxy_socket unreachable: refresh --once still refreshes and stores (exit 0, 1 refreshed, 0 unchanged)" \
    bash -c '[ "$1" = 0 ] && grep -q "refresh pass: .* 1 refreshed, 0 failed.* 0 unchanged.* 0 sent to haproxy" "$2"' \
    _ "$?" "$T/run-refresh-bad.err"
check "... one log line for the start's push and one for the pass, naming the socket" \
    test "$(grep -c "haproxy $HX/none.sock: cannot list its certificates: connect: No such file" \
	"$T/run-refresh-bad.err")" = 2
"$OX" -c "$T/ocspxy.conf" export --haproxy "$HX/none.sock" >/dev/null \
    2>"$T/run-hx-bad.err"
check "ocspxy export --haproxy to no socket: exit 1, one log line" \
    bash -c '[ "$1" = 1 ] && [ "$(wc -l <"$2")" = 1 ] && grep -q "none.sock: cannot list" "$2"' \
    _ "$?" "$T/run-hx-bad.err"
"$OX" -c "$T/ocspxy.conf" export --haproxy "$SOCK" "$HX/certs" >/dev/null \
    2>"$T/run-hx-usage.err"
check "ocspxy export --haproxy SOCKET DIR: exit 2 (no directory with --haproxy)" \
    test "$?" = 2
rcli del "$KT" >/dev/null
"$OX" -c "$T/ocspxy.conf" export --haproxy "$SOCK" >"$T/hx-gone.out" \
    2>"$T/run-hx-gone.err"
check "export --haproxy with the entry gone: exit 1, sent 0 of 1, one log line saying it is not cached" \
    bash -c '[ "$1" = 1 ] && grep -q "^sent 0 of 1 " "$2" &&
	[ "$(wc -l <"$3")" = 1 ] && grep -q "not cached" "$3"' \
    _ "$?" "$T/hx-gone.out" "$T/run-hx-gone.err"
check "... and HAProxy still staples the response it holds" hx_good hx5
tf_haproxy_stop hx "$HP"

# ================================================================ mTLS
t_note "client certificates (mTLS)"
KA=$(t_key "$CA/ca.crt" "$CA/alice.crt")
KM=$(t_key "$CA/ca.crt" "$CA/mallory.crt")
mkdir -p "$T/www"
echo 'tls ok' >"$T/www/ok.txt"

# hits: the proxy's ocspxy_hits_total (0 before the first).
hits()
{
	local h
	h=$(curl -s --max-time 5 "$PX/metrics" |
	    awk '$1 == "ocspxy_hits_total" { print $2 }')
	echo "${h:-0}"
}
# hits_wait N: until the hits reach N (each process sends its counts
# within about a second).
hits_wait()
{
	local i
	for ((i = 0; i < 60; i++)); do
		[ "$(hits)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# twenty PORT F: 20 handshakes, alice and mallory in turn, each in a curl
# of its own; true when alice got in and mallory was refused every time.
twenty()
{
	local i bad=0
	for ((i = 0; i < 10; i++)); do
		tf_mtls_in "$1" alice "$T/$2-a" || bad=$((bad + 1))
		tf_mtls_out "$1" mallory "$T/$2-m" || bad=$((bad + 1))
	done
	[ $bad = 0 ]
}

# up_checks TAG PORT F: responder up: alice in, mallory out, the proxy
# asked the responder about each once; then 20 handshakes ask the proxy
# (its hits) and never the responder.
up_checks()
{
	local tag=$1 port=$2 f=$3 n h
	n=$(t_responder_count r1)
	check "$tag, responder up: alice (good) gets in" \
	    tf_mtls_in "$port" alice "$T/$f-1"
	check "$tag, responder up: mallory (revoked) is refused" \
	    tf_mtls_out "$port" mallory "$T/$f-2"
	t_note "$tag: mallory's refusal: status $(cat "$T/$f-2.code")$(
	    sed -n '1s/^curl: ([0-9]*) / (curl: /p' "$T/$f-2.curlerr" |
	    sed 's/$/)/')"
	check "$tag: the proxy asked the responder once for each" \
	    test "$(t_responder_count r1)" = $((n + 2))
	check "$tag: the proxy holds alice good, mallory revoked" \
	    test "$(t_hget "$KA" status)/$(t_hget "$KM" status)" = good/revoked
	n=$(t_responder_count r1)
	h=$(hits)
	check "$tag: 20 more handshakes: alice always in, mallory always out" \
	    twenty "$port" "$f-20"
	check "$tag: ... they asked the responder nothing" \
	    test "$(t_responder_count r1)" = "$n"
	check "$tag: ... they asked the proxy: 20 hits more" \
	    hits_wait $((h + 20))
}

# down_checks TAG PORT F [carol]: responder down: alice in, mallory out
# (from the proxy's cache); carol, never asked, out: the check fails
# closed.
down_checks()
{
	local tag=$1 port=$2 f=$3
	check "$tag, responder down: alice gets in (the proxy's cached answer)" \
	    tf_mtls_in "$port" alice "$T/$f-1"
	check "$tag, responder down: mallory is still refused" \
	    tf_mtls_out "$port" mallory "$T/$f-2"
	[ -n "${4:-}" ] &&
	    check "$tag, responder down: carol (good, never asked) is refused: the proxy has no answer, the check fails closed" \
	    tf_mtls_out "$port" carol "$T/$f-3"
}

# ---------------------------------------------------------------- Apache
AP=$(t_port)
# apache_mtls [nonce]: Apache with the shipped apache/ocspxy-mtls.conf at
# server level, pointed at the proxy (with nonce: SSLOCSPUseRequestNonce
# on instead), and one TLS vhost requiring client certificates of ca1.
apache_mtls()
{
	local d=$T/apache-mtls
	TF_APACHE_LOGLEVEL=info tf_apache_conf mtls
	sed -e "s|http://127\.0\.0\.1:8008/|$PX/|" \
	    "$SRC_DIR/apache/ocspxy-mtls.conf" >"$d/mtls.conf"
	[ "${1:-}" = nonce ] &&
	    sed -i 's/^SSLOCSPUseRequestNonce off$/SSLOCSPUseRequestNonce on/' \
		"$d/mtls.conf"
	cat >>"$d/httpd.conf" <<-EOF
	Include "$d/mtls.conf"
	Listen 127.0.0.1:$AP
	<VirtualHost 127.0.0.1:$AP>
		ServerName localhost
		DocumentRoot "$T/www"
		SSLEngine on
		SSLCertificateFile "$CA/tls-chain.pem"
		SSLCertificateKeyFile "$CA/tls.key"
		SSLCACertificateFile "$CA/ca.crt"
		SSLVerifyClient require
		SSLVerifyDepth 2
	</VirtualHost>
	EOF
	tf_apache_start mtls "$AP"
}
ALOG=$T/apache-mtls/log/error.log

if check "Apache: TLS vhost, SSLVerifyClient require, apache/ocspxy-mtls.conf (proxy $PX)" \
    apache_mtls; then
	check "the snippet keeps SSLOCSPUseRequestNonce off" \
	    grep -qx 'SSLOCSPUseRequestNonce off' "$T/apache-mtls/mtls.conf"
	up_checks "Apache" "$AP" ap
	check "Apache logged why mallory was refused: certificate revoked" \
	    grep -q 'certificate revoked' "$ALOG"
fi
tf_apache_stop mtls "$AP"

# The control: the nonce on (mod_ssl's default).
if check "Apache restarted with SSLOCSPUseRequestNonce on" apache_mtls nonce; then
	n=$(t_responder_count r1)
	check "nonce on, responder up: alice gets in" \
	    tf_mtls_in "$AP" alice "$T/apn-1"
	check "nonce on, responder up: alice again" \
	    tf_mtls_in "$AP" alice "$T/apn-2"
	check "nonce on: every handshake asked the responder (2 requests, alice cached)" \
	    test "$(t_responder_count r1)" = $((n + 2))
fi
tf_apache_stop mtls "$AP"

if check "Apache restarted with apache/ocspxy-mtls.conf" apache_mtls; then
	t_responder_stop r1
	t_wait_gone "$PKI_PORT1"
	down_checks "Apache" "$AP" apd carol
fi
tf_apache_stop mtls "$AP"
if check "Apache restarted, responder down" apache_mtls; then
	down_checks "Apache after its restart" "$AP" apr
fi
tf_apache_stop mtls "$AP"
: >"$ALOG"
if check "Apache restarted with SSLOCSPUseRequestNonce on, responder down" \
    apache_mtls nonce; then
	check "nonce on, responder down: alice is locked out" \
	    tf_mtls_out "$AP" alice "$T/apnd-1"
	check "... Apache says why: the answer (the proxy's cached one) has no nonce" \
	    grep -q 'bad nonce' "$ALOG"
fi
tf_apache_stop mtls "$AP"

# ---------------------------------------------------------------- nginx
# A cold cache for nginx (the breaker the outage opened goes with it).
rcli flushall >/dev/null
t_responder_start r1 ca1 "$PKI_PORT1" || fail "responder restarts"
NT=$(t_port)
# nginx_mtls: a TLS server requiring client certificates of ca1, with the
# shipped nginx/ocspxy-mtls.conf pointed at the proxy.
nginx_mtls()
{
	sed -e "s|http://127\.0\.0\.1:8008/|$PX/|" \
	    "$SRC_DIR/nginx/ocspxy-mtls.conf" >"$T/nginx-mtls.inc"
	tf_nginx_tls_start mtls "$NT" "$CA/tls-chain.pem" "$CA/tls.key" \
	    "ssl_client_certificate $CA/ca.crt;" "include $T/nginx-mtls.inc;"
}
NLOG=$T/nginx-mtls/nginx-error.log
if check "nginx: TLS server, ssl_client_certificate ca1, nginx/ocspxy-mtls.conf (proxy $PX)" \
    nginx_mtls; then
	check "the proxy's cache is empty (alice not cached)" \
	    test "$(rcli exists "$KA")" = 0
	up_checks "nginx" "$NT" ng
	check "nginx logged why mallory was refused: certificate revoked" \
	    grep -q 'certificate revoked' "$NLOG"
	t_responder_stop r1
	t_wait_gone "$PKI_PORT1"
	down_checks "nginx" "$NT" ngd carol
fi
tf_nginx_tls_stop mtls "$NT"
if check "nginx restarted, responder down" nginx_mtls; then
	down_checks "nginx after its restart" "$NT" ngr
fi
tf_nginx_tls_stop mtls "$NT"

t_done
