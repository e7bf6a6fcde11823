#!/bin/bash
# t_stapling.sh: what ocspxy is for. An Apache TLS virtual host staples
# OCSP through the proxy (apache/ocspxy-stapling.conf: SSLUseStapling,
# SSLOCSPProxyURL to ocspxy behind nginx + fcgi/ocspxy-spawn). The
# certificate's OCSP URL is a real `openssl ocsp` responder.
#   1. first handshake: a good staple, byte for byte the proxy's cached
#      response, which verifies;
#   2. responder stopped, Apache fully restarted (its stapling cache is in
#      shared memory, gone): the staple is still there, from ocspxy's cache;
#   3. the same vhost without the proxy (no SSLOCSPProxyURL): stapling
#      works while the responder runs, and after a restart with the
#      responder down there is no staple at all.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

tf_stapling_begin

t_conf "$T/ocspxy.conf" issuer "$T/pki/roots.pem"
chmod 0644 "$T/ocspxy.conf"
PP=$(t_port)
check "proxy: ocspxy-fcgi via fcgi/ocspxy-spawn" tf_spawn_start "$T/ocspxy.conf" 2 &&
    check "proxy: nginx with nginx/ocspxy.conf on 127.0.0.1:$PP" t_nginx_start "$PP" ||
    t_done

# apache_tls NAME PORT [proxy|direct]: an Apache with the shipped stapling
# snippet at server level (with or without its SSLOCSPProxyURL line) and
# one TLS vhost for localhost.
TP=$(t_port)
apache_tls()
{
	local name=$1 port=$2 mode=$3 d=$T/apache-$1
	tf_apache_conf "$name"
	if [ "$mode" = proxy ]; then
		sed -e "s|http://127\.0\.0\.1:8008/|http://127.0.0.1:$PP/|" \
		    "$SRC_DIR/apache/ocspxy-stapling.conf" >"$d/stapling.conf"
	else
		sed -e '/^SSLOCSPProxyURL/d' \
		    "$SRC_DIR/apache/ocspxy-stapling.conf" >"$d/stapling.conf"
	fi
	cat >>"$d/httpd.conf" <<-EOF
	Include "$d/stapling.conf"
	Listen 127.0.0.1:$port
	<VirtualHost 127.0.0.1:$port>
		ServerName localhost
		SSLEngine on
		SSLCertificateFile "$CA/tls-chain.pem"
		SSLCertificateKeyFile "$CA/tls.key"
	</VirtualHost>
	EOF
}

# ---------------------------------------------------------------- 1
apache_tls tls "$TP" proxy
check "snippet says SSLOCSPProxyURL http://127.0.0.1:$PP/" \
    grep -q "^SSLOCSPProxyURL http://127.0.0.1:$PP/\$" "$T/apache-tls/stapling.conf"
check "Apache TLS vhost starts, stapling through the proxy" \
    tf_apache_start tls "$TP" || t_done
n=$(t_responder_count r1)
tf_sclient "$TP" "$T/s1"
check "1st handshake: TLS verified (Verify return code: 0)" \
    grep -q 'Verify return code: 0 (ok)' "$T/s1"
check "1st handshake: stapled OCSP response, successful, good" \
    test "$(tf_staple "$T/s1")" = good
check "the proxy fetched it once from the real responder (POST http://127.0.0.1:$PKI_PORT1/)" \
    test "$(t_responder_count r1)" = $((n + 1))
check "the proxy stored $KEY, responder 127.0.0.1:$PKI_PORT1" \
    test "$(t_hget "$KEY" ocsp_responder)" = "127.0.0.1:$PKI_PORT1"
t_redis_field "$KEY" response "$T/cached.der"
if check "the staple is cut out of the handshake" tf_staple_der "$T/s1" "$T/staple1.der"; then
	check "the staple is the proxy's cached response, byte for byte" \
	    cmp -s "$T/staple1.der" "$T/cached.der"
	check "the staple verifies (Response verify OK, good)" \
	    t_verify "$T/staple1.der" "$CA/ca.crt" "$CA/tls.crt" "$CA/ca.crt" good
fi
read -r tu1 _ <<<"$(t_resp_times "$T/cached.der")"

# ---------------------------------------------------------------- 2
t_responder_stop r1
check "responder stopped" t_wait_gone "$PKI_PORT1"
tf_apache_stop tls "$TP"
check "Apache stopped (by pid)" t_wait_gone "$TP"
check "Apache restarted, responder down" tf_apache_start tls "$TP"
tf_sclient "$TP" "$T/s2"
s2=$(tf_staple "$T/s2")
check "after the restart, responder down: still a good staple" test "$s2" = good
if tf_staple_der "$T/s2" "$T/staple2.der"; then
	check "it is the cached response (same bytes, thisUpdate of the first fetch)" \
	    cmp -s "$T/staple2.der" "$T/cached.der"
	check "it verifies (Response verify OK, good)" \
	    t_verify "$T/staple2.der" "$CA/ca.crt" "$CA/tls.crt" "$CA/ca.crt" good
else
	fail "no staple in the handshake after the restart"
fi
tf_apache_stop tls "$TP"

# ---------------------------------------------------------------- 3
DP=$(t_port)
apache_tls direct "$DP" direct
check "direct snippet has no SSLOCSPProxyURL" \
    ! grep -q '^SSLOCSPProxyURL' "$T/apache-direct/stapling.conf"
# control: without the proxy, stapling works while the responder runs
t_responder_start r1 ca1 "$PKI_PORT1" || fail "responder restarts"
check "direct: Apache starts" tf_apache_start direct "$DP"
tf_sclient "$DP" "$T/s3"
check "direct, responder up: good staple (the vhost itself is fine)" \
    test "$(tf_staple "$T/s3")" = good
tf_apache_stop direct "$DP"
t_responder_stop r1
t_wait_gone "$PKI_PORT1"
check "direct: Apache restarted, responder down" tf_apache_start direct "$DP"
tf_sclient "$DP" "$T/s4"
s4=$(tf_staple "$T/s4")
check "direct, responder down: no staple (\"OCSP response: no response sent\")" \
    test "$s4" = none
check "direct, responder down: the handshake itself still succeeds" \
    grep -q 'Verify return code: 0 (ok)' "$T/s4"
tf_apache_stop direct "$DP"

t_note "after a restart with the responder down:"
t_note "  through ocspxy: staple $s2${tu1:+ (thisUpdate $(date -u -d "@$tu1" '+%F %T') UTC, from the cache)}"
t_note "  direct:         staple $s4 ($(grep -m1 -o 'OCSP response: no response sent' "$T/s4" || echo "see $T/s4"))"

tf_sanitizer_logs "$T/apache-tls/log/error.log" "$T/apache-direct/log/error.log"
t_done
