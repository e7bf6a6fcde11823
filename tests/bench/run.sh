#!/bin/bash
# tests/bench/run.sh (make bench): how fast ocspxy answers, and what it
# costs.  Everything runs on 127.0.0.1 with random private ports, inside one
# mktemp -d folder, and every process is stopped by pid (tests/lib.sh):
# redis-server, `openssl ocsp` (test CA ca1, for the warm-up and the miss
# path), ocspxy-fcgi and bench-nothing under spawn-fcgi (CHILDREN each),
# one nginx (WORKERS workers) with three server blocks (the proxy and the
# do-nothing program through nginx/ocspxy.conf, a static file), and
# bench.py's pre-signed responder (ca2's delegated signer) for the refresh
# pass.  See tests/bench/README.md for what each figure means.
#
# Environment:
#   QUICK=1   about a minute: one round of 1 s runs, POST only, 10,000
#             entries instead of 1,000,000, fewer misses and refreshes
#   DUR=N     seconds per wrk run (default 2; QUICK 1)
#   REPEAT=N  rounds of each hit run, interleaved, best kept (default 2;
#             QUICK 1)
#   PAIRS=N   pairs of memory-hit and do-nothing runs for the hit targets,
#             and rounds of the refresh (default 5; QUICK 2)
#   CHILDREN=N spawn-fcgi children per program (4), WORKERS=N nginx (2)
#   PERF=1    also perf record ocspxy-fcgi during a POST, 8-connection
#             run and print the top symbols
#   RESULTS=FILE  raw figures (default tests/bench/results.json)
#   OCSPXY_BUILD  the binaries (default build/); OCSPXY_KEEP=1 keeps the
#             temp folder

# (no set -u: lib.sh is not written for it)
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$BENCH_DIR/../lib.sh"

QUICK=${QUICK:-0}
PERF=${PERF:-0}
CHILDREN=${CHILDREN:-4}
WORKERS=${WORKERS:-2}
RESULTS=${RESULTS:-$BENCH_DIR/results.json}
# a run's DUR REPEAT PAIRS METHODS SIZE_BIG MISSES REFRESH_N REFRESH_SIGN_N (DUR,
# REPEAT and PAIRS unless set in the environment)
if [ "$QUICK" = 1 ]; then
	sizes="1 1 2 post 10000 30 3000 300"
else
	sizes="2 2 5 post,get 1000000 100 10000 1000"
fi
read -r dur repeat pairs METHODS SIZE_BIG MISSES REFRESH_N REFRESH_SIGN_N <<<"$sizes"
DUR=${DUR:-$dur}
REPEAT=${REPEAT:-$repeat}
PAIRS=${PAIRS:-$pairs}
METHODS=${METHODS//,/ }
PY="python3 $BENCH_DIR/bench.py"

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "# $*"; }
# commas PID...: the pids as bench.py takes them, "1,2,3" (the callers
# pass space-separated lists unquoted, to be split)
commas() { local IFS=,; echo "$*"; }

for b in ocspxy-fcgi ocspxy-refresh; do
	[ -x "$OCSPXY_BUILD/$b" ] || die "no $OCSPXY_BUILD/$b: run make first"
done
for c in wrk redis-server redis-cli nginx spawn-fcgi curl openssl cc \
    pkg-config python3; do
	command -v "$c" >/dev/null || die "$c missing: sh tests/deps.sh bench"
done

START=$(t_now)
t_setup
R=$T/res
mkdir -p "$R" "$T/static" "$T/miss" "$T/bin"
# private copies: a rebuild during the run does not swap the programs
cp "$OCSPXY_BUILD/ocspxy-fcgi" "$OCSPXY_BUILD/ocspxy-refresh" "$T/bin/" ||
    die "cannot copy the programs"
OCSPXY_BUILD=$T/bin

# ---------------------------------------------------------------- tools
W="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes
-Wmissing-prototypes -Wformat=2 -Wpointer-arith -O2 -g"
# shellcheck disable=SC2046,SC2086
cc $W $(pkg-config --cflags fcgi) -o "$T/bench-nothing" \
    "$BENCH_DIR/nothing.c" $(pkg-config --libs fcgi) ||
    die "cannot build nothing.c"
# shellcheck disable=SC2046,SC2086
cc $W $(pkg-config --cflags libcurl) -o "$T/bench-curlfloor" \
    "$BENCH_DIR/curlfloor.c" $(pkg-config --libs libcurl) ||
    die "cannot build curlfloor.c"
# shellcheck disable=SC2046,SC2086
cc $W $(pkg-config --cflags openssl) -o "$T/bench-ocspgen" \
    "$BENCH_DIR/ocspgen.c" $(pkg-config --libs openssl) ||
    die "cannot build ocspgen.c"
GEN=$T/bench-ocspgen

# ---------------------------------------------------------------- servers
say "setting up: redis-server, test CAs, openssl ocsp," \
    "$CHILDREN+$CHILDREN FastCGI children, nginx ($WORKERS workers)"
t_redis_start || die "redis-server does not start"
t_pki || die "test PKI"
t_responder_start r1 ca1 "$PKI_PORT1" || die "openssl ocsp responder"
H1=127.0.0.1:$PKI_PORT1
CA1=$T/pki/ca1/ca.crt
CA2=$T/pki/ca2/ca.crt
t_conf "$T/ocspxy.conf" issuer "$CA1" issuer "$CA2"
t_fcgi_start "$T/ocspxy.conf" "$CHILDREN" || die "ocspxy-fcgi"
# shellcheck disable=SC2086
PROXY_PIDS=$(commas $FCGI_PIDS)

# the answer ocspxy-fcgi writes on a hit, for bench-nothing and nginx
t_reqout "$(t_crt good1)" "$CA1" "$T/req-hit.der" || die "request"
GETPATH=/$(t_get_path "$T/req-hit.der")
PP=$(t_port)
RP=$(t_port)
NP=$(t_port)
SP=$(t_port)

# nginx: the proxy's server block (t_nginx_start), the same block for
# bench-nothing, and the same bytes as a static file, for GET and (405
# turned into 200) POST alike
t_nginx_site "$SRC_DIR/nginx/ocspxy.conf" "$NP" "$T/nothing.sock" \
    >"$T/site-nothing.conf"
t_nginx_site "$SRC_DIR/nginx/ocspxy.conf" "$RP" "$T/redisfcgi.sock" \
    >"$T/site-redis.conf"
cat >"$T/site-static.conf" <<EOF
server {
	listen 127.0.0.1:$SP;
	root $T/static;
	location / {
		default_type application/ocsp-response;
		try_files /resp.der =404;
		error_page 405 =200 \$uri;
	}
}
EOF
T_NGINX_WORKERS=$WORKERS T_NGINX_CONNS=4096 T_NGINX_LOG=warn \
    t_nginx_start "$PP" "$T/site-nothing.conf" "$T/site-static.conf" \
    "$T/site-redis.conf" || die "nginx"
for port in $NP $SP $RP; do
	t_wait_listen "$port" 10 || { cat "$T/nginx-error.log"; die "nginx"; }
done
# shellcheck disable=SC2086
NGINX_PIDS=$(commas $NGINX_WORKERS)

# warm the cache through the proxy, then check that it is a hit
code=$(t_post "$T/warm" "http://127.0.0.1:$PP/" "$T/req-hit.der" -H "Host: $H1")
[ "$code" = 200 ] || die "warm-up answered $code: $(cat "$T/warm.body")"
t_vleaf "$T/warm.body" good1 good || die "warm-up answer does not verify"
HITKEY=$(t_kleaf good1)
t_exists "$HITKEY" || die "no cache entry $HITKEY"
# same_bytes PORT WHAT: a POST and a GET of the hit request on PORT are
# answered 200 with the warm-up's bytes; else the bench ends, naming WHAT.
same_bytes()
{
	local code
	code=$(t_post "$T/cmp" "http://127.0.0.1:$1/" "$T/req-hit.der" \
	    -H "Host: $H1")
	[ "$code" = 200 ] && cmp -s "$T/cmp.body" "$T/warm.body" ||
	    die "$2: POST answered $code, not the proxy's bytes"
	code=$(t_http "$T/cmp" -H "Host: $H1" "http://127.0.0.1:$1$GETPATH")
	[ "$code" = 200 ] && cmp -s "$T/cmp.body" "$T/warm.body" ||
	    die "$2: GET answered $code, not the proxy's bytes"
}
n0=$(t_responder_count r1)
same_bytes "$PP" "the proxy, no hit"
[ "$(t_responder_count r1)" = "$n0" ] || die "a hit went upstream"

cp "$T/warm.body" "$T/static/resp.der"
t_cgi REQUEST_METHOD=POST CONTENT_TYPE=application/ocsp-request \
    CONTENT_LENGTH="$(stat -c %s "$T/req-hit.der")" HTTP_HOST="$H1" \
    REQUEST_URI=/ SERVER_PORT="$PP" REMOTE_ADDR=127.0.0.1 \
    -- "$T/req-hit.der" >"$T/hit-answer.bin"
head -c 15 "$T/hit-answer.bin" | grep -q '^Status: 200 OK' ||
    die "CGI hit answer: $(head -c 200 "$T/hit-answer.bin")"

rm -f "$T/nothing.sock"
spawn-fcgi -s "$T/nothing.sock" -M 0777 -P "$T/nothing.pid" -F "$CHILDREN" \
    -- "$T/bench-nothing" "$T/hit-answer.bin" >>"$T/spawn-fcgi.log" 2>&1 \
    </dev/null || die "spawn-fcgi bench-nothing"
_t_wait_file "$T/nothing.pid" 5
t_fcgi_pids "$T/nothing.pid" NOTHING_PIDS
# shellcheck disable=SC2086
NOTHING_PIDS=$(commas $NOTHING_PIDS)
_t_wait_file "$T/nothing.sock" 5

# The proxy again with its memory tier off: hits from Redis, side by side.
t_conf "$T/redis.conf" issuer "$CA1" issuer "$CA2" memory_cache_bytes 0
rm -f "$T/redisfcgi.sock"
spawn-fcgi -s "$T/redisfcgi.sock" -M 0777 -P "$T/redisfcgi.pid" \
    -F "$CHILDREN" -- /bin/sh -c 'l=$1; shift; exec "$@" 2>>"$l"' sh \
    "$T/redisfcgi.log" "$T/bin/ocspxy-fcgi" -c "$T/redis.conf" \
    >>"$T/spawn-fcgi.log" 2>&1 </dev/null || die "spawn-fcgi (memory off)"
_t_wait_file "$T/redisfcgi.pid" 5
t_fcgi_pids "$T/redisfcgi.pid" REDIS_FCGI_PIDS
# shellcheck disable=SC2086
REDIS_FCGI_PIDS=$(commas $REDIS_FCGI_PIDS)
_t_wait_file "$T/redisfcgi.sock" 5

# the four answer the same body
same_bytes "$RP" "the proxy with its memory off"
same_bytes "$NP" "bench-nothing"
same_bytes "$SP" "the static file"

# 999 more entries: 1,000 in Redis
# fill FIRST COUNT: entries of ca1 for serials FIRST.., shaped as ocspxy
# stores them (the real response's bytes, a TTL of 30 days), not due
fill()
{
	local t
	t=$(t_now)
	"$GEN" -i "$CA1" -f "$1" -n "$2" -r "$H1" -B "$T/warm.body" -T "$t" \
	    -N $((t + 7 * 86400)) -L "$t" -E 2592000 |
	    rcli --pipe >"$T/pipe.log" 2>&1 || { cat "$T/pipe.log"; return 1; }
	grep -q 'errors: 0' "$T/pipe.log" || { cat "$T/pipe.log"; return 1; }
}
fill $((0x10000000)) 999 || die "cannot fill Redis"

$PY json "$R/meta.json" dur="$DUR" repeat="$REPEAT" pairs="$PAIRS" quick="$QUICK" \
    children="$CHILDREN" nginx_workers="$WORKERS" cores="$(nproc)" \
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    kernel="$(uname -r)" "wrk=$(wrk --version 2>&1 | head -1 | cut -d' ' -f2)" \
    "nginx=$(nginx -v 2>&1 | cut -d/ -f2)" \
    "redis=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')" \
    "tree=$(git -C "$SRC_DIR" describe --always --dirty 2>/dev/null)" \
    "fcgi_sha1=$(sha1sum "$OCSPXY_BUILD/ocspxy-fcgi" | cut -c1-12)"

# ---------------------------------------------------------------- 1, 2
# hit OUTNAME TARGET METHOD MODE CONNS [extra bench.py wrk options]
hit()
{
	local out=$1 target=$2 meth=$3 mode=$4 c=$5 port pids m body path
	shift 5
	case $target in
	proxy) port=$PP pids="fcgi:$PROXY_PIDS" ;;
	redis) port=$RP pids="fcgi:$REDIS_FCGI_PIDS" ;;
	nothing) port=$NP pids="fcgi:$NOTHING_PIDS" ;;
	static) port=$SP pids="fcgi:" ;;
	esac
	if [ "$meth" = post ]; then
		m=POST body=$T/req-hit.der path=/
	else
		m=GET body='' path=$GETPATH
	fi
	$PY wrk "$R/$out.json" --label "$out" --conns "$c" --dur "$DUR" \
	    --close "$([ "$mode" = close ] && echo 1 || echo 0)" \
	    --method "$m" --body "$body" --path "$path" --host "$H1" \
	    --redis "$T/redis.sock" --pids "$pids" --pids "redis:$REDIS_PID" \
	    --pids "nginx:$NGINX_PIDS" "$@" -- "http://127.0.0.1:$port/" ||
	    die "wrk run $out"
}

say "1, 2. hits: proxy (memory), proxy (Redis), do-nothing FastCGI, static file; $REPEAT x $DUR s per run"
DUR_SAVE=$DUR
DUR=1
for t in proxy redis nothing static; do
	hit warmup-$t $t post ka 8 >/dev/null
done
DUR=$DUR_SAVE
UP_BEFORE=$(t_responder_count r1)
for r in $(seq 1 "$REPEAT"); do
	for meth in $METHODS; do
		for mode in ka close; do
			for c in 1 8 64; do
				for t in proxy redis nothing static; do
					hit "hit-$t-$meth-$mode-c$c-r$r" $t $meth \
					    $mode $c
				done
			done
		done
	done
done
# The memory-hit targets: PAIRS pairs of 1 s runs in the order proxy,
# do-nothing, do-nothing, proxy, so that a machine that speeds up or slows
# down within a pair weighs on both sides alike; bench.py takes the median
# of the pairs' ratios.
say "1b. memory hits against do-nothing: $PAIRS pairs of (proxy, nothing, nothing, proxy), 1 s each"
DUR_SAVE=$DUR
DUR=1
for meth in $METHODS; do
	for c in 8 64; do
		for p in $(seq 1 "$PAIRS"); do
			for run in proxy-a nothing-a nothing-b proxy-b; do
				hit "pair-$meth-c$c-p$p-$run" "${run%-?}" $meth ka $c
			done
		done
	done
done
DUR=$DUR_SAVE
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
	say "perf record of ocspxy-fcgi during a POST, 8-connection run"
	perf record -q -F 499 --call-graph dwarf,8192 -o "$T/perf.data" \
	    -p "$PROXY_PIDS" -- sleep "$DUR" >/dev/null 2>&1 &
	perfpid=$!
	hit perf-proxy proxy post ka 8
	wait $perfpid
	say "ocspxy-fcgi's samples by library:"
	perf report -i "$T/perf.data" --stdio --no-children --sort dso \
	    -g none 2>/dev/null | grep '%' | head -8
	say "by user-space function, callees included:"
	perf report -i "$T/perf.data" --stdio --children --sort sym -g none \
	    --percent-limit 1.5 2>/dev/null | grep '%' | grep -v '\[k\]' |
	    grep -v '\] 0x0' | head -40
fi
DUR_SAVE=$DUR
DUR=1
hit roundtrips proxy post ka 8 --monitor 1 >/dev/null
hit roundtrips-redis redis post ka 8 --monitor 1 >/dev/null
DUR=$DUR_SAVE
UP_AFTER=$(t_responder_count r1)
$PY json "$R/upstream.json" before="$UP_BEFORE" after="$UP_AFTER"

# ---------------------------------------------------------------- 3
# hits spread over 999 entries: all the fake ones at first, then one in
# every SIZE_BIG/1000 of the bigger set
say "3. cache size: 1,000 entries, then $SIZE_BIG"
mkdir -p "$T/spread1k" "$T/spreadbig"
"$GEN" -i "$CA1" -f $((0x10000000)) -n 999 -Q "$T/spread1k" &&
    "$GEN" -i "$CA1" -f $((0x10000000)) -n 999 -S $((SIZE_BIG / 1000)) \
    -Q "$T/spreadbig" || die "spread requests"
# one round more than the hit runs: the two sizes cannot be interleaved
for r in $(seq 0 "$REPEAT"); do
	hit size-1k-c8-r$r proxy post ka 8 --bodies "$T/spread1k:999"
	hit size-1k-c64-r$r proxy post ka 64 --bodies "$T/spread1k:999"
done
t0=$(date +%s.%N)
fill $((0x10000000 + 999)) $((SIZE_BIG - 1000)) || die "cannot fill Redis"
t1=$(date +%s.%N)
keys=$(rcli dbsize)
mem=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
$PY json "$R/size.json" entries="$keys" spread=999 \
    load_s="$(python3 -c "print(round($t1 - $t0, 2))")" \
    used_memory_mb="$((mem / 1048576))"
for r in $(seq 0 "$REPEAT"); do
	hit size-1M-c8-r$r proxy post ka 8 --bodies "$T/spreadbig:999"
	hit size-1M-c64-r$r proxy post ka 64 --bodies "$T/spreadbig:999"
done
[ "$(t_responder_count r1)" = "$UP_AFTER" ] ||
    say "!! hits with $keys entries went upstream"

# 6 (first half): the FastCGI processes with their memory full: hits over
# 4,000 certificates of the bigger set in turn (about 7 MB of responses,
# more than the 4 MiB each keeps) for 8 s (5 with QUICK), then their RSS.
# A memory that held them all would read each from Redis once per
# process; more reads than that show it full and evicting.
mkdir -p "$T/spreadfill"
"$GEN" -i "$CA1" -f $((0x10000000)) -n 4000 -S $((SIZE_BIG / 4000)) \
    -Q "$T/spreadfill" || die "memory-filling requests"
$PY wrk "$R/memfill.json" --label memory-fill --conns 8 \
    --dur "$([ "$QUICK" = 1 ] && echo 5 || echo 8)" \
    --method POST --path / --host "$H1" --bodies "$T/spreadfill:4000" \
    --redis "$T/redis.sock" --pids "fcgi:$PROXY_PIDS" \
    -- "http://127.0.0.1:$PP/" || die "wrk run memory-fill"
rss=
hwm=
for p in ${PROXY_PIDS//,/ }; do
	rss="$rss,$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status")"
	hwm="$hwm,$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status")"
done
served=$(python3 -c 'import json, sys, glob
d = sys.argv[1]
print(sum(json.load(open(f))["requests"] for f in
    glob.glob(d + "/*proxy*.json") + glob.glob(d + "/size-*.json") +
    [d + "/roundtrips.json", d + "/memfill.json"]))' "$R")
python3 -c 'import json, sys
f = json.load(open(sys.argv[5]))
json.dump({"fcgi_requests": int(sys.argv[2]),
    "fcgi_rss_kb": [int(x) for x in sys.argv[3].strip(",").split(",")],
    "fcgi_hwm_kb": [int(x) for x in sys.argv[4].strip(",").split(",")],
    "fill_certificates": 4000, "fill_requests": f["requests"],
    "fill_redis_reads": f["redis_calls"].get("hmget", 0)},
    open(sys.argv[1], "w"))' "$R/memory-fcgi.json" "$served" "$rss" "$hwm" \
    "$R/memfill.json"

# ---------------------------------------------------------------- 6
# the refresh daemon over the SIZE_BIG entries of 3, none due (bar the
# warm one)
mem_keys=$(rcli dbsize)
say "6. refresh daemon: a pass over $mem_keys entries"
$PY runstat "$R/refresh-mem.json" -- "$OCSPXY_BUILD/ocspxy-refresh" \
    -c "$T/ocspxy.conf" --once 2>"$T/refresh-mem.log"
seen=$(sed -n 's/.*refresh pass: \([0-9]*\) entries.*/\1/p' \
    "$T/refresh-mem.log" | tail -1)
due=$(sed -n 's/.*refresh pass: [0-9]* entries, \([0-9]*\) due.*/\1/p' \
    "$T/refresh-mem.log" | tail -1)
python3 -c 'import json, sys
m = json.load(open(sys.argv[2]))
r = json.load(open(sys.argv[3]))
m.update(refresh_entries=int(sys.argv[4]), refresh_due=int(sys.argv[5] or 0),
    refresh_hwm_kb=r["maxrss_kb"], refresh_wall_s=r["wall_s"],
    refresh_rc=r["rc"])
json.dump(m, open(sys.argv[1], "w"))' "$R/memory.json" "$R/memory-fcgi.json" \
    "$R/refresh-mem.json" "${seen:-0}" "$due"
rcli flushall >/dev/null

# ---------------------------------------------------------------- 4
say "4. miss path: $MISSES cold certificates (openssl ocsp, status unknown)"
"$GEN" -i "$CA1" -f $((0x20000000)) -n "$MISSES" -Q "$T/miss" ||
    die "miss requests"
$PY miss "$R/miss.json" "$T/miss" "$MISSES" "http://127.0.0.1:$PP/" \
    "http://127.0.0.1:$PKI_PORT1/" "$H1" "$T/redis.sock" ||
    die "miss path"
rcli flushall >/dev/null

# ---------------------------------------------------------------- 5
say "5. refresh pass: $REFRESH_N due entries, pre-signed responder"
FP=$(t_port)
t=$(t_now)
"$GEN" -i "$CA2" -s "$T/pki/ca2/ca2-ocsp.crt" -k "$T/pki/ca2/ca2-ocsp.key" \
    -f $((0x30000000)) -n "$REFRESH_N" -r "127.0.0.1:$FP" -P "$T/pairs.bin" \
    -T $((t - 7200)) -N $((t + 3600)) -L 0 | rcli --pipe >"$T/pipe.log" 2>&1
grep -q 'errors: 0' "$T/pipe.log" || { cat "$T/pipe.log"; die "refresh fill"; }
"$GEN" -i "$CA2" -f $((0x30000000)) -n 1 -Q "$T" || die "request"
python3 "$BENCH_DIR/bench.py" responder "$FP" "$T/pairs.bin" \
    >"$T/responder.log" 2>&1 </dev/null &
RESP_PID=$!
_t_record "$RESP_PID"
t_wait_listen "$FP" 30 || { cat "$T/responder.log"; die "responder"; }
code=$(t_post "$T/rcheck" "http://127.0.0.1:$FP/" "$T/req-0.der")
[ "$code" = 200 ] || die "responder answers $code"
t_conf "$T/refresh.conf" issuer "$CA2"
# PAIRS rounds of: the responder's capacity (1 s), a pass over the entries,
# the libcurl floor (bench-curlfloor: the same number of fetches, the
# daemon's lanes, nothing else), a second pass, the capacity again; per
# round, the passes' rate over the capacities', and the median of the
# rounds (a pair's own order cancels a steady drift of the machine's
# speed, as for the hits).
# due again, with the bytes the responder serves (a refill would sign them
# anew): lastchecked 0
rearm()
{
	rcli --scan --pattern 'ocspxy_*' |
	    awk '{ printf "HSET %s lastchecked 0\r\n", $1 }' |
	    rcli --pipe >"$T/pipe.log" 2>&1 ||
	    die "refresh entries not made due again"
}
# capacity OUTNAME
capacity()
{
	$PY wrk "$R/$1.json" --label responder-capacity --conns 8 --dur 1 \
	    --method POST --body "$T/req-0.der" \
	    --pids "responder:$RESP_PID" -- "http://127.0.0.1:$FP/" ||
	    die "wrk responder"
}
# pass OUTNAME
pass()
{
	local served0 served1 line
	served0=$(curl -s "http://127.0.0.1:$FP/__count")
	$PY runstat "$R/$1-run.json" --redis "$T/redis.sock" \
	    --cpu "redis:$REDIS_PID" --cpu "responder:$RESP_PID" -- \
	    "$OCSPXY_BUILD/ocspxy-refresh" -c "$T/refresh.conf" --once \
	    2>"$T/$1.log"
	served1=$(curl -s "http://127.0.0.1:$FP/__count")
	line=$(grep -o 'refresh pass: .*' "$T/$1.log" | tail -1)
	say "$1: $line"
	# shellcheck disable=SC2046 # the numbers, split on purpose
	set -- $1 $(echo "$line" | sed 's/[^0-9 ]//g')
	[ "$8" = "$4" ] || die "$1: $8 of $4 answers came back unchanged"
	$PY json "$R/$1.json" "$R/$1-run.json" \
	    entries="$REFRESH_N" seen="$2" due="$3" refreshed="$4" \
	    failed="$5" responder_served=$((served1 - served0))
}
# (16: the daemon's refresh_per_responder, its fetches from one responder)
for r in $(seq 1 "$PAIRS"); do
	capacity "capacity-$r-a"
	[ "$r" = 1 ] || rearm
	pass "refresh-$r-a"
	$PY runstat "$R/floor-$r.json" --cpu "responder:$RESP_PID" -- \
	    "$T/bench-curlfloor" "http://127.0.0.1:$FP/" "$T/req-0.der" \
	    "$REFRESH_N" 16 || die "bench-curlfloor"
	rearm
	pass "refresh-$r-b"
	capacity "capacity-$r-b"
done
$PY refresh-rounds "$R" "$PAIRS" "$REFRESH_N" || die "refresh rounds"
t_kill "$RESP_PID"
rcli flushall >/dev/null

# the same against openssl ocsp (ca1 signs every answer, RSA): the
# responder real deployments are closer to
say "5. refresh pass: $REFRESH_SIGN_N due entries, openssl ocsp"
t=$(t_now)
"$GEN" -i "$CA1" -f $((0x40000000)) -n "$REFRESH_SIGN_N" -r "$H1" \
    -T $((t - 7200)) -N $((t + 1800)) -L 0 | rcli --pipe >"$T/pipe.log" 2>&1
grep -q 'errors: 0' "$T/pipe.log" || { cat "$T/pipe.log"; die "refresh fill"; }
# Its capacity: the same requests straight from curl, 8 at once, one per
# connection (wrk's connections stall the openssl ocsp server).
mkdir -p "$T/sign"
"$GEN" -i "$CA1" -f $((0x40000000)) -n "$REFRESH_SIGN_N" -Q "$T/sign" ||
    die "requests"
for i in $(seq 0 $((REFRESH_SIGN_N - 1))); do
	printf 'url = "http://%s/"\ndata-binary = "@%s"\noutput = "/dev/null"\n' \
	    "$H1" "$T/sign/req-$i.der"
	echo 'header = "Content-Type: application/ocsp-request"'
done >"$T/sign.curl"
s=$(date +%s.%N)
curl -s -Z --parallel-max 8 --max-time 10 -K "$T/sign.curl" \
    -w '%{http_code}\n' >"$T/sign.codes" 2>/dev/null
e=$(date +%s.%N)
ok=$(grep -cx 200 "$T/sign.codes")
[ "$ok" = "$REFRESH_SIGN_N" ] || die "openssl ocsp answered $ok of $REFRESH_SIGN_N"
$PY json "$R/capacity-sign.json" \
    rps="$(awk -v n="$ok" -v a="$s" -v b="$e" 'BEGIN { print n / (b - a) }')"
t_conf "$T/refresh-sign.conf" issuer "$CA1"
$PY runstat "$R/refresh-sign-run.json" --redis "$T/redis.sock" -- \
    "$OCSPXY_BUILD/ocspxy-refresh" -c "$T/refresh-sign.conf" --once \
    2>"$T/refresh-sign.log"
line=$(grep -o 'refresh pass: .*' "$T/refresh-sign.log" | tail -1)
say "$line"
# shellcheck disable=SC2046 # the numbers, split on purpose
set -- $(echo "$line" | sed 's/[^0-9 ]//g')
$PY json "$R/refresh-sign.json" "$R/refresh-sign-run.json" \
    entries="$REFRESH_SIGN_N" seen="$1" due="$2" refreshed="$3" failed="$4"

# ---------------------------------------------------------------- report
$PY json "$R/meta.json" "$R/meta.json" total_s=$(($(t_now) - START)) \
    refresh_memory_entries="$mem_keys"
$PY report "$R" "$RESULTS"
echo "# total $(($(t_now) - START)) s"
