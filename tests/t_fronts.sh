#!/bin/bash
# t_fronts.sh: the same OCSP requests through each web server front this
# tree ships a config for, each started from that config (sed-adapted to
# private ports and paths):
#   nginx    nginx/ocspxy.conf + fcgi/ocspxy-spawn (spawn-fcgi)
#   lighttpd lighttpd/ocspxy.conf (mod_fastcgi spawns ocspxy-fcgi)
#   Apache   apache/ocspxy.conf (mod_fcgid spawns ocspxy-fcgi)
# Every answer is verified with openssl ("Response verify OK" + status),
# and each front leaves the same Redis entry (same key, same fields, same
# responder, request and status). One Redis, flushed between fronts.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

t_begin
t_conf "$T/ocspxy.conf" issuer "$T/pki/roots.pem"
chmod 0644 "$T/ocspxy.conf"
H1=127.0.0.1:$PKI_PORT1
H2=127.0.0.1:$PKI_PORT2
KEY1=$(t_kleaf good1)
KEY2=$(t_kleaf good2)

# Requests of 241 and 331 certificates (15 KB and 21 KB): a request for
# several certificates goes upstream untouched; max_request_bytes is 16384.
args=()
for i in $(seq 1 330); do
	args+=(-serial $((0x1000 + i)))
	[ "$i" = 240 ] && t_reqout "$(t_crt good1)" "$(t_issuer good1)" \
	    "$T/big.der" "${args[@]}"
done
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$T/huge.der" "${args[@]}"
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$T/req-good1.der"
t_reqout "$(t_crt short1)" "$(t_issuer short1)" "$T/req-short1.der"
t_note "request sizes: big $(stat -c %s "$T/big.der"), huge $(stat -c %s "$T/huge.der") bytes"

# front_checks NAME PORT: the checks every front must pass.
front_checks()
{
	local f=$1 port=$2 px=http://127.0.0.1:$2 n code
	rcli flushall >/dev/null

	n=$(t_responder_count r1)
	tf_ocsp "$f-good1" "$port" "$H1" good1 "$T/$f-good1.der"
	check "$f: openssl ocsp -header Host=$H1 through the front: verify OK, good" \
	    t_vleaf "$T/$f-good1.der" good1 good
	check "$f: the responder was asked once" \
	    test "$(t_responder_count r1)" = $((n + 1))
	check "$f: Redis entry $KEY1 written" t_exists "$KEY1"
	t_redis_field "$KEY1" response "$T/$f-stored.der"
	check "$f: the answer is the stored response, byte for byte" \
	    cmp -s "$T/$f-good1.der" "$T/$f-stored.der"
	check "$f: stored responder is $H1" \
	    test "$(t_hget "$KEY1" ocsp_responder)" = "$H1"
	tf_entry "$KEY1" "$T/$f.entry"

	tf_ocsp "$f-again" "$port" "$H1" good1 "$T/$f-again.der"
	check "$f: second query answered from the cache (verify OK, responder not asked)" \
	    bash -c "grep -q '^Response verify OK' '$T/query-$f-again.log' &&
		test $(t_responder_count r1) = $((n + 1))"

	tf_ocsp "$f-revoked1" "$port" "$H1" revoked1 "$T/$f-revoked1.der"
	check "$f: revoked1: verify OK, revoked" \
	    t_vleaf "$T/$f-revoked1.der" revoked1 revoked

	# ca2: delegated signer, responder under the path /ca2/
	t_query "$f-good2" "$(t_crt good2)" "$(t_issuer good2)" "$px/ca2/" \
	    "$T/$f-good2.der" -header "Host=$H2"
	check "$f: good2 via path /ca2/ (delegated signer): verify OK, good" \
	    t_vleaf "$T/$f-good2.der" good2 good
	check "$f: stored responder is $H2/ca2/" \
	    test "$(t_hget "$KEY2" ocsp_responder)" = "$H2/ca2/"

	# RFC 6960 GET (as nginx stapling asks), answered from the cache
	code=$(t_http "$T/$f-get" -H "Host: $H1" "$px/$(t_get_path "$T/req-good1.der")")
	check "$f: GET /<url-encoded base64>: 200, the stored response" \
	    bash -c "test '$code' = 200 && cmp -s '$T/$f-get.body' '$T/$f-stored.der'"

	# as nginx stapling asks: GET with the front itself as Host (SERVER_PORT
	# must be the front's port), for a certificate not cached yet of a CA
	# whose responder the proxy learned above
	n=$(t_responder_count r1)
	code=$(t_http "$T/$f-self" -H "Host: 127.0.0.1:$port" \
	    "$px/$(t_get_path "$T/req-short1.der")")
	check "$f: GET with Host 127.0.0.1:$port (the front): 200, short1 good, fetched from the learned responder" \
	    bash -c "test '$code' = 200 && test $(t_responder_count r1) = $((n + 1))" &&
	    check "$f:   ... verify OK, good" t_vleaf "$T/$f-self.body" short1 good

	# absolute-form, as Apache mod_ssl sends through SSLOCSPProxyURL
	code=$(t_post "$T/$f-abs" "$px/" "$T/req-good1.der" --http1.0 \
	    --request-target "http://$H1/" -H "Host: $H1")
	check "$f: POST http://$H1/ (absolute form): 200, the stored response" \
	    bash -c "test '$code' = 200 && cmp -s '$T/$f-abs.body' '$T/$f-stored.der'"

	# bodies up to max_request_bytes pass the front; above, ocspxy says 413
	code=$(t_post "$T/$f-big" "$px/" "$T/big.der" -H "Host: $H1")
	check "$f: POST of $(stat -c %s "$T/big.der") bytes (241 certificates) passes: 200" \
	    test "$code" = 200
	check "$f: the answer verifies and holds 241 statuses" \
	    bash -c "openssl ocsp -respin '$T/$f-big.body' -CAfile '$T/pki/roots.pem' \
		-no_nonce 2>&1 | grep -q '^Response verify OK' &&
		test \$(openssl ocsp -respin '$T/$f-big.body' -noverify -resp_text |
		grep -c 'Cert Status:') = 241"
	code=$(t_post "$T/$f-huge" "$px/" "$T/huge.der" -H "Host: $H1")
	check "$f: POST of $(stat -c %s "$T/huge.der") bytes: 413 from ocspxy (max_request_bytes), not from the front" \
	    bash -c "test '$code' = 413 && grep -q max_request_bytes '$T/$f-huge.body'"
}

# ---------------------------------------------------------------- nginx
# a config ocspxy-fcgi refuses: the launcher says so and leaves nothing
echo "no_such_key 1" >"$T/bad.conf"
"$SRC_DIR/fcgi/ocspxy-spawn" -b "$OCSPXY_BUILD/ocspxy-fcgi" -c "$T/bad.conf" \
    -s "$T/bad.sock" -p "$T/bad.pid" -l "$T/bad.log" -u nobody -g nogroup \
    >/dev/null 2>"$T/bad.err"
rc=$?
check "ocspxy-spawn with a bad config: exit 1, points at its log" \
    bash -c "test $rc = 1 && grep -q 'see $T/bad.log' '$T/bad.err' &&
	grep -q 'unknown key' '$T/bad.log'"
check "  ... and leaves no socket, no pid file" \
    test ! -e "$T/bad.sock" -a ! -e "$T/bad.pid"

NP=$(t_port)
if check "nginx: ocspxy-fcgi started by fcgi/ocspxy-spawn (spawn-fcgi, 2 processes)" \
    tf_spawn_start "$T/ocspxy.conf" 2; then
	check "nginx: ocspxy-spawn status: running" \
	    bash -c '"$@" >/dev/null' status "$SRC_DIR/fcgi/ocspxy-spawn" \
	    -s "$T/fcgi.sock" -p "$T/fcgi.pid" status
	users=$(for p in $FCGI_PIDS; do tf_pid_user "$p"; done | sort -u | tr '\n' ' ')
	check "nginx: the processes run as nobody (-u nobody), not root ($users)" \
	    test "$users" = "nobody "
	check "nginx: socket mode 0660 group nogroup (-M 0660 -G nogroup)" \
	    test "$(stat -c '%a %G' "$T/fcgi.sock")" = "660 nogroup"
	if check "nginx: starts with nginx/ocspxy.conf" t_nginx_start "$NP"; then
		front_checks nginx "$NP"
		t_nginx_stop
	fi
	pids=$FCGI_PIDS
	tf_spawn_stop
	# shellcheck disable=SC2086
	left=$(t_left 5 $pids)
	check "nginx: ocspxy-spawn stop: processes gone, socket removed" \
	    test -z "$left" -a ! -e "$T/fcgi.sock"
fi

# ---------------------------------------------------------------- lighttpd
LP=$(t_port)
if check "lighttpd: starts with lighttpd/ocspxy.conf (mod_fastcgi bin-path)" \
    tf_lighttpd_start "$LP" "$T/ocspxy.conf"; then
	front_checks lighttpd "$LP"
	kids=$(tf_children_of "$LIGHTTPD_PID")
	users=$(for p in $kids; do tf_pid_user "$p"; done | sort -u | tr '\n' ' ')
	check "lighttpd: it spawned ocspxy-fcgi processes (max-procs 4) as www-data ($users)" \
	    test "$(echo "$kids" | wc -w)" = 4 -a "$users" = "www-data "
	tf_lighttpd_stop
	# shellcheck disable=SC2086
	left=$(t_left 5 $kids)
	check "lighttpd: stopped with its ocspxy-fcgi processes" test -z "$left"
	# lighttpd hands its own stderr to the processes it spawns
	check "lighttpd: ocspxy-fcgi's log lines reach lighttpd's stderr" \
	    grep -q '^ocspxy-fcgi\[[0-9]*\]: ' "$T/lighttpd/out.log"
	tf_sanitizer_logs "$T/lighttpd/out.log"
fi

# ---------------------------------------------------------------- Apache
AP=$(t_port)
tf_apache_conf fronts
tf_apache_site "$AP" "$T/ocspxy.conf" "$T/apache-fronts/ocspxy.conf"
echo "Include \"$T/apache-fronts/ocspxy.conf\"" >>"$T/apache-fronts/httpd.conf"
if check "Apache: starts with apache/ocspxy.conf (mod_fcgid)" \
    tf_apache_start fronts "$AP"; then
	front_checks apache "$AP"
	# shellcheck disable=SC2154 # set by tf_apache_start
	kids=$(tf_children_of "$APACHE_PID_fronts")
	fc=
	for p in $kids; do
		[ "$(readlink "/proc/$p/exe")" = "$OCSPXY_BUILD/ocspxy-fcgi" ] &&
		    fc="$fc $p"
	done
	users=$(for p in $fc; do tf_pid_user "$p"; done | sort -u | tr '\n' ' ')
	check "Apache: mod_fcgid runs ocspxy-fcgi as www-data ($users)" \
	    test -n "$fc" -a "$users" = "www-data "
	tf_apache_stop fronts "$AP"
	# shellcheck disable=SC2086
	left=$(t_left 5 $kids)
	check "Apache: stopped with its ocspxy-fcgi processes" test -z "$left"
	check "Apache: ocspxy-fcgi's log lines reach Apache's main error log" \
	    grep -q 'ocspxy-fcgi\[[0-9]*\]: ' "$T/apache-fronts/log/error.log"
	tf_sanitizer_logs "$T/apache-fronts/log/error.log"
fi

# ---------------------------------------------------------------- same entry
first=
for f in nginx lighttpd apache; do
	[ -f "$T/$f.entry" ] || { fail "no Redis entry recorded through $f"; continue; }
	if [ -z "$first" ]; then
		first=$f
		t_note "entry $KEY1: $(head -1 "$T/$f.entry")"
		continue
	fi
	check "Redis entry through $f = through $first (fields, responder, request, status)" \
	    cmp "$T/$first.entry" "$T/$f.entry"
done

t_done
