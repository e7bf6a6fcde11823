#!/bin/bash
# t_redis.sh: a Redis that asks for a password (redis_password) and a
# database other than 0 (redis_db); a wrong password is an outage: the
# proxy answers from upstream and logs it once. A kept connection that
# Redis closes when idle is no outage.
. "$(dirname "$0")/lib.sh"
t_setup

export REDISCLI_AUTH=s3cret
T_REDIS_ARGS="--requirepass s3cret" t_begin
check "redis-server asks for a password" \
    bash -c "REDISCLI_AUTH= redis-cli -s '$T/redis.sock' get x 2>&1 | grep -q NOAUTH"

H1=127.0.0.1:$PKI_PORT1
req=$T/req-good1.der
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$req"
key=$(t_key "$(t_issuer good1)" "$(t_crt good1)")

t_conf "$T/auth.conf" redis_password s3cret redis_db 3
T_CGI_CONF=$T/auth.conf t_cgi_leaf "$T/a1" good1
check "password and db 3: 200" grep -qE '^Status: 200' "$T/a1.hdr"
check "password and db 3: the answer verifies" t_vleaf "$T/a1.body" good1 good
check "password and db 3: the entry is in db 3" \
    test "$(rcli -n 3 exists "$key")" = 1
check "password and db 3: not in db 0" test "$(rcli -n 0 exists "$key")" = 0
c0=$(t_responder_count r1)
T_CGI_CONF=$T/auth.conf t_cgi_leaf "$T/a2" good1
check "password and db 3: a hit (no upstream request)" \
    test "$(t_responder_count r1)" = "$c0"

: >"$T/cgi.err"
t_conf "$T/wrong.conf" redis_password wrong redis_db 4
T_CGI_CONF=$T/wrong.conf t_cgi_leaf "$T/w1" good1
check "wrong password: still answered 200 from upstream" \
    grep -qE '^Status: 200' "$T/w1.hdr"
check "wrong password: the answer verifies" t_vleaf "$T/w1.body" good1 good
check "wrong password: nothing stored in db 4" \
    test "$(rcli -n 4 dbsize)" = 0
check "wrong password: one log line says AUTH failed" \
    test "$(grep -c 'AUTH failed' "$T/cgi.err")" = 1

# Redis closes idle connections after a second: a FastCGI process that
# kept its connection reconnects at once, without an outage.
t_conf "$T/idle.conf" redis_password s3cret
t_fcgi_start "$T/idle.conf" 1 || fail "spawn-fcgi"
NP=$(t_port)
t_nginx_start "$NP" || fail "nginx"
rcli config set timeout 1 >/dev/null
code=$(t_post "$T/i1" "http://127.0.0.1:$NP/" "$req" -H "Host: $H1")
check "idle timeout: first request 200" test "$code" = 200
check "  ... the answer verifies" t_vleaf "$T/i1.body" good1 good
sleep 2.5
c0=$(t_responder_count r1)
code=$(t_post "$T/i2" "http://127.0.0.1:$NP/" "$req" -H "Host: $H1")
check "idle timeout: after Redis closed the idle connection: 200" \
    test "$code" = 200
check "  ... the answer verifies" t_vleaf "$T/i2.body" good1 good
check "  ... a hit from the cache (no upstream request)" \
    test "$(t_responder_count r1)" = "$c0"
check "  ... and no outage logged" \
    bash -c "! grep -q 'logged once' '$T/fcgi.log'"
rcli config set timeout 0 >/dev/null

# Redis over TCP (redis host:port), a server of its own without a
# password: stored there, then a hit from there.
RTP=$(t_port)
if t_redis_start "$RTP"; then
	# (t_conf's unix socket line comes first; the later one wins)
	t_conf "$T/tcp.conf" redis "127.0.0.1:$RTP"
	T_CGI_CONF=$T/tcp.conf t_cgi_leaf "$T/tcp1" good1
	check "Redis over TCP: 200, the answer verifies" t_vleaf "$T/tcp1.body" good1 good
	check "Redis over TCP: the entry is in that server" \
	    test "$(REDISCLI_AUTH= redis-cli -p "$RTP" exists "$key")" = 1
	c0=$(t_responder_count r1)
	T_CGI_CONF=$T/tcp.conf t_cgi_leaf "$T/tcp2" good1
	check "Redis over TCP: the next request is a hit (no upstream request)" \
	    test "$(t_responder_count r1)" = "$c0"
	check "Redis over TCP: ... with the same bytes" cmp -s "$T/tcp1.body" "$T/tcp2.body"
else
	fail "redis-server on TCP port $RTP does not start"
fi

printf 'redis_db -1\n' >"$T/bad.conf"
check "redis_db -1: exit 2 naming file, line and key" t_conf_refused bad redis_db
t_done
