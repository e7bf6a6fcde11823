#!/bin/bash
# t_stapling_nginx.sh: nginx's own OCSP stapling through ocspxy (here behind
# Apache + mod_fcgid, apache/ocspxy.conf):
#	ssl_stapling on; ssl_stapling_verify on;
#	ssl_trusted_certificate <CA>; ssl_stapling_responder http://PROXY/;
# nginx asks "GET /<base64>" with Host = the proxy itself, so the proxy must
# know the real responder by other means:
#   (a) cold cache, "responder <issuer cert> <url>" in ocspxy.conf;
#   (b) no responder line: learned (per issuer key hash) from an earlier
#       request naming the real responder in its Host, for another
#       certificate of the same CA.
# In both: a good staple that is the proxy's cached response and verifies;
# with the responder stopped and nginx fully restarted (nginx keeps staples
# in worker memory only), the staple is still there. Without the proxy
# (nginx asks the certificate's OCSP URL itself), a restart with the
# responder down leaves nginx with nothing to staple.
# nginx staples lazily: the first handshake starts the fetch, a later one
# carries the staple (tf_staple_wait retries).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

tf_stapling_begin
TP=$(t_port)

# proxy_start NAME PORT CONF: Apache + mod_fcgid from apache/ocspxy.conf.
proxy_start()
{
	tf_apache_conf "$1"
	tf_apache_site "$2" "$3" "$T/apache-$1/ocspxy.conf"
	echo "Include \"$T/apache-$1/ocspxy.conf\"" >>"$T/apache-$1/httpd.conf"
	tf_apache_start "$1" "$2"
}

# tls_start NAME PROXYPORT|direct: nginx TLS server stapling through the
# proxy on PROXYPORT, or from the certificate's OCSP URL.
tls_start()
{
	local resp=()
	[ "$2" != direct ] &&
	    resp=("ssl_stapling_responder http://127.0.0.1:$2/;")
	tf_nginx_tls_start "$1" "$TP" "$CA/tls-chain.pem" "$CA/tls.key" \
	    "ssl_stapling on;" "ssl_stapling_verify on;" \
	    "ssl_trusted_certificate $CA/ca.crt;" "${resp[@]}"
}

# staple_checks LABEL F: nginx staples a good response that is the
# proxy's cached one and verifies (files $T/F.*).
staple_checks()
{
	local tag=$1 f=$T/$2
	check "$tag: nginx staples a good response (after a few handshakes)" \
	    tf_staple_wait "$TP" "$f.s" || return 1
	check "$tag: the proxy's entry names the real responder $H1" \
	    test "$(t_hget "$KEY" ocsp_responder)" = "$H1"
	t_redis_field "$KEY" response "$f.cached.der"
	if tf_staple_der "$f.s" "$f.staple.der"; then
		check "$tag: the staple is the proxy's cached response, byte for byte" \
		    cmp -s "$f.staple.der" "$f.cached.der"
		check "$tag: the staple verifies (Response verify OK, good)" \
		    t_verify "$f.staple.der" "$CA/ca.crt" "$CA/tls.crt" \
		    "$CA/ca.crt" good
	else
		fail "$tag: no staple found in the handshake messages"
	fi
}

# restart_checks LABEL F NAME: responder down, nginx restarted: still
# stapled (the response cached by the proxy, same bytes as before).
restart_checks()
{
	local tag=$1 f=$T/$2 name=$3
	t_responder_stop r1
	t_wait_gone "$PKI_PORT1"
	tf_nginx_tls_stop "$name" "$TP"
	check "$tag: nginx restarted, responder down" tls_start "$name" "$PP" ||
	    return 1
	check "$tag: after the restart, responder down: still a good staple" \
	    tf_staple_wait "$TP" "$f.r.s"
	if tf_staple_der "$f.r.s" "$f.r.staple.der"; then
		check "$tag: it is the response cached before the restart" \
		    cmp -s "$f.r.staple.der" "$f.cached.der"
		check "$tag: ... and it verifies (good)" \
		    t_verify "$f.r.staple.der" "$CA/ca.crt" "$CA/tls.crt" \
		    "$CA/ca.crt" good
	else
		fail "$tag: no staple found in the handshake after the restart"
	fi
	tf_nginx_tls_stop "$name" "$TP"
	t_responder_start r1 ca1 "$PKI_PORT1" || fail "responder restarts"
}

# ---------------------------------------------------------------- (a)
t_conf "$T/ocspxy-a.conf" issuer "$T/pki/roots.pem" \
    responder "$CA/ca.crt http://$H1/"
chmod 0644 "$T/ocspxy-a.conf"
PP=$(t_port)
if check "(a) proxy: Apache + mod_fcgid, config with 'responder ca1.crt http://$H1/'" \
    proxy_start pa "$PP" "$T/ocspxy-a.conf"; then
	check "(a) cold cache: no entry for the TLS certificate yet" \
	    test "$(rcli exists "$KEY")" = 0
	n=$(t_responder_count r1)
	if check "(a) nginx TLS, ssl_stapling_responder http://127.0.0.1:$PP/" \
	    tls_start ta "$PP"; then
		staple_checks "(a) configured responder" a
		check "(a) the proxy asked the configured responder" \
		    test "$(t_responder_count r1)" -gt "$n"
		restart_checks "(a) configured responder" a ta
	fi
	tf_nginx_tls_stop ta "$TP"
	tf_apache_stop pa "$PP"
fi

# ---------------------------------------------------------------- (b)
rcli flushall >/dev/null
t_conf "$T/ocspxy-b.conf" issuer "$T/pki/roots.pem"
chmod 0644 "$T/ocspxy-b.conf"
PP=$(t_port)
if check "(b) proxy: Apache + mod_fcgid, no responder line, empty cache" \
    proxy_start pb "$PP" "$T/ocspxy-b.conf"; then
	# control: the proxy cannot know the responder yet
	tls_start tb "$PP"
	for i in 1 2 3 4; do
		tf_sclient "$TP" "$T/b0.s"
		sleep 0.3
	done
	check "(b) before any warm-up: no staple (the proxy knows no responder for ca1)" \
	    test "$(tf_staple "$T/b0.s")" = none
	tf_nginx_tls_stop tb "$TP"

	# warm-up: another certificate of ca1, asked with the responder's Host
	t_query warm "$(t_crt good1)" "$(t_issuer good1)" "http://127.0.0.1:$PP/" \
	    "$T/warm.der" -header "Host=$H1"
	check "(b) warm-up: good1 through the proxy with Host=$H1: verify OK, good" \
	    t_vleaf "$T/warm.der" good1 good
	check "(b) the TLS certificate itself is still not cached" \
	    test "$(rcli exists "$KEY")" = 0
	if check "(b) nginx TLS restarted, ssl_stapling_responder http://127.0.0.1:$PP/" \
	    tls_start tb "$PP"; then
		staple_checks "(b) learned responder" b
		restart_checks "(b) learned responder" b tb
	fi
	tf_nginx_tls_stop tb "$TP"
	tf_apache_stop pb "$PP"
fi

# ---------------------------------------------------------------- direct
if check "direct: nginx TLS without the proxy, responder up" tls_start td direct; then
	check "direct, responder up: nginx staples (the server itself is fine)" \
	    tf_staple_wait "$TP" "$T/d1.s"
fi
t_responder_stop r1
t_wait_gone "$PKI_PORT1"
tf_nginx_tls_stop td "$TP"
if check "direct: nginx restarted, responder down" tls_start td direct; then
	for i in 1 2 3 4 5; do
		tf_sclient "$TP" "$T/d2.s"
		sleep 0.3
	done
	check "direct, responder down: no staple (\"OCSP response: no response sent\")" \
	    test "$(tf_staple "$T/d2.s")" = none
	tf_nginx_tls_stop td "$TP"
fi

t_note "after a restart with the responder down:"
for f in "a.r.s:(a) through ocspxy, configured responder" \
    "b.r.s:(b) through ocspxy, learned responder" "d2.s:direct"; do
	[ -f "$T/${f%%:*}" ] &&
	    t_note "  ${f#*:}: staple $(tf_staple "$T/${f%%:*}")"
done
tf_sanitizer_logs "$T/apache-pa/log/error.log" "$T/apache-pb/log/error.log"
t_done
