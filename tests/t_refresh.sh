#!/bin/bash
# t_refresh.sh: ocspxy-refresh against a real Redis and real `openssl ocsp`
# responders (ca1: the CA signs its own responses, at /; ca2: a delegated
# signer, under /ca2/), and tests/fake_upstream.py for bad upstreams.  The
# cache is filled by ocspxy-fcgi run once as a CGI program; entries are
# made due by editing their fields in Redis.  Every refreshed response is
# checked with `openssl ocsp -respin ... -CAfile` (Response verify OK).
#
# The responders give a nextUpdate one day ahead (-ndays 1), so a freshly
# stored entry is not due under the default schedule (refresh_min_age 3600,
# refresh_max_age 86400) and only the entries a check edits are.

. "$(dirname "$0")/lib.sh"
t_setup

RB=$OCSPXY_BUILD/ocspxy-refresh
t_built ocspxy-refresh ocspxy-fcgi

t_begin -ndays 1
H1=127.0.0.1:$PKI_PORT1

# conf FILE [key value]...: t_conf, plus the upstream policy that lets the
# programs reach test responders on 127.0.0.1 and high ports.  (List keys
# append, so this is harmless if t_conf ever writes them too.)
conf()
{
	local f=$1
	shift
	t_conf "$f" upstream_ports 1024-65535 upstream_allow 127.0.0.1 "$@"
}
conf "$T/ocspxy.conf"
CONF=$T/ocspxy.conf

for l in good1 revoked1 short1 good2; do
	t_reqout "$(t_crt "$l")" "$(t_issuer "$l")" "$T/req-$l.der"
done
K1=$(t_kleaf good1)
KR=$(t_kleaf revoked1)
KS=$(t_kleaf short1)
K2=$(t_kleaf good2)
KP=${K1%0x*}0x # ca1's keys: KP<hex serial>

hset() { rcli hset "$@" >/dev/null; }

# between LO X HI: LO <= X <= HI (X a whole number).
between()
{
	[[ $2 =~ ^-?[0-9]+$ ]] && [ "$2" -ge "$1" ] && [ "$2" -le "$3" ]
}

# refresh NAME [CONF]: one --once pass, stderr in $T/run-NAME.err; sets RC.
refresh()
{
	timeout -k 2 40 "$RB" -c "${2:-$CONF}" --once -v \
	    2>"$T/run-$1.err" </dev/null
	RC=$?
}

# hanging NAME CONF N [ARG]: starts the daemon on CONF in the background
# (pid in pd, stderr in $T/run-NAME.err) and waits, at most 5 s, until
# the fake "hang" has seen N more requests (f0: its count before).
hanging()
{
	local i
	f0=$(t_fake_count hang)
	"$RB" -c "$2" ${4:+"$4"} -v 2>"$T/run-$1.err" </dev/null &
	pd=$!
	_t_record "$pd"
	for i in $(seq 1 50); do
		[ "$(t_fake_count hang)" -ge $((f0 + $3)) ] && break
		sleep 0.1
	done
}

# ends PID N: PID exits within N tenths of a second: 0 with its exit
# status in RC; else 1, and it is killed.
ends()
{
	local i
	for i in $(seq 1 "$2"); do
		_t_alive "$1" || break
		sleep 0.1
	done
	if _t_alive "$1"; then
		t_kill "$1"
		return 1
	fi
	wait "$1"
	RC=$?
	_t_forget "$1"
}

# summary NAME: the pass's summary line, "N entries, ... removed" part.
summary()
{
	grep -o 'refresh pass: .* removed' "$T/run-$1.err" | tail -1
}

# snap KEY OUT: the fields a failed or skipped refresh must not touch.
snap()
{
	t_redis_snapshot "$1" "$2" ocsp_responder request response thisupd \
	    nextupd status
}

# logline NAME KEY WORD: a line of run NAME names KEY and contains WORD.
logline()
{
	grep -F -- "$2" "$T/run-$1.err" | grep -qi -- "$3"
}

# A Python helper that writes Redis protocol for redis-cli --pipe: copies
# of a real entry under other serials, or DELs of them.
cat >"$T/gen.py" <<'EOF'
import sys
def cmd(*a):
    out = [b"*%d\r\n" % len(a)]
    for x in a:
        if isinstance(x, str):
            x = x.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(out)
mode = sys.argv[1]
if mode == "copy":
    # copy PREFIX START COUNT NDUE RESPONDER REQ RESP THISUPD NEXTUPD NOW
    (pre, start, count, ndue, responder, reqf, respf, tu, nu,
     now) = sys.argv[2:]
    start, count, ndue = int(start, 16), int(count), int(ndue)
    req = open(reqf, "rb").read()
    resp = open(respf, "rb").read()
    w = sys.stdout.buffer
    for i in range(count):
        key = "%s%x" % (pre, start + i)
        lc = "1000" if i < ndue else now
        w.write(cmd("HSET", key, "ocsp_responder", responder, "request",
                    req, "response", resp, "thisupd", tu, "nextupd", nu,
                    "status", "good", "nonce", "0", "lastchecked", lc))
        w.write(cmd("EXPIRE", key, "86400"))
else:
    # del PREFIX START COUNT
    pre, start, count = sys.argv[2], int(sys.argv[3], 16), int(sys.argv[4])
    for i in range(count):
        sys.stdout.buffer.write(cmd("UNLINK", "%s%x" % (pre, start + i)))
EOF

# copies START COUNT NDUE [RESPONDER]: COUNT copies of good1's entry
# under KP<START + i> (hex), the first NDUE of them due (lastchecked 1000),
# the others fresh.  Uses good1's current response, thisupd and nextupd.
copies()
{
	t_redis_field "$K1" request "$T/copy.req" &&
	    t_redis_field "$K1" response "$T/copy.resp" || return 1
	python3 "$T/gen.py" copy "$KP" "$1" "$2" "$3" "${4:-$H1}" \
	    "$T/copy.req" "$T/copy.resp" "$(t_hget "$K1" thisupd)" \
	    "$(t_hget "$K1" nextupd)" "$(t_now)" >"$T/copy.proto" || return 1
	rcli --pipe <"$T/copy.proto" >"$T/copy.out" 2>&1
	grep -q 'errors: 0,' "$T/copy.out"
}

uncopies()
{
	python3 "$T/gen.py" del "$KP" "$1" "$2" >"$T/del.proto" &&
	    rcli --pipe <"$T/del.proto" >/dev/null 2>&1
}

# ---------------------------------------------------------------- fill
t_note "fill the cache: ocspxy-fcgi as a CGI program, one miss per leaf"
for l in good1 revoked1 short1 good2; do
	t_cgi_leaf "$T/fill-$l" "$l"
	case $l in revoked1) st=revoked ;; *) st=good ;; esac
	if t_vleaf "$T/fill-$l.body" "$l" "$st" &&
	    t_exists "$(t_kleaf "$l")"; then
		ok "fill $l: CGI answer verified ($st), entry stored"
	else
		fail "fill $l: CGI answer or entry missing (see $T/cgi.err)"
		t_done
	fi
done
check "fill: stored entries have a one-day nextUpdate" \
    test $(($(t_hget "$K1" nextupd) - $(t_hget "$K1" thisupd))) -eq 86400
sleep 1.1 # thisUpdate has 1 s resolution: a refresh now signs a new one

# ---------------------------------------------------------------- 1
t_note "1: due entries are refreshed, the others left alone"
T1=$(t_hget "$K1" thisupd)
T2=$(t_hget "$K2" thisupd)
t_redis_field "$K1" response "$T/c1-old1.der"
n=$(t_now)
# good1 past half its validity, last checked two hours ago: due.
hset "$K1" thisupd $((n - 50000)) nextupd $((n + 36400)) lastchecked $((n - 7200))
# good2 within refresh_min_age of its nextUpdate, checked just now: due.
hset "$K2" nextupd $((n + 600))
# short1 past half but checked a minute ago: not due; revoked1 fresh.
hset "$KS" thisupd $((n - 50000)) nextupd $((n + 36400)) lastchecked $((n - 60))
t_redis_snapshot "$KR" "$T/c1-r.before"
t_redis_snapshot "$KS" "$T/c1-s.before"
c1=$(t_responder_count r1)
c2=$(t_responder_count r2)
refresh c1
check "1: --once exits 0 (every due entry refreshed)" test "$RC" = 0
tu=$(t_hget "$K1" thisupd)
check "1: good1 thisupd newer than before ($T1 -> $tu)" test "${tu:-0}" -gt "$T1"
t_redis_field "$K1" response "$T/c1-new1.der"
check "1: good1 new response stored (bytes differ)" \
    ! cmp -s "$T/c1-old1.der" "$T/c1-new1.der"
check "1: good1 stored response: Response verify OK, good" \
    t_vleaf "$T/c1-new1.der" good1 good
read -r rtu rnu <<<"$(t_resp_times "$T/c1-new1.der")"
check "1: good1 thisupd/nextupd = the new response's ($rtu $rnu)" \
    test "$tu $(t_hget "$K1" nextupd)" = "$rtu $rnu"
check "1: good1 lastchecked ~ now" between $((n - 1)) "$(t_hget "$K1" lastchecked)" $(($(t_now) + 1))
check "1: good1 failures 0" test "$(t_hget "$K1" failures)" = 0
tu2=$(t_hget "$K2" thisupd)
t_redis_field "$K2" response "$T/c1-new2.der"
check "1: good2 (near nextUpdate, delegated signer, /ca2/) refreshed ($T2 -> $tu2)" \
    test "${tu2:-0}" -gt "$T2"
check "1: good2 stored response: Response verify OK, good" \
    t_vleaf "$T/c1-new2.der" good2 good
t_redis_snapshot "$KR" "$T/c1-r.after"
t_redis_snapshot "$KS" "$T/c1-s.after"
check "1: revoked1 (fresh) untouched, every field" cmp -s "$T/c1-r.before" "$T/c1-r.after"
check "1: short1 (past half, checked 60 s ago) untouched, every field" \
    cmp -s "$T/c1-s.before" "$T/c1-s.after"
check "1: responder ca1 served exactly 1 request" \
    test "$(t_responder_count r1)" -eq $((c1 + 1))
check "1: responder ca2 served exactly 1 request" \
    test "$(t_responder_count r2)" -eq $((c2 + 1))
check "1: a log line names good1 as refreshed, with its nextUpdate" \
    logline c1 "$K1" 'refreshed.*nextUpdate'
check "1: summary: 4 entries, 2 due, 2 refreshed ($(summary c1))" \
    test "$(summary c1)" = "refresh pass: 4 entries, 2 due, 2 refreshed, 0 failed, 0 skipped, 0 removed"

# ---------------------------------------------------------------- 2
t_note "2: responder down: the entry is kept and still served"
hset "$K1" lastchecked 1000
snap "$K1" "$T/c2.before"
t_responder_stop r1
n=$(t_now)
refresh c2
check "2: --once exits 1 (responder down)" test "$RC" = 1
snap "$K1" "$T/c2.after"
check "2: response, request, thisupd, nextupd, responder, status byte-identical" \
    cmp -s "$T/c2.before" "$T/c2.after"
check "2: failures = 1" test "$(t_hget "$K1" failures)" = 1
check "2: lasttry = now" between "$n" "$(t_hget "$K1" lasttry)" $(($(t_now) + 1))
check "2: lasterror set ($(t_hget "$K1" lasterror))" test -n "$(t_hget "$K1" lasterror)"
check "2: TTL still set ($(rcli ttl "$K1"))" test "$(rcli ttl "$K1")" -gt 0
check "2: log line names good1 and the failure" logline c2 "$K1" fail
t_cgi_leaf "$T/c2-cgi" good1
check "2: ocspxy-fcgi (CGI) serves the cached response: verify OK, good" \
    t_vleaf "$T/c2-cgi.body" good1 good
t_redis_field "$K1" response "$T/c2-stored.der"
check "2: ... the stored bytes" cmp -s "$T/c2-cgi.body" "$T/c2-stored.der"
refresh c2b
check "2: right after the failure, back-off: nothing due, exit 0" test "$RC" = 0
check "2: ... failures still 1" test "$(t_hget "$K1" failures)" = 1
t_responder_start r1 ca1 "$PKI_PORT1" -ndays 1 || { fail "responder ca1 restart"; t_done; }
c1=$(t_responder_count r1)
hset "$K1" lasttry $(($(t_now) - 100000)) # back-off long passed
tu=$(t_hget "$K1" thisupd)
sleep 2.6 # and the responder's breaker's (2 s +-25 %): one trial now
refresh c2c
check "2: responder back, back-off passed: --once exits 0" test "$RC" = 0
check "2: failures back to 0, lasterror empty" \
    test "$(t_hget "$K1" failures)/$(t_hget "$K1" lasterror)" = 0/
check "2: good1 refreshed (thisupd $tu -> $(t_hget "$K1" thisupd))" \
    test "$(t_hget "$K1" thisupd)" -gt "$tu"
check "2: responder served exactly 1 request" \
    test "$(t_responder_count r1)" -eq $((c1 + 1))
T1=$(t_hget "$K1" thisupd)
t_redis_field "$K1" response "$T/good1.cur"

# ---------------------------------------------------------------- 3
t_note "3: bad upstream answers never replace the stored response"
t_redis_field "$KR" response "$T/other.der" # valid, for revoked1
t_bad_responses "$T/good1.cur" "$T/bad" -ndays 1
# nonce.der (echoes a request nonce) and nonext.der (no nextUpdate): made
# offline by `openssl ocsp -reqin`, genuine ca1 signatures.
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$T/req-nonce.der" -nonce
for f in nonce:"$T/req-nonce.der":"-nmin 600" nonext:"$T/req-good1.der":; do
	IFS=: read -r n rq extra <<<"$f"
	# shellcheck disable=SC2086
	$OPENSSL ocsp -index "$T/pki/ca1/index.txt" -rsigner "$T/pki/ca1/ca.crt" \
	    -rkey "$T/pki/ca1/ca.key" -CA "$T/pki/ca1/ca.crt" -reqin "$rq" \
	    -respout "$T/$n.der" $extra >/dev/null 2>&1
done
# resp_has FILE TEXT: the response's text form mentions TEXT.
resp_has()
{
	$OPENSSL ocsp -respin "$1" -resp_text -noverify 2>/dev/null | grep -q "$2"
}
check "3: fixture nonce.der is signed by ca1" t_vsig "$T/nonce.der" good1
check "3: ... and carries a nonce" resp_has "$T/nonce.der" 'OCSP Nonce'
check "3: fixture nonext.der is signed by ca1" t_vsig "$T/nonext.der" good1
check "3: ... and has no nextUpdate" ! resp_has "$T/nonext.der" 'Next Update'
# Signatures can only be checked against a known issuer: those two cases
# run with ca1's certificate in the config.
conf "$T/issuer.conf" issuer "$T/pki/ca1/ca.crt"
FAILS=$(t_hget "$K1" failures)
for mode in garbage http500 file:$T/other.der file:$T/bad/expired.der \
    file:$T/bad/future.der file:$T/nonce.der file:$T/nonext.der \
    file:$T/bad/badsig.der file:$T/bad/forged.der; do
	name=${mode##*/}
	name=${name%.der}
	case $name in
	badsig|forged) cf=$T/issuer.conf what="$name (issuer configured)" ;;
	other) cf=$CONF what="valid for revoked1" ;;
	nonce) cf=$CONF what="valid, with a nonce" ;;
	nonext) cf=$CONF what="valid, no nextUpdate" ;;
	*) cf=$CONF what=$name ;;
	esac
	port=$(t_port)
	t_fake_start "$name" "$port" "$mode" || { fail "fake upstream $mode"; continue; }
	hset "$K1" ocsp_responder "127.0.0.1:$port" lasttry 1000 lastchecked 1000
	snap "$K1" "$T/c3-$name.before"
	refresh "c3-$name" "$cf"
	snap "$K1" "$T/c3-$name.after"
	f=$(t_hget "$K1" failures)
	d=$(cmp -s "$T/c3-$name.before" "$T/c3-$name.after" && echo same || echo CHANGED)
	check "3: $what: exit 1, fake asked once, stored fields $d, failures $FAILS -> $f" \
	    test "$RC/$(t_fake_count "$name")/$d/$f" = "1/1/same/$((FAILS + 1))"
	check "3: $what: lasterror says why ($(t_hget "$K1" lasterror))" \
	    test -n "$(t_hget "$K1" lasterror)"
	FAILS=$f
	t_fake_stop "$name"
done
# The same answer without nextUpdate, fetched by a client (no-cache, so
# that good1's entry is not the answer) through ocspxy-fcgi: passed on,
# not stored, and the log says so plainly.
port=$(t_port)
if t_fake_start nonext-cgi "$port" "file:$T/nonext.der"; then
	: >"$T/cgi.err"
	PQ_HOST=127.0.0.1:$port t_cgi_leaf "$T/nonext-cgi" good1 \
	    HTTP_CACHE_CONTROL=no-cache
	cp "$T/nonext-cgi.body" "$T/nonext-cgi.der"
	check "3: a client's answer without nextUpdate is passed on (verifies)" \
	    t_vleaf "$T/nonext-cgi.der" good1 good
	check "3: ... the log says 'no nextUpdate', not a negative time" \
	    bash -c "grep -q 'no nextUpdate, not stored' '$T/cgi.err' &&
		! grep -q 'in -1s' '$T/cgi.err'"
	t_fake_stop nonext-cgi
else
	fail "3: fake upstream nonext-cgi"
fi
t_redis_field "$K1" response "$T/c3.end"
check "3: good1's response is still the last good one" cmp -s "$T/good1.cur" "$T/c3.end"
hset "$K1" ocsp_responder "$H1" failures 0 lasterror "" lastchecked "$(t_now)"

# ---------------------------------------------------------------- 4
t_note "4: an older response never replaces a newer one"
future=$(($(t_now) + 100000))
hset "$K1" thisupd "$future" lastchecked 1000 # nextupd <= thisupd: due
snap "$K1" "$T/c4.before"
c1=$(t_responder_count r1)
refresh c4
check "4: --once exits 1 (fetched but not stored)" test "$RC" = 1
check "4: the responder was asked (1 request)" \
    test "$(t_responder_count r1)" -eq $((c1 + 1))
snap "$K1" "$T/c4.after"
check "4: response and thisupd (in the future) unchanged" cmp -s "$T/c4.before" "$T/c4.after"
check "4: the log says the stored response is newer" logline c4 "$K1" newer
hset "$K1" thisupd "$T1" failures 0 lasterror "" lastchecked "$(t_now)"

# ---------------------------------------------------------------- 7
t_note "7: SIGTERM during a pass; corrupt entries removed"
# Three due entries, all at a fake that never answers, fetched one at a
# time, under their own prefix so that the pass sees nothing else: when
# SIGTERM comes, one fetch is in flight and two are still to start.
FH=$(t_port)
t_fake_start hang "$FH" hang || fail "7: fake upstream (hang)"
conf "$T/hang.conf" upstream_timeout 5 refresh_interval 3600 \
    refresh_concurrency 1 refresh_workers 1 prefix ocspxyt_
KP0=$KP
KP=ocspxyt_${KP#ocspxy_}
copies c00000 3 3 "127.0.0.1:$FH" || fail "7: could not make 3 due copies"
hanging c7 "$T/hang.conf" 1
sleep 1
check "7: a fetch hangs in flight (fake saw $(t_fake_count hang) request)" \
    test "$(t_fake_count hang)" = 1
s=$(date +%s.%N)
kill -TERM "$pd"
if ends "$pd" 100; then
	el=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	check "7: exits 0 after SIGTERM (exit $RC)" test "$RC" = 0
	check "7: ... within 6 s ($el s; upstream_timeout 5)" \
	    awk -v e="$el" 'BEGIN { exit !(e <= 6.5) }'
else
	fail "7: still running 10 s after SIGTERM"
fi
check "7: no fetch started after SIGTERM (fake saw $(t_fake_count hang))" \
    test "$(t_fake_count hang)" = 1
check "7: log says stopped" grep -q stopped "$T/run-c7.err"

# The same with three workers (one fetch each in flight): SIGTERM reaches
# them all; then SIGKILL of the daemon alone takes its workers down too.
# A fake of its own: the first one's timed-out fetch opened its breaker.
# upstream_timeout 6: on a slow machine (the sanitizer pass) the third
# worker's fetch must start before the first one's timeout opens the
# breaker again and ends the others' pass; the SIGTERM lets the fetches
# in flight run out, within gone's 8 s.
t_fake_stop hang
FH=$(t_port)
t_fake_start hang "$FH" hang || fail "7: fake upstream (hang, 3 workers)"
conf "$T/hang3.conf" upstream_timeout 6 refresh_interval 3600 \
    refresh_concurrency 1 refresh_workers 3 prefix ocspxyt_
uncopies c00000 3
copies c00000 30 30 "127.0.0.1:$FH" || fail "7: could not make 30 due copies"
# run7 NAME [CONF]: starts the daemon on CONF (hang3.conf); sets pd and
# WORKERS once
# three fetches hang
run7()
{
	hanging "$1" "${2:-$T/hang3.conf}" 3
	sleep 0.5
	WORKERS=$(pgrep -P "$pd" | tr '\n' ' ')
}
# gone PID...: all exit within 8 s
gone()
{
	local i p left
	for i in $(seq 1 80); do
		left=
		for p in "$@"; do
			_t_alive "$p" && left="$left $p"
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	return 1
}
run7 c7w
# shellcheck disable=SC2086 # a list of pids
set -- $WORKERS
check "7: refresh_workers 3: three workers, three fetches in flight" \
    test "$#/$(($(t_fake_count hang) - f0))" = 3/3
kill -TERM "$pd"
# shellcheck disable=SC2086
if gone "$pd" $WORKERS; then
	wait "$pd"
	rc=$?
	_t_forget "$pd"
	check "7: SIGTERM: the daemon and its workers end (exit $rc)" \
	    test "$rc" = 0
else
	fail "7: SIGTERM: still running 8 s later:$(for p in "$pd" $WORKERS; do _t_alive "$p" && echo " $p"; done)"
	# shellcheck disable=SC2086
	t_kill "$pd" $WORKERS
fi
check "7: ... no fetch started after SIGTERM (fake saw $(($(t_fake_count hang) - f0)))" \
    test "$(($(t_fake_count hang) - f0))" = 3
# The fetches the SIGTERM let run out timed out and opened the fake's
# breaker, and their entries back off: this run is about the workers, so
# it starts afresh, with a fake of its own and due copies of their own.
uncopies c00000 30
t_fake_stop hang
FH=$(t_port)
t_fake_start hang "$FH" hang || fail "7: fake upstream (hang, SIGKILL)"
copies e00000 30 30 "127.0.0.1:$FH" || fail "7: could not make 30 due copies"
# (upstream_timeout 6: no fetch ends, and opens the breaker, which ends
# the workers' pass, before they are counted; after the SIGKILL they
# drain for at most that long, within gone's 8 s.)
run7 c7k
# shellcheck disable=SC2086
set -- $WORKERS
check "7: refresh_workers 3 again: three workers ($#)" test "$#" = 3
kill -KILL "$pd"
wait "$pd" 2>/dev/null
_t_forget "$pd"
# shellcheck disable=SC2086
if gone $WORKERS; then
	ok "7: SIGKILL of the daemon: its workers end too"
else
	fail "7: SIGKILL of the daemon: workers left running: $WORKERS"
	# shellcheck disable=SC2086
	t_kill $WORKERS
fi
t_fake_stop hang
uncopies e00000 30
KP=$KP0
KC1=${KP}d00001
KC2=${KP}d00002
KC3=${KP}d00003
hset "$KC1" response garbage
rcli -x hset "$KC2" request <"$T/req-good1.der" >/dev/null
hset "$KC3" request "not DER at all" ocsp_responder "$H1"
KC4=${KP}d00004
rcli set "$KC4" "a string, not a hash" >/dev/null
rcli set "${KP%0x}" "not an entry" >/dev/null
rcli set ocspxy_other "not an entry" >/dev/null
refresh c7b
t_note "7: corrupt pass: exit $RC; $(summary c7b)"
for k in "$KC1:only a response" "$KC2:no ocsp_responder" "$KC3:request not DER"; do
	check "7: corrupt entry ($k) removed" test "$(rcli exists "${k%%:*}")" = 0
	check "7: ... the log names it" grep -qF -- "${k%%:*}" "$T/run-c7b.err"
done
check "7: keys that are not entries left alone" \
    test "$(rcli exists "${KP%0x}" ocspxy_other)" = 2
check "7: summary: 3 removed" grep -q ' 3 removed' "$T/run-c7b.err"
check "7: a string under an entry's name: left alone" \
    test "$(rcli get "$KC4")" = "a string, not a hash"
check "7: ... the log names it and why" logline c7b "$KC4" WRONGTYPE
check "7: ... and the pass goes on (exit $RC, not cut short)" \
    eval '[ "$RC" = 0 ] && ! grep -q "cut short" "$T/run-c7b.err"'
rcli del "${KP%0x}" ocspxy_other "$KC4" >/dev/null

# ---------------------------------------------------------------- 5
t_note "5: 10,000 entries walked with SCAN, only the due ones fetched"
if copies a00000 10000 20; then
	ok "5: 10,000 copies of good1's entry made (20 due)"
else
	fail "5: could not make the copies ($(tail -2 "$T/copy.out"))"
fi
lc=$(t_hget "${KP}a00020" lastchecked)
c1=$(t_responder_count r1)
rcli config resetstat >/dev/null
# three workers, each its share of the keys: every entry seen once
conf "$T/w3.conf" refresh_workers 3
s=$(date +%s.%N)
refresh c5 "$T/w3.conf"
el=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
rcli info commandstats >"$T/c5.stats"
t_note "5: pass took $el s; $(summary c5)"
check "5: --once exits 0" test "$RC" = 0
scans=$(sed -n 's/^cmdstat_scan:calls=\([0-9]*\),.*/\1/p' "$T/c5.stats" | tr -d '\r')
check "5: SCAN used ($scans calls)" test "${scans:-0}" -gt 0
check "5: KEYS never used" ! grep -q '^cmdstat_keys:' "$T/c5.stats"
check "5: responder served exactly 20 requests ($(($(t_responder_count r1) - c1)))" \
    test "$(t_responder_count r1)" -eq $((c1 + 20))
check "5: summary: 10004 entries, 20 due, 20 refreshed" \
    test "$(summary c5)" = "refresh pass: 10004 entries, 20 due, 20 refreshed, 0 failed, 0 skipped, 0 removed"
check "5: a due copy was refreshed under its own key" \
    between "$(($(t_now) - 60))" "$(t_hget "${KP}a00000" lastchecked)" "$(t_now)"
check "5: a fresh copy was left alone" test "$(t_hget "${KP}a00020" lastchecked)" = "$lc"
uncopies a00000 10000
check "5: copies removed" test "$(rcli --scan --pattern "${KP}a0*" | wc -l)" = 0

# ---------------------------------------------------------------- 6
t_note "6: two daemons on one Redis fetch each due entry once"
conf "$T/conc2.conf" refresh_concurrency 2
copies b00000 30 30 || fail "6: could not make 30 due copies"
c1=$(t_responder_count r1)
timeout -k 2 40 "$RB" -c "$T/conc2.conf" --once -v 2>"$T/run-c6a.err" </dev/null &
pa=$!
timeout -k 2 40 "$RB" -c "$T/conc2.conf" --once -v 2>"$T/run-c6b.err" </dev/null &
pb=$!
_t_record "$pa"
_t_record "$pb"
wait "$pa"
ra=$?
wait "$pb"
rb=$?
_t_forget "$pa"
_t_forget "$pb"
t_note "6: A: $(summary c6a); B: $(summary c6b)"
check "6: both exit 0 ($ra, $rb)" test "$ra/$rb" = 0/0
check "6: responder served exactly 30 requests ($(($(t_responder_count r1) - c1)))" \
    test "$(t_responder_count r1)" -eq $((c1 + 30))
nref=$(cat "$T/run-c6a.err" "$T/run-c6b.err" | sed -n 's/.* \([0-9]*\) refreshed,.*/\1/p' |
    awk '{ s += $1 } END { print s + 0 }')
check "6: the two passes refreshed 30 in all ($nref)" test "$nref" = 30
nok=0
for i in $(seq 0 29); do
	k=$KP$(printf %x $((0xb00000 + i)))
	[ "$(t_hget "$k" lastchecked)" -gt 1000 ] && [ "$(t_hget "$k" failures)" = 0 ] &&
	    nok=$((nok + 1))
done
check "6: all 30 entries refreshed ($nok)" test "$nok" = 30
uncopies b00000 30

# ---------------------------------------------------------------- 8
t_note "8: daemon mode, refresh_interval 1, SIGHUP"
conf "$T/d.conf" refresh_interval 1
hset "$K1" lastchecked 1000
c1=$(t_responder_count r1)
start=$(t_now)
start8=$start
"$RB" -c "$T/d.conf" 2>"$T/run-c8.err" </dev/null &
pd=$!
_t_record "$pd"
# refreshed: lastchecked moved to now
refreshed_since()
{
	local i
	for i in $(seq 1 60); do
		[ "$(t_hget "$K1" lastchecked)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
check "8: the daemon refreshes a due entry within 6 s" refreshed_since "$start"
check "8: ... with one request" test "$(t_responder_count r1)" -eq $((c1 + 1))
conf "$T/d.conf" refresh_interval abc
kill -HUP "$pd"
sleep 1.5
check "8: SIGHUP with a bad config: still running" _t_alive "$pd"
check "8: ... the log says the config could not be read" \
    grep -q "d.conf.*refresh_interval" "$T/run-c8.err"
start=$(t_now)
hset "$K1" lastchecked 1000
check "8: ... and it keeps refreshing with the old config" refreshed_since "$start"
conf "$T/d.conf" refresh_interval 2
kill -HUP "$pd"
sleep 1
check "8: SIGHUP with a good config: log says re-read" grep -q "re-read" "$T/run-c8.err"
kill -TERM "$pd"
if ends "$pd" 50; then
	check "8: SIGTERM when idle: exit 0 ($RC)" test "$RC" = 0
else
	fail "8: still running 5 s after SIGTERM"
fi
np=$(grep -c 'refresh pass: 4 entries, ' "$T/run-c8.err")
el=$(($(t_now) - start8))
check "8: a summary line per pass, about one a second ($np in $el s)" \
    test "$np" -ge $((el / 2)) -a "$np" -le $((el + 2))

# ---------------------------------------------------------------- 9
t_note "9: entry_ttl renewed by a refresh, not by a failure"
conf "$T/ttl.conf" entry_ttl 600
hset "$K1" lastchecked 1000
refresh c9 "$T/ttl.conf"
ttl=$(rcli ttl "$K1")
# the key outlives its response by entry_ttl: TTL = nextupd - now + 600
want=$(($(rcli hget "$K1" nextupd) - $(date +%s) + 600))
check "9: refreshed (exit $RC): TTL = nextUpdate - now + entry_ttl 600 ($ttl ~ $want)" \
    test "$RC" = 0 -a "$ttl" -ge $((want - 10)) -a "$ttl" -le $((want + 1))
F5=$(t_port)
t_fake_start h500 "$F5" http500 || fail "9: fake upstream (http500)"
rcli expire "$K1" 100 >/dev/null
hset "$K1" lastchecked 1000 ocsp_responder "127.0.0.1:$F5"
refresh c9b "$T/ttl.conf"
ttl=$(rcli ttl "$K1")
check "9: failed (exit $RC): TTL not renewed ($ttl <= 100)" \
    test "$RC" = 1 -a "$ttl" -gt 0 -a "$ttl" -le 100
t_fake_stop h500

# ---------------------------------------------------------------- 11
t_note "11: a responder the policy refuses: recorded like a failed fetch"
KP11=${KP}e00001
copies e00001 1 1 "127.0.0.1:1" || fail "11: could not make the copy"
refresh c11
check "11: --once exits 1" test "$RC" = 1
check "11: failures 1" test "$(t_hget "$KP11" failures)" = 1
check "11: lasterror says the port is refused ($(t_hget "$KP11" lasterror))" \
    eval 't_hget "$KP11" lasterror | grep -qi port'
check "11: the pass goes on (not cut short)" ! grep -q 'cut short' "$T/run-c11.err"
check "11: the lock is let go" test "$(rcli exists "ocspxy:lock:${KP11#ocspxy_}")" = 0
uncopies e00001 1

# ---------------------------------------------------------------- 10
t_note "10: Redis unreachable: said once, not once a worker"
# (t_conf's redis line comes first; the later one wins)
conf "$T/nored.conf" redis "unix:$T/no-redis.sock" refresh_workers 3
refresh c10 "$T/nored.conf"
check "10: --once exits 1" test "$RC" = 1
n=$(grep -c 'connect failed' "$T/run-c10.err")
check "10: one log line for the outage ($n)" test "$n" = 1
check "10: ... naming the socket and why" \
    grep -q "no-redis.sock: connect failed: No such file" "$T/run-c10.err"
check "10: the pass says it was cut short" grep -q 'cut short' "$T/run-c10.err"

# ---------------------------------------------------------------- 13
t_note "13: Redis closes the daemon's idle connection during slow fetches"
# Redis's client timeout (1 s) closes the worker's connection while two
# fetches take 3 s; the writes of their (unchanged) answers then go again
# on a new connection, and the pass ends as if nothing happened.
FS=$(t_port)
t_redis_field "$K1" response "$T/c13.der"
t_fake_start slow "$FS" "slow:$T/c13.der" || fail "13: fake upstream (slow)"
copies e00000 2 2 "127.0.0.1:$FS" || fail "13: could not make 2 due copies"
conf "$T/slow.conf" refresh_workers 1 upstream_timeout 6
c0=$(rcli info stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p')
rcli config set timeout 1 >/dev/null
refresh c13 "$T/slow.conf"
rcli config set timeout 0 >/dev/null
c1=$(rcli info stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p')
check "13: the pass succeeds: $(summary c13)" \
    eval '[ "$RC" = 0 ] && grep -q "2 refreshed, 0 failed" "$T/run-c13.err"'
check "13: ... both answers unchanged" grep -q "; 2 unchanged" "$T/run-c13.err"
check "13: ... both entries' lastchecked written" eval \
    'between "$(($(t_now) - 30))" "$(t_hget "${KP}e00000" lastchecked)" "$(t_now)" &&
     between "$(($(t_now) - 30))" "$(t_hget "${KP}e00001" lastchecked)" "$(t_now)"'
# (c1 - c0: the daemon's connections and three of redis-cli's)
check "13: ... on a connection made again ($((c1 - c0 - 3)) connections)" \
    test $((c1 - c0 - 3)) -ge 2
check "13: the fake was asked twice" test "$(t_fake_count slow)" = 2
t_fake_stop slow
uncopies e00000 2

# ---------------------------------------------------------------- 12
t_note "12: Redis SIGKILLed during a pass: the pass ends, the outage said once"
# Four due entries at a fake that never answers: their locks and reads
# are answered and their fetches hang; Redis dies before they time out
# (upstream_timeout 8, the wait for them at most 5 s), so the writes of
# their failures meet a dead connection.
FK=$(t_port)
t_fake_start hang "$FK" hang || fail "12: fake upstream (hang)"
copies f00000 4 4 "127.0.0.1:$FK" || fail "12: could not make 4 due copies"
conf "$T/kill.conf" upstream_timeout 8 refresh_workers 1
hanging c12 "$T/kill.conf" 4 --once
check "12: fetches hang in flight ($(t_fake_count hang) of 4)" \
    test "$(t_fake_count hang)" -ge 1
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
_t_forget "$REDIS_PID"
REDIS_PID=
if ends "$pd" 150; then
	check "12: exits 1, not by a signal (exit $RC)" test "$RC" = 1
else
	fail "12: still running 15 s after Redis died (upstream_timeout 8)"
fi
n=$(grep -c 'going on without the cache' "$T/run-c12.err")
check "12: one log line for the outage ($n)" test "$n" = 1
check "12: the pass says it was cut short" grep -q 'cut short' "$T/run-c12.err"
check "12: ... after its four fetches timed out" \
    test "$(grep -c 'refresh failed: .*timed out' "$T/run-c12.err")" = 4
t_fake_stop hang
t_redis_start || fail "12: redis-server does not start again"

t_done
