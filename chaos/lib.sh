# Shared by chaos/run.sh, chaos/faults.sh and soak/run.sh (sourced, bash).
# Private redis-server and nginx instances under build/, every process
# tracked by its PID; bounded polling only.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nginx_bin=${NGINX:-/usr/sbin/nginx}
module=$root/build/ngx_http_cs_module.so

die() { printf '%s: %s\n' "${me:-chaos}" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "${me:-chaos}" "$*" >&2; }

# wall clock in milliseconds, the clock the load client records
now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }

# something answers on 127.0.0.1:$1
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # wait_for SECONDS COMMAND...: bounded polling, 20 ms steps
    local i n=$(( $1 * 50 ))
    shift
    for (( i = 0; i < n; i++ )); do
        "$@" && return 0
        sleep 0.02
    done
    return 1
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# a free loopback port from $1 on, not in the list of ports already taken
# by this run ($taken_ports)
taken_ports=" "
free_port() {
    local p=$1
    while listening "$p" || [[ $taken_ports == *" $p "* ]]; do
        p=$(( p + 1 ))
        [ "$p" -lt 65000 ] || die "no free port"
    done
    taken_ports+="$p "
    echo "$p"
}

# stop PID: TERM (or $2), then KILL after a bound; reaps it if it is ours
stop_pid() {
    local pid=$1 sig=${2:-TERM}
    alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_for 10 eval "! kill -0 $pid 2>/dev/null" \
        || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# --- Redis ------------------------------------------------------------
# redis_start DIR PORT [extra args]: starts redis-server with its data in
# DIR, records its PID in DIR/redis.pid, waits until it answers PING (not
# LOADING).  Used again by faults.sh to restart it on the same data.

redis_ping() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }

redis_start() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
        --daemonize no --protected-mode no --save '' \
        --logfile "$dir/redis.log" "$@" </dev/null &
    echo $! > "$dir/redis.pid"
    # faults.sh kills it: no job notice from this shell
    disown $!
    wait_for 30 redis_ping "$port" \
        || { tail -n 20 "$dir/redis.log" >&2;
             die "redis-server did not answer on 127.0.0.1:$port"; }
}

redis_pid() { cat "$1/redis.pid" 2>/dev/null; }

# --- nginx ------------------------------------------------------------
# nginx_conf PREFIX PORT REDIS_PORT WORKERS KEY_PREFIX LOGLEVEL [DESK_DIR]:
# a config with one cs_service location.  X-Pid names the worker that
# answered, on every status (always), so that recovery can be measured per
# worker.  With DESK_DIR (made by desk_files) it also serves a desk below
# /desk/: cs_api, prefix desk:, the registry's agents (no cs_agents), one
# cs_rule, so that some intakes are auto_resolved, and a short
# cs_close_after, so that the sweep closes tickets while the load reopens
# and closes them too.

nginx_conf() {
    local prefix=$1 port=$2 rport=$3 workers=$4 kprefix=$5 level=$6
    local desk=${7:-}
    mkdir -p "$prefix/logs" "$prefix/temp"
    # the module is copied: a concurrent `make build` rewriting the .so in
    # place would crash a running nginx that has it mapped
    cp "$module" "$prefix/ngx_http_cs_module.so"
    {
        # ngx_devel_kit first: the module uses its functions
        echo "load_module /usr/lib/nginx/modules/ndk_http_module.so;"
        echo "load_module $prefix/ngx_http_cs_module.so;"
        if [ "$(id -u)" -eq 0 ]; then
            echo "user root;"
        fi
        cat <<EOF
worker_processes $workers;
pid logs/nginx.pid;
error_log logs/error.log $level;
worker_rlimit_nofile 4096;

events {
    worker_connections 2048;
}

http {
    access_log off;
    keepalive_requests 10000;
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;

    server {
        listen 127.0.0.1:$port;

        location = /api/service {
            cs_service;
            cs_redis_server 127.0.0.1:$rport;
            cs_key_prefix $kprefix;
            cs_agents agent1 agent2 agent3;
            cs_assign round_robin;
            cs_redis_timeout 1s;
            cs_redis_connect_timeout 1s;
            client_max_body_size 16k;
            client_body_buffer_size 16k;
            add_header X-Pid \$pid always;
        }
EOF
        if [ -n "$desk" ]; then
            cat <<EOF

        location /desk/ {
            cs_api;
            cs_secret $desk/cs.secret;
            cs_admin_keys $desk/admin.keys;
            cs_redis_server 127.0.0.1:$rport;
            cs_key_prefix desk:;
            cs_assign least_loaded;
            cs_close_after ${desk_close_after}ms;
            cs_rule reset "(?i)password reset"
                    "Use the link on the sign-in page.";
            cs_redis_timeout 1s;
            cs_redis_connect_timeout 1s;
            client_max_body_size 16k;
            client_body_buffer_size 16k;
            add_header X-Pid \$pid always;
        }
EOF
        fi
        echo "    }"
        echo "}"
    } > "$prefix/nginx.conf"
}

# --- the desk ---------------------------------------------------------
# The registry's agents of the chaos desk, name:capacity[:grow].  Small
# capacities, so that the backlog is used; a grow agent's capacity is only
# ever raised by the load (so load <= capacity holds for it exactly),
# the others' is set anyhow.
desk_agent_spec=(ann:2:grow bob:2:grow cat:2 dan:3 eve:1)
# the desk's cs_close_after, in ms
desk_close_after=5000

# desk_files DIR: the desk's cs_secret, and an admin key (DIR/admin.key)
# whose SHA-256 is the one line of DIR/admin.keys
desk_files() {
    local dir=$1 key
    mkdir -p "$dir"
    (umask 077; openssl rand -hex 32 > "$dir/cs.secret")
    key=$(openssl rand -hex 24)
    printf '%s\n' "$key" > "$dir/admin.key"
    printf 'chaos %s\n' "$(printf %s "$key" | sha256sum | cut -d' ' -f1)" \
        > "$dir/admin.keys"
}

# desk_agents PORT DIR: creates the agents (PUT agents/NAME as the admin)
# and puts them online with their own tokens; DIR/desk.creds then has
# "admin KEY" and one "agent NAME TOKEN CAPACITY GROW" line each, for
# chaos/load.c -A
desk_agents() {
    local port=$1 dir=$2 spec name cap grow key out token
    local url=http://127.0.0.1:$port/desk
    key=$(cat "$dir/admin.key")
    printf 'admin %s\n' "$key" > "$dir/desk.creds"
    for spec in "${desk_agent_spec[@]}"; do
        IFS=: read -r name cap grow <<< "$spec"
        out=$(curl -s --max-time 5 -X PUT -H "Authorization: Bearer $key" \
                   -H 'Content-Type: application/json' \
                   -d "{\"capacity\":$cap}" "$url/agents/$name") \
            || die "PUT /desk/agents/$name failed"
        token=$(printf %s "$out" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
        [ -n "$token" ] || die "PUT /desk/agents/$name answered: $out"
        out=$(curl -s --max-time 5 -X PUT -H "Authorization: Bearer $token" \
                   -H 'Content-Type: application/json' \
                   -d '{"status":"online"}' "$url/agents/$name/presence")
        case $out in
            *'"presence":"online"'*) ;;
            *) die "PUT /desk/agents/$name/presence answered: $out" ;;
        esac
        printf 'agent %s %s %s %s\n' "$name" "$token" "$cap" \
            "${grow:-swing}" >> "$dir/desk.creds"
    done
}

# nginx_start PREFIX: the master runs in the foreground as our child (not
# in a subshell, so that it can be waited for); its PID is in $started_pid
started_pid=
nginx_start() {
    local prefix=$1
    "$nginx_bin" -p "$prefix/" -c nginx.conf -e logs/error.log -t -q \
        || die "invalid configuration in $prefix/nginx.conf"
    "$nginx_bin" -p "$prefix/" -c nginx.conf -e logs/error.log \
        -g 'daemon off;' </dev/null >>"$prefix/logs/stderr.log" 2>&1 &
    started_pid=$!
}

# the worker PIDs of a master, sorted
worker_pids() {
    local master=$1 p
    for p in $(cat "/proc/$master/task/$master/children" 2>/dev/null); do
        echo "$p"
    done | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# nginx_stop MASTER: QUIT (graceful), then KILL master and workers by PID
nginx_stop() {
    local master=$1 workers
    alive "$master" || return 0
    workers=$(worker_pids "$master")
    kill -QUIT "$master" 2>/dev/null || true
    if ! wait_for 10 eval "! kill -0 $master 2>/dev/null"; then
        kill -KILL "$master" 2>/dev/null || true
        local w
        for w in $workers; do
            kill -KILL "$w" 2>/dev/null || true
        done
    fi
    wait "$master" 2>/dev/null || true
}

# the number of connections Redis sees from nginx workers (not redis-cli)
redis_nginx_clients() {
    redis-cli -p "$1" client list 2>/dev/null | grep -vc 'cmd=client'
}

build_load() {
    local out=$root/build/load
    if [ ! -x "$out" ] || [ "$root/chaos/load.c" -nt "$out" ]; then
        gcc -O2 -Wall -Wextra -o "$out.tmp" "$root/chaos/load.c" \
            && mv "$out.tmp" "$out" || die "building chaos/load.c failed"
    fi
    echo "$out"
}

# the Redis of `make chaos`: durable as production would run it
chaos_redis_args=(--appendonly yes
                  --appendfsync "${CHAOS_APPENDFSYNC:-everysec}")
