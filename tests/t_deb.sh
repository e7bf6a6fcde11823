#!/bin/bash
# t_deb.sh: the Debian package, from make deb to apt-get purge:
#   - make deb builds build-deb/ocspxy_VERSION_ARCH.deb, VERSION from
#     debian/changelog; Depends from shlibs, the Recommends and Suggests;
#   - lintian on the .changes (the package and its -dbgsym): no error and
#     no warning; an override in the package has its reason above it;
#   - apt-get install ./the.deb: every file of its list is there, the
#     config a conffile, the programs show VERSION (-V, --version), the
#     ocspxy system user, its folders, the units enabled and, without
#     systemd running (here), nothing started;
#   - the installed ocspxy-fcgi answers a CGI request against a private
#     Redis, and loads the installed config as user ocspxy; nginx -t
#     accepts the installed snippet; systemd-analyze verify accepts the
#     installed units;
#   - apt-get purge: no file of the list left, nor the conffile, the
#     folders, the unit links; dpkg forgets the package.
# Whatever fails, the package is purged on exit (trap), and it is never
# touched when it was installed before the test. One t_deb at a time on
# a machine (flock). It exercises no C path of its own: with make check
# (--both) it runs with the normal build only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fronts.sh"
t_setup

if [ -n "${OCSPXY_ASAN:-}" ] && [ -n "${OCSPXY_BOTH:-}" ]; then
	t_note "the package test ran with the normal build"
	t_done
fi
if [ "$(id -u)" != 0 ]; then
	fail "t_deb installs a package: run it as root"
	t_done
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=120)
installed=0
# Says that a t_deb installed the package, until it purged it: a t_deb
# killed past its trap (run.sh's timeout -k) leaves it for the next one.
MARK=/var/tmp/ocspxy-t_deb.installed

# deb_purge_now: apt-get purge ocspxy (dpkg --purge if apt fails).
deb_purge_now()
{
	if "${APT[@]}" purge ocspxy >>"$T/purge.log" 2>&1 ||
	    dpkg --purge ocspxy >>"$T/purge.log" 2>&1; then
		installed=0
		rm -f "$MARK"
		return 0
	fi
	return 1
}

# The package goes away whatever happened, when this test installed it.
deb_purge()
{
	local rc=$?
	[ $installed = 1 ] && deb_purge_now
	return $rc
}
trap 'deb_purge; t_cleanup' EXIT
trap 'deb_purge; t_cleanup; exit 130' INT
trap 'deb_purge; t_cleanup; exit 143' TERM

# dpkg's state of the package: installed, config-files, not-installed...
deb_state()
{
	dpkg-query -W -f='${db:Status-Status}' ocspxy 2>/dev/null ||
	    echo not-installed
}

exec 9>/run/lock/ocspxy-t_deb.lock
check "no other t_deb runs on this machine (flock, up to 120 s)" \
    flock -w 120 9 || t_done
st=$(deb_state)
if [ "$st" != not-installed ] && [ -f "$MARK" ]; then
	t_note "ocspxy ($st) was left by a t_deb that was killed: purged first"
	deb_purge_now
	st=$(deb_state)
fi
rm -f "$MARK"
if [ "$st" != not-installed ]; then
	fail "ocspxy is on this machine already (dpkg: $st): t_deb installs and purges it; remove it first"
	t_done
fi

# ---------------------------------------------------------------- build
VER=$(dpkg-parsechangelog -l "$SRC_DIR/debian/changelog" -S Version)
ARCH=$(dpkg --print-architecture)
DEB=$SRC_DIR/build-deb/ocspxy_${VER}_$ARCH.deb
CHANGES=$SRC_DIR/build-deb/ocspxy_${VER}_$ARCH.changes
s=$(t_now)
# logged: CMD with its output in the file LOG.
logged() { local log=$1; shift; "$@" >"$log" 2>&1; }
if ! check "make deb (dpkg-buildpackage -us -uc -b)" \
    logged "$T/deb.log" make -C "$SRC_DIR" --no-print-directory deb; then
	tail -30 "$T/deb.log" | sed 's/^/#   /'
	t_done
fi
t_note "make deb: $(($(t_now) - s)) s"
check "make deb left build-deb/${DEB##*/} (version $VER from debian/changelog)" \
    test -f "$DEB" || t_done
field() { dpkg-deb -f "$DEB" "$1"; }
dep=$(field Depends)
t_note "Depends: $dep"
for lib in libc6 libfcgi0ldbl libhiredis libcurl4 libssl3 adduser; do
	check "Depends names $lib" grep -qE "(^|, )$lib" <<<"$dep"
done
check "Recommends: redis-server, spawn-fcgi" \
    test "$(field Recommends)" = "redis-server, spawn-fcgi"
check "Suggests: nginx | apache2 | lighttpd" \
    test "$(field Suggests)" = "nginx | apache2 | lighttpd"

# ---------------------------------------------------------------- lintian
s=$(t_now)
lintian --display-info --show-overrides --fail-on error,warning "$CHANGES" \
    >"$T/lintian.log" 2>&1
rc=$?
t_note "lintian: $(($(t_now) - s)) s"
sed -e '/^running with root privileges/d' -e 's/^/#   /' "$T/lintian.log"
ew=$(grep -cE '^[EW]: ' "$T/lintian.log")
check "lintian ${CHANGES##*/}: no error, no warning ($ew)" \
    test "$rc" = 0 -a "$ew" = 0
dpkg-deb --fsys-tarfile "$DEB" |
    tar -xO ./usr/share/lintian/overrides/ocspxy >"$T/overrides" 2>/dev/null
check "each lintian override in the package has its reason above it" \
    awk '/^#/ { why = 1; next } /^[ \t]*$/ { next }
	!why { print "no reason: " $0; bad = 1 } { why = 0 }
	END { exit bad }' "$T/overrides"

# ---------------------------------------------------------------- install
installed=1
: >"$MARK"
s=$(t_now)
if ! check "apt-get install ./${DEB##*/}" logged "$T/install.log" \
    "${APT[@]}" install --no-install-recommends "$DEB"; then
	tail -20 "$T/install.log" | sed 's/^/#   /'
	t_done
fi
t_note "apt-get install: $(($(t_now) - s)) s"
check "dpkg: ocspxy $VER installed" \
    test "$(dpkg-query -W -f='${db:Status-Status} ${Version}' ocspxy)" = "installed $VER"
dpkg-query -L ocspxy | sed '/^\/\.$/d' >"$T/files"
missing=$(while read -r f; do [ -e "$f" ] || echo "$f"; done <"$T/files")
check "every path of dpkg -L ocspxy is there ($(wc -l <"$T/files") paths${missing:+; missing: $missing})" \
    test -z "$missing"

UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
want=(/usr/bin/ocspxy /usr/sbin/ocspxy-fcgi /usr/sbin/ocspxy-refresh
    /usr/sbin/ocspxy-spawn /etc/ocspxy/ocspxy.conf
    "$UNITDIR"/ocspxy-fcgi.service "$UNITDIR"/ocspxy-fcgi.socket
    "$UNITDIR"/ocspxy-refresh.service
    /usr/share/ocspxy/nginx/ocspxy.conf /usr/share/ocspxy/apache/ocspxy.conf
    /usr/share/ocspxy/apache/ocspxy-stapling.conf
    /usr/share/ocspxy/lighttpd/ocspxy.conf /usr/share/ocspxy/ocspxy.conf.example
    /usr/share/man/man1/ocspxy.1.gz /usr/share/man/man5/ocspxy.conf.5.gz
    /usr/share/man/man8/ocspxy-fcgi.8.gz /usr/share/man/man8/ocspxy-refresh.8.gz
    /usr/share/man/man8/ocspxy-spawn.8.gz /usr/lib/tmpfiles.d/ocspxy.conf
    /etc/logrotate.d/ocspxy /usr/share/doc/ocspxy/copyright)
absent=
for f in "${want[@]}"; do
	grep -qxF "$f" "$T/files" && [ -f "$f" ] || absent="$absent $f"
done
check "the package has its programs, units, snippets, pages and config${absent:+ (absent:$absent)}" \
    test -z "$absent"
for f in /usr/bin/ocspxy /usr/sbin/ocspxy-fcgi /usr/sbin/ocspxy-refresh \
    /usr/sbin/ocspxy-spawn; do
	check "executable: $f" test -x "$f"
done
check "/etc/ocspxy/ocspxy.conf is a conffile" \
    grep -q '^ /etc/ocspxy/ocspxy.conf ' <(dpkg-query -W -f='${Conffiles}\n' ocspxy)
check "/etc/ocspxy/ocspxy.conf is the tree's fcgi/ocspxy.conf" \
    cmp -s /etc/ocspxy/ocspxy.conf "$SRC_DIR/fcgi/ocspxy.conf"
while read -r f; do
	[ -f "$f" ] && [ ! -L "$f" ] && echo "$f"
done <"$T/files" >"$T/regular"
left=$(xargs -d '\n' grep -lE '@(SBINDIR|SYSCONFDIR)@' <"$T/regular")
check "no @SBINDIR@/@SYSCONFDIR@ left in the installed files${left:+ ($left)}" \
    test -z "$left"
check "ocspxy-fcgi.service runs /usr/sbin/ocspxy-spawn with /etc/ocspxy/ocspxy.conf" \
    grep -qx 'ExecStart=/usr/sbin/ocspxy-spawn -i -b /usr/sbin/ocspxy-fcgi -c /etc/ocspxy/ocspxy.conf' \
    "$UNITDIR/ocspxy-fcgi.service"
for p in /usr/sbin/ocspxy-fcgi /usr/sbin/ocspxy-refresh; do
	check "${p##*/} -V: ${p##*/} $VER" test "$("$p" -V 2>&1)" = "${p##*/} $VER"
done
check "ocspxy --version: ocspxy $VER" \
    test "$(/usr/bin/ocspxy --version 2>&1)" = "ocspxy $VER"

# the user and its folders
IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd ocspxy)"
check "system user ocspxy (uid $uid < 1000, home $home, shell $shell)" \
    test -n "$uid" -a "${uid:-1000}" -lt 1000 -a "$shell" = /usr/sbin/nologin \
    -a "$home" = /nonexistent
check "group ocspxy is the user's" test "$(getent group ocspxy | cut -d: -f3)" = "$gid"
check "/var/log/ocspxy: ocspxy:adm 750" \
    test "$(stat -c '%U:%G %a' /var/log/ocspxy 2>&1)" = "ocspxy:adm 750"
if command -v systemd-tmpfiles >/dev/null; then
	check "/run/ocspxy-fcgi (tmpfiles.d): ocspxy:ocspxy 750" \
	    test "$(stat -c '%U:%G %a' /run/ocspxy-fcgi 2>&1)" = "ocspxy:ocspxy 750"
	check "/run/ocspxy (tmpfiles.d): root:root 755" \
	    test "$(stat -c '%U:%G %a' /run/ocspxy 2>&1)" = "root:root 755"
fi

# the units enabled (deb-systemd-helper, with or without systemd running)
W=/etc/systemd/system
for l in multi-user.target.wants/ocspxy-fcgi.service \
    multi-user.target.wants/ocspxy-refresh.service \
    sockets.target.wants/ocspxy-fcgi.socket; do
	check "enabled: $W/$l -> $UNITDIR/${l#*/}" \
	    test "$(readlink "$W/$l")" = "$UNITDIR/${l#*/}"
done
running()
{
	local p e
	for p in /proc/[0-9]*; do
		e=$(readlink "$p/exe" 2>/dev/null) || continue
		case $e in
		/usr/sbin/ocspxy-* | /usr/bin/ocspxy) echo "${p#/proc/} $e" ;;
		esac
	done
}
if [ -d /run/systemd/system ]; then
	t_note "systemd runs here: the postinst started the units"
else
	r=$(running)
	check "systemd does not run here: no program of the package started${r:+ ($r)}" \
	    test -z "$r"
fi

# ---------------------------------------------------------------- use
t_redis_start || { fail "redis-server does not start"; t_done; }
t_pki || { fail "test PKI"; t_done; }
t_responder_start r1 ca1 "$PKI_PORT1" || { fail "responder ca1"; t_done; }
t_conf "$T/ocspxy.conf"
t_reqout "$(t_crt good1)" "$(t_issuer good1)" "$T/req-good1.der"
c0=$(t_responder_count r1)
OCSPXY_BUILD=/usr/sbin t_cgi_leaf "$T/cgi1" good1
check "installed ocspxy-fcgi as CGI: 200" grep -qE '^Status: 200( |$)' "$T/cgi1.hdr"
check "  ... a verified good answer for good1" t_vleaf "$T/cgi1.body" good1 good
check "  ... stored in the private Redis" t_exists "$(t_kleaf good1)"
c1=$(t_responder_count r1)
OCSPXY_BUILD=/usr/sbin t_cgi_leaf "$T/cgi2" good1
check "  ... it asked the responder" test "$c1" -gt "$c0"
check "  ... again: a hit (200, no upstream request)" \
    bash -c 'grep -qE "^Status: 200( |$)" "$1" && [ "$2" = "$3" ]' _ \
    "$T/cgi2.hdr" "$(t_responder_count r1)" "$c1"
code=$(runuser -u ocspxy -- env -i REQUEST_METHOD=PUT /usr/sbin/ocspxy-fcgi \
    -c /etc/ocspxy/ocspxy.conf </dev/null 2>"$T/as-ocspxy.err" |
    sed -n 's/^Status: \([0-9]*\).*/\1/p')
check "as user ocspxy, the installed config loads (CGI: 405 to PUT)" \
    test "$code" = 405
# (not from ocspxy-fcgi's log: an ocspxy-fcgi run as root by another test
# on this machine may have left its own slot files there)
if command -v systemd-tmpfiles >/dev/null; then
	check "  ... and may make its slot files in runtime_dir /run/ocspxy-fcgi" \
	    runuser -u ocspxy -- sh -c 'f=/run/ocspxy-fcgi/t_deb.$$ && : >"$f" && rm "$f"'
fi


# nginx -t: the installed snippet inside http { }, fastcgi_params beside
# it as in /etc/nginx
N=$T/nginx
mkdir -p "$N"
ln -s /etc/nginx/fastcgi_params "$N/fastcgi_params"
cat >"$N/nginx.conf" <<EOF
pid $N/nginx.pid;
error_log $N/error.log;
events { }
http {
	client_body_temp_path $N/body;
	include /usr/share/ocspxy/nginx/ocspxy.conf;
}
EOF
check "nginx -t with the installed /usr/share/ocspxy/nginx/ocspxy.conf" \
    bash -c "nginx -t -c '$N/nginx.conf' -p '$N' -e '$N/error.log' \
	>'$N/t.log' 2>&1" || sed 's/^/#   /' "$N/t.log"

check "systemd-analyze verify the installed units: no complaint" \
    tf_unit_verify "$T/verify.log" "$UNITDIR/ocspxy-fcgi.socket" \
    "$UNITDIR/ocspxy-fcgi.service" "$UNITDIR/ocspxy-refresh.service" ||
    sed 's/^/#   /' "$T/verify.log"

# ---------------------------------------------------------------- purge
s=$(t_now)
check "apt-get purge ocspxy" deb_purge_now
t_note "apt-get purge: $(($(t_now) - s)) s"
check "dpkg forgot ocspxy (state: $(deb_state))" test "$(deb_state)" = not-installed
# A folder of the list may stay when another package has it too (dpkg
# removes it when it is empty and no package has it): only the package's
# own folders (named ocspxy) must be gone.
left=$(while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	[ -d "$f" ] && [[ $f != *ocspxy* ]] && continue
	echo "$f"
done <"$T/files")
check "purge left no path of the file list (nor the conffile)${left:+ (left: $left)}" \
    test -z "$left"
left=$(find /etc /run /var/lib /var/log /var/cache -name '*ocspxy*' \
    ! -path /run/lock/ocspxy-t_deb.lock 2>/dev/null | tr '\n' ' ')
check "purge left nothing named ocspxy in /etc /run /var (folders, unit links, dpkg)${left:+ (left: $left)}" \
    test -z "$left"
t_note "the ocspxy system user stays, as Debian leaves system users"
t_done
