# tests/lib.sh: helpers for the ocspxy integration tests (bash, sourced).
#
# Every test script does:
#	. "$(dirname "$0")/lib.sh"
#	t_setup
# and then starts what it needs: t_redis_start, t_pki, t_responder_start,
# t_fcgi_start, t_nginx_start.  Everything lives in one mktemp -d folder $T;
# every process started here is recorded in $T/pids and stopped by pid on
# exit.  OCSPXY_KEEP=1 keeps $T for a post-mortem.  lib_nginx.sh, sourced
# here, writes the nginx.conf (also for the bench and `make run`);
# lib_fronts.sh has the other web servers and the TLS stapling helpers.
#
# Results: ok / fail / check print one line each and append "pass" or "fail"
# to $OCSPXY_RESULTS (set by tests/run.sh; default $T/results).  A script
# ends with t_done, which exits 1 if any of its own checks failed.

# shellcheck disable=SC2086 # $T_DIGEST and -nmin are split on purpose

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$TESTS_DIR/.." && pwd)
# shellcheck source=tests/lib_nginx.sh
. "$TESTS_DIR/lib_nginx.sh"
: "${OCSPXY_BUILD:=$SRC_DIR/build}"
OPENSSL=${OPENSSL:-openssl}

T=
T_NFAIL=0
T_NPASS=0

# ---------------------------------------------------------------- set-up

t_setup()
{
	T=$(mktemp -d /tmp/ocspxy-test.XXXXXX) || exit 1
	chmod 0755 "$T"
	: >"$T/pids"
	: "${OCSPXY_RESULTS:=$T/results}"
	export OCSPXY_RESULTS
	trap t_cleanup EXIT
	trap 't_cleanup; exit 130' INT
	trap 't_cleanup; exit 143' TERM
}

# _t_alive PID: the process exists and is not a zombie.
_t_alive()
{
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# t_kill PID...: TERM, wait up to ~2 s (t_left), then KILL.  Forgets the
# pids.
t_kill()
{
	local p
	[ $# -gt 0 ] || return 0
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $(t_left 2 "$@"); do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "$@"; do
		wait "$p" 2>/dev/null
		_t_forget "$p"
	done
	return 0
}

# t_left SECS PID...: waits up to SECS for the processes to end (a
# sanitizer build takes a while to exit) and prints those still alive.
t_left()
{
	local n=$(($1 * 20)) i p left
	shift
	for ((i = 0; i <= n; i++)); do
		left=
		for p in "$@"; do
			_t_alive "$p" && left="$left $p"
		done
		[ -z "$left" ] && break
		sleep 0.05
	done
	echo "$left"
}

_t_record() { echo "$1" >>"$T/pids"; }

_t_forget()
{
	[ -f "$T/pids" ] || return 0
	grep -vx -- "$1" "$T/pids" >"$T/pids.tmp"
	mv "$T/pids.tmp" "$T/pids"
}

t_cleanup()
{
	local rc=$? pids
	trap - EXIT INT TERM
	[ -n "$T" ] && [ -d "$T" ] || return $rc
	if [ -f "$T/pids" ]; then
		pids=$(sort -u "$T/pids")
		# shellcheck disable=SC2086
		t_kill $pids
	fi
	if [ "${OCSPXY_KEEP:-0}" = 1 ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
	return $rc
}

# ---------------------------------------------------------------- results

_t_result()
{
	echo "$1" >>"${OCSPXY_RESULTS:-$T/results}"
}

ok()
{
	T_NPASS=$((T_NPASS + 1))
	echo "ok - $*"
	_t_result pass
}

fail()
{
	T_NFAIL=$((T_NFAIL + 1))
	echo "FAIL - $*"
	_t_result fail
}

# check DESC [!] CMD ARGS...: ok if CMD exits 0 (with !: non-zero), else
# fail (with its exit code).
# quiet CMD...: CMD with its output thrown away (for check).
quiet() { "$@" >/dev/null 2>&1; }

check()
{
	local desc=$1 rc neg=0
	shift
	if [ "$1" = "!" ]; then
		neg=1
		shift
	fi
	"$@"
	rc=$?
	if [ $neg = 1 ]; then
		if [ $rc -eq 0 ]; then
			fail "$desc (succeeded: $*)"
			return 1
		fi
		ok "$desc"
		return 0
	fi
	if [ $rc -eq 0 ]; then
		ok "$desc"
	else
		fail "$desc (exit $rc: $*)"
	fi
	return $rc
}

# t_note TEXT: a comment line in the output, not a result.
t_note() { echo "# $*"; }

# t_now: the time in unix seconds.
t_now() { date +%s; }

# t_done: last line of a test script.
t_done()
{
	t_sanitizer_check
	[ "$T_NFAIL" -eq 0 ]
	exit $?
}

# t_sanitizer_check: a fail for every ASan/UBSan report in our logs.
t_sanitizer_check()
{
	local f
	for f in "$T"/fcgi.log "$T"/cgi*.err "$T"/run*.err "$T"/asan.*; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
			fail "sanitizer report in $(basename "$f"): $(grep -m1 -E 'Sanitizer|runtime error:' "$f")"
		fi
	done
}

# ---------------------------------------------------------------- ports

# t_port: a free random TCP port in 20000-60000 (not in /proc/net/tcp*,
# not handed out before in this test).
t_port()
{
	local p hex
	while :; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		hex=$(printf ':%04X ' "$p")
		grep -q -- "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
		grep -qx -- "$p" "$T/ports" 2>/dev/null && continue
		echo "$p" >>"$T/ports"
		echo "$p"
		return 0
	done
}

# t_listening PORT: true if some socket listens on PORT (state 0A).
t_listening()
{
	local hex
	hex=$(printf '%04X' "$1")
	awk -v h="$hex" 'NR > 1 { split($2, a, ":"); if (a[2] == h && $4 == "0A") f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# t_wait_listen PORT [secs]: poll until PORT is listening (default 10 s).
t_wait_listen()
{
	local port=$1 n=$((${2:-10} * 20)) i
	for ((i = 0; i < n; i++)); do
		t_listening "$port" && return 0
		sleep 0.05
	done
	echo "# port $port not listening after ${2:-10} s" >&2
	return 1
}

# t_wait_gone PORT [secs]: poll until nothing listens on PORT.
t_wait_gone()
{
	local port=$1 n=$((${2:-5} * 20)) i
	for ((i = 0; i < n; i++)); do
		t_listening "$port" || return 0
		sleep 0.05
	done
	return 1
}

# t_serve VAR PORT OUT [LOG...] -- CMD [ARG...]: CMD, a server, in the
# background (stdin /dev/null, stdout and stderr into OUT), its pid
# recorded and in the variable VAR; fails, with OUT and the LOGs on
# stderr, unless PORT listens within 10 s.
t_serve()
{
	local _var=$1 _port=$2 _out=$3 _logs=() _pid
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		_logs+=("$1")
		shift
	done
	shift
	"$@" </dev/null >"$_out" 2>&1 &
	_pid=$!
	_t_record "$_pid"
	printf -v "$_var" %s "$_pid"
	t_wait_listen "$_port" 10 || {
		cat "$_out" "${_logs[@]}" >&2
		return 1
	}
}

# _t_wait_file FILE [secs]: poll until FILE exists (socket or file).
_t_wait_file()
{
	local n=$((${2:-10} * 20)) i
	for ((i = 0; i < n; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- redis

# t_redis_start [PORT]: redis-server (no persistence) on $T/redis.sock,
# its pid in REDIS_PID and $T/redis.pid, log $T/redis.log; with PORT,
# another one on 127.0.0.1:PORT instead (pid in $T/redis-PORT.pid, log
# $T/redis-PORT.log; _t_stop_pidfile stops it).  Extra options in
# T_REDIS_ARGS; REDISCLI_AUTH for a password.
t_redis_start()
{
	local port=${1:-} name=redis where cli pid i
	if [ -n "$port" ]; then
		name=redis-$port
		where=(--port "$port" --bind 127.0.0.1)
		cli=(-p "$port")
	else
		rm -f "$T/redis.sock"
		where=(--port 0 --unixsocket "$T/redis.sock" --unixsocketperm 777)
		cli=(-s "$T/redis.sock")
	fi
	redis-server "${where[@]}" --dir "$T" --save '' --appendonly no \
	    --daemonize no --logfile "$T/$name.log" ${T_REDIS_ARGS:-} </dev/null &
	pid=$!
	_t_record "$pid"
	echo "$pid" >"$T/$name.pid"
	[ -n "$port" ] || REDIS_PID=$pid
	for ((i = 0; i < 200; i++)); do
		[ "$(redis-cli "${cli[@]}" ping 2>/dev/null)" = PONG ] && return 0
		_t_alive "$pid" || break
		sleep 0.05
	done
	echo "# redis-server did not start; log:" >&2
	cat "$T/$name.log" >&2
	return 1
}

rcli() { redis-cli -s "$T/redis.sock" "$@"; }

# t_hget KEY FIELD: the field's value (redis-cli --raw: one line).
t_hget() { rcli --raw hget "$1" "$2"; }

# t_exists KEY: the key is in Redis.
t_exists() { [ "$(rcli exists "$1")" = 1 ]; }

t_redis_stop()
{
	[ -n "$REDIS_PID" ] && t_kill "$REDIS_PID"
	REDIS_PID=
	rm -f "$T/redis.sock" "$T/redis.pid"
}

# t_redis_restart: stop and start again (the data set is lost: no persistence).
t_redis_restart()
{
	t_redis_stop
	t_redis_start
}

# t_redis_field KEY FIELD OUTFILE: raw value of a hash field into OUTFILE
# (byte-exact, also for DER).  Fails if the field does not exist.
t_redis_field()
{
	[ "$(rcli hexists "$1" "$2")" = 1 ] || return 1
	# redis-cli --no-raw quotes; use a Lua-free path: HGET with --raw adds
	# a newline, so strip exactly one trailing newline.
	rcli --raw hget "$1" "$2" >"$3.tmp" || return 1
	head -c -1 "$3.tmp" >"$3"
	rm -f "$3.tmp"
}

# t_redis_snapshot KEY OUTFILE [FIELD...]: the hash's fields (all, or only
# those named; sorted; values in hex) so that snapshots compare with cmp.
# the fields the spec names (an array: "${T_CORE_FIELDS[@]}")
# shellcheck disable=SC2034
T_CORE_FIELDS=(ocsp_responder request response thisupd nextupd status nonce
    lastchecked)
t_redis_snapshot()
{
	local key=$1 out=$2 f fields
	shift 2
	if [ $# -gt 0 ]; then
		fields=$(printf '%s\n' "$@" | sort)
	else
		fields=$(rcli --raw hkeys "$key" | sort)
	fi
	: >"$out"
	for f in $fields; do
		printf '%s ' "$f" >>"$out"
		if [ "$(rcli hexists "$key" "$f")" = 1 ]; then
			rcli --raw hget "$key" "$f" | head -c -1 | od -An -v -tx1 |
			    tr -d ' \n' >>"$out"
		else
			printf '(absent)' >>"$out"
		fi
		echo >>"$out"
	done
}

# ---------------------------------------------------------------- replicas, Sentinel

# rpc PORT ARGS...: redis-cli to the server on 127.0.0.1:PORT (password
# from REDISCLI_AUTH, as for rcli).
rpc() { local p=$1; shift; redis-cli -p "$p" "$@"; }

# t_redis_role PORT: master, slave, or nothing when it does not answer.
t_redis_role() { rpc "$1" role 2>/dev/null | head -1; }

# t_redis_replica_start PORT MASTERPORT [ARG...]: a redis-server on
# 127.0.0.1:PORT (t_redis_start PORT, T_REDIS_ARGS and the ARGs) that
# replicates 127.0.0.1:MASTERPORT, with a dump file of its own (servers
# in one folder never load another's); waits until its link is up.
t_redis_replica_start()
{
	local port=$1 master=$2
	shift 2
	T_REDIS_ARGS="${T_REDIS_ARGS:-} --dbfilename dump-$port.rdb --replicaof 127.0.0.1 $master $*" \
	    t_redis_start "$port" || return 1
	t_redis_wait_link "$port" 10
}

# t_redis_wait_link PORT [secs]: polls until the replica on PORT has its
# link to its master up (default 10 s).
t_redis_wait_link()
{
	local n=$((${2:-10} * 20)) i
	for ((i = 0; i < n; i++)); do
		rpc "$1" info replication 2>/dev/null |
		    grep -q '^master_link_status:up' && return 0
		sleep 0.05
	done
	echo "# replica on $1: no link to its master after ${2:-10} s" >&2
	return 1
}

# t_redis_port_stop PORT: stops the redis-server t_redis_start PORT
# started (TERM, then KILL).  t_redis_crash PORT: kills it with SIGKILL,
# as a crash does.
t_redis_port_stop() { _t_stop_pidfile "$T/redis-$1.pid"; }
t_redis_crash()
{
	local pid
	[ -f "$T/redis-$1.pid" ] || return 1
	pid=$(cat "$T/redis-$1.pid")
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	_t_forget "$pid"
	rm -f "$T/redis-$1.pid"
}

# scli PORT ARGS...: redis-cli to the Sentinel on 127.0.0.1:PORT, with
# the password T_SENTINEL_AUTH (if set).
scli()
{
	local p=$1
	shift
	if [ -n "${T_SENTINEL_AUTH:-}" ]; then
		REDISCLI_AUTH=$T_SENTINEL_AUTH redis-cli -p "$p" "$@"
	else
		env -u REDISCLI_AUTH redis-cli -p "$p" "$@"
	fi
}

# t_sentinel_start PORT NAME MASTERPORT QUORUM [LINE...]: a Redis Sentinel
# on 127.0.0.1:PORT that monitors NAME at 127.0.0.1:MASTERPORT, down after
# 1 s, failover timeout 3 s, with the config LINEs added (requirepass,
# sentinel auth-pass...); config $T/sentinel-PORT.conf (Sentinel rewrites
# it), log $T/sentinel-PORT.log, pid in $T/sentinel-PORT.pid
# (t_sentinel_stop PORT).  redis-sentinel, or redis-server --sentinel.
t_sentinel_start()
{
	local port=$1 name=$2 master=$3 quorum=$4 conf=$T/sentinel-$1.conf
	local pid i l
	shift 4
	{
		echo "port $port"
		echo "bind 127.0.0.1"
		echo "daemonize no"
		echo "dir $T"
		echo "logfile $T/sentinel-$port.log"
		echo "sentinel monitor $name 127.0.0.1 $master $quorum"
		echo "sentinel down-after-milliseconds $name 1000"
		echo "sentinel failover-timeout $name 3000"
		for l in "$@"; do
			echo "$l"
		done
	} >"$conf"
	if command -v redis-sentinel >/dev/null 2>&1; then
		redis-sentinel "$conf" </dev/null >/dev/null 2>&1 &
	else
		redis-server "$conf" --sentinel </dev/null >/dev/null 2>&1 &
	fi
	pid=$!
	_t_record "$pid"
	echo "$pid" >"$T/sentinel-$port.pid"
	for ((i = 0; i < 200; i++)); do
		[ "$(scli "$port" ping 2>/dev/null)" = PONG ] && return 0
		_t_alive "$pid" || break
		sleep 0.05
	done
	echo "# redis-sentinel on $port did not start; log:" >&2
	cat "$T/sentinel-$port.log" >&2
	return 1
}

t_sentinel_stop() { _t_stop_pidfile "$T/sentinel-$1.pid"; }

# t_sentinel_master PORT NAME: "host:port" of the master the Sentinel on
# PORT names for NAME (nothing when it names none).
t_sentinel_master()
{
	scli "$1" sentinel get-master-addr-by-name "$2" 2>/dev/null |
	    paste -sd: -
}

# ---------------------------------------------------------------- PKI

# t_pki: two test CAs in $T/pki.
#   ca1: root that signs its own OCSP responses (RSA 2048); leaves good1
#        (0x1001), revoked1 (0x1002, revoked), short1 (0x05), unknown1
#        (0x1003, not in the index: "unknown").  AIA
#        http://127.0.0.1:$PKI_PORT1/
#   ca2: root (EC P-256) with a delegated OCSP signer ca2-ocsp (EKU
#        OCSPSigning, id-pkix-ocsp-nocheck); leaves good2 (0x2001),
#        revoked2 (0x2002, revoked).  AIA http://127.0.0.1:$PKI_PORT2/ca2/
#   evil: a self-signed root with ca1's subject name but its own key, to
#        forge ca1 responses.
# Files: $T/pki/<ca>/ca.crt ca.key index.txt, $T/pki/<ca>/<leaf>.crt,
# $T/pki/ca2/ca2-ocsp.crt .key, $T/pki/roots.pem (ca1 + ca2).
t_pki()
{
	local P=$T/pki
	mkdir -p "$P/ca1" "$P/ca2" "$P/evil"
	PKI_PORT1=$(t_port)
	PKI_PORT2=$(t_port)
	# shellcheck disable=SC2034 # for the test scripts
	PKI=$P
	cat >"$P/ext.cnf" <<-'EOF'
	[ ca ]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign, digitalSignature
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid:always
	[ ocspsigner ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = OCSPSigning
	noCheck = ignored
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid, issuer
	[ noeku ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid, issuer
	[ leaf ]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = DNS:$ENV::LEAF_CN
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid, issuer
	authorityInfoAccess = OCSP;URI:$ENV::LEAF_OCSP
	EOF
	_t_root ca1 rsa "/O=ocspxy test/CN=ocspxy test CA 1" || return 1
	_t_root ca2 ec "/O=ocspxy test/CN=ocspxy test CA 2" || return 1
	_t_root evil rsa "/O=ocspxy test/CN=ocspxy test CA 1" || return 1
	t_cert ca2 ca2-ocsp 0x20ff "/O=ocspxy test/CN=ocspxy test CA 2 OCSP" \
	    ocspsigner "" || return 1
	: >"$P/ca1/index.txt"
	: >"$P/ca2/index.txt"
	local u1="http://127.0.0.1:$PKI_PORT1/" u2="http://127.0.0.1:$PKI_PORT2/ca2/"
	_t_leaf ca1 good1 0x1001 "$u1" V || return 1
	_t_leaf ca1 revoked1 0x1002 "$u1" R keyCompromise || return 1
	_t_leaf ca1 short1 0x05 "$u1" V || return 1
	_t_leaf ca1 unknown1 0x1003 "$u1" - || return 1
	_t_leaf ca2 good2 0x2001 "$u2" V || return 1
	_t_leaf ca2 revoked2 0x2002 "$u2" R || return 1
	cat "$P/ca1/ca.crt" "$P/ca2/ca.crt" >"$P/roots.pem"
	cat "$P/ca2/ca2-ocsp.crt" "$P/ca2/ca.crt" >"$P/ca2/chain.pem"
	# openssl ocsp -index needs the .attr file to be absent or valid.
	return 0
}

# _t_root NAME rsa|ec SUBJECT
_t_root()
{
	local d=$T/pki/$1
	_t_key "$2" "$d/ca.key" || return 1
	$OPENSSL req -new -x509 -key "$d/ca.key" -sha256 -days 3650 \
	    -subj "$3" -set_serial 0x0100 -config /dev/null \
	    -extfile "$T/pki/ext.cnf" -extensions ca -out "$d/ca.crt" \
	    2>"$d/req.err" ||
	    $OPENSSL req -new -x509 -key "$d/ca.key" -sha256 -days 3650 \
	    -subj "$3" -set_serial 0x0100 \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
	    -out "$d/ca.crt" 2>>"$d/req.err" || { cat "$d/req.err" >&2; return 1; }
}

_t_key()
{
	case $1 in
	rsa) $OPENSSL genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$2" 2>/dev/null ;;
	ec) $OPENSSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$2" 2>/dev/null ;;
	esac
}

# t_cert CA NAME SERIAL SUBJECT EXTSECTION [OCSPURL]: an EC certificate
# issued by CA, $T/pki/CA/NAME.crt and .key, with the extensions of
# section EXTSECTION of $T/pki/ext.cnf: ocspsigner (a delegated OCSP
# signer), noeku (no extended key usage) or leaf (AIA OCSPURL).
t_cert()
{
	local ca=$T/pki/$1 name=$2
	_t_key ec "$ca/$name.key" || return 1
	$OPENSSL req -new -key "$ca/$name.key" -subj "$4" -out "$ca/$name.csr" \
	    2>/dev/null || return 1
	LEAF_CN=$name.test LEAF_OCSP=${6:-http://127.0.0.1/} \
	    $OPENSSL x509 -req -in "$ca/$name.csr" -CA "$ca/ca.crt" \
	    -CAkey "$ca/ca.key" -set_serial "$3" -sha256 -days 3650 \
	    -extfile "$T/pki/ext.cnf" -extensions "$5" -out "$ca/$name.crt" \
	    2>"$ca/$name.err" || { cat "$ca/$name.err" >&2; return 1; }
	rm -f "$ca/$name.csr"
}

# _t_leaf CA NAME SERIAL URL V|R|- [REASON]: a leaf and its index line.
_t_leaf()
{
	local ca=$T/pki/$1 name=$2 serial exp rev
	t_cert "$1" "$name" "$3" "/O=ocspxy test/CN=$name.test" leaf "$4" ||
	    return 1
	[ "$5" = - ] && return 0
	serial=$($OPENSSL x509 -in "$ca/$name.crt" -noout -serial) ||
	    return 1
	serial=${serial#serial=}
	exp=$($OPENSSL x509 -in "$ca/$name.crt" -noout -enddate)
	exp=$(date -u -d "${exp#notAfter=}" +%y%m%d%H%M%SZ) || return 1
	if [ "$5" = R ]; then
		rev=$(date -u -d '-1 day' +%y%m%d%H%M%SZ)
		[ -n "$6" ] && rev="$rev,$6"
	else
		rev=
	fi
	printf '%s\t%s\t%s\t%s\tunknown\t%s\n' "$5" "$exp" "$rev" "$serial" \
	    "/O=ocspxy test/CN=$name.test" >>"$ca/index.txt"
}

# t_ca_of LEAF: ca1 or ca2.
t_ca_of()
{
	case $1 in
	*1) echo ca1 ;;
	*2) echo ca2 ;;
	*) return 1 ;;
	esac
}

# t_crt LEAF: path of a leaf cert; t_issuer LEAF: path of its issuer.
t_crt() { echo "$T/pki/$(t_ca_of "$1")/$1.crt"; }
t_issuer() { echo "$T/pki/$(t_ca_of "$1")/ca.crt"; }

# t_leaf_host LEAF, t_leaf_path LEAF: the Host and URL path of the leaf's
# responder (127.0.0.1:$PKI_PORT1 /, or 127.0.0.1:$PKI_PORT2 /ca2/).
t_leaf_host()
{
	case $(t_ca_of "$1") in
	ca1) echo "127.0.0.1:$PKI_PORT1" ;;
	ca2) echo "127.0.0.1:$PKI_PORT2" ;;
	esac
}
t_leaf_path()
{
	case $(t_ca_of "$1") in
	ca1) echo / ;;
	ca2) echo /ca2/ ;;
	esac
}

# ---------------------------------------------------------------- responders

# t_responder_start NAME CA PORT [extra openssl ocsp args...]
# CA: ca1 (self-signing), ca2 (delegated signer ca2-ocsp) or ca1-evil
# (ca1's index, signed by the evil look-alike root: a forged response).
# T_RSIGNER and T_RKEY, when set, name another signer certificate and key.
# Default -nmin 60 unless the extra args carry -nmin or -ndays.
t_responder_start()
{
	local name=$1 ca=$2 port=$3 idx signer key cacert a nxt=yes
	shift 3
	case $ca in
	ca1) idx=ca1 signer=$T/pki/ca1/ca.crt key=$T/pki/ca1/ca.key ;;
	ca2) idx=ca2 signer=$T/pki/ca2/ca2-ocsp.crt key=$T/pki/ca2/ca2-ocsp.key ;;
	ca1-evil) idx=ca1 signer=$T/pki/evil/ca.crt key=$T/pki/evil/ca.key ;;
	*) echo "t_responder_start: unknown CA $ca" >&2; return 1 ;;
	esac
	signer=${T_RSIGNER:-$signer}
	key=${T_RKEY:-$key}
	cacert=$T/pki/$idx/ca.crt
	for a in "$@"; do
		case $a in -nmin|-ndays) nxt= ;; esac
	done
	# stdbuf: the -text log is read while the responder runs.
	stdbuf -oL -eL $OPENSSL ocsp -index "$T/pki/$idx/index.txt" \
	    -port "$port" -rsigner "$signer" -rkey "$key" -CA "$cacert" \
	    -text ${nxt:+-nmin 60} "$@" </dev/null \
	    >"$T/responder-$name.log" 2>&1 &
	local pid=$!
	_t_record "$pid"
	echo "$pid" >"$T/responder-$name.pid"
	t_wait_listen "$port" 10 || {
		cat "$T/responder-$name.log" >&2
		return 1
	}
}

t_responder_stop() { _t_stop_pidfile "$T/responder-$1.pid"; }

# t_responder_count NAME: requests served so far.
t_responder_count() { _t_count 'OCSP Request Data:' "$T/responder-$1.log"; }

# _t_stop_pidfile FILE: stops the process named in FILE, if any.
_t_stop_pidfile()
{
	[ -f "$1" ] || return 0
	t_kill "$(cat "$1")"
	rm -f "$1"
}

# _t_count REGEX FILE: lines of FILE matching REGEX (0 when none).
_t_count()
{
	local n
	n=$(grep -c -- "$1" "$2" 2>/dev/null)
	echo "${n:-0}"
}

# ---------------------------------------------------------------- fake upstream

# t_fake_start NAME PORT MODE: tests/fake_upstream.py (MODE garbage,
# http500, file:PATH, hang, close), log in $T/fake-NAME.log, the request
# bodies it got in $T/fake-NAME.d/req-N.der.
t_fake_start()
{
	mkdir -p "$T/fake-$1.d"
	python3 "$TESTS_DIR/fake_upstream.py" "$3" "$2" "$T/fake-$1.d" \
	    >"$T/fake-$1.log" 2>&1 </dev/null &
	local pid=$!
	_t_record "$pid"
	echo "$pid" >"$T/fake-$1.pid"
	t_wait_listen "$2" 10 || { cat "$T/fake-$1.log" >&2; return 1; }
}

t_fake_stop() { _t_stop_pidfile "$T/fake-$1.pid"; }

# t_fake_count NAME: requests the fake upstream has seen.
t_fake_count() { _t_count '^REQ ' "$T/fake-$1.log"; }

# t_forged OUT [openssl ocsp args]: good1's response from the look-alike
# of ca1 (the responder "evil", ca1-evil, on a port of its own with the
# args given, stopped afterwards): good1's CertID, status good, a
# signature that does not verify.  Fails when nothing came back.
t_forged()
{
	local out=$1 port
	shift
	port=$(t_port)
	rm -f "$out"
	t_responder_start evil ca1-evil "$port" "$@" || return 1
	t_query evil "$(t_crt good1)" "$(t_issuer good1)" \
	    "http://127.0.0.1:$port/" "$out"
	t_responder_stop evil
	[ -s "$out" ]
}

# t_bad_responses GENUINE DIR [openssl ocsp args]: what a bad upstream
# answers for good1, made from GENUINE (ca1's response for good1) by
# tests/ocsp_retime.py and checked (four results):
#   DIR/expired.der  window over (thisUpdate 2 h ago, nextUpdate 1 h ago)
#   DIR/future.der   not valid yet (thisUpdate in 2 h, nextUpdate in 3 h)
#                    (both signed again with ca1's key: genuine signatures)
#   DIR/badsig.der   its signature broken
#   DIR/forged.der   t_forged (with the args)
t_bad_responses()
{
	local in=$1 d=$2 k=$T/pki/ca1/ca.key r=$TESTS_DIR/ocsp_retime.py
	shift 2
	mkdir -p "$d"
	python3 "$r" "$in" "$d/expired.der" "$k" \
	    --this -7200 --next -3600 --produced -7200
	python3 "$r" "$in" "$d/future.der" "$k" \
	    --this 7200 --next 10800 --produced 7200
	python3 "$r" "$in" "$d/badsig.der" "$k" --break-signature
	t_forged "$d/forged.der" "$@"
	check "fixture expired.der: genuinely signed by ca1, window over" \
	    t_vsig "$d/expired.der" good1
	check "fixture future.der: genuinely signed by ca1, not valid yet" \
	    t_vsig "$d/future.der" good1
	check "fixture badsig.der: names good1 good, does not verify" \
	    t_vforged "$d/badsig.der" good1
	check "fixture forged.der: names good1 good, does not verify" \
	    t_vforged "$d/forged.der" good1
}

# ---------------------------------------------------------------- ocspxy

# t_built PROGRAM...: each is in $OCSPXY_BUILD; otherwise one fail and
# the end of the test.
t_built()
{
	local b
	for b in "$@"; do
		if [ ! -x "$OCSPXY_BUILD/$b" ]; then
			fail "no $OCSPXY_BUILD/$b: build it first (make)"
			t_done
		fi
	done
}

# t_base: the start of most tests: the programs are built, a Redis and the
# test PKI are up; otherwise one fail and the end of the test.
t_base()
{
	t_built ocspxy-fcgi
	t_redis_start || { fail "redis-server does not start"; t_done; }
	t_pki || { fail "test PKI"; t_done; }
}

# t_begin [ARGS...]: t_base, then the responders r1 (ca1 on PKI_PORT1) and
# r2 (ca2 on PKI_PORT2), with extra openssl ocsp ARGS (e.g. -ndays 1).
t_begin()
{
	t_base
	t_responder_start r1 ca1 "$PKI_PORT1" "$@" ||
	    { fail "responder ca1"; t_done; }
	t_responder_start r2 ca2 "$PKI_PORT2" "$@" ||
	    { fail "responder ca2"; t_done; }
}

# t_proxy_start CONF [children]: ocspxy-fcgi under spawn-fcgi behind
# nginx, both checked (the test ends when either fails); sets NP (nginx's
# port), PX (its URL), and H1, H2 (the Host of responders r1 and r2).
t_proxy_start()
{
	local n=${2:-2}
	check "ocspxy-fcgi starts under spawn-fcgi ($n children)" \
	    t_fcgi_start "$1" "$n" || t_done
	NP=$(t_port)
	check "nginx starts in front of it" t_nginx_start "$NP" || t_done
	PX=http://127.0.0.1:$NP
	H1=127.0.0.1:$PKI_PORT1
	H2=127.0.0.1:$PKI_PORT2
}

# t_conf FILE key value ...: an ocspxy config file; base keys first
# (redis unix:$T/redis.sock, upstream_timeout 3, and the upstream policy
# that lets the tests' responders on 127.0.0.1:<random port> through:
# upstream_ports 1024-65535, upstream_allow 127.0.0.1), then the pairs
# given (a value may hold spaces: pass it as one argument).
t_conf()
{
	local f=$1
	shift
	{
		echo "redis unix:$T/redis.sock"
		echo "upstream_timeout 3"
		echo "upstream_ports 1024-65535"
		echo "upstream_allow 127.0.0.1"
		echo "runtime_dir $T/run"
		while [ $# -ge 2 ]; do
			echo "$1 $2"
			shift 2
		done
	} >"$f"
}

# t_conf_refused NAME KEY: ocspxy-fcgi refuses the one-line config
# $T/NAME.conf at start: exit 2, and its stderr ($T/NAME.err) names the
# file, line 1 and KEY.
t_conf_refused()
{
	"$OCSPXY_BUILD/ocspxy-fcgi" -c "$T/$1.conf" </dev/null >/dev/null \
	    2>"$T/$1.err"
	[ $? = 2 ] && grep -q "$1\.conf:1: key .$2." "$T/$1.err"
}

# t_fcgi_start CONF [children]: ocspxy-fcgi under spawn-fcgi on
# $T/fcgi.sock.  spawn-fcgi -F sends its children's stderr to /dev/null,
# so a /bin/sh exec wrapper points it at $T/fcgi.log (same pid).
t_fcgi_start()
{
	local conf=$1 n=${2:-2} p bin=$OCSPXY_BUILD/ocspxy-fcgi
	[ -x "$bin" ] || { echo "# $bin missing" >&2; return 1; }
	rm -f "$T/fcgi.sock" "$T/fcgi.pid"
	spawn-fcgi -s "$T/fcgi.sock" -M 0777 -P "$T/fcgi.pid" -F "$n" -- \
	    /bin/sh -c 'l=$1; shift; exec "$@" 2>>"$l"' sh "$T/fcgi.log" \
	    "$bin" -c "$conf" >>"$T/spawn-fcgi.log" 2>&1 </dev/null || {
		cat "$T/spawn-fcgi.log" >&2
		return 1
	}
	_t_wait_file "$T/fcgi.pid" 5 || return 1
	t_fcgi_pids "$T/fcgi.pid"
	_t_wait_file "$T/fcgi.sock" 5 || return 1
	# a child that fails at once (a bad config) has gone by now
	sleep 0.1
	t_fcgi_alive || {
		echo "# ocspxy-fcgi exited at start:" >&2
		tail -3 "$T/fcgi.log" >&2
		return 1
	}
}

# t_fcgi_pids FILE [VAR]: records the pids of a spawn-fcgi pid file (one a
# line, no final newline) and lists them in VAR (default FCGI_PIDS).
t_fcgi_pids()
{
	local p list=
	while read -r p || [ -n "$p" ]; do
		[ -n "$p" ] || continue
		_t_record "$p"
		list="$list $p"
	done <"$1"
	printf -v "${2:-FCGI_PIDS}" %s "$list"
}

t_fcgi_stop()
{
	# shellcheck disable=SC2086
	[ -n "$FCGI_PIDS" ] && t_kill $FCGI_PIDS
	FCGI_PIDS=
	rm -f "$T/fcgi.sock" "$T/fcgi.pid"
}

# t_fcgi_pool WHERE LOG CONF N VAR: another pool of N ocspxy-fcgi
# processes under spawn-fcgi, on WHERE (a socket path, or 127.0.0.1:PORT),
# stderr appended to LOG (name it $T/run-*.err for t_sanitizer_check),
# pid file $T/pool-<LOG's name>.pid; their pids recorded and listed in
# VAR.
t_fcgi_pool()
{
	local where=$1 log=$2 conf=$3 n=$4 var=$5 bin=$OCSPXY_BUILD/ocspxy-fcgi
	local p pidf bind
	pidf=$T/pool-$(basename "$log").pid
	rm -f "$pidf"
	case $where in
	/*) rm -f "$where"; bind=(-s "$where" -M 0777) ;;
	*) bind=(-a "${where%:*}" -p "${where##*:}") ;;
	esac
	spawn-fcgi "${bind[@]}" -P "$pidf" -F "$n" -- \
	    /bin/sh -c 'l=$1; shift; exec "$@" 2>>"$l"' sh "$log" \
	    "$bin" -c "$conf" >>"$T/spawn-fcgi.log" 2>&1 </dev/null || {
		cat "$T/spawn-fcgi.log" >&2
		return 1
	}
	_t_wait_file "$pidf" 5 || return 1
	t_fcgi_pids "$pidf" "$var"
	case $where in
	/*) _t_wait_file "$where" 5 || return 1 ;;
	*) t_wait_listen "${where##*:}" 5 || return 1 ;;
	esac
	sleep 0.1
	for p in ${!var}; do
		_t_alive "$p" || {
			echo "# ocspxy-fcgi exited at start:" >&2
			tail -3 "$log" >&2
			return 1
		}
	done
}

# t_loglines: the lines ocspxy-fcgi has logged so far ($T/fcgi.log).
t_loglines() { wc -l <"$T/fcgi.log" 2>/dev/null || echo 0; }

# t_fcgi_alive: every ocspxy-fcgi child is still running.
t_fcgi_alive()
{
	local p
	[ -n "$FCGI_PIDS" ] || return 1
	for p in $FCGI_PIDS; do
		_t_alive "$p" || return 1
	done
}

# t_nginx_start PORT [SITE...]: nginx in front of $T/fcgi.sock on
# 127.0.0.1:PORT with the shipped server block nginx/ocspxy.conf (or
# $OCSPXY_NGINX_SITE, same shape), and the server blocks of the SITE files
# if any (lib_nginx.sh writes the nginx.conf); T_NGINX_WORKERS worker
# processes (1) of T_NGINX_CONNS connections (256), error log
# $T/nginx-error.log at level T_NGINX_LOG (info).  Sets NGINX_PID, and
# NGINX_WORKERS to the workers' pids (recorded too).
t_nginx_start()
{
	local port=$1 site=${OCSPXY_NGINX_SITE:-$SRC_DIR/nginx/ocspxy.conf} i
	shift
	t_nginx_site "$site" "$port" "$T/fcgi.sock" >"$T/site.conf" || return 1
	t_nginx_conf "$T" "${T_NGINX_WORKERS:-1}" "${T_NGINX_CONNS:-256}" \
	    "$T/nginx-error.log ${T_NGINX_LOG:-info}" "$T/site.conf" "$@" ||
	    return 1
	t_serve NGINX_PID "$port" "$T/nginx-out.log" "$T/nginx-error.log" -- \
	    nginx -c "$T/nginx.conf" -p "$T" -e "$T/nginx-error.log" || return 1
	# the workers (children of the master) die with it, but record them too
	for ((i = 0; i < 50; i++)); do
		NGINX_WORKERS=$(pgrep -P "$NGINX_PID" 2>/dev/null | tr '\n' ' ')
		[ "$(wc -w <<<"$NGINX_WORKERS")" -ge "${T_NGINX_WORKERS:-1}" ] &&
		    break
		sleep 0.05
	done
	for i in $NGINX_WORKERS; do
		_t_record "$i"
	done
}

t_nginx_stop()
{
	[ -n "$NGINX_PID" ] && t_kill "$NGINX_PID"
	NGINX_PID=
	NGINX_WORKERS=
}

# ---------------------------------------------------------------- clients

# t_query NAME CERT ISSUER URL OUT [extra openssl ocsp args]: one OCSP
# query with openssl (no nonce unless -nonce is in the extra args),
# verified against $T/pki/roots.pem.  Output in $T/query-NAME.log; returns
# openssl's exit status.  T_DIGEST=-sha256 makes a SHA-256 CertID.
t_query()
{
	local name=$1 cert=$2 issuer=$3 url=$4 out=$5
	shift 5
	rm -f "$out"
	$OPENSSL ocsp -issuer "$issuer" $T_DIGEST -cert "$cert" -url "$url" \
	    -respout "$out" -CAfile "$T/pki/roots.pem" -timeout 10 \
	    -no_nonce "$@" >"$T/query-$name.log" 2>&1
}

# t_reqout CERT ISSUER OUT [extra]: a DER request (no nonce by default;
# T_DIGEST as for t_query).
t_reqout()
{
	local cert=$1 issuer=$2 out=$3
	shift 3
	$OPENSSL ocsp -issuer "$issuer" $T_DIGEST -cert "$cert" -reqout "$out" \
	    -no_nonce "$@" >/dev/null 2>&1
}

# t_verify RESPFILE ISSUER CERT CAFILE EXPECT: the response is signed by a
# trusted responder and gives status EXPECT (good|revoked|unknown) for
# CERT.  Output in $RESPFILE.verify.  T_DIGEST=-sha256 for SHA-256 CertIDs.
t_verify()
{
	local resp=$1 issuer=$2 cert=$3 cafile=$4 expect=$5 out=$1.verify
	[ -s "$resp" ] || { echo "no response file $resp" >"$out"; return 1; }
	$OPENSSL ocsp -respin "$resp" -issuer "$issuer" $T_DIGEST -cert "$cert" \
	    -CAfile "$cafile" -no_nonce >"$out" 2>&1
	grep -q '^Response verify OK' "$out" || return 1
	grep -q -- "^$cert: $expect\$" "$out" || return 1
	return 0
}

# t_verify_sig RESPFILE ISSUER CERT CAFILE: only the signature (and the
# signer's authority) verifies: "Response verify OK", whatever the times
# (t_verify also needs the status line, which an expired or not yet valid
# response replaces by "WARNING: Status times invalid.").
t_verify_sig()
{
	local out=$1.verify
	[ -s "$1" ] || { echo "no response file $1" >"$out"; return 1; }
	$OPENSSL ocsp -respin "$1" -issuer "$2" $T_DIGEST -cert "$3" \
	    -CAfile "$4" -no_nonce >"$out" 2>&1
	grep -q '^Response verify OK' "$out"
}

# t_vsig RESPFILE LEAF: t_verify_sig with the test PKI's paths.
t_vsig()
{
	t_verify_sig "$1" "$(t_issuer "$2")" "$(t_crt "$2")" "$T/pki/roots.pem"
}

# t_vforged RESPFILE LEAF: a fixture made to be refused: a response that
# names LEAF as good, and whose signature does not verify.
t_vforged()
{
	$OPENSSL ocsp -respin "$1" -issuer "$(t_issuer "$2")" \
	    $T_DIGEST -cert "$(t_crt "$2")" -CAfile "$T/pki/roots.pem" -no_nonce \
	    >"$1.verify" 2>&1
	grep -q -- "$2.crt: good\$" "$1.verify" &&
	    ! grep -q '^Response verify OK' "$1.verify"
}

# t_vleaf RESPFILE LEAF EXPECT: t_verify with the test PKI's paths.
t_vleaf()
{
	t_verify "$1" "$(t_issuer "$2")" "$(t_crt "$2")" "$T/pki/roots.pem" "$3"
}

# t_resp_times RESPFILE: prints "thisUpdate nextUpdate" in unix seconds
# (nextUpdate empty if absent) of the first single response.
t_resp_times()
{
	local txt tu nu
	txt=$($OPENSSL ocsp -respin "$1" -resp_text -noverify 2>/dev/null)
	tu=$(echo "$txt" | sed -n 's/^ *This Update: //p' | head -1)
	nu=$(echo "$txt" | sed -n 's/^ *Next Update: //p' | head -1)
	[ -n "$tu" ] || return 1
	echo "$(date -u -d "$tu" +%s) ${nu:+$(date -u -d "$nu" +%s)}"
}

# t_http OUTPREFIX CURL-ARGS...: prints the HTTP status (000 if no answer);
# body in OUTPREFIX.body, headers in OUTPREFIX.hdr.
t_http()
{
	local pfx=$1
	shift
	rm -f "$pfx.body" "$pfx.hdr"
	curl -sS --max-time 15 -o "$pfx.body" -D "$pfx.hdr" \
	    -w '%{http_code}' "$@" 2>"$pfx.curlerr"
	return 0
}

# t_hdr HDRFILE NAME: value of a response header (last one, CR stripped).
t_hdr()
{
	tr -d '\r' <"$1" | awk -v n="$2" 'BEGIN { n = tolower(n) }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n)
		  { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); r = v } }
		END { if (r == "") exit 1; print r }'
}

# t_post OUTPREFIX URL REQFILE [curl args]: POST an OCSP request.
t_post()
{
	local pfx=$1 url=$2 req=$3
	shift 3
	t_http "$pfx" -X POST -H 'Content-Type: application/ocsp-request' \
	    --data-binary "@$req" "$@" "$url"
}

# t_post_leaf PREFIX LEAF [curl args]: POSTs the leaf's request
# ($T/req-LEAF.der) to the proxy at $PX with its responder's Host (or
# PQ_HOST when set) and path (t_leaf_host, t_leaf_path); prints the HTTP
# status.
t_post_leaf()
{
	local pfx=$1 leaf=$2
	shift 2
	t_post "$pfx" "$PX$(t_leaf_path "$leaf")" "$T/req-$leaf.der" \
	    -H "Host: ${PQ_HOST:-$(t_leaf_host "$leaf")}" "$@"
}

# t_get_path REQFILE: the RFC 6960 GET path segment (url-encoded base64).
t_get_path()
{
	base64 -w0 <"$1" | sed -e 's/%/%25/g' -e 's/+/%2B/g' -e 's|/|%2F|g' \
	    -e 's/=/%3D/g'
}

# t_cgi [VAR=value ...] -- STDIN_FILE: run ocspxy-fcgi once as a CGI
# program with config ${T_CGI_CONF:-$T/ocspxy.conf}.  Output (status
# lines, headers, body) on stdout, stderr to $T/cgi.err; returns its exit
# status.
t_cgi()
{
	local envs=() in=/dev/null
	while [ $# -gt 0 ]; do
		if [ "$1" = -- ]; then
			in=${2:-/dev/null}
			break
		fi
		envs+=("$1")
		shift
	done
	env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
	    ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
	    ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} \
	    "${envs[@]}" "$OCSPXY_BUILD/ocspxy-fcgi" \
	    -c "${T_CGI_CONF:-$T/ocspxy.conf}" <"$in" 2>>"$T/cgi.err"
}

# t_cgi_leaf PREFIX LEAF [VAR=value ...]: the leaf's request
# ($T/req-LEAF.der) POSTed to ocspxy-fcgi run once as a CGI program (t_cgi,
# config T_CGI_CONF) with its responder's Host (or PQ_HOST) and path; the
# whole answer in PREFIX.raw, split (t_cgi_split) into PREFIX.hdr and
# PREFIX.body.  Returns t_cgi's exit status.
t_cgi_leaf()
{
	local pfx=$1 leaf=$2 req=$T/req-$2.der rc
	shift 2
	t_cgi REQUEST_METHOD=POST CONTENT_TYPE=application/ocsp-request \
	    CONTENT_LENGTH="$(stat -c %s "$req")" \
	    HTTP_HOST="${PQ_HOST:-$(t_leaf_host "$leaf")}" \
	    REQUEST_URI="$(t_leaf_path "$leaf")" REMOTE_ADDR=127.0.0.1 "$@" \
	    -- "$req" >"$pfx.raw"
	rc=$?
	t_cgi_split "$pfx.raw" "$pfx.hdr" "$pfx.body"
	return $rc
}

# t_cgi_split OUT HDRFILE BODYFILE: split a CGI answer at its blank line
# (CRLF or LF); headers with CR stripped.
t_cgi_split()
{
	python3 - "$1" "$2" "$3" <<-'PY'
	import sys
	d = open(sys.argv[1], "rb").read()
	i, n = d.find(b"\r\n\r\n"), 4
	if i < 0:
	    i, n = d.find(b"\n\n"), 2
	head, body = (d[:i], d[i + n:]) if i >= 0 else (d, b"")
	open(sys.argv[2], "wb").write(head.replace(b"\r", b"") + b"\n")
	open(sys.argv[3], "wb").write(body)
	PY
}

# t_key ISSUER CERT [prefix] [sha1|sha256]: the expected Redis key
# (<prefix>sha256:<key hash>0x<serial> for SHA-256, ocsp_req_key()).
t_key()
{
	local issuer=$1 cert=$2 prefix=${3:-ocspxy_} alg=${4:-sha1} h s
	if [ "$alg" = sha1 ]; then
		h=$($OPENSSL x509 -in "$issuer" -noout -ocspid |
		    sed -n "s/^ *Public key OCSP hash: *//p")
	else
		# as sent on the wire: from a request's text form
		$OPENSSL ocsp -issuer "$issuer" "-$alg" -cert "$cert" \
		    -no_nonce -reqout "$T/.tkey.der" >/dev/null 2>&1 || return 1
		h=$($OPENSSL ocsp -reqin "$T/.tkey.der" -req_text 2>/dev/null |
		    sed -n 's/^ *Issuer Key Hash: *//p' | head -1)
	fi
	h=$(echo "$h" | tr -d ' :\n' | tr 'A-F' 'a-f')
	s=$($OPENSSL x509 -in "$cert" -noout -serial)
	s=${s#serial=}
	s=$(echo "$s" | tr 'A-F' 'a-f' | sed 's/^0*//')
	[ -n "$h" ] || return 1
	[ "$alg" = sha1 ] || prefix=$prefix$alg:
	echo "${prefix}${h}0x${s:-0}"
}

# t_kleaf LEAF [prefix] [alg]: t_key with the test PKI's paths.
t_kleaf() { t_key "$(t_issuer "$1")" "$(t_crt "$1")" "$2" "$3"; }

# ---------------------------------------------------------------- https responders

# t_selfsigned NAME SAN: a self-signed EC certificate with subjectAltName
# SAN (e.g. IP:127.0.0.1), $T/pki/NAME.crt and .key: a TLS server no test
# CA vouches for.
t_selfsigned()
{
	local d=$T/pki
	_t_key ec "$d/$1.key" || return 1
	$OPENSSL req -new -x509 -key "$d/$1.key" -sha256 -days 3650 \
	    -subj "/O=ocspxy test/CN=$1 self-signed" -addext "subjectAltName=$2" \
	    -out "$d/$1.crt" 2>"$d/$1.err" || { cat "$d/$1.err" >&2; return 1; }
}

# t_tls_front NAME BACKEND PORT:CHAIN:KEY...: an OCSP responder that
# speaks https: nginx (files in $T/nginx-NAME) with one TLS server on
# 127.0.0.1:PORT per argument, with the certificate chain CHAIN and its
# key KEY, each passing every request to http://127.0.0.1:BACKEND (an
# `openssl ocsp` responder).  Waits until every port listens; the pid in
# NGINX_PID_NAME (recorded, stopped by pid at the end).
t_tls_front()
{
	local name=$1 backend=$2 d=$T/nginx-$1 s port chain key
	shift 2
	mkdir -p "$d"
	for s in "$@"; do
		IFS=: read -r port chain key <<<"$s"
		cat <<-EOF
		server {
			listen 127.0.0.1:$port ssl;
			ssl_certificate $chain;
			ssl_certificate_key $key;
			location / { proxy_pass http://127.0.0.1:$backend; }
		}
		EOF
	done >"$d/site.conf"
	t_nginx_conf "$d" 1 64 "$d/nginx-error.log info" "$d/site.conf" ||
	    return 1
	t_serve "NGINX_PID_$name" "${1%%:*}" "$d/nginx-out.log" \
	    "$d/nginx-error.log" -- \
	    nginx -c "$d/nginx.conf" -p "$d" -e "$d/nginx-error.log" || return 1
	for s in "$@"; do
		t_wait_listen "${s%%:*}" 5 || return 1
	done
}
