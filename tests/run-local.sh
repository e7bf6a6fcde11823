#!/bin/sh
# run-local.sh (make run): a working proxy on 127.0.0.1:8008 with its own
# Redis, ocspxy-fcgi under spawn-fcgi, nginx with nginx/ocspxy.conf, and
# the refresh daemon, all under ./run, in the foreground until Ctrl-C.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/run"
build="${OCSPXY_BUILD:-$top/build}"
port="${OCSPXY_PORT:-8008}"
children="${OCSPXY_CHILDREN:-4}"
mkdir -p "$run/nginx"
pids=""

stop() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "ocspxy: stopped"
	exit 0
}
trap stop INT TERM EXIT

if grep -q ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp 2>/dev/null; then
	echo "ocspxy: 127.0.0.1:$port is in use" >&2
	exit 1
fi

[ -f "$run/ocspxy.conf" ] || cat > "$run/ocspxy.conf" <<CONF
# Written by make run; edit freely, it is kept between runs.
redis unix:$run/redis.sock
CONF

rm -f "$run/redis.sock" "$run/ocspxy-fcgi.sock"
redis-server --port 0 --unixsocket "$run/redis.sock" --unixsocketperm 700 \
    --dir "$run" --dbfilename ocspxy.rdb --save 60 1 --daemonize no \
    >"$run/redis.log" 2>&1 &
pids="$pids $!"
i=0
while [ ! -S "$run/redis.sock" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "redis did not start" >&2; exit 1; }
	sleep 0.05
done

# spawn-fcgi points the children's stderr at /dev/null: a shell that
# execs the program sends it to a log, which is shown here.
: >>"$run/ocspxy-fcgi.log"
tail -n 0 -F "$run/ocspxy-fcgi.log" 2>/dev/null &
pids="$pids $!"
# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
spawn-fcgi -s "$run/ocspxy-fcgi.sock" -M 0600 -F "$children" \
    -P "$run/ocspxy-fcgi.pid" -- /bin/sh -c 'exec "$@" 2>>"$0"' \
    "$run/ocspxy-fcgi.log" "$build/ocspxy-fcgi" -c "$run/ocspxy.conf" \
    >/dev/null
pids="$pids $(tr '\n' ' ' < "$run/ocspxy-fcgi.pid")"

# shellcheck source=tests/lib_nginx.sh
. "$top/tests/lib_nginx.sh"
t_nginx_site "$top/nginx/ocspxy.conf" "$port" "$run/ocspxy-fcgi.sock" \
    >"$run/nginx/site.conf"
t_nginx_conf "$run/nginx" 2 512 stderr "$run/nginx/site.conf"
nginx -c "$run/nginx/nginx.conf" -p "$run/nginx" &
pids="$pids $!"

if [ -x "$build/ocspxy-refresh" ]; then
	"$build/ocspxy-refresh" -c "$run/ocspxy.conf" &
	pids="$pids $!"
fi

cat <<MSG
ocspxy: listening on http://127.0.0.1:$port/ (Redis: $run/redis.sock,
config: $run/ocspxy.conf). Warm the cache with:
  openssl ocsp -issuer ISSUER.pem -cert CERT.pem -no_nonce \\
    -url http://localhost:$port/ -header Host=\$(openssl x509 -in CERT.pem -noout -ocsp_uri | cut -d/ -f3)
Ctrl-C stops everything.
MSG
wait
