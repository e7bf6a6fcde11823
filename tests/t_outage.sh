#!/bin/bash
# t_outage.sh: faults that come together.  ocspxy-fcgi under spawn-fcgi
# (4 processes unless said) behind nginx, a real Redis, real `openssl
# ocsp` responders, and a TCP server of the test's own that accepts and
# never answers (fake_upstream.py hang):
#   1 16 cold requests at a hanging responder: hits keep flowing
#   2 the breaker: misses fail fast, one trial per window, closes again
#   3 20 requests waiting on one fetch learn of its failure at once
#   4 a process killed while it waits upstream gives its place back
#   5 the refresh daemon against a hanging responder: two timeouts
#   6 a refresh that gets the stored bytes back: lastchecked only
# and the memory tier of each process (memory_cache_bytes):
#   7 hits from memory: at most one Redis read per process and certificate
#   8 a prune, and a redis-cli del, are honoured by every process at once
#   9 what the refresh daemon stores is what every process serves next
#  10 Redis killed under load; then Redis and the responders down
#  11 Redis back empty: entries written back; a prune made meanwhile holds
#  12 the memory's bound

. "$(dirname "$0")/lib.sh"
t_setup

t_begin
CA1=$T/pki/ca1/ca.crt
for l in good1 good2; do
	t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done

# ---------------------------------------------------------------- helpers

# coldreq SERIAL: a request for serial SERIAL (hex) of ca1, no nonce, in
# $T/cold-SERIAL.der: a certificate nothing has cached.
coldreq()
{
	openssl ocsp -issuer "$CA1" -serial "0x$1" -no_nonce \
	    -reqout "$T/cold-$1.der" >/dev/null 2>&1
}

# timed NAME HOST REQFILE [curl args]: POSTs REQFILE to the proxy with
# Host HOST; appends "code seconds" to $T/NAME.times, the body in
# $T/NAME.body.
timed()
{
	local name=$1 host=$2 req=$3
	shift 3
	curl -s -o "$T/$name.body" --max-time 20 \
	    -w '%{http_code} %{time_total}\n' \
	    -X POST -H 'Content-Type: application/ocsp-request' \
	    -H "Host: $host" --data-binary "@$req" "$@" "$PX/" \
	    >>"$T/$name.times"
}

# pct FILE P: the P-th percentile of the second column of FILE.
pct()
{
	awk '{ print $2 }' "$1" | sort -n |
	    awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999);
		if (i < 1) i = 1; print v[i] }'
}

# le A B: A <= B, as decimals.
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# holder PATH: the pid that holds a flock on PATH (from /proc/locks).
holder()
{
	local ino
	ino=$(stat -c %i "$1") || return 1
	awk -v i=":$ino\$" '$2 == "FLOCK" && $6 ~ i { print $5; exit }' \
	    /proc/locks
}

# ---------------------------------------------------------------- 1
t_note "1. 16 cold requests at a hanging responder, hits keep flowing"
t_conf "$T/o.conf" upstream_timeout 2
t_proxy_start "$T/o.conf" 4
code=$(t_post_leaf "$T/warm" good1)
check "good1 cached first (200, verified)" t_vleaf "$T/warm.body" good1 good
FH=$(t_port)
t_fake_start hang "$FH" hang || fail "1: the hanging responder"
for i in $(seq 1 16); do
	coldreq "$((9000 + i))"
done
: >"$T/cold.times"
: >"$T/hit.times"
s=$(date +%s.%N)
jobs=
for i in $(seq 1 16); do
	timed cold "127.0.0.1:$FH" "$T/cold-$((9000 + i)).der" &
	jobs="$jobs $!"
done
# a client asking for the cached certificate all along
while le "$(awk -v s="$s" -v n="$(date +%s.%N)" 'BEGIN { print n - s }')" 2.5; do
	timed hit "$H1" "$T/req-good1.der"
done
# shellcheck disable=SC2086 # a list of pids
wait $jobs
nhit=$(wc -l <"$T/hit.times")
nok=$(grep -c '^200 ' "$T/hit.times")
check "1: the cached certificate: $nok of $nhit answers 200, none failed" \
    test "$nok" = "$nhit" -a "$nhit" -ge 20
check "1: ... the last one verified" t_vleaf "$T/hit.body" good1 good
p99=$(pct "$T/hit.times" 99)
check "1: ... p99 $p99 s, under 100 ms" le "$p99" 0.1
ncold=$(wc -l <"$T/cold.times")
n503=$(grep -c '^503 ' "$T/cold.times")
worst=$(pct "$T/cold.times" 100)
check "1: 16 cold requests: $n503 of $ncold answered 503" \
    test "$ncold" = 16 -a "$n503" = 16
check "1: ... each within upstream_timeout + 1 s (slowest $worst s)" \
    le "$worst" 3
check "1: ... the hanging responder saw at most upstream_max_waiting (2) of them ($(t_fake_count hang))" \
    test "$(t_fake_count hang)" -le 2 -a "$(t_fake_count hang)" -ge 1
check "1: the refusals say why (upstream_max_waiting)" \
    grep -q 'not fetched: 2 processes wait upstream already' "$T/fcgi.log"

# ---------------------------------------------------------------- 2
t_note "2. the breaker: misses fail at once, one trial per window"
check "2: the timeout opened the responder's breaker (one log line)" \
    test "$(grep -c "responder 127.0.0.1:$FH: circuit open" "$T/fcgi.log")" = 1
: >"$T/fast.times"
for i in 1 2 3 4 5; do
	coldreq "$((9100 + i))"
	timed fast "127.0.0.1:$FH" "$T/cold-$((9100 + i)).der" -D "$T/fast.hdr"
done
worst=$(pct "$T/fast.times" 100)
check "2: 5 misses while it is open: 503 each, the slowest in $worst s (under 50 ms)" \
    bash -c "[ \$(grep -c '^503 ' '$T/fast.times') = 5 ] && awk -v w=$worst 'BEGIN { exit !(w <= 0.05) }'"
check "2: ... with Retry-After" test -n "$(t_hdr "$T/fast.hdr" Retry-After)"
# Misses every 100 ms for 5 s: the trials the responder sees (it was
# opened at about 2 s for 2 s +-25 %; a trial hangs 2 s and reopens it
# for twice as long).
f0=$(t_fake_count hang)
coldreq 9200
: >"$T/loop.times"
s=$(date +%s)
while [ $(($(date +%s) - s)) -lt 5 ]; do
	timed loop "127.0.0.1:$FH" "$T/cold-9200.der"
	sleep 0.1
done
trials=$(($(t_fake_count hang) - f0))
check "2: over 5 s of misses the responder saw one trial per window ($trials)" \
    test "$trials" -ge 1 -a "$trials" -le 2
check "2: ... and every miss was answered 503" \
    test "$(grep -vc '^503 ' "$T/loop.times")" = 0
m=$(curl -s "$PX/metrics")
check "2: /metrics shows the open breaker and the fetches it saved" \
    bash -c "grep -q '^ocspxy_breakers_open 1$' <<<\"\$1\" &&
	[ \$(sed -n 's/^ocspxy_breaker_saved_fetches_total //p' <<<\"\$1\") -ge 5 ]" _ "$m"
"$OCSPXY_BUILD/ocspxy" -c "$T/o.conf" status >"$T/status.out" 2>&1
check "2: ocspxy status names the responder held off" \
    grep -q "responder 127.0.0.1:$FH held off" "$T/status.out"
# The responder comes back on the same port: the next trial closes it.
t_fake_stop hang
t_responder_start r3 ca1 "$FH" || fail "2: responder on the hanging port"
until_ms=$(rcli hget "ocspxy:breaker:127.0.0.1:$FH" until)
s=$(date +%s.%N)
code=
for i in $(seq 1 150); do
	code=$(t_post "$T/back" "$PX/" "$T/cold-9200.der" -H "Host: 127.0.0.1:$FH")
	[ "$code" = 200 ] && break
	sleep 0.1
done
back=$(date +%s%3N)
check "2: the responder back: a miss fetched again (200, verified)" \
    bash -c "[ '$code' = 200 ] && grep -q '^Response verify OK' <(openssl ocsp -respin '$T/back.body' -CAfile '$T/pki/roots.pem' -issuer '$CA1' -serial 0x9200 2>&1)"
check "2: ... within its window (by $((back - ${until_ms:-0})) ms after the breaker's until)" \
    test "$back" -le $((${until_ms:-0} + 1000))
check "2: ... and the breaker closed (one log line)" \
    test "$(grep -c "responder 127.0.0.1:$FH: answered the trial fetch, circuit closed" "$T/fcgi.log")" = 1
t_responder_stop r3

# ---------------------------------------------------------------- 3
t_note "3. 20 requests waiting on one fetch learn of its failure at once"
t_conf "$T/w.conf" upstream_timeout 2 upstream_max_waiting 24
t_fcgi_stop
check "3: ocspxy-fcgi with 24 processes" t_fcgi_start "$T/w.conf" 24
FW=$(t_port)
t_fake_start hangw "$FW" hang || fail "3: the hanging responder"
coldreq 9300
: >"$T/urls"
for i in $(seq 1 20); do
	[ "$i" -gt 1 ] && echo next >>"$T/urls"
	cat >>"$T/urls" <<-EOF
	url = "$PX/"
	header = "Host: 127.0.0.1:$FW"
	header = "Content-Type: application/ocsp-request"
	data-binary = "@$T/cold-9300.der"
	output = "/dev/null"
	write-out = "%{http_code} %{time_total}\n"
	EOF
done
curl -s --parallel --parallel-immediate --parallel-max 20 -K "$T/urls" \
    >"$T/wait.times" 2>"$T/wait.err"
first=$(pct "$T/wait.times" 0)
last=$(pct "$T/wait.times" 100)
check "3: 20 requests on one certificate: all answered 503" \
    test "$(grep -c '^503 ' "$T/wait.times")" = 20
check "3: ... the responder was asked once ($(t_fake_count hangw))" \
    test "$(t_fake_count hangw)" = 1
check "3: ... the first after the fetch's timeout ($first s), the last within 100 ms of it ($last s)" \
    bash -c "awk -v f=$first -v l=$last 'BEGIN { exit !(f >= 1.9 && l - f <= 0.1) }'"
check "3: ... the waiters said why" \
    grep -q 'not fetched: the fetch it waited for failed' "$T/fcgi.log"
t_fake_stop hangw

# ---------------------------------------------------------------- 4
t_note "4. a process killed while it waits upstream gives its place back"
t_conf "$T/k.conf" upstream_timeout 10 upstream_max_waiting 1
t_fcgi_stop
check "4: ocspxy-fcgi with 2 processes, one upstream place" \
    t_fcgi_start "$T/k.conf" 2
FK=$(t_port)
t_fake_start hangk "$FK" hang || fail "4: the hanging responder"
coldreq 9400
coldreq 9401
coldreq 9402
timed kill "127.0.0.1:$FK" "$T/cold-9400.der" &
cpid=$!
for i in $(seq 1 50); do
	[ "$(t_fake_count hangk)" -ge 1 ] && break
	sleep 0.1
done
code=$(t_post "$T/k-busy" "$PX/" "$T/cold-9401.der" -H "Host: $H1")
check "4: while one process waits, a miss elsewhere finds no place: 503" \
    test "$code" = 503
w=$(holder "$T/run/upstream-0")
check "4: the waiting process holds the place (pid ${w:-none})" \
    test -n "$w"
[ -n "$w" ] && kill -KILL "$w"
wait "$cpid"
for i in $(seq 1 20); do
	_t_alive "$w" || break
	sleep 0.1
done
code=$(t_post "$T/k-free" "$PX/" "$T/cold-9402.der" -H "Host: $H1")
check "4: after its SIGKILL, the next miss gets the place: 200" \
    test "$code" = 200
check "4: ... verified" bash -c "grep -q '^Response verify OK' <(openssl ocsp -respin '$T/k-free.body' -CAfile '$T/pki/roots.pem' -issuer '$CA1' -serial 0x9402 2>&1)"
t_fake_stop hangk
t_fcgi_stop

# ---------------------------------------------------------------- 5
t_note "5. the refresh daemon against a hanging responder, 100 due entries"
FR=$(t_port)
t_fake_start hangr "$FR" hang || fail "5: the hanging responder"
K1=$(t_kleaf good1)
kh=${K1#ocspxy_}
kh=${kh%0x*}
t_conf "$T/r.conf" upstream_timeout 2 prefix ocspxyh_ refresh_workers 2
for i in $(seq 1 100); do
	echo "COPY $K1 ocspxyh_${kh}0x$((5000 + i))"
	echo "HSET ocspxyh_${kh}0x$((5000 + i)) ocsp_responder 127.0.0.1:$FR lastchecked 0"
done | rcli >/dev/null
s=$(date +%s.%N)
"$OCSPXY_BUILD/ocspxy-refresh" -c "$T/r.conf" --once 2>"$T/r.err"
rc=$?
el=$(awk -v s="$s" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
check "5: --once exits 1 (every entry failed)" test "$rc" = 1
check "5: the pass ended within two timeouts, not a hundred ($el s)" le "$el" 4.5
nf=0
for i in $(seq 1 100); do
	[ "$(t_hget "ocspxyh_${kh}0x$((5000 + i))" failures)" = 1 ] && nf=$((nf + 1))
done
check "5: every entry recorded its failure for back-off ($nf of 100)" \
    test "$nf" = 100
check "5: ... held off by the breaker, most of them" \
    grep -q 'refresh pass: 100 entries, 100 due, 0 refreshed, 100 failed.*held off' "$T/r.err"
check "5: the responder saw at most refresh_per_responder (16, the daemon's) fetches ($(t_fake_count hangr))" \
    test "$(t_fake_count hangr)" -le 16
t_fake_stop hangr

# ---------------------------------------------------------------- 6
t_note "6. a refresh that gets the stored bytes back"
FU=$(t_port)
t_redis_field "$K1" response "$T/stored.der"
t_fake_start same "$FU" "file:$T/stored.der" || fail "6: the pre-signing fake"
KU=ocspxyu_${kh}0x6000
rcli copy "$K1" "$KU" >/dev/null
rcli hset "$KU" ocsp_responder "127.0.0.1:$FU" lastchecked 1000 >/dev/null
t_redis_snapshot "$KU" "$T/u.before" response thisupd nextupd etag status request
t_conf "$T/u.conf" prefix ocspxyu_ issuer "$T/pki/roots.pem" refresh_workers 1
n=$(t_now)
"$OCSPXY_BUILD/ocspxy-refresh" -c "$T/u.conf" --once -v 2>"$T/u.err"
rc=$?
t_redis_snapshot "$KU" "$T/u.after" response thisupd nextupd etag status request
check "6: --once exits 0, the fake asked once" \
    test "$rc/$(t_fake_count same)" = 0/1
check "6: response, thisUpdate, nextUpdate, ETag unchanged" \
    cmp -s "$T/u.before" "$T/u.after"
check "6: lastchecked written ($(t_hget "$KU" lastchecked) >= $n)" \
    test "$(t_hget "$KU" lastchecked)" -ge "$n"
check "6: counted as unchanged: no signature check (ocspxyu:stats refresh_unchanged 1)" \
    test "$(rcli hget ocspxyu:stats refresh_unchanged)" = 1
check "6: the pass says 1 unchanged" grep -q '; 1 unchanged' "$T/u.err"
t_fake_stop same

# ---------------------------------------------------------------- 7
t_note "7. the memory tier: hits without Redis"
LEAVES="good1 good2 revoked1 short1"
for l in $LEAVES; do
	[ -f "$T/req-$l.der" ] ||
	    t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done
t_conf "$T/m.conf" upstream_timeout 2
check "7: ocspxy-fcgi, 4 processes, memory on (default)" \
    t_fcgi_start "$T/m.conf" 4
# burst NAME N LEAF...: N POSTs of each leaf at once through nginx (curl
# --parallel), bodies in $T/NAME-LEAF-i.der; "code" lines in $T/NAME.codes.
burst()
{
	local name=$1 n=$2 l i
	shift 2
	: >"$T/$name.urls"
	for l in "$@"; do
		for i in $(seq 1 "$n"); do
			[ -s "$T/$name.urls" ] && echo next >>"$T/$name.urls"
			cat >>"$T/$name.urls" <<-EOF
			url = "$PX$(t_leaf_path "$l")"
			header = "Host: $(t_leaf_host "$l")"
			header = "Content-Type: application/ocsp-request"
			data-binary = "@$T/req-$l.der"
			output = "$T/$name-$l-$i.der"
			write-out = "%{http_code}\n"
			EOF
		done
	done
	curl -s --parallel --parallel-max 16 -K "$T/$name.urls" \
	    >"$T/$name.codes" 2>"$T/$name.err"
}
# vall NAME I LEAF...: $T/NAME-LEAF-I.der verified for each leaf.
vall()
{
	local name=$1 i=$2 l st
	shift 2
	for l in "$@"; do
		case $l in revoked*) st=revoked ;; *) st=good ;; esac
		t_vleaf "$T/$name-$l-$i.der" "$l" "$st" || return 1
	done
}
# metric NAME: its value in /metrics, once every process has sent its
# counts (they do a second after their last request).
metric()
{
	sleep 1.2
	curl -s "$PX/metrics" | sed -n "s/^$1 //p"
}
# stat NAME: a command's calls from INFO commandstats.
stat()
{
	rcli info commandstats | tr -d '\r' |
	    sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p"
}
# Warmed one at a time: misses at once would find upstream_max_waiting
# (2) processes waiting already, and be answered 503 (section 1).
: >"$T/warm.codes"
for l in $LEAVES; do
	t_post_leaf "$T/warm-$l" "$l" >>"$T/warm.codes"
	echo >>"$T/warm.codes"
done
check "7: warm-up, one at a time: 4 answers 200" \
    test "$(grep -c '^200' "$T/warm.codes")" = 4
rcli config resetstat >/dev/null
burst hits 75 $LEAVES
reads=$(stat hmget)
check "7: 300 hits, all 200" test "$(grep -c '^200' "$T/hits.codes")" = 300
check "7: ... the last of each verified" vall hits 75 $LEAVES
check "7: ... Redis read at most once per process and certificate (${reads:-0} reads, 4 x 4 at most)" \
    test "${reads:-0}" -le 16
mh=$(metric ocspxy_memory_hits_total)
check "7: /metrics counts the memory hits (${mh:-none} of 300 hits at least 284)" \
    test "${mh:-0}" -ge 284

# ---------------------------------------------------------------- 8
t_note "8. a prune and a redis-cli del reach every process's memory"
t_responder_stop r1
code=$(t_post_leaf "$T/prune" good1 -H 'X-prune-from-cache: 1')
check "8: prune good1 over HTTP: 410" test "$code" = 410
burst pr 40 good1
check "8: then 40 requests at once, responder down: none from memory (all 503)" \
    test "$(grep -c '^503' "$T/pr.codes")" = 40
rcli del "$(t_kleaf revoked1)" >/dev/null
burst del 40 revoked1
check "8: redis-cli del revoked1, then 40 requests at once: none from memory (all 503)" \
    test "$(grep -c '^503' "$T/del.codes")" = 40
check "8: /metrics counts the invalidations" \
    test "$(metric ocspxy_invalidations_total)" -ge 2
t_responder_start r1 ca1 "$PKI_PORT1" || fail "8: responder ca1 again"
sleep 2.6 # its breaker's first back-off: then a trial

# ---------------------------------------------------------------- 9
t_note "9. what the refresh daemon stores, every process serves next"
burst w9 4 good2
K2=$(t_kleaf good2)
t_redis_field "$K2" response "$T/g2.before"
sleep 1.1 # a new thisUpdate
rcli hset "$K2" lastchecked 0 thisupd $(($(t_now) - 7200)) >/dev/null
t_conf "$T/m9.conf" refresh_workers 1
"$OCSPXY_BUILD/ocspxy-refresh" -c "$T/m9.conf" --once 2>"$T/m9.err"
t_redis_field "$K2" response "$T/g2.after"
check "9: the daemon stored a new response for good2" \
    bash -c "! cmp -s '$T/g2.before' '$T/g2.after'"
burst r9 40 good2
same=0
for i in $(seq 1 40); do
	cmp -s "$T/r9-good2-$i.der" "$T/g2.after" && same=$((same + 1))
done
check "9: 40 requests through every process: all the new bytes ($same)" \
    test "$same" = 40

# ---------------------------------------------------------------- 10
t_note "10. Redis killed under load; then the responders down too"
burst w10 4 $LEAVES
c0=$(($(t_responder_count r1) + $(t_responder_count r2)))
: >"$T/load.codes"
(
	for r in $(seq 1 8); do
		burst "l$r" 3 good2 short1
		cat "$T/l$r.codes" >>"$T/load.codes"
	done
) &
lp=$!
sleep 0.3
{ kill -KILL "$REDIS_PID" && wait "$REDIS_PID"; } 2>/dev/null
wait "$lp"
c1=$(($(t_responder_count r1) + $(t_responder_count r2)))
check "10: Redis killed under load: no failed answer ($(grep -vc '^200' "$T/load.codes") of $(wc -l <"$T/load.codes"))" \
    test "$(grep -vc '^200' "$T/load.codes")" = 0 -a "$(wc -l <"$T/load.codes")" = 48
check "10: ... upstream fetches at most one per process and certificate ($((c1 - c0)))" \
    test $((c1 - c0)) -le 8
t_responder_stop r1
t_responder_stop r2
burst d10 4 good2 short1
check "10: Redis and the responders down: the cached certificates answered (200)" \
    test "$(grep -c '^200' "$T/d10.codes")" = 8
check "10: ... verified" vall d10 4 good2 short1

# ---------------------------------------------------------------- 11
t_note "11. Redis back empty: written back; a prune made meanwhile holds"
t_redis_start || fail "11: redis-server again"
sleep 1.1 # a process tries Redis again a second after a failure
burst e11 4 good2 short1
check "11: responders down, Redis empty: the cached certificates answered (200)" \
    test "$(grep -c '^200' "$T/e11.codes")" = 8
check "11: ... and written back to Redis" \
    bash -c "[ \$(redis-cli -s '$T/redis.sock' exists '$K2' '$(t_kleaf short1)') = 2 ]"
check "11: ... the log says so" grep -q 'lost its data: .* written back' "$T/fcgi.log"
# A prune while the processes cannot reach Redis: their connections
# killed and the socket moved away, the key deleted, the socket back.
mv "$T/redis.sock" "$T/redis.sock.away"
redis-cli -s "$T/redis.sock.away" client kill type normal >/dev/null
redis-cli -s "$T/redis.sock.away" client kill type pubsub >/dev/null
burst a11 2 short1 # they find Redis unreachable: memory answers
redis-cli -s "$T/redis.sock.away" del "$(t_kleaf short1)" >/dev/null
mv "$T/redis.sock.away" "$T/redis.sock"
sleep 1.1
burst p11 8 short1
check "11: pruned while the processes could not reach Redis: stays pruned (503s)" \
    test "$(grep -c '^503' "$T/p11.codes")" = 8
check "11: ... not written back" test "$(rcli exists "$(t_kleaf short1)")" = 0
t_responder_start r1 ca1 "$PKI_PORT1" || fail "11: responder ca1 again"
t_responder_start r2 ca2 "$PKI_PORT2" || fail "11: responder ca2 again"
t_fcgi_stop

# ---------------------------------------------------------------- 12
t_note "12. the memory's bound"
t_conf "$T/b.conf" memory_cache_bytes 8192
check "12: one process, 8 KiB of memory" t_fcgi_start "$T/b.conf" 1
for i in $(seq 1 12); do
	coldreq "$((9500 + i))"
done
sleep 2.6 # the responders' breakers, opened in 11
m0=$(metric ocspxy_memory_hits_total)
r0=$(metric ocspxy_redis_hits_total)
for pass in 1 2; do
	for i in $(seq 1 12); do
		t_post "$T/b-$i" "$PX/" "$T/cold-$((9500 + i)).der" \
		    -H "Host: $H1" >>"$T/b.codes"
		echo >>"$T/b.codes"
	done
done
mh=$(($(metric ocspxy_memory_hits_total) - ${m0:-0}))
rh=$(($(metric ocspxy_redis_hits_total) - ${r0:-0}))
check "12: 24 requests for 12 certificates, all 200" \
    test "$(grep -c '^200' "$T/b.codes")" = 24
check "12: more certificates than fit: the second round mostly from Redis (memory ${mh:-0}, Redis ${rh:-0})" \
    test "${rh:-0}" -ge 6 -a "${mh:-0}" -le 6
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/${FCGI_PIDS# }/status")
if [ -z "${OCSPXY_ASAN:-}" ]; then # ASan's shadow memory is no RSS of ours
	check "12: the process's RSS stays under 16 MB (${rss:-?} kB)" \
	    test "${rss:-99999}" -lt 16384
fi

t_done
