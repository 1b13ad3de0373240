#!/usr/bin/env bash
# `make run`: serves conf/nginx.conf with the module just built, in the
# foreground, from a private prefix (.run/), on 127.0.0.1:8080.
#
#   CS_REDIS=host:port | unix:/path   use that Redis instead of starting one
#   CS_PORT=8080                      the port nginx listens on
#   NGINX=/usr/sbin/nginx
#
# Without CS_REDIS a private redis-server is started on 127.0.0.1 (6380 or
# the next free port), its data under .run/redis/.  Ctrl-C (or SIGTERM)
# stops nginx and that redis-server by their PIDs; nothing is left running.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
run=$root/.run
module=$root/build/ngx_http_cs_module.so
ndk=/usr/lib/nginx/modules/ndk_http_module.so
nginx=${NGINX:-/usr/sbin/nginx}
port=${CS_PORT:-8080}

nginx_pid=
redis_pid=

say() { printf 'run: %s\n' "$*"; }
die() { printf 'run: %s\n' "$*" >&2; exit 1; }

# something answers on 127.0.0.1:$1
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # wait_for SECONDS COMMAND...: bounded polling
    local i n=$(( $1 * 10 ))
    shift
    for (( i = 0; i < n; i++ )); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

stop() {
    local rc=${1:-0}
    trap - INT TERM EXIT
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        # QUIT: the workers finish the requests they hold, then exit
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        wait_for 10 bash -c "! kill -0 $nginx_pid 2>/dev/null" \
            || kill -KILL "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        say "nginx stopped"
    fi
    if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
        # TERM: redis-server saves its snapshot under .run/redis/ and exits
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait_for 10 bash -c "! kill -0 $redis_pid 2>/dev/null" \
            || kill -KILL "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        say "redis-server stopped"
    fi
    exit "$rc"
}

trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop $?' EXIT

[ -f "$module" ] || die "$module is missing: run 'make build' first"
[ -x "$nginx" ] || die "$nginx is missing: apt-get install nginx"
[ -f "$ndk" ] || die "$ndk is missing: apt-get install libnginx-mod-http-ndk"
[ -f conf/nginx.conf ] || die "conf/nginx.conf is missing"
listening "$port" && die "127.0.0.1:$port is already in use (set CS_PORT)"

mkdir -p "$run/logs" "$run/temp" "$run/redis" "$run/modules"

# nginx maps the module file: a `make build` while this runs rewrites
# build/'s copy in place, which would crash the workers.  Serve a copy.
cp "$module" "$run/modules/ngx_http_cs_module.so.tmp"
mv -f "$run/modules/ngx_http_cs_module.so.tmp" \
    "$run/modules/ngx_http_cs_module.so"
module=$run/modules/ngx_http_cs_module.so

# --- Redis ------------------------------------------------------------

if [ -n "${CS_REDIS:-}" ]; then
    redis=$CS_REDIS
    case $redis in
        unix:*) cli=(redis-cli -s "${redis#unix:}") ;;
        *:*)    cli=(redis-cli -h "${redis%:*}" -p "${redis##*:}") ;;
        *)      die "CS_REDIS must be host:port or unix:/path, not '$redis'" ;;
    esac
    if command -v redis-cli >/dev/null \
       && [ "$("${cli[@]}" ping 2>/dev/null)" != PONG ]; then
        # the module starts anyway and answers 503 until Redis is back
        say "warning: no Redis answers at $redis yet"
    fi
else
    command -v redis-server >/dev/null \
        || die "redis-server is missing: apt-get install redis-server"
    rport=6380
    while listening "$rport"; do
        rport=$(( rport + 1 ))
        [ "$rport" -lt 6480 ] || die "no free port for redis-server"
    done
    redis-server --bind 127.0.0.1 --port "$rport" --dir "$run/redis" \
        --daemonize no --logfile "$run/redis/redis.log" \
        --pidfile "$run/redis/redis.pid" &
    redis_pid=$!
    wait_for 10 listening "$rport" \
        || { tail -n 20 "$run/redis/redis.log" >&2;
             die "redis-server did not start on 127.0.0.1:$rport"; }
    redis=127.0.0.1:$rport
    cli=(redis-cli -h 127.0.0.1 -p "$rport")
    say "redis-server (pid $redis_pid) on $redis, data in .run/redis/"
fi

# --- the desk's secret and an admin key --------------------------------

# made once and kept under .run/, so tokens survive a restart of make run
if [ ! -s "$run/cs.secret" ]; then
    (umask 077; openssl rand -hex 32 > "$run/cs.secret")
fi
if [ ! -s "$run/cs.admin-key" ]; then
    (umask 077; openssl rand -hex 24 > "$run/cs.admin-key")
fi
admin_key=$(cat "$run/cs.admin-key")
printf 'local %s\n' "$(printf %s "$admin_key" | sha256sum | cut -d' ' -f1)" \
    > "$run/cs.admin-keys"

# --- nginx ------------------------------------------------------------

# Run as root, nginx's master would start its workers as nobody, who
# cannot read a checkout under /root or write the prefix's temp paths.
# This is a local demo bound to 127.0.0.1, so the workers keep root's
# identity, as Test::Nginx does; a production nginx runs the packaged
# service with its own user (www-data) and `make install`.
{
    if [ "$(id -u)" -eq 0 ]; then
        echo "user root;"
    fi
    sed -e "s|^load_module .*ngx_http_cs_module\.so;|load_module $module;|" \
        -e "s|^\( *\)cs_redis_server .*;|\1cs_redis_server $redis;|" \
        -e "s|listen 127\.0\.0\.1:8080;|listen 127.0.0.1:$port;|" \
        -e "s|^\( *\)cs_secret .*;|\1cs_secret $run/cs.secret;|" \
        -e "s|^\( *\)cs_admin_keys .*;|\1cs_admin_keys $run/cs.admin-keys;|" \
        -e "s|^\( *\)alias /usr/share/nginx/cs-desk/;|\1alias $root/conf/desk/;|" \
        conf/nginx.conf
} > "$run/nginx.conf"

grep -q "^load_module $module;" "$run/nginx.conf" \
    && grep -q "cs_redis_server $redis;" "$run/nginx.conf" \
    || die "conf/nginx.conf lost its load_module or cs_redis_server line"

# the module needs ngx_devel_kit's functions: NDK's line must come first
first=$(grep -m 1 '^load_module ' "$run/nginx.conf" || true)
[ "$first" = "load_module $ndk;" ] \
    || die "conf/nginx.conf must load $ndk before the module"

ngx=("$nginx" -p "$run/" -c nginx.conf -e logs/error.log)

"${ngx[@]}" -t -q || die "the configuration in .run/nginx.conf is invalid"

"${ngx[@]}" -g 'daemon off;' &
nginx_pid=$!

if ! wait_for 10 listening "$port"; then
    tail -n 20 "$run/logs/error.log" >&2
    die "nginx did not start on 127.0.0.1:$port"
fi

cat <<EOF
run: nginx (pid $nginx_pid) serves the desk at http://127.0.0.1:$port/api/
run: the agents' page: http://127.0.0.1:$port/desk/ (paste the admin key below)
run: logs in .run/logs/, Redis at $redis; Ctrl-C stops everything
run: the local desk's admin key (in .run/cs.admin-key): $admin_key

Try it (each line prints its JSON answer):
  api=http://127.0.0.1:$port/api; admin="Authorization: Bearer $admin_key"
  # an agent (its token is shown once) and its presence
  curl -s -X PUT \$api/agents/ana -H "\$admin" -H 'Content-Type: application/json' -d '{"capacity":3}'
  agent="Authorization: Bearer <the token above>"
  curl -s -X PUT \$api/agents/ana/presence -H "\$agent" -H 'Content-Type: application/json' -d '{"status":"online"}'
  # a ticket, routed to ana, with the customer's token
  curl -s \$api/service -H 'Content-Type: application/json' -d '{"userId":"u42","issue":"My order has not arrived"}'
  curl -s \$api/tickets/1 -H "\$admin"
  curl -s \$api/agents -H "\$admin"
  # ana replies, solves it; the backlog and her queue
  curl -s \$api/tickets/1/messages -H "\$agent" -H 'Content-Type: application/json' -d '{"body":"It ships today"}'
  curl -s \$api/tickets/1/status -H "\$agent" -H 'Content-Type: application/json' -d '{"state":"solved"}'
  curl -s "\$api/tickets?state=queued" -H "\$admin"
  curl -s \$api/agents/ana/queue -H "\$agent"
  # the README's "The desk API" shows every endpoint

EOF

# wait returns early when a trapped signal arrives; then stop() runs
set +e
wait "$nginx_pid"
rc=$?
set -e
nginx_pid=
say "nginx exited with status $rc"
stop "$rc"
