#!/bin/bash
# t_sentinel.sh: a Redis master, two replicas and three Sentinels on
# 127.0.0.1 (down after 1 s), an ACL user for ocspxy and passwords on
# every server and Sentinel (sentinel, sentinel_master,
# sentinel_password, redis_user, redis_password), nginx in front of two
# pools of 4 ocspxy-fcgi processes (A: the memory tier on, as by default;
# B: memory_cache_bytes 0 and redis_replica, a replica's unix socket),
# the refresh daemon, real openssl ocsp responders:
#   1 keys that need one another are refused
#   2 8 certificates warmed one at a time: stored on the master, replicated
#   3 pool B reads its hits from the replica; a miss there (the replica
#     lags) is read from the master, not fetched upstream
#   4 under steady load on the 8, a Sentinel stopped and the master killed
#     (SIGKILL): no failed answer before, during or after the failover,
#     pool B never fetches upstream; one failover line per process
#   5 /health and ocspxy status name the new master; a new certificate is
#     fetched and stored there; every entry from before the kill is there
#   6 the refresh daemon's next pass refreshes a due entry on the new master
#   7 the old master, started again, rejoins as a replica (Sentinel
#     reconfigures it) and nothing written since is lost
#   8 a Sentinel that names a replica, then one that is down: the next one
#     is asked
. "$(dirname "$0")/lib.sh"
t_setup

t_built ocspxy-fcgi
t_pki || { fail "test PKI"; t_done; }
# nextUpdate a day ahead: nothing is due for a refresh unless made so
t_responder_start r1 ca1 "$PKI_PORT1" -ndays 1 || { fail "responder ca1"; t_done; }
t_responder_start r2 ca2 "$PKI_PORT2" -ndays 1 || { fail "responder ca2"; t_done; }

# ---------------------------------------------------------------- helpers

CA1=$T/pki/ca1/ca.crt
CA2=$T/pki/ca2/ca.crt
# the 8 warmed: 6 leaves, 2 serials nothing issued (status unknown)
NAMES=(good1 revoked1 short1 unknown1 good2 revoked2 s1101 s2101)
declare -A WANT=([good1]=good [revoked1]=revoked [short1]=good
    [unknown1]=unknown [good2]=good [revoked2]=revoked [s1101]=unknown
    [s2101]=unknown [s1102]=unknown [s1104]=unknown)

# ca NAME: ca1 or ca2 (a leaf, or sNNNN: serial 0xNNNN of ca1 or ca2).
ca()
{
	case $1 in
	s1[0-9]*) echo ca1 ;;
	s2[0-9]*) echo ca2 ;;
	*) t_ca_of "$1" ;;
	esac
}
host() { [ "$(ca "$1")" = ca1 ] && echo "127.0.0.1:$PKI_PORT1" || echo "127.0.0.1:$PKI_PORT2"; }
upath() { [ "$(ca "$1")" = ca1 ] && echo / || echo /ca2/; }

# mkreq NAME: $T/req-NAME.der, a request without a nonce.
mkreq()
{
	local c
	c=$T/pki/$(ca "$1")/ca.crt
	case $1 in
	s[0-9]*) openssl ocsp -issuer "$c" -serial "0x${1#s}" -no_nonce \
	    -reqout "$T/req-$1.der" >/dev/null 2>&1 ;;
	*) t_reqout "$(t_crt "$1")" "$c" "$T/req-$1.der" ;;
	esac
}

# key NAME: its Redis key.
key()
{
	local h
	case $1 in
	s[0-9]*)
		h=$(openssl x509 -in "$T/pki/$(ca "$1")/ca.crt" -noout -ocspid |
		    sed -n 's/^ *Public key OCSP hash: *//p' | tr -d ' :' |
		    tr 'A-F' 'a-f')
		echo "ocspxy_${h}0x${1#s}"
		;;
	*) t_kleaf "$1" ;;
	esac
}

# post PREFIX NAME [BASEURL]: POSTs NAME's request (to pool A by default);
# prints the HTTP status.
post()
{
	t_post "$1" "${3:-$PX}$(upath "$2")" "$T/req-$2.der" -H "Host: $(host "$2")"
}

# verified FILE NAME: a genuine response with NAME's expected status.
verified()
{
	local c
	c=$T/pki/$(ca "$2")/ca.crt
	case $2 in
	s[0-9]*)
		openssl ocsp -respin "$1" -issuer "$c" -serial "0x${2#s}" \
		    -CAfile "$T/pki/roots.pem" -no_nonce >"$1.verify" 2>&1
		grep -q '^Response verify OK' "$1.verify" &&
		    grep -q "^0x${2#s}: ${WANT[$2]}\$" "$1.verify"
		;;
	*) t_vleaf "$1" "$2" "${WANT[$2]}" ;;
	esac
}

# fetches: requests the responders have served.
fetches() { echo $(($(t_responder_count r1) + $(t_responder_count r2))); }

# calls PORT CMD: how many times the server ran CMD (INFO commandstats).
calls()
{
	local n
	n=$(rpc "$1" info commandstats 2>/dev/null |
	    sed -n "s/^cmdstat_$2:calls=\([0-9]*\),.*/\1/p")
	echo "${n:-0}"
}

# all_on PORT KEY...: every key exists on the server at PORT.
all_on()
{
	local p=$1 k
	shift
	for k in "$@"; do
		[ "$(rpc "$p" exists "$k")" = 1 ] || return 1
	done
}

# soon SECS CMD...: CMD succeeds within SECS (tried every 50 ms).
soon()
{
	local n=$(($1 * 20)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# sready PORT: the Sentinel knows the master, 2 replicas, 2 other Sentinels.
sready()
{
	scli "$1" sentinel master mymaster 2>/dev/null | paste - - |
	    awk -F'\t' '$1 == "flags" { f = $2 } $1 == "num-slaves" { s = $2 }
		$1 == "num-other-sentinels" { o = $2 }
		END { exit !(f == "master" && s == 2 && o == 2) }'
}

# at_most_once TEXT PID...: no process of pool A logged TEXT twice.
at_most_once()
{
	local text=$1 p
	shift
	for p in "$@"; do
		[ "$(grep -cF "[$p]: $text" "$T/new-a.log")" -le 1 ] || return 1
	done
}

# failovers LOG PID: the failover lines PID wrote in LOG.
failovers() { grep -c "\[$2\]: redis .*: failover: the master of 'mymaster' now" "$1"; }

# ---------------------------------------------------------------- servers

export REDISCLI_AUTH=adminpw
export T_SENTINEL_AUTH=sentpw
# ocspxy's ACL user may do what it needs and nothing @dangerous but ROLE
cat >"$T/users.acl" <<-'EOF'
user default on >adminpw ~* &* +@all
user ocspxy on >s3cret ~* &* +@all -@dangerous +role
EOF
PM=$(t_port)
PR1=$(t_port)
PR2=$(t_port)
PS1=$(t_port)
PS2=$(t_port)
PS3=$(t_port)
RARGS="--aclfile $T/users.acl --masterauth adminpw --repl-diskless-sync yes --repl-diskless-sync-delay 0"
T_REDIS_ARGS="$RARGS --dbfilename dump-$PM.rdb" t_redis_start "$PM" ||
    { fail "master on $PM"; t_done; }
T_REDIS_ARGS=$RARGS t_redis_replica_start "$PR1" "$PM" \
    --unixsocket "$T/r1.sock" --unixsocketperm 777 ||
    { fail "replica 1 on $PR1"; t_done; }
T_REDIS_ARGS=$RARGS t_redis_replica_start "$PR2" "$PM" ||
    { fail "replica 2 on $PR2"; t_done; }
for p in $PS1 $PS2 $PS3; do
	t_sentinel_start "$p" mymaster "$PM" 2 "requirepass sentpw" \
	    "sentinel sentinel-pass sentpw" "sentinel auth-pass mymaster adminpw" ||
	    { fail "Sentinel on $p"; t_done; }
	# quicker than by default: pings, hellos, INFO; TILT short
	scli "$p" sentinel debug ping-period 200 ask-period 200 \
	    publish-period 500 info-period 500 tilt-period 1000 >/dev/null
done
for p in $PS1 $PS2 $PS3; do
	check "Sentinel $p sees the master, its 2 replicas and 2 other Sentinels" \
	    soon 15 sready "$p" || t_done
done
check "ocspxy's ACL user may not run @dangerous commands (KEYS)" \
    bash -c "redis-cli -p $PM --user ocspxy --pass s3cret keys '*' 2>&1 | grep -q NOPERM"

SENT="127.0.0.1:$PS1 127.0.0.1:$PS2 127.0.0.1:$PS3"
SKEYS=(sentinel "$SENT" sentinel_master mymaster sentinel_password sentpw
    redis_user ocspxy redis_password s3cret)
t_conf "$T/a.conf" "${SKEYS[@]}" refresh_interval 2 refresh_workers 2
t_conf "$T/b.conf" "${SKEYS[@]}" memory_cache_bytes 0 \
    redis_replica "unix:$T/r1.sock" runtime_dir "$T/run-b"

# ---------------------------------------------------------------- 1
t_note "1. keys that need one another"
printf 'sentinel 127.0.0.1:%s\n' "$PS1" >"$T/nomaster.conf"
"$OCSPXY_BUILD/ocspxy-fcgi" -c "$T/nomaster.conf" </dev/null >/dev/null \
    2>"$T/nomaster.err"
check "sentinel without sentinel_master: exit 2, the log says what is missing" \
    bash -c "[ $? = 2 ] && grep -q \"key 'sentinel' needs 'sentinel_master'\" '$T/nomaster.err'"
printf 'redis_user ocspxy\n' >"$T/nopass.conf"
"$OCSPXY_BUILD/ocspxy-fcgi" -c "$T/nopass.conf" </dev/null >/dev/null \
    2>"$T/nopass.err"
check "redis_user without redis_password: exit 2, the log says so" \
    bash -c "[ $? = 2 ] && grep -q \"key 'redis_user' needs 'redis_password'\" '$T/nopass.err'"
printf 'sentinel 127.0.0.1\n' >"$T/sentinel.conf"
check "sentinel 127.0.0.1 (no port): exit 2 naming file, line and key" \
    t_conf_refused sentinel sentinel
printf 'redis_replica nowhere\n' >"$T/redis_replica.conf"
check "redis_replica nowhere: exit 2 naming file, line and key" \
    t_conf_refused redis_replica redis_replica

# ---------------------------------------------------------------- proxies
check "pool A: 4 ocspxy-fcgi processes (memory tier on)" \
    t_fcgi_start "$T/a.conf" 4 || t_done
PIDS_A=$FCGI_PIDS
check "pool B: 4 ocspxy-fcgi processes (no memory tier, hits from replica 1)" \
    t_fcgi_pool "$T/fcgi-b.sock" "$T/run-fcgi-b.err" "$T/b.conf" 4 PIDS_B ||
    t_done
NP=$(t_port)
NB=$(t_port)
t_nginx_site "$SRC_DIR/nginx/ocspxy.conf" "$NB" "$T/fcgi-b.sock" >"$T/site-b.conf"
check "nginx in front of both (A on $NP, B on $NB)" \
    t_nginx_start "$NP" "$T/site-b.conf" || t_done
PX=http://127.0.0.1:$NP
PB=http://127.0.0.1:$NB

# ---------------------------------------------------------------- 2
t_note "2. 8 certificates warmed one at a time"
for n in "${NAMES[@]}" s1102 s1104; do
	mkreq "$n"
done
KEYS=()
bad=
for n in "${NAMES[@]}"; do
	KEYS+=("$(key "$n")")
	code=$(post "$T/w-$n" "$n")
	[ "$code" = 200 ] && verified "$T/w-$n.body" "$n" || bad="$bad $n:$code"
done
check "8 warmed through pool A: 200, genuine, the expected status${bad:+ (not:$bad)}" \
    test -z "$bad"
check "the 8 are stored on the master ($PM)" all_on "$PM" "${KEYS[@]}"
check "... and replicated to both replicas" \
    soon 3 eval 'all_on "$PR1" "${KEYS[@]}" && all_on "$PR2" "${KEYS[@]}"'
for i in "${!KEYS[@]}"; do
	rpc "$PM" --raw hget "${KEYS[$i]}" response | sha1sum >"$T/before-$i.sum"
done

# ---------------------------------------------------------------- 3
t_note "3. pool B: hits from its replica, a miss there read from the master"
r0=$(calls "$PR1" hmget)
m0=$(calls "$PM" hmget)
f0=$(fetches)
bad=
for n in "${NAMES[@]}"; do
	code=$(post "$T/b-$n" "$n" "$PB")
	[ "$code" = 200 ] && cmp -s "$T/b-$n.body" "$T/w-$n.body" || bad="$bad $n:$code"
done
check "pool B: the 8 answered 200, the bytes stored${bad:+ (not:$bad)}" test -z "$bad"
check "pool B: 8 HMGET on the replica ($(($(calls "$PR1" hmget) - r0))), none on the master ($(($(calls "$PM" hmget) - m0)))" \
    test "$(($(calls "$PR1" hmget) - r0)):$(($(calls "$PM" hmget) - m0))" = 8:0
check "pool B: no upstream fetch" test "$(fetches)" = "$f0"
# The replica lags: it stops applying the master's writes for 3 s while
# pool A stores s1104.
rpc "$PR1" client pause 3000 write >/dev/null
code=$(post "$T/lag-a" s1104)
check "s1104 fetched through pool A: 200" test "$code" = 200
check "... genuine, status unknown" verified "$T/lag-a.body" s1104
check "... on the master, not yet on the paused replica" \
    test "$(rpc "$PM" exists "$(key s1104)"):$(rpc "$PR1" exists "$(key s1104)")" = 1:0
f0=$(fetches)
code=$(post "$T/lag-b" s1104 "$PB")
check "pool B, s1104 (a miss on its replica): 200, the bytes stored" \
    bash -c "[ $code = 200 ] && cmp -s '$T/lag-a.body' '$T/lag-b.body'"
check "... read from the master: no upstream fetch" test "$(fetches)" = "$f0"
check "... and the replica had it not" test "$(rpc "$PR1" exists "$(key s1104)")" = 0
rpc "$PR1" client unpause >/dev/null

# the refresh daemon, a pass every 2 s
"$OCSPXY_BUILD/ocspxy-refresh" -c "$T/a.conf" </dev/null \
    >/dev/null 2>"$T/run-refresh.err" &
RPID=$!
_t_record "$RPID"
check "the refresh daemon makes its first pass" \
    soon 10 grep -q 'refresh pass:' "$T/run-refresh.err"

# ---------------------------------------------------------------- 4
t_note "4. steady load; a Sentinel stopped, the master killed"
cat >"$T/load.py" <<-'EOF'
	# load.py OUT STOP PORT|HOST|PATH|REQ|NAME...: 2 threads per port
	# POST the requests of that port in turn until STOP exists; one line
	# per answer in OUT: time port name status ok (200, an OCSP response).
	import http.client, os, sys, threading, time
	out, stop, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
	ports = {}
	for s in specs:
	    port, host, path, req, name = s.split("|")
	    ports.setdefault(port, []).append((host, path, open(req, "rb").read(), name))
	lock = threading.Lock()
	f = open(out, "w")
	def run(port, reqs, first):
	    i = first
	    while not os.path.exists(stop):
	        host, path, body, name = reqs[i % len(reqs)]
	        i += 1
	        code, ok = 0, 0
	        try:
	            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
	            c.request("POST", path, body, {"Host": host,
	                "Content-Type": "application/ocsp-request"})
	            r = c.getresponse()
	            data = r.read()
	            code = r.status
	            ok = int(code == 200 and r.getheader("Content-Type") ==
	                "application/ocsp-response" and data[:1] == b"\x30")
	            c.close()
	        except Exception as e:
	            code = "exc:" + type(e).__name__
	        with lock:
	            f.write("%.3f %s %s %s %d\n" % (time.time(), port, name, code, ok))
	        time.sleep(0.005)
	ts = [threading.Thread(target=run, args=(p, r, k * 4))
	      for p, r in ports.items() for k in range(2)]
	for t in ts: t.start()
	for t in ts: t.join()
	f.close()
EOF
specs=()
for n in "${NAMES[@]}"; do
	h=$(host "$n")
	specs+=("$NP|$h|$(upath "$n")|$T/req-$n.der|$n"
	    "$NB|$h|$(upath "$n")|$T/req-$n.der|$n")
done
la=$(t_loglines)
lb=$(wc -l <"$T/run-fcgi-b.err")
lr=$(wc -l <"$T/run-refresh.err")
f0=$(fetches)
python3 "$T/load.py" "$T/load.out" "$T/load.stop" "${specs[@]}" &
LP=$!
_t_record "$LP"
sleep 1.5
t_sentinel_stop "$PS1"
tk=$(date +%s.%N)
t_redis_crash "$PM"
NEW=
for ((i = 0; i < 300; i++)); do
	m=$(t_sentinel_master "$PS2" mymaster)
	if [ -n "$m" ] && [ "$m" != "127.0.0.1:$PM" ] &&
	    [ "$(t_redis_role "${m##*:}")" = master ]; then
		NEW=${m##*:}
		break
	fi
	sleep 0.05
done
tp=$(date +%s.%N)
sleep 2.5
touch "$T/load.stop"
wait "$LP"
_t_forget "$LP"
t_note "failover in $(awk -v a="$tk" -v b="$tp" 'BEGIN { printf "%.1f", b - a }') s: the master on $NEW"
check "a replica is promoted ($PR1 or $PR2)" \
    bash -c "[ '$NEW' = $PR1 ] || [ '$NEW' = $PR2 ]" || t_done
OTHER=$PR1
[ "$NEW" = "$PR1" ] && OTHER=$PR2
for port in $NP $NB; do
	pool=A
	[ "$port" = "$NB" ] && pool=B
	tot=$(awk -v p="$port" '$2 == p' "$T/load.out" | wc -l)
	nbad=$(awk -v p="$port" '$2 == p && $5 != 1' "$T/load.out" | wc -l)
	before=$(awk -v p="$port" -v k="$tk" '$2 == p && $1 < k' "$T/load.out" | wc -l)
	during=$(awk -v p="$port" -v k="$tk" -v e="$tp" '$2 == p && $1 >= k && $1 <= e' "$T/load.out" | wc -l)
	after=$(awk -v p="$port" -v e="$tp" '$2 == p && $1 > e' "$T/load.out" | wc -l)
	check "pool $pool: no failed answer of $tot ($before before the kill, $during during the failover, $after after)" \
	    test "$nbad" = 0 -a "$before" -gt 20 -a "$during" -gt 20 -a "$after" -gt 20
	[ "$nbad" = 0 ] || awk -v p="$port" '$2 == p && $5 != 1' "$T/load.out" | head -5
done
tail -n +$((lb + 1)) "$T/run-fcgi-b.err" >"$T/new-b.log"
tail -n +$((la + 1)) "$T/fcgi.log" >"$T/new-a.log"
check "pool B fetched nothing upstream under load (hits from its replica)" \
    bash -c "! grep -q 'fetched from' '$T/new-b.log'"
t_note "upstream fetches under load: $(($(fetches) - f0)) (pool A: $(grep -c 'fetched from' "$T/new-a.log"))"
bad=
for p in $PIDS_A; do
	n=$(failovers "$T/new-a.log" "$p")
	[ "$n" = 1 ] || bad="$bad A$p:$n"
done
for p in $PIDS_B; do
	n=$(failovers "$T/new-b.log" "$p")
	[ "$n" = 1 ] || bad="$bad B$p:$n"
done
check "each of the 8 processes logged the failover in one line${bad:+ (not:$bad)}" \
    test -z "$bad"
grep -m1 'failover:' "$T/new-a.log" | sed 's/^/# /'
check "... naming the new master and the old" \
    grep -q "redis 127.0.0.1:$NEW: failover: the master of 'mymaster' now, in place of 127.0.0.1:$PM (named by Sentinel" "$T/new-a.log"
check "... and the Sentinel that was stopped, once per process at most" \
    at_most_once "error: sentinel 127.0.0.1:$PS1: connect" $PIDS_A

# ---------------------------------------------------------------- 5
t_note "5. after the failover"
code=$(t_http "$T/health" "$PX/health")
check "/health: 200, naming the new master" \
    bash -c "[ $code = 200 ] && grep -q '^ok: .*; redis master 127.0.0.1:$NEW of mymaster, named by Sentinel 127.0.0.1:' '$T/health.body'"
sed 's/^/# /' "$T/health.body"
code=$(t_http "$T/health-b" "$PB/health")
check "/health of pool B too" \
    bash -c "[ $code = 200 ] && grep -q '; redis master 127.0.0.1:$NEW of mymaster' '$T/health-b.body'"
"$OCSPXY_BUILD/ocspxy" -c "$T/a.conf" status >"$T/status.out" 2>"$T/run-status.err"
check "ocspxy status names the new master" \
    grep -q "^redis: master 127.0.0.1:$NEW of mymaster, named by Sentinel" "$T/status.out"
check "ocspxy status lists the 9 entries" \
    test "$(grep -c '^ocspxy_' "$T/status.out")" = 9
f0=$(fetches)
code=$(post "$T/new" s1102)
check "a new certificate (s1102): 200" test "$code" = 200
check "... genuine, status unknown" verified "$T/new.body" s1102
check "... fetched upstream once" test "$(fetches)" = $((f0 + 1))
check "... stored on the new master" all_on "$NEW" "$(key s1102)"
check "... and replicated to the other replica" soon 3 all_on "$OTHER" "$(key s1102)"
bad=
for i in "${!KEYS[@]}"; do
	rpc "$NEW" --raw hget "${KEYS[$i]}" response | sha1sum | cmp -s - "$T/before-$i.sum" ||
	    bad="$bad ${NAMES[$i]}"
done
check "every entry stored before the kill is on the new master, its response the same${bad:+ (not:$bad)}" \
    test -z "$bad"

# ---------------------------------------------------------------- 6
t_note "6. the refresh daemon's next pass, on the new master"
K5=$(key good2)
rpc "$NEW" hset "$K5" lastchecked 1 >/dev/null
tu0=$(rpc "$NEW" hget "$K5" thisupd)
now=$(t_now)
check "the next pass refreshes good2, made due (lastchecked 1)" \
    soon 8 eval '[ "$(rpc "$NEW" hget "$K5" lastchecked)" -ge "$now" ]'
check "... with a new response (thisUpdate $tu0 -> $(rpc "$NEW" hget "$K5" thisupd))" \
    test "$(rpc "$NEW" hget "$K5" thisupd)" -ge "$tu0"
check "... and the pass says 1 refreshed" \
    soon 5 grep -q 'refresh pass: .* 1 refreshed' "$T/run-refresh.err"
tail -n +$((lr + 1)) "$T/run-refresh.err" >"$T/new-r.log"
check "the daemon logged the failover in one line" \
    test "$(grep -c "failover: the master of 'mymaster' now" "$T/new-r.log")" = 1
LC5=$(rpc "$NEW" hget "$K5" lastchecked)

# ---------------------------------------------------------------- 7
t_note "7. the old master started again"
rm -f "$T/dump-$PM.rdb"
T_REDIS_ARGS="$RARGS --dbfilename dump-$PM.rdb" t_redis_start "$PM" ||
    fail "the old master does not start again"
check "Sentinel makes it a replica of the new master" \
    soon 20 eval '[ "$(t_redis_role "$PM")" = slave ] && rpc "$PM" info replication | grep -q "^master_port:$NEW" && rpc "$PM" info replication | grep -q "^master_link_status:up"'
ALL=("${KEYS[@]}" "$(key s1102)" "$(key s1104)")
check "nothing written since the failover is lost: the new master holds all 10 entries" \
    all_on "$NEW" "${ALL[@]}"
check "... and good2's refresh (lastchecked $LC5)" \
    test "$(rpc "$NEW" hget "$K5" lastchecked)" = "$LC5"
check "the old master, now a replica, has them too" \
    soon 3 eval 'all_on "$PM" "${ALL[@]}" && [ "$(rpc "$PM" hget "$K5" lastchecked)" = "$LC5" ]'
f0=$(fetches)
code=$(post "$T/after" s1102)
check "s1102 is a hit now (200, the bytes stored, no upstream fetch)" \
    bash -c "[ $code = 200 ] && cmp -s '$T/after.body' '$T/new.body' && [ $(fetches) = $f0 ]"

# ---------------------------------------------------------------- 8
t_note "8. a Sentinel that names a replica, one that is down"
# A real Sentinel of its own whose 'mymaster' is a replica (of a port
# where nothing listens): it names a server that is not the master.
PC=$(t_port)
PS4=$(t_port)
DEAD=$(t_port)
T_REDIS_ARGS="$RARGS --dbfilename dump-$PC.rdb --replicaof 127.0.0.1 $(t_port)" \
    t_redis_start "$PC" || fail "a lone replica on $PC"
t_sentinel_start "$PS4" mymaster "$PC" 1 "requirepass sentpw" \
    "sentinel auth-pass mymaster adminpw" || fail "the lying Sentinel on $PS4"
check "that Sentinel names $PC, a replica" \
    test "$(t_sentinel_master "$PS4" mymaster):$(t_redis_role "$PC")" = "127.0.0.1:$PC:slave"
t_conf "$T/r.conf" sentinel "127.0.0.1:$PS4 127.0.0.1:$DEAD 127.0.0.1:$PS2" \
    sentinel_master mymaster sentinel_password sentpw redis_user ocspxy \
    redis_password s3cret memory_cache_bytes 0
f0=$(fetches)
: >"$T/cgi.err"
T_CGI_CONF=$T/r.conf PQ_HOST=$(host good1) t_cgi_leaf "$T/c1" good1
check "asked in turn: 200, good1 from the master (no upstream fetch)" \
    bash -c "grep -q '^Status: 200' '$T/c1.hdr' && cmp -s '$T/c1.body' '$T/w-good1.body' && [ $(fetches) = $f0 ]"
check "... the log says the first named a replica" \
    grep -q "redis 127.0.0.1:$PC: a slave, not the master, as Sentinel 127.0.0.1:$PS4 said" "$T/cgi.err"
check "... and that the second is down" \
    grep -q "error: sentinel 127.0.0.1:$DEAD: connect: .*asking the next" "$T/cgi.err"
check "... and no outage" bash -c "! grep -q 'logged once until it is back' '$T/cgi.err'"
sed 's/^/# /' "$T/cgi.err"
"$OCSPXY_BUILD/ocspxy" -c "$T/r.conf" status >"$T/status-r.out" 2>"$T/run-status-r.err"
check "ocspxy status through them names the master on $NEW" \
    grep -q "^redis: master 127.0.0.1:$NEW of mymaster, named by Sentinel 127.0.0.1:$PS2" "$T/status-r.out"

# ---------------------------------------------------------------- 9
t_note "9. READONLY: the master became a replica and kept the connection"
# A group of its own: master RX, one Sentinel, one FastCGI process over
# TCP (no memory tier: every request reads Redis).
RX=$(t_port)
RY=$(t_port)
PS5=$(t_port)
FP=$(t_port)
T_REDIS_ARGS="$RARGS --dbfilename dump-$RX.rdb" t_redis_start "$RX" ||
    fail "redis on $RX"
T_REDIS_ARGS="$RARGS --dbfilename dump-$RY.rdb" t_redis_start "$RY" ||
    fail "redis on $RY"
t_sentinel_start "$PS5" ro "$RX" 1 "requirepass sentpw" \
    "sentinel auth-pass ro adminpw" || fail "Sentinel on $PS5"
t_conf "$T/ro.conf" sentinel "127.0.0.1:$PS5" sentinel_master ro \
    sentinel_password sentpw redis_user ocspxy redis_password s3cret \
    memory_cache_bytes 0 runtime_dir "$T/run-c"
check "one ocspxy-fcgi on 127.0.0.1:$FP" \
    t_fcgi_pool "127.0.0.1:$FP" "$T/run-fcgi-c.err" "$T/ro.conf" 1 PIDS_C
# fc PREFIX NAME: NAME's request straight to that process (FastCGI).
fc()
{
	python3 "$TESTS_DIR/fcgi_client.py" 127.0.0.1 "$FP" "$T/req-$2.der" \
	    "$1.raw" 0 REQUEST_METHOD=POST CONTENT_TYPE=application/ocsp-request \
	    "CONTENT_LENGTH=$(stat -c %s "$T/req-$2.der")" "HTTP_HOST=$(host "$2")" \
	    "REQUEST_URI=$(upath "$2")" REMOTE_ADDR=127.0.0.1 SERVER_PORT=80
	t_cgi_split "$1.raw" "$1.hdr" "$1.body"
}
fc "$T/ro1" good1
check "good1 through it: 200" grep -q '^Status: 200' "$T/ro1.hdr"
check "... stored on $RX" test "$(rpc "$RX" exists "$(key good1)")" = 1
# The operator moves the master: the Sentinel names RY from now on, and
# RX replicates RY, keeping its clients' connections (Sentinel would have
# closed them).
scli "$PS5" sentinel remove ro >/dev/null
scli "$PS5" sentinel monitor ro 127.0.0.1 "$RY" 1 >/dev/null
scli "$PS5" sentinel set ro auth-pass adminpw >/dev/null
rpc "$RX" replicaof 127.0.0.1 "$RY" >/dev/null
check "$RX is a replica of $RY now" \
    eval 't_redis_wait_link "$RX" 5 && [ "$(t_redis_role "$RX")" = slave ]'
check "... and the Sentinel names $RY" \
    test "$(t_sentinel_master "$PS5" ro)" = "127.0.0.1:$RY"
lc=$(wc -l <"$T/run-fcgi-c.err")
fc "$T/ro2" good2
tail -n +$((lc + 1)) "$T/run-fcgi-c.err" >"$T/new-c.log"
sed 's/^/# /' "$T/new-c.log"
check "good2 (a write $RX refuses, READONLY): 200" grep -q '^Status: 200' "$T/ro2.hdr"
check "... genuine, good" t_vleaf "$T/ro2.body" good2 good
check "... $RX refused a write with READONLY (INFO errorstats)" \
    eval 'rpc "$RX" info errorstats | grep -q "^errorstat_READONLY:count=[1-9]"'
check "... stored on the master the Sentinel names ($RY)" \
    test "$(rpc "$RY" exists "$(key good2)")" = 1
check "... the process logged the new master in one line" \
    test "$(grep -c "failover: the master of 'ro' now, in place of 127.0.0.1:$RX" "$T/new-c.log")" = 1
check "... and no outage" ! grep -q 'logged once until it is back' "$T/new-c.log"

# Stopped here, so that a sanitizer's report at exit is in their logs.
t_kill "$RPID"
t_fcgi_stop
# shellcheck disable=SC2086
t_kill $PIDS_B $PIDS_C
t_done
