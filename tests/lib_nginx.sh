# tests/lib_nginx.sh: the nginx.conf around ocspxy's server block, written
# one way for the tests (lib.sh, lib_fronts.sh), the bench and `make run`
# (tests/run-local.sh).  Sourced; POSIX sh and `local` (dash, bash).
# shellcheck shell=dash

# t_nginx_site SITE PORT SOCK: on stdout, the server block SITE (the
# shipped nginx/ocspxy.conf, or a file of the same shape) listening on
# 127.0.0.1:PORT, passing requests to unix:SOCK, with Debian's
# /etc/nginx/fastcgi_params.
t_nginx_site()
{
	sed -e "s|127\.0\.0\.1:8008|127.0.0.1:$2|g" \
	    -e "s|unix:/run/ocspxy/ocspxy-fcgi\.sock|unix:$3|g" \
	    -e "s|include[[:space:]]\{1,\}fastcgi_params;|include /etc/nginx/fastcgi_params;|g" \
	    "$1"
}

# t_nginx_conf DIR WORKERS CONNS ERRORLOG SITE...: writes DIR/nginx.conf
# for an nginx that stays in the foreground (daemon off) and runs as the
# calling user: pid file DIR/nginx.pid, temp files under DIR/nginx-tmp/,
# WORKERS worker processes of CONNS connections each, error_log ERRORLOG
# ("FILE LEVEL", or "stderr"), no access log, and the server blocks of the
# SITE files.
t_nginx_conf()
{
	local d=$1 workers=$2 conns=$3 errlog=$4 site t
	shift 4
	mkdir -p "$d/nginx-tmp" || return 1
	{
		cat <<-EOF
		user $(id -un) $(id -gn);
		daemon off;
		master_process on;
		worker_processes $workers;
		pid $d/nginx.pid;
		error_log $errlog;
		events { worker_connections $conns; }
		http {
		EOF
		for t in client_body proxy fastcgi uwsgi scgi; do
			printf '\t%s_temp_path %s/nginx-tmp/%s;\n' "$t" "$d" "$t"
		done
		printf '\taccess_log off;\n'
		for site in "$@"; do
			printf '\tinclude "%s";\n' "$site"
		done
		echo "}"
	} >"$d/nginx.conf"
}
