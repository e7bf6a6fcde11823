# tests/lib_fronts.sh: the web server fronts and TLS stapling helpers for
# the ocspxy tests (bash, sourced after lib.sh).
#
# Each front is started from the file this tree ships (fcgi/ocspxy-spawn,
# lighttpd/ocspxy.conf, apache/*.conf), with its address, paths and
# @SBINDIR@/@SYSCONFDIR@ rewritten into $T by sed; every server runs in the
# foreground, records its pid in $T/pids and is stopped by pid.

# ---------------------------------------------------------------- spawn-fcgi

# tf_spawn_start CONF [children]: ocspxy-fcgi through fcgi/ocspxy-spawn
# (spawn-fcgi) on $T/fcgi.sock, as lib.sh's t_fcgi_start does (same
# socket, pid file and log, FCGI_PIDS set; t_fcgi_stop stops it). As root,
# the processes run as nobody:nogroup, as the launcher is meant to be used.
tf_spawn_start()
{
	local conf=$1 n=${2:-2} p
	rm -f "$T/fcgi.sock" "$T/fcgi.pid"
	OCSPXY_FCGI=$OCSPXY_BUILD/ocspxy-fcgi OCSPXY_CONFIG=$conf \
	    "$SRC_DIR/fcgi/ocspxy-spawn" -s "$T/fcgi.sock" -n "$n" \
	    -p "$T/fcgi.pid" -l "$T/fcgi.log" -u nobody -g nogroup \
	    -G nogroup -M 0660 start >>"$T/spawn.log" 2>&1 </dev/null || {
		cat "$T/spawn.log" >&2
		return 1
	}
	_t_wait_file "$T/fcgi.sock" 5 || return 1
	t_fcgi_pids "$T/fcgi.pid"
	[ -n "$FCGI_PIDS" ]
}

# tf_spawn_stop: ocspxy-spawn stop, then forget the pids.
tf_spawn_stop()
{
	local p
	"$SRC_DIR/fcgi/ocspxy-spawn" -s "$T/fcgi.sock" -p "$T/fcgi.pid" stop \
	    >>"$T/spawn.log" 2>&1
	for p in $FCGI_PIDS; do
		_t_forget "$p"
	done
	FCGI_PIDS=
}

# tf_pid_user PID: the user name a process runs as.
tf_pid_user() { ps -o user= -p "$1" 2>/dev/null | tr -d ' '; }

# ---------------------------------------------------------------- lighttpd

# tf_lighttpd_start PORT CONF: lighttpd in the foreground with the shipped
# lighttpd/ocspxy.conf (listen address, program, config and socket folder
# rewritten), spawning ocspxy-fcgi itself (bin-path). Files in $T/lighttpd.
tf_lighttpd_start()
{
	local port=$1 conf=$2 d=$T/lighttpd
	mkdir -p "$d/run" "$d/www"
	# lighttpd opens its logs after dropping to www-data
	chown -R www-data:www-data "$d" 2>/dev/null
	sed -e "s|127\.0\.0\.1:8008|127.0.0.1:$port|g" \
	    -e "s|@SBINDIR@/ocspxy-fcgi|$OCSPXY_BUILD/ocspxy-fcgi|g" \
	    -e "s|@SYSCONFDIR@/ocspxy/ocspxy\.conf|$conf|g" \
	    -e "s|/run/lighttpd/|$d/run/|g" \
	    "$SRC_DIR/lighttpd/ocspxy.conf" >"$d/ocspxy.conf"
	# The main server listens on a unix socket only: the one TCP port
	# is the snippet's.
	cat >"$d/lighttpd.conf" <<-EOF
	server.document-root = "$d/www"
	server.bind = "$d/main.sock"
	server.pid-file = "$d/lighttpd.pid"
	server.errorlog = "$d/error.log"
	server.username = "www-data"
	server.groupname = "www-data"
	include "$d/ocspxy.conf"
	EOF
	lighttpd -tt -f "$d/lighttpd.conf" >"$d/configtest.log" 2>&1 || {
		cat "$d/configtest.log" >&2
		return 1
	}
	t_serve LIGHTTPD_PID "$port" "$d/out.log" "$d/error.log" -- \
	    lighttpd -D -f "$d/lighttpd.conf"
}

# tf_lighttpd_stop: stop lighttpd (it stops the processes it spawned).
tf_lighttpd_stop()
{
	[ -n "$LIGHTTPD_PID" ] && t_kill "$LIGHTTPD_PID"
	LIGHTTPD_PID=
}

# ---------------------------------------------------------------- Apache

# tf_apache_conf NAME: writes $T/apache-NAME/httpd.conf, a private server
# (modules from /usr/lib/apache2/modules, every file under
# $T/apache-NAME); append Listen/VirtualHost/Include lines to it, then
# tf_apache_start. Children run as www-data (Apache refuses root).
tf_apache_conf()
{
	local d=$T/apache-$1 m
	mkdir -p "$d/run" "$d/log"
	{
		echo "ServerRoot \"$d\""
		echo "ServerName 127.0.0.1"
		echo "DefaultRuntimeDir \"$d/run\""
		echo "PidFile \"$d/run/httpd.pid\""
		echo "Mutex file:$d/run default"
		echo "ErrorLog \"$d/log/error.log\""
		echo "LogLevel ${TF_APACHE_LOGLEVEL:-warn}"
		echo "Define APACHE_LOG_DIR $d/log"
		for m in mpm_event authz_core fcgid ssl socache_shmcb; do
			echo "LoadModule ${m}_module /usr/lib/apache2/modules/mod_$m.so"
		done
		echo 'LogFormat "%h %t \"%r\" %>s %b" common'
		# as Debian's apache2.conf (apache/ocspxy.conf uses it)
		echo 'LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined'
		echo "CustomLog \"$d/log/access.log\" common"
		echo "User www-data"
		echo "Group www-data"
		echo "StartServers 1"
		echo "ServerLimit 1"
		echo "ThreadsPerChild 16"
		echo "MaxRequestWorkers 16"
		echo "MinSpareThreads 1"
		echo "MaxSpareThreads 16"
		echo "FcgidIPCDir \"$d/run/fcgid\""
		echo "FcgidProcessTableFile \"$d/run/fcgid_shm\""
		# mod_fcgid gives its processes an empty environment
		[ -n "${ASAN_OPTIONS:-}" ] &&
		    echo "FcgidInitialEnv ASAN_OPTIONS \"$ASAN_OPTIONS\""
		[ -n "${UBSAN_OPTIONS:-}" ] &&
		    echo "FcgidInitialEnv UBSAN_OPTIONS \"$UBSAN_OPTIONS\""
	} >"$d/httpd.conf"
}

# tf_apache_site PORT CONF OUT: the shipped apache/ocspxy.conf for
# 127.0.0.1:PORT, running $OCSPXY_BUILD/ocspxy-fcgi -c CONF.
tf_apache_site()
{
	sed -e "s|127\.0\.0\.1:8008|127.0.0.1:$1|g" \
	    -e "s|@SBINDIR@/ocspxy-fcgi|$OCSPXY_BUILD/ocspxy-fcgi|g" \
	    -e "s|@SYSCONFDIR@/ocspxy/ocspxy\.conf|$2|g" \
	    "$SRC_DIR/apache/ocspxy.conf" >"$3"
}

# tf_apache_start NAME PORT: configtest, then apache2 -DFOREGROUND; waits
# until PORT listens. APACHE_PID_<NAME> holds the pid.
tf_apache_start()
{
	local name=$1 port=$2 d=$T/apache-$1
	apache2 -t -f "$d/httpd.conf" >"$d/configtest.log" 2>&1 || {
		cat "$d/configtest.log" >&2
		return 1
	}
	t_serve "APACHE_PID_$name" "$port" "$d/log/out.log" "$d/log/error.log" \
	    -- apache2 -f "$d/httpd.conf" -DFOREGROUND
}

# tf_apache_stop NAME PORT...: stop by pid (Apache stops its children and
# mod_fcgid's processes), wait until the ports are free.
tf_apache_stop()
{
	local name=$1 v p
	shift
	v=APACHE_PID_$name
	[ -n "${!v:-}" ] && t_kill "${!v}"
	printf -v "$v" %s ""
	for p in "$@"; do
		t_wait_gone "$p" 5
	done
}

# tf_children_of PID: the pids of every descendant of PID.
tf_children_of()
{
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c"
		tf_children_of "$c"
	done
}

# tf_sanitizer_logs FILE...: a fail for each sanitizer report in the logs
# of the servers that ran ocspxy-fcgi (lib.sh checks its own logs).
tf_sanitizer_logs()
{
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
			fail "sanitizer report in $f: $(grep -m1 -E 'Sanitizer|runtime error:' "$f")"
		fi
	done
}

# ---------------------------------------------------------------- queries

# tf_ocsp NAME FRONTPORT RESPHOST LEAF OUT [extra openssl ocsp args]: the
# request a client behind the proxy sends: to the front, with the real
# responder's Host header.
tf_ocsp()
{
	local name=$1 port=$2 host=$3 leaf=$4 out=$5
	shift 5
	t_query "$name" "$(t_crt "$leaf")" "$(t_issuer "$leaf")" \
	    "http://127.0.0.1:$port/" "$out" -header "Host=$host" "$@"
}

# tf_entry KEY OUT: the entry's field names (sorted) and the fields that
# do not change from one fetch to the next (responder, request, status),
# so that entries written through different fronts compare with cmp.
tf_entry()
{
	local key=$1 out=$2 f
	{
		echo "fields: $(rcli --raw hkeys "$key" | sort | tr '\n' ' ')"
		for f in ocsp_responder request status; do
			printf '%s ' "$f"
			rcli --raw hget "$key" "$f" | head -c -1 | od -An -v -tx1 |
			    tr -d ' \n'
			echo
		done
	} >"$out"
}

# ---------------------------------------------------------------- TLS

# _tf_sign CA NAME SERIAL SUBJECT: an EC key CA/NAME.key and the
# certificate CA/NAME.crt for SUBJECT, signed by CA with the extensions
# of CA/NAME.ext.
_tf_sign()
{
	local ca=$1 name=$2
	_t_key ec "$ca/$name.key" || return 1
	$OPENSSL req -new -key "$ca/$name.key" -subj "$4" \
	    -out "$ca/$name.csr" 2>/dev/null || return 1
	$OPENSSL x509 -req -in "$ca/$name.csr" -CA "$ca/ca.crt" \
	    -CAkey "$ca/ca.key" -set_serial "$3" -sha256 -days 3650 \
	    -extfile "$ca/$name.ext" -out "$ca/$name.crt" 2>"$ca/$name.err" ||
	    { cat "$ca/$name.err" >&2; return 1; }
	rm -f "$ca/$name.csr"
}

# tf_tls_leaf NAME SERIAL [URL]: a TLS server certificate for localhost
# and 127.0.0.1 issued by ca1, its OCSP URL (AIA) URL (default ca1's
# responder, http://127.0.0.1:$PKI_PORT1/), status good in ca1's index.
# Files: $T/pki/ca1/NAME.crt .key, NAME-chain.pem (leaf + ca1).
tf_tls_leaf()
{
	local ca=$T/pki/ca1 name=$1 url=${3:-http://127.0.0.1:$PKI_PORT1/} \
	    serial exp
	cat >"$ca/$name.ext" <<-EOF
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = DNS:localhost, IP:127.0.0.1
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid, issuer
	authorityInfoAccess = OCSP;URI:$url
	EOF
	_tf_sign "$ca" "$name" "$2" "/O=ocspxy test/CN=localhost" || return 1
	cat "$ca/$name.crt" "$ca/ca.crt" >"$ca/$name-chain.pem"
	serial=$($OPENSSL x509 -in "$ca/$name.crt" -noout -serial) || return 1
	serial=${serial#serial=}
	exp=$($OPENSSL x509 -in "$ca/$name.crt" -noout -enddate)
	exp=$(date -u -d "${exp#notAfter=}" +%y%m%d%H%M%SZ) || return 1
	printf 'V\t%s\t\t%s\tunknown\t%s\n' "$exp" "$serial" \
	    "/O=ocspxy test/CN=localhost" >>"$ca/index.txt"
}

# tf_stapling_begin: where the stapling tests start: t_base, a TLS
# certificate for localhost (tf_tls_leaf tls) whose OCSP URL is ca1's
# responder r1, and r1 running; sets CA (ca1's folder), KEY (the TLS
# certificate's Redis key) and H1 (r1's Host).  The test ends when any of
# it fails.
tf_stapling_begin()
{
	t_base
	check "TLS certificate for localhost (ca1), OCSP URL http://127.0.0.1:$PKI_PORT1/" \
	    tf_tls_leaf tls 0x1010 || t_done
	t_responder_start r1 ca1 "$PKI_PORT1" || { fail "responder ca1"; t_done; }
	CA=$T/pki/ca1
	KEY=$(t_key "$CA/ca.crt" "$CA/tls.crt")
	H1=127.0.0.1:$PKI_PORT1
}

# tf_sclient PORT OUT: one TLS 1.2 handshake asking for a staple; the text
# output in OUT, the handshake messages in OUT.msg. TLS 1.2: the staple is
# a CertificateStatus message of its own, which tf_staple_der cuts out.
tf_sclient()
{
	timeout 10 $OPENSSL s_client -connect "127.0.0.1:$1" -servername localhost \
	    -status -tls1_2 -CAfile "$T/pki/ca1/ca.crt" -verify_return_error \
	    -msg -msgfile "$2.msg" </dev/null >"$2" 2>&1
}

# tf_staple OUT: "good" when OUT (tf_sclient) shows a stapled, successful
# OCSP response with status good; "none" when nothing was stapled; else
# "other".
tf_staple()
{
	if grep -q 'OCSP response: no response sent' "$1"; then
		echo none
	elif grep -q 'OCSP Response Status: successful' "$1" &&
	    grep -q 'Cert Status: good' "$1"; then
		echo good
	else
		echo other
	fi
}

# tf_staple_der OUT DER: the stapled OCSP response (DER) from the
# CertificateStatus message in OUT.msg (type 22, 3 bytes length, status
# type 1, 3 bytes length, the OCSPResponse).
tf_staple_der()
{
	awk '/^<<< .*CertificateStatus/ { on = 1; next }
	    /^(<<<|>>>)/ { on = 0 }
	    on { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9a-f][0-9a-f]$/) printf "%s", $i }' \
	    "$1.msg" | tail -c +17 | xxd -r -p >"$2"
	[ -s "$2" ]
}

# tf_staple_wait PORT OUT [tries]: nginx staples lazily (the first
# handshake starts the fetch): handshakes until one carries a good staple.
tf_staple_wait()
{
	local i
	for ((i = 0; i < ${3:-15}; i++)); do
		tf_sclient "$1" "$2"
		[ "$(tf_staple "$2")" = good ] && return 0
		sleep 0.3
	done
	return 1
}

# tf_nginx_tls_start NAME PORT CHAIN KEY [directive...]: a second nginx
# (private files $T/nginx-NAME) with one TLS server on 127.0.0.1:PORT for
# localhost, the directives given (e.g. stapling) inside the server block.
tf_nginx_tls_start()
{
	local name=$1 port=$2 chain=$3 key=$4 d=$T/nginx-$1 dir
	shift 4
	mkdir -p "$d"
	{
		cat <<-EOF
		server {
			listen 127.0.0.1:$port ssl;
			server_name localhost;
			ssl_certificate $chain;
			ssl_certificate_key $key;
		EOF
		for dir in "$@"; do
			echo "	$dir"
		done
		cat <<-EOF
			location / { return 200 "tls ok\n"; }
		}
		EOF
	} >"$d/site.conf"
	t_nginx_conf "$d" 1 64 "$d/nginx-error.log info" "$d/site.conf" ||
	    return 1
	nginx -t -c "$d/nginx.conf" -p "$d" -e "$d/nginx-error.log" \
	    >"$d/configtest.log" 2>&1 || { cat "$d/configtest.log" >&2; return 1; }
	t_serve "NGINX_PID_$name" "$port" "$d/nginx-out.log" \
	    "$d/nginx-error.log" -- \
	    nginx -c "$d/nginx.conf" -p "$d" -e "$d/nginx-error.log"
}

tf_nginx_tls_stop()
{
	local v=NGINX_PID_$1
	[ -n "${!v:-}" ] && t_kill "${!v}"
	printf -v "$v" %s ""
	[ -n "${2:-}" ] && t_wait_gone "$2" 5
	return 0
}

# ---------------------------------------------------------------- systemd

# tf_socket_exec SOCKET CMD ARGS...: runs CMD with a listening unix socket
# at SOCKET as its standard input, the way systemd starts a service with
# StandardInput=socket from a .socket unit (Accept=no). Sets SOCKEXEC_PID
# (CMD's pid: python execs it). stdout/stderr to $T/sockexec.log.
tf_socket_exec()
{
	local sock=$1
	shift
	rm -f "$sock"
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(1024)
os.dup2(s.fileno(), 0)
os.set_inheritable(0, True)
os.execvp(sys.argv[2], sys.argv[2:])
' "$sock" "$@" >>"$T/sockexec.log" 2>&1 &
	SOCKEXEC_PID=$!
	_t_record "$SOCKEXEC_PID"
	_t_wait_file "$sock" 5
}

# tf_unit_value FILE KEY: the value of the last KEY= line of a unit file.
tf_unit_value()
{
	sed -n "s/^$2=//p" "$1" | tail -1
}

# tf_unit_verify OUT UNITFILE...: systemd-analyze verify with no complaint
# at all (its exit status alone ignores unknown keys and bad values).
tf_unit_verify()
{
	local out=$1 rc
	shift
	(cd "$(dirname "$1")" && systemd-analyze verify --man=no "$@") \
	    >"$out" 2>&1
	rc=$?
	[ $rc -eq 0 ] && [ ! -s "$out" ]
}

# ---------------------------------------------------------------- mTLS

# tf_client_cert NAME SERIAL V|R: a client certificate (extended key usage
# clientAuth) issued by ca1, with ca1's responder as its OCSP URL (AIA,
# http://127.0.0.1:$PKI_PORT1/), and its line in ca1's index: V good, R
# revoked (a day ago, keyCompromise). Files: $T/pki/ca1/NAME.crt .key.
# Make them before ca1's responder starts (it reads its index then).
tf_client_cert()
{
	local ca=$T/pki/ca1 name=$1 subj="/O=ocspxy test/CN=$1 (client)" \
	    serial exp rev=
	cat >"$ca/$name.ext" <<-EOF
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = clientAuth
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid, issuer
	authorityInfoAccess = OCSP;URI:http://127.0.0.1:$PKI_PORT1/
	EOF
	_tf_sign "$ca" "$name" "$2" "$subj" || return 1
	serial=$($OPENSSL x509 -in "$ca/$name.crt" -noout -serial) || return 1
	serial=${serial#serial=}
	exp=$($OPENSSL x509 -in "$ca/$name.crt" -noout -enddate)
	exp=$(date -u -d "${exp#notAfter=}" +%y%m%d%H%M%SZ) || return 1
	[ "$3" = R ] && rev=$(date -u -d '-1 day' +%y%m%d%H%M%SZ),keyCompromise
	printf '%s\t%s\t%s\t%s\tunknown\t%s\n' "$3" "$exp" "$rev" "$serial" \
	    "$subj" >>"$ca/index.txt"
}

# tf_mtls PORT NAME OUTPREFIX: one HTTPS request to 127.0.0.1:PORT (the
# server verified against ca1) with the client certificate NAME (from
# tf_client_cert), in a curl of its own (a new handshake, no resumed
# session); prints the HTTP status, 000 when the handshake failed (curl's
# error in OUTPREFIX.curlerr, the body in OUTPREFIX.body).
tf_mtls()
{
	local ca=$T/pki/ca1
	t_http "$3" --cacert "$ca/ca.crt" --cert "$ca/$2.crt" \
	    --key "$ca/$2.key" "https://127.0.0.1:$1/ok.txt"
}

# tf_mtls_in PORT NAME OUTPREFIX: the client NAME gets in: 200 and the
# body "tls ok" (what tf_nginx_tls_start's server answers; serve the same
# from other servers). tf_mtls_out PORT NAME OUTPREFIX: it is refused: a
# failed handshake (000) or an error status, and not the body. Both write
# the status to OUTPREFIX.code.
tf_mtls_in()
{
	tf_mtls "$@" >"$3.code"
	[ "$(cat "$3.code")" = 200 ] && grep -qx 'tls ok' "$3.body"
}
tf_mtls_out()
{
	tf_mtls "$@" >"$3.code"
	[ "$(cat "$3.code")" != 200 ] && ! grep -qs 'tls ok' "$3.body"
}

# ---------------------------------------------------------------- HAProxy

# tf_haproxy_cfg PORT DIR SOCKET OUT: the shipped haproxy/ocspxy-stapling.cfg
# with its frontend on 127.0.0.1:PORT, its certificates from DIR/, its
# runtime API on SOCKET and its backend on a port nothing listens on.
tf_haproxy_cfg()
{
	sed -e "s|bind :443 |bind 127.0.0.1:$1 |" \
	    -e "s|/etc/haproxy/certs/|$2/|g" \
	    -e "s|/run/haproxy/admin\.sock|$3|g" \
	    -e "s|127\.0\.0\.1:8080|127.0.0.1:$(t_port)|" \
	    "$SRC_DIR/haproxy/ocspxy-stapling.cfg" >"$4"
}

# tf_haproxy_start NAME PORT CFG: haproxy -c, then haproxy in the
# foreground (-db); waits until PORT listens. HAPROXY_PID_<NAME> holds
# the pid; its output in CFG.log.
tf_haproxy_start()
{
	haproxy -c -f "$3" >"$3.check" 2>&1 || { cat "$3.check" >&2; return 1; }
	t_serve "HAPROXY_PID_$1" "$2" "$3.log" -- haproxy -db -f "$3"
}

# tf_haproxy_stop NAME PORT: stop by pid, wait until PORT is free.
tf_haproxy_stop()
{
	local v=HAPROXY_PID_$1
	[ -n "${!v:-}" ] && t_kill "${!v}"
	printf -v "$v" %s ""
	t_wait_gone "$2" 5
}

# tf_haproxy_cli SOCKET COMMAND: one command on HAProxy's runtime API,
# its answer on stdout (python3: no socat needed); fails when the socket
# does not answer within 5 s.
tf_haproxy_cli()
{
	python3 - "$1" "$2" <<-'PY'
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(5)
	s.connect(sys.argv[1])
	s.sendall(sys.argv[2].encode() + b"\n")
	out = b""
	while True:
	    d = s.recv(65536)
	    if not d:
	        break
	    out += d
	sys.stdout.write(out.decode(errors="replace"))
	PY
}

# tf_haproxy_thisupd SOCKET: the thisUpdate (unix seconds) of the
# response HAProxy holds for the first certificate it staples for
# ("show ssl ocsp-response <id>"); fails when it holds none.
tf_haproxy_thisupd()
{
	local id tu
	id=$(tf_haproxy_cli "$1" "show ssl ocsp-response" |
	    sed -n 's/^Certificate ID key : *//p' | head -1)
	[ -n "$id" ] || return 1
	tu=$(tf_haproxy_cli "$1" "show ssl ocsp-response $id" |
	    sed -n 's/^ *This Update: //p' | head -1)
	[ -n "$tu" ] || return 1
	date -u -d "$tu" +%s
}
