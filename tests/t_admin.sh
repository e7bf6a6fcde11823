#!/bin/bash
# t_admin.sh: the operator command build/ocspxy (warm, status, prune,
# refresh, export) against a real Redis and real `openssl ocsp` responders
# (ca1: the CA signs its own responses, at /; ca2: a delegated signer,
# under /ca2/; both give nextUpdate = now + 1 h, -nmin 60).  The
# responder of a certificate is the one in its AIA (lib.sh's leaves point
# at 127.0.0.1:$PKI_PORT1/ and 127.0.0.1:$PKI_PORT2/ca2/).  Every stored
# or exported response is checked with `openssl ocsp -respin ... -CAfile`
# (Response verify OK), every figure `status` prints against
# `openssl ocsp -respin ... -resp_text`.  Then: nginx staples from a file
# `ocspxy export` wrote, with the responder stopped.  Last (6): a leaf
# given alone, found by a configured issuer or by its cached entry.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

OX=$OCSPXY_BUILD/ocspxy
t_built ocspxy

t_base
DEAD=$(t_port) # nothing listens there
# a ca1 leaf whose AIA names a responder that is down
_t_leaf ca1 dead1 0x1006 "http://127.0.0.1:$DEAD/" V ||
    { fail "test PKI: dead1"; t_done; }
check "TLS certificate for localhost (ca1), OCSP URL http://127.0.0.1:$PKI_PORT1/" \
    tf_tls_leaf tls 0x1010 || t_done
t_responder_start r1 ca1 "$PKI_PORT1" || { fail "responder ca1"; t_done; }
t_responder_start r2 ca2 "$PKI_PORT2" || { fail "responder ca2"; t_done; }
H1=127.0.0.1:$PKI_PORT1
H2=127.0.0.1:$PKI_PORT2/ca2/
CA1=$T/pki/ca1
CA2=$T/pki/ca2
# No issuer lines: warm verifies against the issuers it is given.
t_conf "$T/ocspxy.conf"
CONF=$T/ocspxy.conf

# ox NAME ARGS...: build/ocspxy -c CONF ARGS, stdout in $T/NAME.out,
# stderr in $T/run-NAME.err; sets RC.
ox()
{
	local name=$1
	shift
	timeout -k 2 30 "$OX" -c "$CONF" "$@" >"$T/$name.out" \
	    2>"$T/run-$name.err" </dev/null
	RC=$?
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# line FILE NAME: the output line of FILE whose first column is NAME.
line() { awk -F'\t' -v n="$2" '$1 == n' "$1"; }

# col N: field N of the tab-separated line on stdin.
col() { cut -d"$(printf '\t')" -f"$1"; }

# respinfo FILE: sets RT_TU RT_NU (unix) and RT_ST from the first single
# response of FILE as `openssl ocsp -resp_text` prints it.
respinfo()
{
	local txt tu nu
	txt=$($OPENSSL ocsp -respin "$1" -resp_text -noverify 2>/dev/null)
	tu=$(echo "$txt" | sed -n 's/^ *This Update: //p' | head -1)
	nu=$(echo "$txt" | sed -n 's/^ *Next Update: //p' | head -1)
	RT_ST=$(echo "$txt" | sed -n 's/^ *Cert Status: //p' | head -1)
	RT_TU=$(date -u -d "$tu" +%s 2>/dev/null)
	RT_NU=$(date -u -d "$nu" +%s 2>/dev/null)
	[ -n "$RT_TU" ] && [ -n "$RT_NU" ] && [ -n "$RT_ST" ]
}

# stored_ok LEAF EXPECT RESPONDER: LEAF's entry exists under t_kleaf,
# its response verifies with openssl (status EXPECT) and names RESPONDER.
stored_ok()
{
	local leaf=$1 key
	key=$(t_kleaf "$leaf")
	if ! t_exists "$key"; then
		fail "$leaf: no entry $key in Redis"
		return 1
	fi
	t_redis_field "$key" response "$T/$leaf.stored.der"
	check "$leaf: entry $key holds a response that verifies ($2, Response verify OK)" \
	    t_vleaf "$T/$leaf.stored.der" "$leaf" "$2"
	check "$leaf: entry names the AIA responder $3" \
	    test "$(t_hget "$key" ocsp_responder)" = "$3"
}

K1=$(t_kleaf good1)
KR1=$(t_kleaf revoked1)
KS1=$(t_kleaf short1)
K2=$(t_kleaf good2)
KR2=$(t_kleaf revoked2)
KD=$(t_kleaf dead1)
KT=$(t_key "$CA1/ca.crt" "$CA1/tls.crt")

# ---------------------------------------------------------------- 0 command line
t_note "0: command line"
ox c1 bogus
check "an unknown command: exit 2, the usage lists every command" \
    bash -c '[ "$1" = 2 ] && grep -q "^usage: ocspxy" "$2" &&
	for c in warm status prune refresh export; do
		grep -q "^  $c " "$2" || exit 1; done' _ "$RC" "$T/run-c1.err"
ox c2 status -v
check "-v after the command: exit 2, the log says it goes before" \
    bash -c '[ "$1" = 2 ] && grep -q "error: -v goes before the command" "$2"' \
    _ "$RC" "$T/run-c2.err"
ox c3 --json status
check "--json before the command: exit 2, the log says it goes after" \
    bash -c '[ "$1" = 2 ] && grep -q "error: the command.s options go after it" "$2"' \
    _ "$RC" "$T/run-c3.err"
ox c4 status -- --json
check "status -- --json: --json is an argument after --, neither a file nor a key: exit 2" \
    bash -c '[ "$1" = 2 ] && grep -q "error: --json: neither a file" "$2"' \
    _ "$RC" "$T/run-c4.err"
timeout 10 "$OX" -c "$T/none.conf" status >/dev/null 2>"$T/run-c5.err" </dev/null
check "-c of a missing file: exit 2, one log line naming it" \
    bash -c '[ "$1" = 2 ] && [ "$(wc -l <"$2")" = 1 ] && grep -qF "$3" "$2"' \
    _ "$?" "$T/run-c5.err" "$T/none.conf"

# ---------------------------------------------------------------- 1 warm
t_note "1: warm"
ox usage warm
check "warm without a certificate: exit 2 (usage)" test "$RC" = 2

ox w1 warm "$CA1/good1.crt" "$CA1/ca.crt"
check "warm good1.crt ca1.crt (leaf + issuer): exit 0" test "$RC" = 0
l=$(line "$T/w1.out" "$CA1/good1.crt")
check "warm prints one line, for good1 only (the issuer is not a target)" \
    test "$(wc -l <"$T/w1.out")" = 1 -a -n "$l"
check "warm line: key $K1" test "$(echo "$l" | col 2)" = "$K1"
check "warm line: status good" test "$(echo "$l" | col 3)" = good
check "warm line: stored, verified (against the issuer given)" \
    test "$(echo "$l" | col 5)" = "stored, verified"
stored_ok good1 good "$H1"
if respinfo "$T/good1.stored.der"; then
	check "warm line: nextUpdate $(iso "$RT_NU") (the response's Next Update)" \
	    test "$(echo "$l" | col 4)" = "$(iso "$RT_NU")"
else
	fail "good1: openssl -resp_text gives no times"
fi

# --json escapes what it writes: a file name with a quote, a backslash, a tab
QN=$T/$'q"uo\\te\tx.crt'
cp "$CA1/good1.crt" "$QN"
ox wj warm --json "$QN" "$CA1/ca.crt"
check "warm --json of a file named with \", \\ and a tab: exit 0, one line of valid JSON naming the file" \
    python3 -c 'import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
assert len(o) == 1, o
o = o[0]
assert o["name"] == sys.argv[2] and o["key"] == sys.argv[3], o
assert o["status"] == "good" and o["result"] == "stored, verified", o
assert sorted(o) == ["key", "name", "nextupd", "result", "status"], o
assert sys.argv[4] == "0", sys.argv[4]' "$T/wj.out" "$QN" "$K1" "$RC"

cat "$CA2/good2.crt" "$CA2/ca.crt" >"$T/good2-chain.pem"
ox w2 warm "$T/good2-chain.pem"
check "warm good2-chain.pem (leaf + issuer in one file, delegated signer): exit 0" \
    test "$RC" = 0
l=$(line "$T/w2.out" "$T/good2-chain.pem")
check "warm chain: key $K2, good, stored, verified" \
    test "$(echo "$l" | col 2) $(echo "$l" | col 3) $(echo "$l" | col 5)" = \
    "$K2 good stored, verified"
stored_ok good2 good "$H2"

mkdir -p "$T/certdir"
cp "$CA1/revoked1.crt" "$CA1/short1.crt" "$CA1/ca.crt" "$T/certdir/"
cp "$CA1/unknown1.crt" "$T/certdir/unknown1.cer"
echo "not a certificate" >"$T/certdir/README.txt"
ox w3 warm "$T/certdir"
check "warm DIR (revoked1.crt short1.crt unknown1.cer ca.crt README.txt): exit 0" \
    test "$RC" = 0
check "warm DIR: three lines (ca.crt is an issuer, README.txt ignored)" \
    test "$(wc -l <"$T/w3.out")" = 3
check "warm DIR: revoked1 revoked, stored, verified" \
    test "$(line "$T/w3.out" "$T/certdir/revoked1.crt" | col 2,3,5)" = \
    "$KR1	revoked	stored, verified"
check "warm DIR: short1 good, stored" \
    test "$(line "$T/w3.out" "$T/certdir/short1.crt" | col 2,3)" = "$KS1	good"
check "warm DIR: unknown1.cer unknown, stored" \
    test "$(line "$T/w3.out" "$T/certdir/unknown1.cer" | col 3)" = unknown
stored_ok revoked1 revoked "$H1"
stored_ok short1 good "$H1"
check "warm DIR (3 targets): no progress on stderr when it is not a terminal" \
    test ! -s "$T/run-w3.err"
if command -v script >/dev/null; then
	# on a terminal (script(1) gives one): "\r1/3" ... on stderr
	timeout -k 2 30 script -qec "'$OX' -c '$CONF' warm '$T/certdir'" \
	    /dev/null >"$T/w3tty.out" 2>&1 </dev/null
	check "warm DIR on a terminal: progress N/3 shown" \
	    grep -qa $'\r2/3' "$T/w3tty.out"
fi

printf '%s\n' "# a comment" "$CA2/revoked2.crt" "" "$CA2/ca.crt" >"$T/list"
ox w4 warm -l "$T/list"
check "warm -l LIST (revoked2.crt, ca2.crt): exit 0, one line" \
    test "$RC" = 0 -a "$(wc -l <"$T/w4.out")" = 1
check "warm -l: revoked2 revoked, stored, verified" \
    test "$(line "$T/w4.out" "$CA2/revoked2.crt" | col 3,5)" = \
    "revoked	stored, verified"
stored_ok revoked2 revoked "$H2"

ox w5 warm "$CA1/dead1.crt" "$CA1/ca.crt"
check "warm of a cert whose responder (AIA 127.0.0.1:$DEAD) is down: exit 1" \
    test "$RC" = 1
check "warm, responder down: the line says failed" \
    bash -c "awk -F'\t' '\$2 == \"$KD\"' '$T/w5.out' | cut -f5 | grep -q '^failed'"
check "warm, responder down: nothing stored" ! t_exists "$KD"
ox w6 warm "$CA1/dead1.crt" "$CA1/tls.crt" "$CA1/ca.crt"
check "warm of a down and an up responder: exit 1, the good one stored anyway" \
    bash -c "[ $RC = 1 ] && [ \"\$(redis-cli -s '$T/redis.sock' exists '$KT')\" = 1 ]"

# ---------------------------------------------------------------- 2 status
t_note "2: status"
NKEYS=$(rcli --scan --pattern 'ocspxy_*' | grep -cE '^ocspxy_[0-9a-f]+0x[0-9a-f]+$')
t_note "$NKEYS entries cached"

# the expected figures of good1 and good2 from their responses
declare -A E_TU E_NU E_ST E_LC E_RESP
for l in good1 good2 revoked1; do
	k=$(t_kleaf "$l")
	t_redis_field "$k" response "$T/st-$l.der"
	respinfo "$T/st-$l.der" || fail "$l: no times in -resp_text"
	E_TU[$l]=$RT_TU E_NU[$l]=$RT_NU E_ST[$l]=$RT_ST
	E_LC[$l]=$(t_hget "$k" lastchecked)
done
E_RESP[good1]=$H1 E_RESP[good2]=$H2 E_RESP[revoked1]=$H1

t0=$(t_now)
ox s_tsv status --tsv
t1=$(t_now)
check "status --tsv (all): exit 1 (every nextUpdate is within the default warn, 1d)" \
    test "$RC" = 1
check "status --tsv: header line" test "$(head -1 "$T/s_tsv.out")" = \
    "$(printf 'key\tstatus\tthisupd\tnextupd\tleft\tlastchecked\tresult\tfailures\tresponder')"
check "status --tsv: one row per cached entry ($NKEYS)" \
    test "$(($(wc -l <"$T/s_tsv.out") - 1))" = "$NKEYS"
for l in good1 good2 revoked1; do
	k=$(t_kleaf "$l")
	r=$(line "$T/s_tsv.out" "$k")
	if [ -z "$r" ]; then
		fail "status --tsv: no row for $l ($k)"
		continue
	fi
	want=$(printf '%s\t%s\t%s\t%s' "$k" "${E_ST[$l]}" "$(iso "${E_TU[$l]}")" \
	    "$(iso "${E_NU[$l]}")")
	check "status --tsv $l: key, status ${E_ST[$l]}, This/Next Update as in -resp_text" \
	    test "$(echo "$r" | col 1-4)" = "$want"
	left=$(echo "$r" | col 5)
	check "status --tsv $l: left $left = nextUpdate - now (in [$((E_NU[$l] - t1)), $((E_NU[$l] - t0))])" \
	    test "$left" -ge $((E_NU[$l] - t1)) -a "$left" -le $((E_NU[$l] - t0))
	check "status --tsv $l: lastchecked $(iso "${E_LC[$l]}"), result ok, failures 0, responder ${E_RESP[$l]}" \
	    test "$(echo "$r" | col 6-9)" = \
	    "$(printf '%s\tok\t0\t%s' "$(iso "${E_LC[$l]}")" "${E_RESP[$l]}")"
done

t0=$(t_now)
ox s_json status --json "$CA1/good1.crt" "$CA1/ca.crt" "$K2"
t1=$(t_now)
check "status --json good1.crt ca1.crt KEY(good2): two lines" \
    test "$(wc -l <"$T/s_json.out")" = 2
# jcheck LEAF: the JSON object of LEAF holds the expected values.
jcheck()
{
	python3 - "$T/s_json.out" "$(t_kleaf "$1")" "${E_ST[$1]}" "${E_TU[$1]}" \
	    "${E_NU[$1]}" "${E_LC[$1]}" "${E_RESP[$1]}" "$t0" "$t1" <<-'PY'
	import json, sys
	f, key, st, tu, nu, lc, resp, t0, t1 = sys.argv[1:]
	objs = [json.loads(x) for x in open(f)]
	o = [x for x in objs if x.get("key") == key]
	assert len(o) == 1, "no object for %s in %r" % (key, objs)
	o = o[0]
	want = {"key", "status", "thisupd", "nextupd", "left", "lastchecked",
	        "result", "failures", "responder"}
	assert set(o) == want, "fields %r" % sorted(o)
	assert o["status"] == st, o
	assert o["thisupd"] == int(tu) and o["nextupd"] == int(nu), o
	assert int(nu) - int(t1) <= o["left"] <= int(nu) - int(t0), o
	assert o["lastchecked"] == int(lc), o
	assert o["result"] == "ok" and o["failures"] == 0, o
	assert o["responder"] == resp, o
	PY
}
check "status --json good1: valid JSON, every field as in -resp_text and Redis" \
    jcheck good1
check "status --json good2 (given by key): every field as expected" jcheck good2
# options may follow the arguments
ox s_json2 status "$K2" --json
check "status KEY --json: one JSON object, for KEY" \
    python3 -c 'import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
assert len(o) == 1 and o[0]["key"] == sys.argv[2], o' "$T/s_json2.out" "$K2"

ox s_hum status "$CA1/good1.crt" "$CA1/ca.crt"
r=$(grep -F -- "$K1" "$T/s_hum.out")
check "status (human) good1: a row with key, good, This/Next Update, responder" \
    bash -c "echo '$r' | grep -q 'good' && echo '$r' | grep -qF '$(iso "${E_TU[good1]}")' &&
	echo '$r' | grep -qF '$(iso "${E_NU[good1]}")' && echo '$r' | grep -qF '$H1'"
check "status (human): no colour codes when stdout is not a terminal" \
    ! grep -q $'\033' "$T/s_hum.out"
check "status (human): ends with a line about the last refresh pass (none yet)" \
    test "$(tail -1 "$T/s_hum.out")" = "no refresh pass recorded"

# --warn: -nmin 60 gives nextUpdate in 1 h
ox s_w2h status --warn 2h "$CA1/good1.crt" "$CA1/ca.crt"
check "status --warn 2h good1 (nextUpdate in 1 h): exit 1" test "$RC" = 1
ox s_w30 status --warn 30m "$CA1/good1.crt" "$CA1/ca.crt"
check "status --warn 30m good1: exit 0" test "$RC" = 0
ox s_w30a status --warn 30m
check "status --warn 30m (all $NKEYS entries): exit 0" test "$RC" = 0
ox s_wd status "$CA1/good1.crt" "$CA1/ca.crt"
check "status good1, default warn 1d (nextUpdate in 1 h): exit 1" test "$RC" = 1
ox s_wbad status --warn 3x
check "status --warn 3x: exit 2 (not a duration)" test "$RC" = 2
check "status --warn 3x: the log says it is not a duration" \
    grep -qE '^ocspxy\[[0-9]+\]: error: --warn 3x: not a duration' "$T/run-s_wbad.err"
ox s_ibad export --interval 0 "$T"
check "export --interval 0: exit 2 (not a duration of 1 s or more)" test "$RC" = 2

# an expired entry: status reads nextupd from the entry's hash
NU_S1=$(t_hget "$KS1" nextupd)
rcli hset "$KS1" nextupd $(($(t_now) - 60)) >/dev/null
ox s_exp status --warn 30s "$CA1/short1.crt" "$CA1/ca.crt"
check "status of an expired entry (nextupd a minute ago), --warn 30s: exit 1" \
    test "$RC" = 1
check "status (human) of the expired entry says expired" \
    grep -qF -- "expired" "$T/s_exp.out"
ox s_exp2 status --tsv
check "status --tsv (all) with one expired entry: exit 1, its left < 0" \
    test "$RC" = 1 -a "$(line "$T/s_exp2.out" "$KS1" | col 5)" -lt 0
rcli hset "$KS1" nextupd "$NU_S1" >/dev/null
ox s_nc status "$CA1/dead1.crt" "$CA1/ca.crt"
check "status of a cert not cached: exit 1" test "$RC" = 1

# ---------------------------------------------------------------- 3 prune, refresh
t_note "3: prune, refresh"
ox p1 prune "$CA1/short1.crt" "$CA1/ca.crt"
check "prune short1.crt ca1.crt: exit 0, prints name key pruned" \
    test "$RC:$(cat "$T/p1.out")" = "0:$(printf '%s\t%s\tpruned' "$CA1/short1.crt" "$KS1")"
check "prune by file: entry gone" ! t_exists "$KS1"
check "prune by file: gone from the nextUpdate index too" \
    test -z "$(rcli zscore ocspxy:index:next "$KS1")"
ox p2 prune "$KR2"
check "prune KEY (revoked2): exit 0, prints key key pruned" \
    test "$RC:$(cat "$T/p2.out")" = "0:$(printf '%s\t%s\tpruned' "$KR2" "$KR2")"
check "prune by key: entry gone" ! t_exists "$KR2"
ox p3 prune "$KR2"
check "prune again: not cached, exit 0" \
    test "$RC:$(cut -f3 "$T/p3.out")" = "0:not cached"
ox p4 prune "ocspxy_nonsense"
check "prune of a word that is no file and no key: exit 2" test "$RC" = 2
check "prune of such a word: one stderr line from the log, naming it" \
    bash -c '[ "$(wc -l <"$1")" = 1 ] &&
	grep -qE "^ocspxy\[[0-9]+\]: error: ocspxy_nonsense: neither a file" "$1"' \
    _ "$T/run-p4.err"
ox p5 warm "$T/certdir/README.txt"
check "warm of a file without a PEM certificate: exit 2, the log says so" \
    bash -c '[ "$1" = 2 ] &&
	grep -qE "^ocspxy\[[0-9]+\]: error: .*README.txt: no PEM certificate" "$2"' \
    _ "$RC" "$T/run-p5.err"
# a certificate file whose path in its directory is longer than PATH_MAX
long=$T/long
for ((i = 0; i < 16; i++)); do long=$long/$(printf 'd%.0s' {1..240}); done
mkdir -p "$long" &&
    (cd "$long" && cp "$CA1/good1.crt" "$(printf 'c%.0s' {1..240}).crt")
ox p6 warm "$long"
check "warm DIR whose file's path is too long: exit 2, the log says so" \
    bash -c '[ "$1" = 2 ] && grep -q "path too long" "$2"' _ "$RC" "$T/run-p6.err"

TU1=$(t_hget "$K1" thisupd)
TU2=$(t_hget "$K2" thisupd)
c1=$(t_responder_count r1)
c2=$(t_responder_count r2)
sleep 1.1 # thisUpdate has 1 s resolution
ox f1 refresh "$CA1/good1.crt" "$CA1/ca.crt"
check "refresh good1.crt ca1.crt: exit 0, stored" \
    test "$RC:$(line "$T/f1.out" "$CA1/good1.crt" | col 5 | cut -c1-6)" = "0:stored"
check "refresh by file: thisupd grew ($TU1 -> $(t_hget "$K1" thisupd))" \
    test "$(t_hget "$K1" thisupd)" -gt "$TU1"
check "refresh by file: ca1's responder asked once more" \
    test "$(t_responder_count r1)" = $((c1 + 1))
t_redis_field "$K1" response "$T/f1.der"
check "refresh by file: the new response verifies" t_vleaf "$T/f1.der" good1 good
ox f2 refresh "$K2"
check "refresh KEY (good2): exit 0, stored" \
    test "$RC:$(line "$T/f2.out" "$K2" | col 5 | cut -c1-6)" = "0:stored"
check "refresh by key: thisupd grew ($TU2 -> $(t_hget "$K2" thisupd))" \
    test "$(t_hget "$K2" thisupd)" -gt "$TU2"
check "refresh by key: ca2's responder asked once more (under /ca2/)" \
    test "$(t_responder_count r2)" = $((c2 + 1))
ox f3 refresh "$CA1/short1.crt" "$CA1/ca.crt"
check "refresh of a cert not cached (short1, pruned): fetched like warm, exit 0" \
    test "$RC" = 0
stored_ok short1 good "$H1"
ox f4 refresh "$KR2"
check "refresh of a key not cached: exit 1, not cached" \
    test "$RC:$(line "$T/f4.out" "$KR2" | col 5)" = "1:not cached"

# ---------------------------------------------------------------- 4 export
t_note "4: export"
mkdir -p "$T/ex" "$T/exc" "$T/exw"
ox e1 export "$T/ex"
check "export DIR: exit 0" test "$RC" = 0
keys=$(rcli --scan --pattern 'ocspxy_*' | grep -E '^ocspxy_[0-9a-f]+0x[0-9a-f]+$' | sort)
n=$(echo "$keys" | wc -l)
check "export DIR: one <key>.ocsp per cached entry ($n)" \
    test "$(find "$T/ex" -type f -name '*.ocsp' | wc -l)" = "$n"
for l in good1 short1 revoked1 good2 tls; do
	case $l in
	tls) k=$KT f=$T/ex/$KT.ocsp
	    check "export DIR: $KT.ocsp (tls) verifies, good" \
		t_verify "$f" "$CA1/ca.crt" "$CA1/tls.crt" "$T/pki/roots.pem" good ;;
	*) k=$(t_kleaf "$l") f=$T/ex/$k.ocsp
	    st=good; [ $l = revoked1 ] && st=revoked
	    check "export DIR: $k.ocsp ($l) verifies ($st, Response verify OK)" \
		t_vleaf "$f" "$l" "$st" ;;
	esac
	t_redis_field "$k" response "$T/ex-$l.cached"
	check "export DIR: $l's file is the cached response byte for byte" \
	    cmp -s "$f" "$T/ex-$l.cached"
done
check "export DIR: no temporary files left" \
    test -z "$(find "$T/ex" -name '.*' -type f)"
check "export DIR: files are mode 0644" \
    test "$(stat -c %a "$T/ex/$K1.ocsp")" = 644

ox e2 export "$T/exc" "$CA1/good1.crt" "$CA1/ca.crt" "$T/good2-chain.pem"
check "export DIR good1.crt ca1.crt good2-chain.pem: exit 0" test "$RC" = 0
check "export certs: files named after the certificate files (good1.crt.ocsp, good2-chain.pem.ocsp), nothing else" \
    test "$(cd "$T/exc" && ls -A | tr '\n' ' ')" = "good1.crt.ocsp good2-chain.pem.ocsp "
check "export certs: good1.crt.ocsp verifies (Response verify OK, good)" \
    t_vleaf "$T/exc/good1.crt.ocsp" good1 good
check "export certs: good2-chain.pem.ocsp verifies (delegated signer, good)" \
    t_vleaf "$T/exc/good2-chain.pem.ocsp" good2 good

s1=$(stat -c '%i %y' "$T/ex/$K1.ocsp" "$T/exc/good1.crt.ocsp")
sleep 0.05
ox e3 export "$T/ex"
ox e4 export "$T/exc" "$CA1/good1.crt" "$CA1/ca.crt" "$T/good2-chain.pem"
check "export again, content unchanged: files not rewritten (same inode and mtime)" \
    test "$s1" = "$(stat -c '%i %y' "$T/ex/$K1.ocsp" "$T/exc/good1.crt.ocsp")"
check "export again: reports 0 written" \
    grep -q '^exported 0 responses' "$T/e3.out"

# an expired entry is not exported
NU_R1=$(t_hget "$KR1" nextupd)
rcli hset "$KR1" nextupd $(($(t_now) - 60)) >/dev/null
mkdir -p "$T/exx"
ox e5 export "$T/exx"
check "export skips an expired entry (revoked1, nextupd in the past)" \
    test ! -e "$T/exx/$KR1.ocsp" -a -e "$T/exx/$K1.ocsp"
rcli hset "$KR1" nextupd "$NU_R1" >/dev/null

# --watch
timeout -k 2 40 "$OX" -c "$CONF" export --watch --interval 1s "$T/exw" \
    >"$T/watch.out" 2>"$T/run-watch.err" </dev/null &
WPID=$!
_t_record "$WPID"
_t_wait_file "$T/exw/$K1.ocsp" 5
check "export --watch: first round writes $K1.ocsp" test -s "$T/exw/$K1.ocsp"
h0=$(sha1sum <"$T/exw/$K1.ocsp")
sleep 1.1 # a new thisUpdate, so new bytes
ox f5 refresh "$K1"
changed=0
for ((i = 0; i < 50; i++)); do
	[ "$(sha1sum <"$T/exw/$K1.ocsp")" != "$h0" ] && { changed=1; break; }
	sleep 0.1
done
check "export --watch --interval 1s: the file changes within 5 s of a refresh" \
    test "$changed" = 1
t_redis_field "$K1" response "$T/watch-cached.der"
check "export --watch: the rewritten file is the refreshed response" \
    cmp -s "$T/exw/$K1.ocsp" "$T/watch-cached.der"
kill -TERM "$WPID"
for ((i = 0; i < 40; i++)); do
	_t_alive "$WPID" || break
	sleep 0.1
done
wait "$WPID"
rc=$?
_t_forget "$WPID"
check "export --watch: SIGTERM stops it with exit 0 (got $rc)" test "$rc" = 0

# ---------------------------------------------------------------- 5 stapling
t_note "5: nginx staples from an exported file, responder stopped"
mkdir -p "$T/staple"
ox e6 export "$T/staple" "$CA1/tls-chain.pem"
check "export tls-chain.pem: tls-chain.pem.ocsp written, verifies (good)" \
    t_verify "$T/staple/tls-chain.pem.ocsp" "$CA1/ca.crt" "$CA1/tls.crt" \
    "$T/pki/roots.pem" good
t_responder_stop r1
t_wait_gone "$PKI_PORT1"
TP=$(t_port)
if check "nginx TLS with ssl_stapling_file <exported>.ocsp (responder r1 down)" \
    tf_nginx_tls_start st "$TP" "$CA1/tls-chain.pem" "$CA1/tls.key" \
    "ssl_stapling on;" "ssl_stapling_file $T/staple/tls-chain.pem.ocsp;"; then
	tf_sclient "$TP" "$T/sc"
	check "s_client -status: OCSP Response Status: successful" \
	    grep -q 'OCSP Response Status: successful' "$T/sc"
	check "s_client -status: Cert Status: good" \
	    grep -q 'Cert Status: good' "$T/sc"
	if tf_staple_der "$T/sc" "$T/sc.der"; then
		check "the staple is the exported file byte for byte" \
		    cmp -s "$T/sc.der" "$T/staple/tls-chain.pem.ocsp"
	else
		fail "no staple in the handshake messages"
	fi
	check "ca1's responder was not running (the staple came from the file)" \
	    ! t_listening "$PKI_PORT1"
	tf_nginx_tls_stop st "$TP"
fi

# ---------------------------------------------------------------- 6 a leaf alone
t_note "6: prune, refresh, status with a leaf alone (no issuer given)"
G2=$CA2/good2.crt
K2S=$(t_kleaf good2 ocspxy_ sha256)
# an entry of ca1 for serial 0x2001 (good2's): same serial, another issuer
# name; its request names ca1 (openssl ocsp -serial)
KD1=$(t_key "$CA1/ca.crt" "$G2")
$OPENSSL ocsp -issuer "$CA1/ca.crt" -serial 0x2001 -no_nonce \
    -reqout "$T/decoy.req" >/dev/null 2>&1
rcli -x hset "$KD1" request <"$T/decoy.req" >/dev/null
rcli hset "$KD1" ocsp_responder "$H1" thisupd 1 nextupd 2 status good \
    nonce 0 lastchecked 1 >/dev/null
check "6: fixture: a ca1 entry for good2's serial ($KD1), with its request" \
    test "$(rcli hexists "$KD1" request)" = 1
ox l0 warm "$G2" "$CA2/ca.crt"
check "6: fixture: good2 cached under $K2 (warm with its issuer)" \
    test "$RC" = 0 -a "$(rcli exists "$K2")" = 1

ox l1 status --tsv --warn 1m "$G2"
check "6: status good2.crt alone: exit 0, one row: $K2 (found by its entry)" \
    test "$RC:$(tail -n +2 "$T/l1.out" | col 1)" = "0:$K2"

TU2=$(t_hget "$K2" thisupd)
c2=$(t_responder_count r2)
sleep 1.1 # thisUpdate has 1 s resolution
ox l2 refresh "$G2"
check "6: refresh good2.crt alone: exit 0, stored, under $K2" \
    test "$RC:$(line "$T/l2.out" "$G2" | col 2):$(line "$T/l2.out" "$G2" | col 5 | cut -c1-6)" = "0:$K2:stored"
check "6: refresh alone: thisupd grew, ca2's responder asked once more" \
    test "$(t_hget "$K2" thisupd)" -gt "$TU2" -a \
    "$(t_responder_count r2)" = $((c2 + 1))
t_redis_field "$K2" response "$T/l2.der"
check "6: refresh alone: the new response verifies" t_vleaf "$T/l2.der" good2 good
check "6: refresh alone: the ca1 entry of that serial untouched" \
    test "$(t_hget "$KD1" lastchecked)" = 1

# good2 also under a SHA-256 CertID: ocspxy-fcgi, as a CGI program
T_DIGEST=-sha256 t_reqout "$G2" "$CA2/ca.crt" "$T/req-good2s.der"
t_cgi REQUEST_METHOD=POST CONTENT_TYPE=application/ocsp-request \
    CONTENT_LENGTH="$(stat -c %s "$T/req-good2s.der")" \
    HTTP_HOST="127.0.0.1:$PKI_PORT2" REQUEST_URI=/ca2/ \
    REMOTE_ADDR=127.0.0.1 -- "$T/req-good2s.der" >"$T/l3.raw"
check "6: fixture: good2 cached under its SHA-256 key too ($K2S)" t_exists "$K2S"
t_redis_snapshot "$K2" "$T/l4-k2.before"
t_redis_snapshot "$K2S" "$T/l4-k2s.before"
ox l4 prune "$G2"
check "6: prune good2.crt alone, two entries carry its issuer's name: exit 2, nothing on stdout" \
    test "$RC:$(cat "$T/l4.out")" = "2:"
check "6: ... the log says ambiguous and lists both keys, not the ca1 entry" \
    bash -c 'grep -q "good2.crt: ambiguous: 2 cached entries for serial 0x2001" "$1" &&
	grep -qF "$2" "$1" && grep -qF "$3" "$1" && ! grep -qF "$4" "$1"' \
    _ "$T/run-l4.err" "$K2" "$K2S" "$KD1"
t_redis_snapshot "$K2" "$T/l4-k2.after"
t_redis_snapshot "$K2S" "$T/l4-k2s.after"
check "6: ... both entries unchanged, every field" \
    bash -c 'cmp -s "$1" "$2" && cmp -s "$3" "$4"' _ "$T/l4-k2.before" \
    "$T/l4-k2.after" "$T/l4-k2s.before" "$T/l4-k2s.after"
c2=$(t_responder_count r2)
ox l5 refresh "$G2"
check "6: refresh good2.crt alone, ambiguous: exit 2, nothing fetched" \
    test "$RC:$(t_responder_count r2)" = "2:$c2"

# With ca2 configured as an issuer, the leaf alone names its SHA-1 key.
CONF0=$CONF
CONF=$T/issuer.conf
t_conf "$CONF" issuer "$CA2/ca.crt"
ox l6 prune "$G2"
check "6: issuer ca2.crt configured: prune good2.crt alone: exit 0, pruned $K2" \
    test "$RC:$(cat "$T/l6.out")" = "0:$(printf '%s\t%s\tpruned' "$G2" "$K2")"
check "6: ... the SHA-256 entry is left" t_exists "$K2S"
ox l7 refresh "$G2"
check "6: issuer configured: refresh good2.crt alone (not cached): fetched like warm, exit 0, verified" \
    test "$RC:$(line "$T/l7.out" "$G2" | col 5)" = "0:stored, verified"
check "6: ... stored under $K2" t_exists "$K2"
ox l8 warm "$G2"
check "6: issuer configured: warm good2.crt alone: exit 0" test "$RC" = 0
CONF=$CONF0
ox l9 warm "$G2"
check "6: no issuer configured: warm good2.crt alone: exit 2, the log says where an issuer may come from" \
    bash -c '[ "$1" = 2 ] && grep -q "no issuer certificate (give it as the next file or append it, or configure it: issuer, issuer_dir)" "$2"' \
    _ "$RC" "$T/run-l9.err"

ox l10 prune "$G2" "$CA2/ca.crt"
check "6: fixture: prune good2.crt ca2.crt leaves only the SHA-256 entry" \
    test "$RC:$(rcli exists "$K2")" = "0:0"
mkdir -p "$T/exl"
ox l10e export "$T/exl" "$G2"
t_redis_field "$K2S" response "$T/l10e.der"
check "6: export DIR good2.crt alone: good2.crt.ocsp is the SHA-256 entry's response" \
    cmp -s "$T/exl/good2.crt.ocsp" "$T/l10e.der"
ox l11 prune "$G2"
check "6: prune good2.crt alone, one entry (SHA-256): exit 0, pruned $K2S" \
    test "$RC:$(cat "$T/l11.out")" = "0:$(printf '%s\t%s\tpruned' "$G2" "$K2S")"
check "6: ... gone; the ca1 entry of that serial is left" \
    test "$(rcli exists "$K2S"):$(rcli exists "$KD1")" = "0:1"
ox l12 prune "$G2"
check "6: prune good2.crt alone, nothing cached for it: exit 0, not cached" \
    test "$RC:$(cat "$T/l12.out")" = "0:$(printf '%s\t-\tnot cached' "$G2")"
c2=$(t_responder_count r2)
ox l13 refresh "$G2"
check "6: refresh good2.crt alone, nothing cached, no issuer: exit 1, says so" \
    bash -c '[ "$1" = 1 ] && grep -q "not cached, and no issuer certificate" "$2"' \
    _ "$RC" "$T/l13.out"
check "6: ... nothing fetched, nothing stored" \
    test "$(t_responder_count r2):$(rcli exists "$K2")" = "$c2:0"
ox l14 status "$G2"
check "6: status good2.crt alone, nothing cached: exit 1" test "$RC" = 1

t_done
