#!/bin/bash
# t_security.sh: "trust nothing that comes in".  ocspxy-fcgi under
# spawn-fcgi behind nginx, a real Redis and real `openssl ocsp` responders,
# plus small hostile upstreams written here (a connection counter, a
# redirector, an endless stream, a dripper, a full listen queue):
#   1 forged responses (right CertID, wrong signer) are refused
#   2 delegated signers need id-kp-OCSPSigning from the issuer itself
#   3 require_verified: unverifiable answers never leave, never stored
#   4 no open relay: internal addresses, ports, host patterns, redirects
#   5 prune only from prune_allow
#   6 bounds: request and response sizes, timeouts, a hung Redis
#   7 Redis stopped while requests flow
#   8 one upstream fetch for 50 concurrent misses
#   9 no leaks (ASan build: LeakSanitizer at exit; normal build: RSS flat)

. "$(dirname "$0")/lib.sh"
t_setup

t_begin
H1=127.0.0.1:$PKI_PORT1
H2=127.0.0.1:$PKI_PORT2
DEAD=$(t_port) # nothing listens there
CA1=$T/pki/ca1/ca.crt
CA2=$T/pki/ca2/ca.crt

for l in good1 revoked1 short1 unknown1 good2 revoked2; do
	t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done
K_GOOD1=$(t_kleaf good1)
K_GOOD2=$(t_kleaf good2)

# ---------------------------------------------------------------- helpers

now_ms() { date +%s%3N; }
# logsince N: the fcgi log lines after line N, into $T/new.log
logsince() { tail -n +$(($1 + 1)) "$T/fcgi.log" >"$T/new.log"; }
absent() { [ "$(rcli exists "$1")" = 0 ]; }

# sconf FILE LINE...: a config written by hand (t_conf always allows
# 127.0.0.1 and ports 1024-65535): the Redis line, then the lines given.
sconf()
{
	local f=$1
	shift
	{
		echo "redis unix:$T/redis.sock"
		printf '%s\n' "$@"
	} >"$f"
}

# restart CONF [children]: ocspxy-fcgi again with another config (nginx
# stays; it reaches the same socket path).
restart()
{
	t_fcgi_stop
	t_fcgi_start "$@"
}

# miss1 PREFIX HOST [curl args]: good1, its entry deleted first, POSTed
# to the proxy with Host HOST (t_post_leaf); prints the status; the lines
# ocspxy-fcgi logged meanwhile in $T/new.log.
miss1()
{
	local pfx=$1 host=$2 n0
	shift 2
	rcli del "$K_GOOD1" >/dev/null
	n0=$(t_loglines)
	PQ_HOST=$host t_post_leaf "$pfx" good1 "$@"
	logsince "$n0"
}

# A hostile upstream (stdlib python): logs "CONN <peer>" for every
# accepted connection (before any request) and "REQ <method> <path>" per
# request, listens on :: and 127.0.0.1 (dual stack).  Modes:
#   file:PATH          200 with PATH's bytes
#   redirect:CODE:URL  CODE with Location: URL (and a small body)
#   stream:N           200 without Content-Length, N bytes, then close
#   drip               200, Content-Length 2000, one byte every 0.2 s
#   full               listen(0) and never accept: after one connection
#                      of its own, connects hang (SYNs are dropped)
cat >"$T/hostile.py" <<-'EOF'
import socket, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
MODE, PORT = sys.argv[1], int(sys.argv[2])
def say(s):
    print(s, flush=True)
if MODE == "full":
    l = socket.socket()
    l.bind(("127.0.0.1", PORT))
    l.listen(0)
    c = socket.create_connection(("127.0.0.1", PORT))
    say("READY")
    time.sleep(3600)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        say("REQ %s %s" % (self.command, self.path))
        if MODE.startswith("file:"):
            d = open(MODE[5:], "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(d)))
            self.end_headers()
            self.wfile.write(d)
        elif MODE.startswith("redirect:"):
            _, code, url = MODE.split(":", 2)
            self.send_response(int(code))
            self.send_header("Location", url)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"go\n")
        elif MODE.startswith("stream:"):
            left = int(MODE[7:])
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.end_headers()
            while left > 0:
                k = min(left, 8192)
                self.wfile.write(b"\x30" * k)
                left -= k
        elif MODE == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", "2000")
            self.end_headers()
            for i in range(2000):
                self.wfile.write(b"\x30")
                self.wfile.flush()
                time.sleep(0.2)
    do_GET = do_POST = answer
class S(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
    def verify_request(self, request, client_address):
        say("CONN %s" % client_address[0])
        return True
S(("::", PORT), H).serve_forever()
EOF

# srv_start NAME PORT MODE / srv_stop NAME / srv_conns NAME / srv_reqs NAME
srv_start()
{
	python3 "$T/hostile.py" "$3" "$2" >"$T/srv-$1.log" 2>&1 </dev/null &
	local pid=$!
	_t_record "$pid"
	echo "$pid" >"$T/srv-$1.pid"
	t_wait_listen "$2" 10 || { cat "$T/srv-$1.log" >&2; return 1; }
	if [ "$3" = full ]; then
		wait_line "$T/srv-$1.log" READY
	fi
}
# wait_line FILE TEXT: poll up to 5 s until FILE holds TEXT
wait_line()
{
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
srv_stop()
{
	[ -f "$T/srv-$1.pid" ] && t_kill "$(cat "$T/srv-$1.pid")"
	rm -f "$T/srv-$1.pid"
}
srv_conns() { grep -c '^CONN ' "$T/srv-$1.log" 2>/dev/null; }
srv_reqs() { grep -c '^REQ ' "$T/srv-$1.log" 2>/dev/null; }

# ---------------------------------------------------------------- start
t_conf "$T/base.conf" issuer "$T/pki/roots.pem"
check "ocspxy-fcgi starts (issuer roots.pem: ca1 and ca2 known)" \
    t_fcgi_start "$T/base.conf" 2 || t_done
NP=$(t_port)
check "nginx starts in front of it" t_nginx_start "$NP" || t_done
PX=http://127.0.0.1:$NP

# ================================================================ 1 forged
t_note "1. forged responses: right CertID, not signed by the known issuer"
# a) evil: a stranger root with ca1's subject name answers over ca1's
#    index with -CA ca1 (the responder computes the CertID from ca1 and
#    the request, so it is right); ResponderID by name = ca1's name.
# b) the same, ResponderID by key (the stranger's key hash).
# c) a genuine ca1 response re-signed with a stranger key.
t_forged "$T/forged-name.der"
t_forged "$T/forged-keyid.der" -resp_key_id
t_query gen1 "$(t_crt good1)" "$CA1" "http://$H1/" "$T/genuine-good1.der"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$T/stranger.key" 2>/dev/null
python3 "$TESTS_DIR/ocsp_retime.py" "$T/genuine-good1.der" \
    "$T/forged-resigned.der" "$T/stranger.key"

for v in name keyid resigned; do
	f=$T/forged-$v.der
	check "fixture forged-$v: good1's CertID, status good, openssl refuses the signature" \
	    t_vforged "$f" good1 || continue
	fp=$(t_port)
	srv_start "forged-$v" "$fp" "file:$f" || { fail "forged-$v: upstream"; continue; }
	# not cached: 503, nothing stored
	code=$(miss1 "$T/f-$v" "127.0.0.1:$fp")
	check "forged-$v, not cached: 503" test "$code" = 503
	check "forged-$v: the forged upstream was asked" test "$(srv_reqs "forged-$v")" = 1
	check "forged-$v: nothing stored" absent "$K_GOOD1"
	check "forged-$v: log says the signature does not verify" \
	    grep -q 'signature does not verify' "$T/new.log"
	# a valid entry exists: a fetch forced by no-cache, and by a nonce,
	# meets the forgery; the entry stays byte-identical and is served
	t_post_leaf "$T/f-$v-prime" good1 >/dev/null
	t_redis_snapshot "$K_GOOD1" "$T/f-$v.snap" "${T_CORE_FIELDS[@]}"
	t_redis_field "$K_GOOD1" response "$T/f-$v.stored"
	code=$(PQ_HOST=127.0.0.1:$fp t_post_leaf "$T/f-$v-nc" good1 \
	    -H 'Cache-Control: no-cache')
	check "forged-$v, cached, no-cache: 200 from the cache" test "$code" = 200
	check "forged-$v, cached: the forged upstream was asked again" \
	    test "$(srv_reqs "forged-$v")" = 2
	check "forged-$v, cached: answer is the stored response" \
	    cmp -s "$T/f-$v-nc.body" "$T/f-$v.stored"
	check "forged-$v, cached: answer verified good" \
	    t_vleaf "$T/f-$v-nc.body" good1 good
	t_query "f-$v-n" "$(t_crt good1)" "$CA1" "$PX/" "$T/f-$v-n.der" \
	    -header "Host=127.0.0.1:$fp" -nonce
	check "forged-$v, cached, nonce request: the stored response is served" \
	    cmp -s "$T/f-$v-n.der" "$T/f-$v.stored"
	t_redis_snapshot "$K_GOOD1" "$T/f-$v.snap2" "${T_CORE_FIELDS[@]}"
	check "forged-$v: the cached entry is byte-identical afterwards" \
	    cmp -s "$T/f-$v.snap" "$T/f-$v.snap2"
	srv_stop "forged-$v"
done

# ================================================================ 2 delegated
t_note "2. delegated signers: only an OCSPSigning certificate from the issuer"
t_cert ca2 ca2-noeku 0x20fe "/O=ocspxy test/CN=ocspxy test CA 2 no EKU" noeku ||
    fail "fixture: ca2-noeku certificate"
t_cert ca1 ca1-ocsp 0x10fe "/O=ocspxy test/CN=ocspxy test CA 1 OCSP" ocspsigner ||
    fail "fixture: ca1-ocsp certificate"
check "fixture ca2-noeku: issued by ca2, no extended key usage" \
    bash -c 'openssl verify -CAfile "$1" "$2" >/dev/null 2>&1 &&
	! openssl x509 -in "$2" -noout -text | grep -q "Extended Key Usage"' \
    _ "$CA2" "$T/pki/ca2/ca2-noeku.crt"

# deleg NAME SIGNER KEY WHAT: a ca2 responder signing with SIGNER is refused
deleg()
{
	local name=$1 port code c0 n0
	port=$(t_port)
	T_RSIGNER=$2 T_RKEY=$3 t_responder_start "$name" ca2 "$port" ||
	    { fail "$name: responder"; return; }
	t_query "$name-direct" "$(t_crt good2)" "$CA2" "http://127.0.0.1:$port/" \
	    "$T/$name-direct.der"
	check "fixture $name: answers good2 with status good, openssl refuses it" \
	    bash -c 'grep -q "good2.crt: good\$" "$1" &&
		! grep -q "^Response verify OK" "$1"' _ "$T/query-$name-direct.log"
	rcli del "$K_GOOD2" >/dev/null
	c0=$(t_responder_count "$name")
	n0=$(t_loglines)
	code=$(PQ_HOST=127.0.0.1:$port t_post_leaf "$T/$name" good2)
	logsince "$n0"
	check "$4: 503" test "$code" = 503
	check "$4: the responder was asked once" \
	    test "$(t_responder_count "$name")" -eq $((c0 + 1))
	check "$4: nothing stored" absent "$K_GOOD2"
	check "$4: log says the signature does not verify" \
	    grep -q 'signature does not verify' "$T/new.log"
	t_note "log: $(grep -m1 'signature' "$T/new.log" | cut -c1-200)"
	t_responder_stop "$name"
}
deleg noeku "$T/pki/ca2/ca2-noeku.crt" "$T/pki/ca2/ca2-noeku.key" \
    "ca2 response signed by a ca2 certificate without OCSPSigning"
deleg wrongca "$T/pki/ca1/ca1-ocsp.crt" "$T/pki/ca1/ca1-ocsp.key" \
    "ca2 response signed by ca1's OCSPSigning certificate"
rcli del "$K_GOOD2" >/dev/null
c0=$(t_responder_count r2)
code=$(t_post_leaf "$T/deleg-ok" good2)
check "control: ca2-ocsp (OCSPSigning, issued by ca2): 200" test "$code" = 200
check "control: ca2-ocsp answer verified good" t_vleaf "$T/deleg-ok.body" good2 good
check "control: ca2-ocsp answer stored" t_exists "$K_GOOD2"
check "control: fetched once" test "$(t_responder_count r2)" -eq $((c0 + 1))

# ================================================================ 5b prune (default)
# (while the base config runs: default prune_allow is loopback)
t_note "5. prune: from prune_allow only"
t_post_leaf "$T/pr-prime" good1 >/dev/null
code=$(t_post_leaf "$T/pr-ok" good1 -H 'X-prune-from-cache: 1')
check "default prune_allow (loopback), REMOTE_ADDR 127.0.0.1: 410" test "$code" = 410
check "default prune_allow: entry gone" absent "$K_GOOD1"

# ================================================================ 4 redirect
t_note "4. no open relay"
tp=$(t_port)
srv_start target "$tp" "file:$T/genuine-good1.der"
for rc in 302 307; do
	rp=$(t_port)
	srv_start "redir$rc" "$rp" "redirect:$rc:http://127.0.0.1:$tp/"
	code=$(miss1 "$T/redir$rc" "127.0.0.1:$rp")
	check "upstream answering $rc to an allowed 127.0.0.1:$tp: 503" test "$code" = 503
	check "$rc: the redirecting upstream was asked" test "$(srv_reqs "redir$rc")" = 1
	check "$rc: redirect not followed (target saw no connection)" \
	    test "$(srv_conns target)" = 0
	check "$rc: log says redirects are not followed" \
	    grep -q 'redirects are not followed' "$T/new.log"
	check "$rc: nothing stored" absent "$K_GOOD1"
	srv_stop "redir$rc"
done
# the target itself is fine when asked directly (the check above means
# something): an allowed, genuine upstream
code=$(PQ_HOST=127.0.0.1:$tp t_post_leaf "$T/target" good1)
check "control: the redirect target asked directly: 200, stored" \
    bash -c '[ "$1" = 200 ] && [ "$(redis-cli -s "$2" exists "$3")" = 1 ]' \
    _ "$code" "$T/redis.sock" "$K_GOOD1"
srv_stop target

# ================================================================ 7 Redis down
t_note "7. Redis stopped while requests flow"
restart "$T/base.conf" 2
rcli flushall >/dev/null
t_post_leaf "$T/rd-prime" good1 >/dev/null
leaves=(good1 revoked1 good2)
want=(good revoked good)
bad=
for i in $(seq 0 29); do
	[ "$i" = 10 ] && { t_redis_stop; m1=$(t_loglines); }
	l=${leaves[$((i % 3))]}
	code=$(t_post_leaf "$T/rd" "$l")
	if [ "$code" != 200 ] || ! t_vleaf "$T/rd.body" "$l" "${want[$((i % 3))]}"; then
		bad="$bad $i:$l:$code"
	fi
done
check "30 requests (good1 revoked1 good2, Redis stopped after 10): all 200 and verified" \
    test -z "$bad"
[ -n "$bad" ] && t_note "failed:$bad"
logsince "$m1"
nl=$(grep -c 'logged once until it is back' "$T/new.log")
t_note "20 requests with Redis down, $nl 'logged once' lines, children:$FCGI_PIDS"
check "the outage is logged (at least once)" test "$nl" -ge 1
okp=1
for p in $FCGI_PIDS; do
	n=$(grep -c "\[$p\]: .*logged once until it is back" "$T/new.log")
	served=$(grep -c "\[$p\]: " "$T/new.log")
	# a child that served a request during the outage logged it once;
	# one that served none may have logged nothing
	if [ "$n" -gt 1 ] || { [ "$served" -gt 0 ] && [ "$n" -ne 1 ]; }; then
		okp=0
		t_note "child $p: $n 'logged once' lines, $served lines"
	fi
done
check "each child logged the outage exactly once (not per request)" test $okp = 1
# marked before the restart: an idle child sending its counts may be
# the first to see Redis back
m2=$(t_loglines)
t_redis_start || fail "redis-server does not start again"
sleep 1.2 # a child retries Redis one second after a failure
code=$(t_post_leaf "$T/rd-back" short1)
logsince "$m2"
check "Redis back: a miss (short1) answered 200" test "$code" = 200
check "Redis back: answer verified" t_vleaf "$T/rd-back.body" short1 good
check "Redis back: the miss is stored again" t_exists "$(t_kleaf short1)"
check "Redis back: log says reachable again" grep -q 'reachable again' "$T/new.log"

# ================================================================ 3 require_verified
t_note "3. require_verified yes, no issuer configured"
t_conf "$T/reqv.conf" require_verified yes
restart "$T/reqv.conf" 2
rcli del "$K_GOOD1" >/dev/null
c0=$(t_responder_count r1)
n0=$(t_loglines)
code=$(t_post_leaf "$T/rv" good1)
logsince "$n0"
check "require_verified, issuer unknown: 503 (only verified answers leave)" \
    test "$code" = 503
check "require_verified: nothing stored" absent "$K_GOOD1"
check "require_verified: the log line says why (unverified, require_verified)" \
    grep -q 'answered an unverified response: .*require_verified' "$T/new.log"
code=$(t_post_leaf "$T/rv2" good1)
check "require_verified: asked again, upstream again (nothing cached), 503" \
    test "$code" = 503 -a "$(t_responder_count r1)" -eq $((c0 + 2))
t_conf "$T/noreqv.conf"
restart "$T/noreqv.conf" 2
code=$(t_post_leaf "$T/nrv" good1)
check "control: no issuer, require_verified no: stored unverified" \
    test "$code" = 200 -a "$(rcli exists "$K_GOOD1")" = 1
rcli del "$K_GOOD1" >/dev/null
t_conf "$T/reqv2.conf" require_verified yes issuer "$CA1"
restart "$T/reqv2.conf" 2
code=$(t_post_leaf "$T/rv3" good1)
check "control: require_verified yes with issuer ca1: verified and stored" \
    test "$code" = 200 -a "$(rcli exists "$K_GOOD1")" = 1
check "control: ... the answer verifies" t_vleaf "$T/rv3.body" good1 good

# An http_proxy in the environment is never used: the address policy must
# see the responder's own address, not a proxy's.
FPX=$(t_port)
t_fake_start envproxy "$FPX" hang || fail "3: fake proxy on $FPX"
t_conf "$T/envproxy.conf" prefix ocspxyenv_
T_CGI_CONF=$T/envproxy.conf t_cgi_leaf "$T/envpx" good1 \
    "http_proxy=http://127.0.0.1:$FPX" "all_proxy=http://127.0.0.1:$FPX"
check "http_proxy set: the answer comes from the responder itself, verified" \
    t_vleaf "$T/envpx.body" good1 good
check "http_proxy set: the proxy saw no request ($(t_fake_count envproxy))" \
    test "$(t_fake_count envproxy)" = 0
t_fake_stop envproxy

# ================================================================ 4 policy
t_note "4. no open relay: refused upstreams (403, no connection)"
LP=$(t_port)
srv_start listener "$LP" "file:$T/genuine-good1.der" ||
    fail "listener on $LP"

# refused DESC HOST [SERVER]: POST good1 (not cached) with Host HOST: 403
# at once, a log line saying refused, and SERVER saw no connection.
refused()
{
	local desc=$1 host=$2 srv=${3:-} c0 n0 s e code
	rcli del "$K_GOOD1" >/dev/null
	[ -n "$srv" ] && c0=$(srv_conns "$srv")
	n0=$(t_loglines)
	s=$(now_ms)
	code=$(PQ_HOST=$host t_post_leaf "$T/ref" good1)
	e=$(now_ms)
	logsince "$n0"
	check "$desc: 403" test "$code" = 403
	check "$desc: log line says refused" grep -q 'refused' "$T/new.log"
	grep -q 'refused' "$T/new.log" ||
	    t_note "log: $(cut -c1-200 "$T/new.log")"
	[ -n "$srv" ] &&
	    check "$desc: no connection reached the listener" \
		test "$(srv_conns "$srv")" = "$c0"
	check "$desc: answered at once ($((e - s)) ms)" test $((e - s)) -lt 1500
	check "$desc: nothing stored" absent "$K_GOOD1"
}

# A: no upstream_allow at all, ports 80 and 1024-65535
sconf "$T/noallow.conf" "upstream_ports 80 1024-65535" "upstream_timeout 3" \
    "issuer $T/pki/roots.pem"
restart "$T/noallow.conf" 2
refused "no upstream_allow: Host 127.0.0.1:$LP" "127.0.0.1:$LP" listener
refused "no upstream_allow: Host localhost:$LP (resolves to loopback)" \
    "localhost:$LP" listener
refused "no upstream_allow: Host [::1]:$LP" "[::1]:$LP" listener
refused "no upstream_allow: Host [::ffff:127.0.0.1]:$LP" \
    "[::ffff:127.0.0.1]:$LP" listener
refused "no upstream_allow: Host 0.0.0.0:$LP" "0.0.0.0:$LP" listener
refused "no upstream_allow: Host 127.1:$LP" "127.1:$LP" listener
refused "no upstream_allow: Host 2130706433:$LP (decimal loopback)" \
    "2130706433:$LP" listener
refused "no upstream_allow: Host 0x7f000001:$LP (hex loopback)" \
    "0x7f000001:$LP" listener
refused "Host 169.254.169.254 (link-local metadata, port 80)" 169.254.169.254
refused "Host 10.1.2.3 (private)" 10.1.2.3
refused "Host 100.64.0.1 (shared)" 100.64.0.1
refused "Host 224.0.0.1 (multicast)" 224.0.0.1

# B: upstream_allow lists another address only
sconf "$T/other.conf" "upstream_ports 1024-65535" "upstream_allow 10.1.2.3" \
    "upstream_timeout 3" "issuer $T/pki/roots.pem"
restart "$T/other.conf" 2
refused "upstream_allow 10.1.2.3: Host localhost:$LP" "localhost:$LP" listener
refused "upstream_allow 10.1.2.3: Host 127.0.0.1:$LP" "127.0.0.1:$LP" listener

# C: port not in upstream_ports
sconf "$T/port80.conf" "upstream_ports 80" "upstream_allow 127.0.0.1" \
    "upstream_timeout 3" "issuer $T/pki/roots.pem"
restart "$T/port80.conf" 2
refused "upstream_ports 80: Host 127.0.0.1:$LP" "127.0.0.1:$LP" listener
check "port refusal names the port" grep -q 'port' "$T/new.log"

# D: host patterns: only matching hosts, whatever they resolve to
sconf "$T/pat.conf" "upstream_ports 1024-65535" \
    "upstream_allow *.example.net localhost" "upstream_timeout 3" \
    "issuer $T/pki/roots.pem"
restart "$T/pat.conf" 2
refused "upstream_allow *.example.net localhost: Host 127.0.0.1:$LP" \
    "127.0.0.1:$LP" listener
refused "upstream_allow *.example.net localhost: Host localhost.evil:$LP" \
    "localhost.evil:$LP" listener
rcli del "$K_GOOD1" >/dev/null
c0=$(srv_conns listener)
code=$(PQ_HOST=localhost:$LP t_post_leaf "$T/pat-ok" good1)
check "control: Host localhost:$LP (a listed name) is fetched: 200" test "$code" = 200
check "control: the listener saw that connection" \
    test "$(srv_conns listener)" -eq $((c0 + 1))
srv_stop listener

# ================================================================ 5a prune refused
sconf "$T/prune.conf" "upstream_ports 1024-65535" "upstream_allow 127.0.0.1" \
    "issuer $T/pki/roots.pem" "prune_allow 10.9.9.9"
restart "$T/prune.conf" 2
t_post_leaf "$T/pr-prime2" good1 >/dev/null
t_redis_snapshot "$K_GOOD1" "$T/pr.snap" "${T_CORE_FIELDS[@]}"
n0=$(t_loglines)
code=$(t_post_leaf "$T/pr-no" good1 -H 'X-prune-from-cache: 1')
logsince "$n0"
check "prune_allow 10.9.9.9, REMOTE_ADDR 127.0.0.1: 403" test "$code" = 403
check "prune refused: log names prune_allow" grep -q 'prune_allow' "$T/new.log"
code=$(t_post_leaf "$T/pr-xff" good1 -H 'X-prune-from-cache: 1' \
    -H 'X-Forwarded-For: 10.9.9.9' -H 'X-Real-IP: 10.9.9.9')
check "prune with X-Forwarded-For/X-Real-IP: 10.9.9.9: still 403" test "$code" = 403
t_redis_snapshot "$K_GOOD1" "$T/pr.snap2" "${T_CORE_FIELDS[@]}"
check "prune refused: the entry is still there, unchanged" \
    cmp -s "$T/pr.snap" "$T/pr.snap2"

# ================================================================ 6 bounds
t_note "6. bounds: sizes and timeouts"
sconf "$T/bounds.conf" "upstream_ports 1024-65535" "upstream_allow 127.0.0.1" \
    "issuer $T/pki/roots.pem" "max_request_bytes 1024" \
    "max_response_bytes 4096" "upstream_timeout 2" \
    "upstream_connect_timeout 1" "redis_timeout_ms 300"
restart "$T/bounds.conf" 2
head -c 2000 /dev/urandom >"$T/body2000"
head -c 1024 /dev/urandom >"$T/body1024"
n0=$(t_loglines)
code=$(t_post "$T/big" "$PX/" "$T/body2000" -H "Host: $H1")
logsince "$n0"
check "POST of 2000 bytes through nginx (max_request_bytes 1024): 413" test "$code" = 413
check "413 logged with the limit" grep -q 'max_request_bytes' "$T/new.log"
code=$(t_post "$T/b1024" "$PX/" "$T/body1024" -H "Host: $H1")
check "POST of exactly 1024 garbage bytes: 400 (not 413)" test "$code" = 400

head -c 102400 /dev/urandom >"$T/big-resp"
# big NAME MODE DESC: an upstream answer over max_response_bytes
big()
{
	local bp code
	bp=$(t_port)
	srv_start "$1" "$bp" "$2" || { fail "$1: upstream"; return; }
	code=$(miss1 "$T/$1" "127.0.0.1:$bp")
	check "$3 (max_response_bytes 4096): 503" test "$code" = 503
	check "$3: the upstream was asked" test "$(srv_reqs "$1")" = 1
	check "$3: log says larger than 4096" grep -q 'larger than 4096' "$T/new.log"
	check "$3: nothing stored" absent "$K_GOOD1"
	srv_stop "$1"
}
big bigfile "file:$T/big-resp" "upstream answer of 100 KB with Content-Length"
big bigstream "stream:102400" "upstream answer of 100 KB without Content-Length"

# timeout NAME KIND DESC LO HI: 503 between LO and HI ms
timeout_case()
{
	local name=$1 tp s e code
	tp=$(t_port)
	if [ "$2" = hang ]; then
		t_fake_start "$name" "$tp" hang || { fail "$name: upstream"; return; }
	else
		srv_start "$name" "$tp" "$2" || { fail "$name: upstream"; return; }
	fi
	rcli del "$K_GOOD1" >/dev/null
	s=$(now_ms)
	code=$(PQ_HOST=127.0.0.1:$tp t_post_leaf "$T/$name" good1)
	e=$(now_ms)
	check "$3: 503" test "$code" = 503
	check "$3: answered after $((e - s)) ms (expected $4-$5)" \
	    test $((e - s)) -ge "$4" -a $((e - s)) -le "$5"
	check "$3: nothing stored" absent "$K_GOOD1"
	if [ "$2" = hang ]; then
		check "$3: the upstream got the request" test "$(t_fake_count "$name")" = 1
		t_fake_stop "$name"
	else
		srv_stop "$name"
	fi
}
timeout_case hang hang "upstream that never answers (upstream_timeout 2)" 1500 3500
timeout_case drip drip "upstream dripping one byte every 0.2 s (upstream_timeout 2)" \
    1500 3500
n0=$(t_loglines)
timeout_case full full "upstream whose listen queue is full (upstream_connect_timeout 1)" \
    700 1900
logsince "$n0"
check "connect timeout: log names the connect failure" \
    grep -qi 'connect\|timed out\|timeout' "$T/new.log"

# a hung Redis (SIGSTOP): redis_timeout_ms 300, the answer still comes
rcli del "$K_GOOD2" >/dev/null
kill -STOP "$REDIS_PID"
s=$(now_ms)
code=$(t_post_leaf "$T/hung" good2)
e=$(now_ms)
kill -CONT "$REDIS_PID"
check "Redis hung (SIGSTOP), redis_timeout_ms 300: 200 from upstream" test "$code" = 200
check "Redis hung: answer verified" t_vleaf "$T/hung.body" good2 good
check "Redis hung: answered in $((e - s)) ms (< 2000)" test $((e - s)) -lt 2000

# ================================================================ 8 one fetch
t_note "8. 50 concurrent misses on one certificate: one upstream fetch"
# Every process may wait on the one fetch here (upstream_max_waiting as
# many as the processes): the stampede lock, not the limit, is tested.
t_conf "$T/c50.conf" issuer "$T/pki/roots.pem" upstream_max_waiting 8
restart "$T/c50.conf" 8
rcli flushall >/dev/null

# served: hits + fetches so far, from the stats hash
served()
{
	local h f
	h=$(rcli hget ocspxy:stats hits)
	f=$(rcli hget ocspxy:stats fetches)
	echo $((${h:-0} + ${f:-0}))
}

# burst LEAF RESPONDER STATUS: 50 POSTs of LEAF's request through nginx,
# all started at once (curl --parallel-immediate); RESPONDER's count must
# rise by exactly one and every answer must verify.
burst()
{
	local leaf=$1 r=$2 st=$3 key host path i c0 c1 nv=0 d=$T/c50-$1
	key=$(t_kleaf "$leaf")
	host=$(t_leaf_host "$leaf")
	path=$(t_leaf_path "$leaf")
	mkdir -p "$d"
	for i in $(seq 1 50); do
		[ "$i" -gt 1 ] && echo next
		cat <<-EOF
		url = "$PX$path"
		header = "Host: $host"
		header = "Content-Type: application/ocsp-request"
		data-binary = "@$T/req-$leaf.der"
		output = "$d/$i.der"
		write-out = "%{http_code}\n"
		max-time = 20
		EOF
	done >"$d.cfg"
	c0=$(t_responder_count "$r")
	n0=$(served)
	curl -sS -Z --parallel-immediate --parallel-max 50 -K "$d.cfg" \
	    >"$d.codes" 2>"$d.err"
	c1=$(t_responder_count "$r")
	# the counts reach Redis within a second or so of the last request
	for i in $(seq 1 50); do
		[ $(($(served) - n0)) -ge 50 ] && break
		sleep 0.1
	done
	check "50 concurrent $leaf: each answer counted once, a fetch or a hit ($(($(served) - n0)))" \
	    test $(($(served) - n0)) = 50
	check "50 concurrent $leaf: all 50 answered 200" \
	    test "$(grep -cx 200 "$d.codes")" = 50
	for i in $(seq 1 50); do
		t_vleaf "$d/$i.der" "$leaf" "$st" && nv=$((nv + 1))
	done
	check "50 concurrent $leaf: all 50 answers verified $st ($nv)" \
	    test "$nv" = 50
	check "50 concurrent $leaf: the responder was asked exactly once ($((c1 - c0)))" \
	    test $((c1 - c0)) = 1 ||
	    grep -F "$key: fetched" "$T/fcgi.log" | cut -c1-150 | sed 's/^/# /'
	check "50 concurrent $leaf: entry stored" t_exists "$key"
	check "50 concurrent $leaf: the lock is released" \
	    test "$(rcli exists "ocspxy:lock:${key#ocspxy_}")" = 0
}
# three bursts: the lock's race (if any) shows in one run more often
burst revoked1 r1 revoked
burst short1 r1 good
burst revoked2 r2 revoked

# ================================================================ 9 leaks
# the mix: hits, misses of many serials, no-cache, GET, nonce, multi,
# prune, and errors (400, 405, 413, 403, 503, forged upstream)
openssl ocsp -issuer "$CA1" -serial 0x10000000 -no_nonce \
    -reqout "$T/tmpl.der" >/dev/null 2>&1
mkdir -p "$T/ser"
python3 - "$T/tmpl.der" "$T/ser" 1200 <<-'EOF'
import sys
d = open(sys.argv[1], "rb").read()
pat = b"\x02\x04\x10\x00\x00\x00"
assert d.count(pat) == 1, "template serial not found once"
for i in range(int(sys.argv[3])):
    s = b"\x02\x04" + (0x20000000 + i * 7919).to_bytes(4, "big")
    open("%s/%d.der" % (sys.argv[2], i), "wb").write(d.replace(pat, s))
EOF
t_reqout "$(t_crt good1)" "$CA1" "$T/req-nonce.der" -nonce
openssl ocsp -issuer "$CA1" -cert "$(t_crt good1)" -cert "$(t_crt revoked1)" \
    -no_nonce -reqout "$T/req-multi.der" >/dev/null 2>&1
head -c 300 /dev/urandom >"$T/garbage"
head -c 20000 /dev/zero >"$T/big20000"
GP=$(t_get_path "$T/req-good1.der")

# mix CFG EXPECT FROM TO: curl config for requests FROM..TO-1 of the mix,
# expected status codes (one a line) in EXPECT
mix()
{
	local cfg=$1 exp=$2 i k s
	: >"$cfg"
	: >"$exp"
	for ((i = $3; i < $4; i++)); do
		k=$((i % 20))
		s=$(((i / 20) * 4 + k - 6)) # serial file of a miss (k 6..9)
		[ "$i" -gt "$3" ] && echo next >>"$cfg"
		{
			echo 'output = "/dev/null"'
			printf '%s\n' 'write-out = "%{http_code}\n"'
			echo 'max-time = 20'
		} >>"$cfg"
		case $k in
		0|1|2|3|4|5) op=(POST "$H1" / "$T/req-good1.der" "") code=200 ;;
		6|7|8|9) op=(POST "$H1" / "$T/ser/$((s % 1200)).der" "") code=200 ;;
		10) op=(POST "$H2" /ca2/ "$T/req-good2.der" "Cache-Control: no-cache") code=200 ;;
		11) op=(GET "$H1" "/$GP" "" "") code=200 ;;
		12) op=(POST "$H1" / "$T/req-nonce.der" "") code=200 ;;
		13) op=(POST "$H1" / "$T/garbage" "") code=400 ;;
		14) op=(PUT "$H1" / "$T/req-good1.der" "") code=405 ;;
		15) op=(POST "$H1" / "$T/big20000" "") code=413 ;;
		16) op=(POST "$H1" / "$T/req-multi.der" "") code=200 ;;
		17) op=(POST "$H1" / "$T/ser/$(((s + 1195) % 1200)).der" "X-prune-from-cache: 1") code=410 ;;
		18) op=(POST "127.0.0.1:80" / "$T/req-unknown1.der" "") code=403 ;;
		19) if [ $((i / 20 % 2)) = 0 ]; then
			op=(POST "127.0.0.1:$DEAD" / "$T/req-unknown1.der" "") code=503
		    else
			op=(POST "127.0.0.1:$FORGED_PORT" / "$T/req-good1.der" "Cache-Control: no-cache") code=200
		    fi ;;
		esac
		{
			echo "url = \"$PX${op[2]}\""
			echo "header = \"Host: ${op[1]}\""
			if [ "${op[0]}" != GET ]; then
				echo "request = \"${op[0]}\""
				echo 'header = "Content-Type: application/ocsp-request"'
				echo "data-binary = \"@${op[3]}\""
			fi
			[ -n "${op[4]}" ] && echo "header = \"${op[4]}\""
		} >>"$cfg"
		echo "$code" >>"$exp"
	done
}

# runmix NAME FROM TO PAR: run the mix; "ok" if every code is as expected
runmix()
{
	mix "$T/$1.cfg" "$T/$1.exp" "$2" "$3"
	curl -sS -Z --parallel-max "$4" -K "$T/$1.cfg" >"$T/$1.codes" \
	    2>"$T/$1.err"
	sort "$T/$1.exp" | uniq -c >"$T/$1.expc"
	sort "$T/$1.codes" | uniq -c >"$T/$1.gotc"
	check "$1: $(($3 - $2)) requests, status codes as expected ($(tr -s ' \n' ' ' <"$T/$1.gotc"))" \
	    cmp -s "$T/$1.expc" "$T/$1.gotc" ||
	    t_note "expected: $(tr -s ' \n' ' ' <"$T/$1.expc")"
}

FORGED_PORT=$(t_port)
srv_start forged-mix "$FORGED_PORT" "file:$T/forged-name.der"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

if [ -n "${OCSPXY_ASAN:-}" ]; then
	t_note "9. no leaks: ~2000 requests, then SIGTERM; LeakSanitizer must stay silent"
	t_fcgi_stop
	rm -f "$T"/asan.*
	ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:atexit=1:log_path=$T/asan" \
	    t_fcgi_start "$T/base.conf" 2
	LEAK_PIDS=$FCGI_PIDS
	t_post_leaf "$T/lk-prime" good1 >/dev/null
	runmix asan-mix 0 2000 2
	check "children alive after the mix" t_fcgi_alive
	for p in $LEAK_PIDS; do
		kill -TERM "$p"
	done
	# shellcheck disable=SC2086
	left=$(t_left 15 $LEAK_PIDS)
	check "children exit on SIGTERM (within 15 s)" test -z "$left"
	for p in $LEAK_PIDS; do
		f=$T/asan.$p
		check "child $p: exited through exit() (ASan exit stats written)" \
		    grep -q 'AddressSanitizer exit stats' "$f"
		check "child $p: LeakSanitizer reported nothing" \
		    ! grep -qE 'LeakSanitizer|ERROR: AddressSanitizer' "$f"
		grep -q 'LeakSanitizer' "$f" 2>/dev/null &&
		    sed -n '1,40p' "$f" | sed 's/^/# /'
	done
	for p in $LEAK_PIDS; do _t_forget "$p"; done
	FCGI_PIDS=
else
	t_note "9. memory flat: one child, RSS after 1000 and after 5000 requests"
	restart "$T/base.conf" 1
	RP=${FCGI_PIDS# }
	t_post_leaf "$T/rss-prime" good1 >/dev/null
	runmix rss-a 0 1000 1
	r1=$(rss "$RP")
	runmix rss-b 1000 5000 1
	r2=$(rss "$RP")
	t_note "VmRSS after 1000: ${r1} kB, after 5000: ${r2} kB"
	check "RSS grows less than 1 MB from 1000 to 5000 requests ($((${r2:-0} - ${r1:-0})) kB)" \
	    bash -c '[ -n "$1" ] && [ -n "$2" ] && [ $(($2 - $1)) -lt 1024 ]' _ "$r1" "$r2"
fi
srv_stop forged-mix

# ================================================================ 10 CertID hash
t_note "10. CertID hash algorithms: SHA-256 has a key of its own, an unknown OID is refused"
t_fcgi_stop
check "ocspxy-fcgi starts again (base config)" t_fcgi_start "$T/base.conf" 2
# an unknown hash OID (1.3.14.3.2.99) with SHA-1's 20-byte hashes: good1's
# SHA-1 request with the algorithm's OID patched
python3 - "$T/req-good1.der" "$T/req-good1-oid.der" <<-'EOF'
import sys
d = open(sys.argv[1], "rb").read()
sha1 = bytes.fromhex("06052b0e03021a")
assert d.count(sha1) == 1, "SHA-1 OID not found once"
open(sys.argv[2], "wb").write(d.replace(sha1, bytes.fromhex("06052b0e030263")))
EOF
openssl ocsp -reqin "$T/req-good1-oid.der" -req_text >"$T/req-oid.txt" 2>&1
check "fixture: openssl parses the request, hash algorithm 1.3.14.3.2.99" \
    grep -q 'Hash Algorithm: 1.3.14.3.2.99' "$T/req-oid.txt"
check "fixture: its issuerKeyHash is SHA-1's" \
    test "$(sed -n 's/^ *Issuer Key Hash: *//p' "$T/req-oid.txt" | tr -d ':' | tr 'A-F' 'a-f')" \
    = "$(t_kleaf good1 | sed 's/^ocspxy_//; s/0x.*//')"
# oid DESC: POST it (Host H1): 400 at once, the responder not asked, a
# log line naming the OID
oid()
{
	local c0 n0 code
	c0=$(t_responder_count r1)
	n0=$(wc -l <"$T/fcgi.log")
	code=$(t_post "$T/oid" "$PX/" "$T/req-good1-oid.der" -H "Host: $H1")
	check "$1: 400" test "$code" = 400
	check "$1: the responder was not asked" \
	    test "$(t_responder_count r1)" = "$c0"
	check "$1: log line names the hash algorithm" \
	    grep -q 'hash algorithm 1.3.14.3.2.99 not supported' \
	    <(tail -n +$((n0 + 1)) "$T/fcgi.log")
}
# the defect: a SHA-1 entry for good1 answered the unknown OID's request
t_post "$T/oid-prime" "$PX/" "$T/req-good1.der" -H "Host: $H1" >/dev/null
check "SHA-1 request good1 fetched and stored" \
    test "$(rcli exists "$K_GOOD1")" = 1
t_redis_snapshot "$K_GOOD1" "$T/oid.snap"
oid "unknown hash OID, 20-byte hashes, SHA-1 entry present"
t_redis_snapshot "$K_GOOD1" "$T/oid.snap2"
check "unknown hash OID: the SHA-1 entry is byte-identical afterwards" \
    cmp -s "$T/oid.snap" "$T/oid.snap2"
rcli del "$K_GOOD1" >/dev/null
oid "unknown hash OID, 20-byte hashes, SHA-1 entry absent"
check "unknown hash OID: the SHA-1 entry was not created" \
    test "$(rcli exists "$K_GOOD1")" = 0

# SHA-256: fetched, stored under <prefix>sha256:<key hash>0x<serial>,
# then a hit; the SHA-1 entry stays as it was
K256=$(t_kleaf good1 "" sha256)
K256=${K256#ocspxy_}
K256=ocspxy_sha256:${K256#sha256:}
T_DIGEST=-sha256 t_reqout "$(t_crt good1)" "$CA1" "$T/req-good1-256.der"
openssl ocsp -reqin "$T/req-good1-256.der" -req_text >"$T/req-256.txt" 2>&1
check "fixture: openssl -sha256 makes a SHA-256 CertID" \
    grep -q 'Hash Algorithm: sha256' "$T/req-256.txt"
t_post "$T/s1-prime" "$PX/" "$T/req-good1.der" -H "Host: $H1" >/dev/null
t_redis_snapshot "$K_GOOD1" "$T/s1.snap"
rcli del "$K256" >/dev/null
c0=$(t_responder_count r1)
code=$(t_post "$T/s256" "$PX/" "$T/req-good1-256.der" -H "Host: $H1")
check "SHA-256 CertID good1, not cached: 200" test "$code" = 200
check "SHA-256: the responder was asked once" \
    test "$(t_responder_count r1)" = $((c0 + 1))
T_DIGEST=-sha256 check "SHA-256: Response verify OK, good" \
    t_vleaf "$T/s256.body" good1 good
check "SHA-256: stored under $K256" test "$(rcli exists "$K256")" = 1
t_redis_snapshot "$K_GOOD1" "$T/s1.snap2"
check "SHA-256: the SHA-1 entry is byte-identical afterwards" \
    cmp -s "$T/s1.snap" "$T/s1.snap2"
c0=$(t_responder_count r1)
code=$(t_post "$T/s256-hit" "$PX/" "$T/req-good1-256.der" -H "Host: $H1")
check "SHA-256 again: 200" test "$code" = 200
check "SHA-256 again: a hit, the responder was not asked" \
    test "$(t_responder_count r1)" = "$c0"
T_DIGEST=-sha256 check "SHA-256 hit: Response verify OK, good" \
    t_vleaf "$T/s256-hit.body" good1 good
t_redis_field "$K256" response "$T/s256.stored"
check "SHA-256 hit: the stored response" cmp -s "$T/s256-hit.body" "$T/s256.stored"
code=$(t_post "$T/s1-hit" "$PX/" "$T/req-good1.der" -H "Host: $H1")
check "SHA-1 good1 afterwards: 200" test "$code" = 200
t_redis_field "$K_GOOD1" response "$T/s1.stored"
check "SHA-1 good1 afterwards: the SHA-1 entry's response" \
    cmp -s "$T/s1-hit.body" "$T/s1.stored"
check "SHA-1 good1 afterwards: verified good" t_vleaf "$T/s1-hit.body" good1 good
"$OCSPXY_BUILD/ocspxy" -c "$T/base.conf" status --tsv >"$T/status.tsv" 2>&1
check "SHA-256 entry found by a SCAN (ocspxy status)" \
    grep -qF "$K256" "$T/status.tsv"

t_done
