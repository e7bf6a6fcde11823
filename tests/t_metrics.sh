#!/bin/bash
# t_metrics.sh: GET /metrics (Prometheus text) and GET /health through
# nginx + spawn-fcgi (two ocspxy-fcgi processes share the counters, which
# live in the Redis hash ocspxy:stats), a real Redis and real `openssl
# ocsp` responders (nextUpdate in 1 h, -nmin 60).  Counters are compared
# between two scrapes around known requests; gauges against what Redis
# holds (SCAN of the entry keys, their thisupd fields).  Last, the
# figures of an `ocspxy-refresh --once` pass in /metrics and in
# `ocspxy status`.

. "$(dirname "$0")/lib.sh"
t_setup

t_built ocspxy-fcgi ocspxy-refresh ocspxy

t_begin
t_conf "$T/ocspxy.conf" issuer "$T/pki/roots.pem"
CONF=$T/ocspxy.conf
t_proxy_start "$CONF" 2
DEAD=$(t_port) # nothing listens there

for l in good1 revoked1 short1 good2; do
	t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done
K1=$(t_kleaf good1)

# scrape NAME: GET /metrics into $T/NAME.body; prints the HTTP status.
scrape() { t_http "$T/$1" "$PX/metrics"; }

# metric NAME FILE [LABELS]: the value of a sample ("" if absent).
metric()
{
	local n=$1
	[ -n "${3:-}" ] && n="$1{$3}"
	awk -v n="$n" '$1 == n { print $2; f = 1; exit }
		END { if (!f) exit 1 }' "$2"
}

# entries_in_redis: the entry keys (SCAN), not stats, index, locks.
entries_in_redis()
{
	rcli --scan --pattern 'ocspxy_*' | grep -cE '^ocspxy_[0-9a-f]+0x[0-9a-f]+$'
}

# valid_text FILE: Prometheus text format 0.0.4: every line a comment
# (# HELP name text / # TYPE name counter|gauge) or `name{labels} value`;
# every sample's metric has HELP and TYPE lines before it.  Prints the
# first problem.
valid_text()
{
	python3 - "$1" <<-'PY'
	import re, sys
	help_, type_ = set(), {}
	sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
	    r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
	    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})?'
	    r' (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$')
	data = open(sys.argv[1], "rb").read()
	if not data.endswith(b"\n"):
	    sys.exit("no final newline")
	n = 0
	for ln in data.decode("utf-8").split("\n")[:-1]:
	    m = re.match(r'^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$', ln)
	    if m:
	        if m.group(1) == "HELP":
	            help_.add(m.group(2))
	        else:
	            if m.group(3) not in ("counter", "gauge", "histogram",
	                                  "summary", "untyped"):
	                sys.exit("bad TYPE: " + ln)
	            type_[m.group(2)] = m.group(3)
	        continue
	    if ln.startswith("#"):
	        sys.exit("bad comment: " + ln)
	    m = sample.match(ln)
	    if not m:
	        sys.exit("bad sample line: %r" % ln)
	    name = m.group(1)
	    if name not in help_ or name not in type_:
	        sys.exit("no HELP/TYPE before " + name)
	    if type_[name] == "counter" and not name.endswith("_total"):
	        sys.exit("counter without _total: " + name)
	    n += 1
	if n == 0:
	    sys.exit("no samples")
	PY
}

# ---------------------------------------------------------------- 6
t_note "6: /metrics counters move with the requests"
code=$(t_post_leaf "$T/seed" good2)
check "seed: good2 through the proxy (a miss, fetched and stored): 200" \
    test "$code" = 200
code=$(scrape m0)
check "GET /metrics: 200" test "$code" = 200
check "GET /metrics: Content-Type text/plain; version=0.0.4" \
    test "$(t_hdr "$T/m0.hdr" Content-Type)" = "text/plain; version=0.0.4"
msg=$(valid_text "$T/m0.body" 2>&1)
check "GET /metrics: valid Prometheus text (HELP/TYPE, name{labels} value)${msg:+: $msg}" \
    test -z "$msg"
missing=
for m in ocspxy_redis_up ocspxy_hits_total ocspxy_misses_total \
    ocspxy_upstream_fetches_total ocspxy_fallbacks_total \
    ocspxy_stale_refusals_total ocspxy_requests_refused_total \
    ocspxy_served_bytes_total ocspxy_refreshed_total \
    ocspxy_refresh_failures_total ocspxy_entries ocspxy_entries_expiring \
    ocspxy_entries_expired ocspxy_oldest_thisupdate_seconds \
    ocspxy_refresh_last_pass_timestamp_seconds ocspxy_refresh_last_pass_due \
    ocspxy_refresh_last_pass_refreshed ocspxy_refresh_last_pass_failed; do
	metric "$m" "$T/m0.body" >/dev/null || missing="$missing $m"
done
for r in timeout connect http size refused invalid other; do
	metric ocspxy_upstream_failures_total "$T/m0.body" "reason=\"$r\"" \
	    >/dev/null || missing="$missing failures{$r}"
done
check "GET /metrics: every named metric present${missing:+ (missing:$missing)}" \
    test -z "$missing"
check "ocspxy_redis_up 1" test "$(metric ocspxy_redis_up "$T/m0.body")" = 1

# the requests: 1 miss (good1, fetched), 3 hits (good1), 1 refused (PUT),
# 1 upstream failure (short1 with the Host of a responder that is down)
code=$(t_post_leaf "$T/r-miss" good1)
check "good1: miss, fetched: 200" test "$code" = 200
check "good1: the answer verifies" t_vleaf "$T/r-miss.body" good1 good
for i in 1 2 3; do
	code=$(t_post_leaf "$T/r-hit$i" good1)
	check "good1: hit $i: 200, the same bytes" \
	    bash -c "[ $code = 200 ] && cmp -s '$T/r-hit$i.body' '$T/r-miss.body'"
done
code=$(t_http "$T/r-put" -X PUT -H 'Content-Type: application/ocsp-request' \
    --data-binary "@$T/req-good1.der" -H "Host: $H1" "$PX/")
check "PUT: 405" test "$code" = 405
code=$(t_post "$T/r-dead" "$PX/" "$T/req-short1.der" -H "Host: 127.0.0.1:$DEAD")
check "short1, not cached, Host 127.0.0.1:$DEAD (nothing listens): 503" \
    test "$code" = 503
# Each process sends its counts at most a second after making them (a hit
# costs no Redis command of its own): wait until the last ones are in.
sleep 1.3
code=$(scrape m1)
check "GET /metrics again: 200" test "$code" = 200

# delta NAME [LABELS]: the counter's growth between the two scrapes.
delta()
{
	local a b
	if a=$(metric "$1" "$T/m0.body" "$2") &&
	    b=$(metric "$1" "$T/m1.body" "$2") &&
	    [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]]; then
		echo $((b - a))
	else
		echo "(missing)"
	fi
}
RSIZE=$(stat -c %s "$T/r-miss.body")
d=$(delta ocspxy_hits_total)
check "ocspxy_hits_total +3 (got +$d)" test "$d" = 3
d=$(delta ocspxy_misses_total)
check "ocspxy_misses_total +2: good1's first request and short1's (got +$d)" \
    test "$d" = 2
d=$(delta ocspxy_requests_refused_total)
check "ocspxy_requests_refused_total +1: the PUT (got +$d)" test "$d" = 1
d=$(delta ocspxy_upstream_failures_total 'reason="connect"')
check "ocspxy_upstream_failures_total{reason=\"connect\"} +1 (got +$d)" \
    test "$d" = 1
others=
for r in timeout http size refused invalid other; do
	d=$(delta ocspxy_upstream_failures_total "reason=\"$r\"")
	[ "$d" = 0 ] || others="$others $r:+$d"
done
check "the other failure reasons did not move${others:+ (moved:$others)}" \
    test -z "$others"
d=$(delta ocspxy_upstream_fetches_total)
check "ocspxy_upstream_fetches_total +2: good1 and short1 (got +$d)" \
    test "$d" = 2
d=$(delta ocspxy_served_bytes_total)
check "ocspxy_served_bytes_total +4 x $RSIZE bytes (1 fetched + 3 hits; got +$d)" \
    test "$d" = $((4 * RSIZE))
d=$(delta ocspxy_fallbacks_total)
check "ocspxy_fallbacks_total unchanged (got +$d)" test "$d" = 0
n=$(entries_in_redis)
check "ocspxy_entries = $n, the entry keys a SCAN finds in Redis" \
    test "$(metric ocspxy_entries "$T/m1.body")" = "$n" -a "$n" = 2
check "ocspxy_entries_expiring = $n (nextUpdate in 1 h: within a day)" \
    test "$(metric ocspxy_entries_expiring "$T/m1.body")" = "$n"
check "ocspxy_entries_expired = 0" \
    test "$(metric ocspxy_entries_expired "$T/m1.body")" = 0
oldest=$(for k in $(rcli --scan --pattern 'ocspxy_*0x*'); do
	t_hget "$k" thisupd; done | sort -n | head -1)
check "ocspxy_oldest_thisupdate_seconds = the smallest thisupd in Redis ($oldest)" \
    test "$(metric ocspxy_oldest_thisupdate_seconds "$T/m1.body")" = "$oldest"
check "the counters are those of the Redis hash ocspxy:stats (hits)" \
    test "$(rcli hget ocspxy:stats hits)" = "$(metric ocspxy_hits_total "$T/m1.body")"
msg=$(valid_text "$T/m1.body" 2>&1)
check "second scrape: valid Prometheus text${msg:+: $msg}" test -z "$msg"
code=$(t_http "$T/m-sub" "$PX/some/path/metrics")
check "GET /some/path/metrics (last segment 'metrics'): 200, the same text" \
    bash -c "[ $code = 200 ] && grep -q '^ocspxy_hits_total ' '$T/m-sub.body'"
code=$(t_http "$T/m-post" -X POST -H 'Content-Type: application/ocsp-request' \
    --data-binary "@$T/req-good1.der" -H "Host: $H1" "$PX/metrics")
check "POST /metrics with an OCSP request: answered as OCSP (200, no metrics text)" \
    bash -c "[ $code = 200 ] && ! grep -qa 'ocspxy_hits_total' '$T/m-post.body'"

# ---------------------------------------------------------------- 7
t_note "7: /health"
n=$(entries_in_redis)
code=$(t_http "$T/h0" "$PX/health")
check "GET /health, Redis up, nothing expired: 200" test "$code" = 200
check "GET /health: \"ok: $n cached responses, none expired\"" \
    test "$(cat "$T/h0.body")" = "ok: $n cached responses, none expired"
# Expire good1 as far as the gauges know: /health and ocspxy_entries_*
# are computed from the sorted set ocspxy:index:next (score = nextupd),
# not from the entries' hashes, so moving the score into the past is what
# an expired entry looks like to them (waiting for a real nextUpdate to
# pass would take a minute at least with openssl's -nmin).
NU1=$(rcli zscore ocspxy:index:next "$K1")
check "good1 is in ocspxy:index:next with its nextupd as score" \
    test "$NU1" = "$(t_hget "$K1" nextupd)"
rcli zadd ocspxy:index:next $(($(t_now) - 10)) "$K1" >/dev/null
code=$(t_http "$T/h1" "$PX/health")
check "GET /health with one entry expired: 503" test "$code" = 503
check "GET /health: \"1 of $n cached responses expired\"" \
    test "$(cat "$T/h1.body")" = "1 of $n cached responses expired"
scrape m2 >/dev/null
check "/metrics: ocspxy_entries_expired 1, expiring $((n - 1))" \
    test "$(metric ocspxy_entries_expired "$T/m2.body") $(metric ocspxy_entries_expiring "$T/m2.body")" = "1 $((n - 1))"
rcli zadd ocspxy:index:next "$NU1" "$K1" >/dev/null
code=$(t_http "$T/h2" "$PX/health")
check "index score restored: /health 200 again" test "$code" = 200

rcli save >/dev/null # the restarted server loads $T/dump.rdb
t_redis_stop
code=$(t_http "$T/h3" "$PX/health")
check "Redis stopped: /health 503" test "$code" = 503
check "Redis stopped: /health says \"redis unreachable\"" \
    test "$(cat "$T/h3.body")" = "redis unreachable"
code=$(scrape m3)
check "Redis stopped: /metrics 200 with ocspxy_redis_up 0" \
    test "$code:$(metric ocspxy_redis_up "$T/m3.body")" = 200:0
msg=$(valid_text "$T/m3.body" 2>&1)
check "Redis stopped: /metrics still valid text${msg:+: $msg}" test -z "$msg"
t_redis_start || fail "redis-server restarts"
# each process retries Redis at most once a second
for ((i = 0; i < 40; i++)); do
	code=$(t_http "$T/h4" "$PX/health")
	[ "$code" = 200 ] && break
	sleep 0.1
done
check "Redis restarted (data reloaded): /health 200 again" test "$code" = 200
check "Redis restarted: \"ok: $n cached responses, none expired\" (index back)" \
    test "$(cat "$T/h4.body")" = "ok: $n cached responses, none expired"
# both fcgi processes reconnected (the other one may have tried last
# within the second before Redis came back: it tries again 1 s later):
# a few more answers, all 200
sleep 1.2
bad=0
for i in 1 2 3 4 5 6; do
	code=$(t_http "$T/h5" "$PX/health")
	[ "$code" = 200 ] || bad=$((bad + 1))
done
check "after the restart every process answers /health 200 (6 tries)" \
    test "$bad" = 0
code=$(t_post_leaf "$T/r-after" good1)
check "after the restart good1 is a hit again (200, same bytes)" \
    bash -c "[ $code = 200 ] && cmp -s '$T/r-after.body' '$T/r-miss.body'"

# ---------------------------------------------------------------- 8
t_note "8: the refresh daemon's last pass"
n=$(entries_in_redis)
scrape m4 >/dev/null
R0=$(metric ocspxy_refreshed_total "$T/m4.body")
sleep 1.1 # a new thisUpdate for every refreshed entry
t0=$(t_now)
timeout -k 2 40 "$OCSPXY_BUILD/ocspxy-refresh" -c "$CONF" --once -v \
    2>"$T/run-refresh.err" </dev/null
rc=$?
t1=$(t_now)
check "ocspxy-refresh --once: exit 0" test "$rc" = 0
sum=$(grep -o 'refresh pass: .* failed' "$T/run-refresh.err" | tail -1)
read -r s_due s_ref s_fail <<<"$(echo "$sum" |
    sed -n 's/.* \([0-9]*\) due, \([0-9]*\) refreshed, \([0-9]*\) failed.*/\1 \2 \3/p')"
# every entry's nextUpdate is 1 h away: within refresh_min_age, all due
check "the pass: all $n entries due and refreshed, none failed ($sum)" \
    test "$s_due:$s_ref:$s_fail" = "$n:$n:0"
code=$(scrape m5)
ts=$(metric ocspxy_refresh_last_pass_timestamp_seconds "$T/m5.body")
check "ocspxy_refresh_last_pass_timestamp_seconds $ts within the pass ($t0..$t1)" \
    test "${ts:-0}" -ge "$t0" -a "${ts:-0}" -le "$t1"
check "ocspxy_refresh_last_pass_due/_refreshed/_failed = $s_due/$s_ref/$s_fail (the pass's summary)" \
    test "$(metric ocspxy_refresh_last_pass_due "$T/m5.body")/$(metric ocspxy_refresh_last_pass_refreshed "$T/m5.body")/$(metric ocspxy_refresh_last_pass_failed "$T/m5.body")" = "$s_due/$s_ref/$s_fail"
d=$(($(metric ocspxy_refreshed_total "$T/m5.body") - R0))
check "ocspxy_refreshed_total +$s_ref (got +$d)" test "$d" = "$s_ref"
timeout -k 2 30 "$OCSPXY_BUILD/ocspxy" -c "$CONF" status >"$T/status.out" \
    2>"$T/run-status.err" </dev/null
check "ocspxy status: the last line is the last refresh pass, $s_due due, $s_ref refreshed, 0 failed" \
    bash -c "tail -1 '$T/status.out' | grep -Eq '^last refresh pass [0-9]+s ago: $s_due due, $s_ref refreshed, 0 failed\$'"

check "ocspxy-fcgi processes still alive" t_fcgi_alive
# Fallbacks and stale refusals, with ca1's responder down: a no-cache
# request for good1 (valid in the cache) is answered from the cache; the
# same for revoked1 made stale (nextupd in the past) is refused with 503.
code=$(t_post_leaf "$T/r-warm-rev" revoked1)
check "revoked1 cached while the responder is up: 200" test "$code" = 200
t_responder_stop r1
KR=$(t_kleaf revoked1)
rcli hset "$KR" nextupd $(($(t_now) - 60)) >/dev/null
scrape m6 >/dev/null
code=$(t_post_leaf "$T/r-fb" good1 -H 'Cache-Control: no-cache')
check "responder down, no-cache for good1: 200 from the cache" test "$code" = 200
code=$(t_post_leaf "$T/r-stale" revoked1)
check "responder down, revoked1 expired in the cache: 503" test "$code" = 503
sleep 1.3 # the counts reach Redis within a second
scrape m7 >/dev/null
d=$(($(metric ocspxy_fallbacks_total "$T/m7.body") - $(metric ocspxy_fallbacks_total "$T/m6.body")))
check "ocspxy_fallbacks_total +1 (got +$d)" test "$d" = 1
d=$(($(metric ocspxy_stale_refusals_total "$T/m7.body") - $(metric ocspxy_stale_refusals_total "$T/m6.body")))
check "ocspxy_stale_refusals_total +1 (got +$d)" test "$d" = 1

# The Perl ocsp_proxy takes every key under its prefix for an entry and
# deletes the others: ours (stats, indexes, learned responders, locks)
# must stay outside it.
others=$(rcli --scan --pattern 'ocspxy_*' |
    grep -vE '^ocspxy_[0-9a-f]+-?0x[0-9a-f]+$' | tr '\n' ' ')
check "only entry keys under the prefix ocspxy_ (others: '$others')" \
    test -z "$others"
check "  ... the counters and the learned responders are beside it" \
    test "$(rcli exists ocspxy:stats)" = 1 -a \
    -n "$(rcli --scan --pattern 'ocspxy:responder:*')"

t_done
