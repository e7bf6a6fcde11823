#!/bin/bash
# t_install.sh: make install into a DESTDIR, then check what operators get:
#   - files where expected, @SBINDIR@/@SYSCONFDIR@ filled in everywhere;
#   - systemd units pass systemd-analyze verify (a copy with /usr/sbin and
#     /etc/ocspxy rewritten into DESTDIR, so that the programs they name
#     exist), with no complaint at all, and a broken copy does not;
#     the services' sandboxing scores OK in systemd-analyze security;
#   - ocspxy-fcgi.service's ExecStart, run as systemd would (listening
#     socket of ocspxy-fcgi.socket as stdin): N processes answer through
#     nginx; one dying takes the set down (for Restart=); TERM stops it;
#   - nginx -t, lighttpd -tt and apache2 -t accept the installed snippets
#     inside minimal private configs;
#   - make uninstall removes everything but an edited config.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

R=$T/root
MK=(make -C "$SRC_DIR" --no-print-directory DESTDIR="$R" PREFIX=/usr sysconfdir=/etc)
if ! check "make install DESTDIR=\$T/root PREFIX=/usr sysconfdir=/etc" \
    bash -c '"$@" install >"'"$T"'/install.log" 2>&1' mk "${MK[@]}"; then
	tail -20 "$T/install.log"
	t_done
fi

SBIN=$R/usr/sbin
UNITS=$R/usr/lib/systemd/system
SHARE=$R/usr/share/ocspxy
for f in "$SBIN/ocspxy-fcgi" "$SBIN/ocspxy-refresh" "$SBIN/ocspxy-spawn"; do
	check "installed, executable: ${f#"$R"}" test -x "$f" -a -f "$f"
done
for f in "$UNITS/ocspxy-fcgi.service" "$UNITS/ocspxy-fcgi.socket" \
    "$UNITS/ocspxy-refresh.service" "$SHARE/nginx/ocspxy.conf" \
    "$SHARE/lighttpd/ocspxy.conf" "$SHARE/apache/ocspxy.conf" \
    "$SHARE/apache/ocspxy-stapling.conf" "$SHARE/ocspxy.conf.example" \
    "$R/etc/ocspxy/ocspxy.conf"; do
	check "installed: ${f#"$R"}" test -f "$f" -a -s "$f"
done
left=$(grep -rlE '@(SBINDIR|SYSCONFDIR)@' "$R" 2>/dev/null | sed "s|^$R||")
check "no @SBINDIR@/@SYSCONFDIR@ left in installed files${left:+ ($left)}" \
    test -z "$left"
check "ocspxy-fcgi.service runs /usr/sbin/ocspxy-spawn -i ... -c /etc/ocspxy/ocspxy.conf" \
    grep -qx 'ExecStart=/usr/sbin/ocspxy-spawn -i -b /usr/sbin/ocspxy-fcgi -c /etc/ocspxy/ocspxy.conf' \
    "$UNITS/ocspxy-fcgi.service"
check "ocspxy-refresh.service runs /usr/sbin/ocspxy-refresh -c /etc/ocspxy/ocspxy.conf" \
    grep -qx 'ExecStart=/usr/sbin/ocspxy-refresh -c /etc/ocspxy/ocspxy.conf' \
    "$UNITS/ocspxy-refresh.service"
check "installed ocspxy-spawn defaults to /usr/sbin/ocspxy-fcgi and /etc/ocspxy/ocspxy.conf" \
    bash -c "grep -q 'OCSPXY_FCGI:-/usr/sbin/ocspxy-fcgi}' '$SBIN/ocspxy-spawn' &&
	grep -q 'OCSPXY_CONFIG:-/etc/ocspxy/ocspxy.conf}' '$SBIN/ocspxy-spawn'" 2>/dev/null
code=$(env -i REQUEST_METHOD=PUT "$SBIN/ocspxy-fcgi" -c "$R/etc/ocspxy/ocspxy.conf" \
    </dev/null 2>"$T/example.err" | sed -n 's/^Status: \([0-9]*\).*/\1/p' | tr -d '\r')
check "the installed config loads (ocspxy-fcgi as CGI: 405 to PUT)" test "$code" = 405

# ---------------------------------------------------------------- systemd
# Copies of the installed units with the DESTDIR paths, so that verify
# finds the programs they run.
V=$T/units
mkdir -p "$V"
for f in "$UNITS"/ocspxy-*; do
	sed -e "s|/usr/sbin/|$SBIN/|g" -e "s|/etc/ocspxy/|$R/etc/ocspxy/|g" \
	    "$f" >"$V/${f##*/}"
done
for u in ocspxy-fcgi.socket ocspxy-fcgi.service ocspxy-refresh.service; do
	check "systemd-analyze verify $u: no complaint" \
	    tf_unit_verify "$T/verify-$u.log" "$V/$u" ||
	    sed 's/^/#   /' "$T/verify-$u.log"
done
# the same check must catch a broken unit: a misspelt key, a bad value, a
# program that does not exist
mkdir -p "$T/broken"
for b in 's/^Restart=/Restrat=/' 's/^Type=simple/Type=simpel/' \
    "s|^ExecStart=$SBIN/ocspxy-refresh|ExecStart=$SBIN/ocspxy-nothere|"; do
	sed -e "$b" "$V/ocspxy-refresh.service" >"$T/broken/ocspxy-refresh.service"
	check "systemd-analyze verify check refuses a broken unit ($b)" \
	    ! tf_unit_verify "$T/verify-broken.log" "$T/broken/ocspxy-refresh.service"
done
for u in ocspxy-fcgi.service ocspxy-refresh.service; do
	systemd-analyze security --offline=true "$V/$u" >"$T/security-$u.log" 2>&1
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
	    "$T/security-$u.log")
	check "systemd-analyze security $u: exposure ${score:-?} <= 2.0" \
	    quiet systemd-analyze security --offline=true --threshold=20 "$V/$u"
done
# (the security table itself is in $T/security-*.log)
grep -h 'Overall exposure' "$T"/security-*.log | sed 's/^/# /'

# ExecStart of the installed ocspxy-fcgi.service, run the way systemd runs
# it: the .socket's listening socket as standard input, its Environment=.
t_redis_start || fail "redis-server does not start"
t_pki || fail "test PKI"
t_responder_start r1 ca1 "$PKI_PORT1" || fail "responder ca1"
t_conf "$T/ocspxy.conf" issuer "$T/pki/roots.pem"
chmod 0644 "$T/ocspxy.conf"
svc=$UNITS/ocspxy-fcgi.service
check "ocspxy-fcgi.socket listens on /run/ocspxy/ocspxy-fcgi.sock, socket activation without Accept" \
    test "$(tf_unit_value "$UNITS/ocspxy-fcgi.socket" ListenStream) $(tf_unit_value "$UNITS/ocspxy-fcgi.socket" Accept)" = "/run/ocspxy/ocspxy-fcgi.sock no"
check "ocspxy-fcgi.service: StandardInput=socket, logs to the journal" \
    test "$(tf_unit_value "$svc" StandardInput) $(tf_unit_value "$svc" StandardError)" = "socket journal"
exec_start=$(tf_unit_value "$svc" ExecStart)
children=$(tf_unit_value "$svc" Environment)
children=${children#OCSPXY_CHILDREN=}
exec_start=${exec_start//\/usr\/sbin\//$SBIN/}
# until the Makefile installs it, the launcher from the tree
[ -x "$SBIN/ocspxy-spawn" ] ||
    exec_start=${exec_start//$SBIN\/ocspxy-spawn/$SRC_DIR/fcgi/ocspxy-spawn}
exec_start=${exec_start//\/etc\/ocspxy\/ocspxy.conf/$T/ocspxy.conf}
t_note "ExecStart as run: $exec_start (OCSPXY_CHILDREN=$children)"
# shellcheck disable=SC2086
OCSPXY_CHILDREN=$children tf_socket_exec "$T/fcgi.sock" $exec_start
SUP=$SOCKEXEC_PID
sleep 0.5
check "ExecStart runs on an inherited listening socket" _t_alive "$SUP"
kids=
for p in $(tf_children_of "$SUP"); do
	_t_record "$p"
	[ "$(readlink "/proc/$p/exe")" = "$SBIN/ocspxy-fcgi" ] && kids="$kids $p"
done
check "ExecStart: $children ocspxy-fcgi processes under one main process (OCSPXY_CHILDREN=$children)" \
    test "$(echo "$kids" | wc -w)" = "$children"
NP=$(t_port)
if check "nginx in front of the inherited socket" t_nginx_start "$NP"; then
	for i in 1 2 3; do
		t_query "svc$i" "$(t_crt good1)" "$(t_issuer good1)" \
		    "http://127.0.0.1:$NP/" "$T/svc$i.der" \
		    -header "Host=127.0.0.1:$PKI_PORT1"
		check "query $i through the service's processes: verify OK, good" \
		    t_vleaf "$T/svc$i.der" good1 good
	done
	t_nginx_stop
fi
read -r victim _ <<<"$kids"
if [ -n "$victim" ]; then
	kill -KILL "$victim"
	for i in $(seq 1 50); do
		_t_alive "$SUP" || break
		sleep 0.1
	done
	wait "$SUP" 2>/dev/null
	rc=$?
	check "one process killed: the main process exits 1 (Restart=on-failure restarts the set)" \
	    test "$rc" = 1
	# shellcheck disable=SC2086
	left=$(t_left 5 $kids)
	check "  ... after stopping the other processes" test -z "$left"
	_t_forget "$SUP"
fi
# shellcheck disable=SC2086
OCSPXY_CHILDREN=$children tf_socket_exec "$T/fcgi.sock" $exec_start
SUP=$SOCKEXEC_PID
sleep 0.5
kids=$(tf_children_of "$SUP")
for p in $kids; do
	_t_record "$p"
done
kill -TERM "$SUP"
wait "$SUP" 2>/dev/null
rc=$?
# shellcheck disable=SC2086
left=$(t_left 5 $kids)
check "SIGTERM (systemctl stop): main process exits 0, no process left" \
    test "$rc" = 0 -a -z "$left"
_t_forget "$SUP"

# ---------------------------------------------------------------- web servers
# The installed snippets, with the DESTDIR paths (mod_fcgid and lighttpd
# look for the program they run).
S=$T/snippets
mkdir -p "$S/nginx" "$S/lighttpd" "$S/apache"
for f in nginx/ocspxy.conf lighttpd/ocspxy.conf apache/ocspxy.conf \
    apache/ocspxy-stapling.conf; do
	sed -e "s|/usr/sbin/|$SBIN/|g" -e "s|/etc/ocspxy/|$R/etc/ocspxy/|g" \
	    "$SHARE/$f" >"$S/$f"
done

# nginx: the server block inside http { }, fastcgi_params beside
# nginx.conf as in /etc/nginx
ln -s /etc/nginx/fastcgi_params "$S/nginx/fastcgi_params"
cat >"$S/nginx/nginx.conf" <<EOF
pid $S/nginx/nginx.pid;
error_log $S/nginx/error.log;
events { }
http {
	client_body_temp_path $S/nginx/body;
	include $S/nginx/ocspxy.conf;
}
EOF
check "nginx -t with the installed nginx/ocspxy.conf" \
    bash -c "nginx -t -c '$S/nginx/nginx.conf' -p '$S/nginx' -e '$S/nginx/error.log' \
	>'$S/nginx/t.log' 2>&1" || sed 's/^/#   /' "$S/nginx/t.log"

cat >"$S/lighttpd/lighttpd.conf" <<EOF
server.document-root = "$S/lighttpd"
server.bind = "$S/lighttpd/main.sock"
include "$S/lighttpd/ocspxy.conf"
EOF
check "lighttpd -tt with the installed lighttpd/ocspxy.conf" \
    bash -c "lighttpd -tt -f '$S/lighttpd/lighttpd.conf' >'$S/lighttpd/t.log' 2>&1 &&
	! test -s '$S/lighttpd/t.log'" || sed 's/^/#   /' "$S/lighttpd/t.log"

tf_apache_conf t
cat >>"$T/apache-t/httpd.conf" <<EOF
Include "$S/apache/ocspxy.conf"
Include "$S/apache/ocspxy-stapling.conf"
EOF
check "apache2 -t with the installed apache/ocspxy.conf and ocspxy-stapling.conf" \
    bash -c "apache2 -t -f '$T/apache-t/httpd.conf' >'$S/apache/t.log' 2>&1 &&
	grep -q 'Syntax OK' '$S/apache/t.log'" || sed 's/^/#   /' "$S/apache/t.log"
# both apache snippets stop with a clear message without their modules
sed -e '/LoadModule \(fcgid\|ssl\|socache_shmcb\)_module/d' -e '/^Fcgid/d' \
    "$T/apache-t/httpd.conf" >"$T/apache-t/nomod.conf"
apache2 -t -f "$T/apache-t/nomod.conf" >"$S/apache/nomod.log" 2>&1
check "apache2 -t without mod_fcgid/mod_ssl: refused with 'needs mod_...'" \
    grep -q 'needs mod_' "$S/apache/nomod.log"

# ---------------------------------------------------------------- uninstall
echo "# edited" >>"$R/etc/ocspxy/ocspxy.conf"
"${MK[@]}" install >>"$T/install.log" 2>&1
check "make install again keeps an edited config" \
    grep -qx '# edited' "$R/etc/ocspxy/ocspxy.conf"
check "make uninstall DESTDIR=..." \
    bash -c '"$@" uninstall >>"'"$T"'/install.log" 2>&1' mk "${MK[@]}"
left=$(find "$R" \( -type f -o -type l \) ! -path "$R/etc/ocspxy/ocspxy.conf" |
    sed "s|^$R||" | tr '\n' ' ')
check "uninstall removed every installed file${left:+ (left: $left)}" test -z "$left"
check "uninstall kept the edited config" test -f "$R/etc/ocspxy/ocspxy.conf"
rm -f "$R/etc/ocspxy/ocspxy.conf"
"${MK[@]}" install >>"$T/install.log" 2>&1
"${MK[@]}" uninstall >>"$T/install.log" 2>&1
check "install + uninstall with the config untouched leaves no file" \
    test -z "$(find "$R" \( -type f -o -type l \))"

t_done
