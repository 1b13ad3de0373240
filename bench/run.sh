#!/usr/bin/env bash
# `make bench`: this module against an nginx + Lua peer doing the same
# intake, and against a fixed-answer ceiling, side by side on one fresh
# private redis-server, all on 127.0.0.1.
#
#   (a) module   cs_service (build/ngx_http_cs_module.so)
#   (b) secret   the same module and location with cs_secret: every ticket
#                gets a nonce and its customer's token (an HMAC-SHA256)
#   (f) rules    the same module and location with 100 cs_rule lines that
#                the bench's issues never match, so that every intake tries
#                all 100 regexes (PCRE JIT: pcre_jit on in every module
#                contender)
#   (h) encrypt  the same module and location with cs_encrypt_key: every
#                issue sealed with AES-256-GCM, its fingerprint and a seal
#   (c) peer     libnginx-mod-http-lua + lua-nginx-redis + lua-cjson:
#                bench/lua/intake.lua, the same checks and the SAME Redis
#                function (FCALL of the desk's library under the name
#                cs_peer, same ARGV) over a keepalive pool
#   (d) ceiling  `return 201 '{...}'` after reading the same body
#   (g) mix      the desk's mix on a cs_api location (cs_secret, an admin
#                key, cs_agents): nine requests in ten an intake, the
#                tenth a ticket's next step: the customer reads it, an
#                admin solves it, the customer rates it
#                (bench/lua/wrk-mix.lua); its intake throughput is
#                reported beside the module's
#   (e) baseline with BASELINE=<git rev>: the module as built at that
#                revision (`git archive` into a scratch directory, then its
#                own `make build DEPS=`), in the location of (a)
#
# Each contender is its own nginx (worker_processes 1, own port, own
# prefix under .run/bench/).  wrk (-t1 -c$BENCH_CONNECTIONS) posts the same
# ticket with a varied userId; the rounds interleave the contenders, and
# the table gives the median over rounds.  For the contenders that store
# tickets the tickets Redis holds are checked against the 2xx answers of
# every round: a ticket may be stored for a request wrk gave up on when the
# round ended, never the other way round, so 0 <= tickets - 2xx <=
# connections.
#
# CPU per ticket: the user + system time (fields 14 and 15 of
# /proc/<pid>/stat, in clock ticks of `getconf CLK_TCK`) that the
# contender's nginx worker and the redis-server spent during its wrk run,
# divided by the requests wrk saw answered.  Only one contender runs at a
# time, so Redis' time in a run is that contender's.
#
#   BENCH_ROUNDS=3 BENCH_DURATION=10 BENCH_CONNECTIONS=50 BENCH_WARMUP=2
#   BENCH_PORT=18080 (the first port tried for the contenders and Redis)
#   BASELINE=<git rev>
#
# Results go to stdout and bench/results/latest.txt.  Exit status 1 when a
# check fails (an answer that is not 2xx, a socket error, tickets that do
# not match, a worker that changed during the rounds); the targets (module
# >= 1.5x the peer's throughput, module p99 < 2 ms) are reported in the
# verdict line.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
work=$root/.run/bench
results=$root/bench/results/latest.txt
nginx=${NGINX:-/usr/sbin/nginx}
module=$root/build/ngx_http_cs_module.so
modules_dir=/usr/lib/nginx/modules

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-50}
warmup=${BENCH_WARMUP:-2}
baseline=${BASELINE:-}

contenders=(module mix rules secret encrypt peer ceiling)
if [ -n "$baseline" ]; then
    contenders=(module baseline mix rules secret encrypt peer ceiling)
fi
declare -A port prefix pid worker template so secret_line extra_line \
    desk_line

redis_pid=
base_dir=
cli=()

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

for v in rounds duration conns warmup; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] && [ "$conns" -ge 1 ] \
    || die "BENCH_ROUNDS, BENCH_DURATION and BENCH_CONNECTIONS must be >= 1"

# --- processes: every one started here is stopped by its PID ------------

stop_pid() {  # stop_pid PID SIGNAL
    local p=$1 i
    kill -0 "$p" 2>/dev/null || return 0
    kill "-$2" "$p" 2>/dev/null || true
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

cleanup() {
    local c
    trap - EXIT INT TERM
    for c in "${contenders[@]}"; do
        if [ -n "${pid[$c]:-}" ]; then
            stop_pid "${pid[$c]}" TERM
        fi
    done
    if [ -n "$redis_pid" ]; then
        stop_pid "$redis_pid" TERM
    fi
    if [ -n "$base_dir" ]; then
        rm -rf "$base_dir"
    fi
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- what the contenders need --------------------------------------------

missing=()
need() { "${@:2}" >/dev/null 2>&1 || missing+=("$1"); }
need nginx test -x "$nginx"
need wrk command -v wrk
need redis-server command -v redis-server
need redis-tools command -v redis-cli
need libnginx-mod-http-lua test -f $modules_dir/ngx_http_lua_module.so
need libnginx-mod-http-ndk test -f $modules_dir/ndk_http_module.so
need lua-nginx-redis test -f /usr/share/lua/5.1/nginx/redis.lua
cjson=$(ls /usr/lib/*/lua/5.1/cjson.so /usr/lib/lua/5.1/cjson.so \
        2>/dev/null | head -n 1 || true)
need lua-cjson test -n "$cjson"
[ ${#missing[@]} -eq 0 ] \
    || die "missing Debian packages: apt-get install ${missing[*]}"
[ -f "$module" ] || die "$module is missing: run 'make build' first"

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

next_port=${BENCH_PORT:-18080}
last_port=$(( next_port + 919 ))
free_port() {  # free_port VAR: the next port nobody listens on, into VAR
    while listening "$next_port"; do
        next_port=$(( next_port + 1 ))
        [ "$next_port" -le "$last_port" ] \
            || die "no free port in ${BENCH_PORT:-18080}..$last_port"
    done
    printf -v "$1" '%s' "$next_port"
    next_port=$(( next_port + 1 ))
}

rm -rf "$work"
mkdir -p "$work" "$(dirname "$results")"

# nginx maps the module file, and a `make build` elsewhere rewrites
# build/'s copy in place: the contenders load a copy of their own
cp "$module" "$work/ngx_http_cs_module.so"
so[module]=$work/ngx_http_cs_module.so
so[secret]=$work/ngx_http_cs_module.so
so[rules]=$work/ngx_http_cs_module.so
so[mix]=$work/ngx_http_cs_module.so
so[encrypt]=$work/ngx_http_cs_module.so

# --- the baseline: the module at another revision, built apart ----------

base_commit=
if [ -n "$baseline" ]; then
    rev=$(git rev-parse --verify --quiet "$baseline^{commit}") \
        || die "BASELINE=$baseline is not a commit of this repository"
    base_commit=$(git rev-parse --short "$rev")
    base_dir=$(mktemp -d "${TMPDIR:-/tmp}/cs-bench-baseline.XXXXXX")
    say "baseline: building $baseline ($base_commit) in $base_dir"
    git archive "$rev" | tar -x -C "$base_dir"
    # DEPS=: what that revision needs beyond the packages here is its
    # build's to report
    make -s -C "$base_dir" build DEPS= > "$base_dir/build.log" 2>&1 \
        || { tail -n 30 "$base_dir/build.log" >&2;
             die "baseline: make build failed at $base_commit"; }
    cp "$base_dir/build/ngx_http_cs_module.so" "$work/baseline.so"
    so[baseline]=$work/baseline.so
    rm -rf "$base_dir"
    base_dir=
fi

# --- Redis: fresh, private, nothing persisted ----------------------------

free_port rport
mkdir -p "$work/redis"
redis-server --bind 127.0.0.1 --port "$rport" --dir "$work/redis" \
    --save '' --appendonly no --daemonize no \
    --logfile "$work/redis/redis.log" &
redis_pid=$!
cli=(redis-cli -h 127.0.0.1 -p "$rport")
wait_for 10 listening "$rport" \
    || die "redis-server did not start on 127.0.0.1:$rport"

# --- the three nginx ------------------------------------------------------

user=
if [ "$(id -u)" -eq 0 ]; then
    # workers would be nobody, who may not read a checkout under /root
    user="user root;"
fi

for c in "${contenders[@]}"; do
    free_port "port[$c]"
    template[$c]=$c
done
template[secret]=module
template[baseline]=module
template[rules]=module
template[mix]=module
prefix[mix]=bench:mix:
template[encrypt]=module
prefix[encrypt]=bench:encrypt:
prefix[rules]=bench:rules:
prefix[module]=bench:module:
prefix[secret]=bench:secret:
prefix[baseline]=bench:baseline:
prefix[peer]=bench:peer:

# the desk's secret, for (b) only: 64 hex characters, as
# `openssl rand -hex 32` makes them
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$work/cs.secret"
secret_line[secret]="cs_secret $work/cs.secret;"

# the rules for (f): 100 rules of the kind a desk writes (caseless words
# and alternatives), none of which a bench issue matches
for i in $(seq 1 100); do
    printf 'cs_rule r%d "(?i)(refund|cancel|return) order %d\\b|invoice %d missing" "Answer %d" billing;\n' \
        "$i" "$i" "$i" "$i"
done > "$work/rules.conf"
extra_line[rules]="include $work/rules.conf;"

# (g): an admin key (its SHA-256 in cs_admin_keys) for the mix's solves
admin_key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf 'bench %s\n' "$(printf '%s' "$admin_key" | sha256sum | cut -d ' ' -f 1)" \
    > "$work/admin.keys"
desk_line[mix]="location /desk/ { cs_api; \
cs_redis_server 127.0.0.1:$rport; cs_key_prefix ${prefix[mix]}; \
cs_agents agent1 agent2 agent3; cs_secret $work/cs.secret; \
cs_admin_keys $work/admin.keys; client_max_body_size 16k; \
client_body_buffer_size 16k; }"
# the key for (h), as `openssl rand -hex 32` makes it
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$work/cs.key"
extra_line[encrypt]="cs_encrypt_key $work/cs.key;"

# POSTs one ticket with HTTP/1.0 and prints the answer
post_once() {
    local body='{"userId":"bench-smoke","issue":"smoke test"}'
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf '%s\r\n' 'POST /api/service HTTP/1.0' 'Host: 127.0.0.1' \
        'Content-Type: application/json' "Content-Length: ${#body}" '' >&3
    printf '%s' "$body" >&3
    timeout 5 cat <&3
    exec 3<&-
}

# the nginx worker of a contender: the master's one child
worker_of() {
    awk '{ print $1 }' "/proc/$1/task/$1/children" 2>/dev/null
}
has_worker() { [ -n "$(worker_of "$1")" ]; }

# the peer's copy of the desk's library, as nginx loads it, named cs_peer
{ printf "#!lua name=cs_peer\nlocal LIB = 'cs_peer_'\n"
  sh ngx_cs_module/ngx_http_cs_library.sh ngx_cs_module; } > "$work/library.lua"

for c in "${contenders[@]}"; do
    dir=$work/$c
    mkdir -p "$dir/logs" "$dir/temp"
    sed -e "s|@USER@|$user|g" \
        -e "s|@PORT@|${port[$c]}|g" -e "s|@REDIS_PORT@|$rport|g" \
        -e "s|@PREFIX@|${prefix[$c]:-}|g" -e "s|@ROOT@|$root|g" \
        -e "s|@WORK@|$work|g" \
        -e "s|@LUA_CPATH@|$(dirname "$cjson")/?.so|g" \
        -e "s|@MODULE@|${so[$c]:-}|g" \
        -e "s|@SECRET@|${secret_line[$c]:-}|g" \
        -e "s|@EXTRA@|${extra_line[$c]:-}|g" \
        -e "s|@DESK@|${desk_line[$c]:-}|g" \
        "bench/${template[$c]}.conf.in" > "$dir/nginx.conf"

    ngx=("$nginx" -p "$dir/" -c nginx.conf -e logs/error.log)
    "${ngx[@]}" -t -q || die "$c: $dir/nginx.conf is invalid"
    "${ngx[@]}" -g 'daemon off;' &
    pid[$c]=$!

    wait_for 10 listening "${port[$c]}" \
        && kill -0 "${pid[$c]}" 2>/dev/null \
        || { tail -n 20 "$dir/logs/error.log" >&2;
             die "$c: nginx did not start on 127.0.0.1:${port[$c]}"; }

    answer=$(post_once "${port[$c]}" || true)
    status=$(head -n 1 <<<"$answer" | awk '{ print $2 }')
    [ "$status" = 201 ] \
        || { tail -n 20 "$dir/logs/error.log" >&2;
             die "$c: a valid ticket was answered '$status', not 201"; }
    # (b) measures the token's cost only if the token is made
    if [ -n "${secret_line[$c]:-}" ] \
       && ! grep -q '"token":"c\.' <<<"$answer"
    then
        die "$c: the answer has no token: $(tail -n 1 <<<"$answer")"
    fi

    wait_for 5 has_worker "${pid[$c]}" \
        || die "$c: nginx has no worker"
    worker[$c]=$(worker_of "${pid[$c]}")
done

# --- rounds ---------------------------------------------------------------

tickets() {  # the last ticket id under a prefix
    local n
    n=$("${cli[@]}" GET "${1}ticket:seq")
    echo "${n:-0}"
}

# a request wrk gave up on may still be stored after wrk ends
settled_tickets() {
    local a b i
    a=$(tickets "$1")
    for (( i = 0; i < 50; i++ )); do
        sleep 0.1
        b=$(tickets "$1")
        [ "$a" = "$b" ] && break
        a=$b
    done
    echo "$a"
}

run_wrk() {  # run_wrk CONTENDER SECONDS: prints the BENCH line
    local line script=bench/lua/wrk-post.lua path=api/service
    if [ "$1" = mix ]; then
        script=bench/lua/wrk-mix.lua
        path=desk/
    fi
    line=$(BENCH_ADMIN_KEY=$admin_key wrk -t1 -c"$conns" -d"${2}s" \
               --timeout 5s -s "$script" \
               "http://127.0.0.1:${port[$1]}/$path" \
           | grep '^BENCH ') || die "$1: wrk failed"
    echo "$line"
}

field() {  # field NAME LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

hz=$(getconf CLK_TCK)

# cpu_ticks PID: its user + system time so far (fields 14 and 15 of
# /proc/PID/stat, all its threads), in clock ticks.  The fields are
# counted after the command name, which could hold a space.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# Redis' own time per script call since the last CONFIG RESETSTAT
# (INFO commandstats: FCALL, or EVALSHA and EVAL for a BASELINE built
# before the library), "-" for none: the part of Redis' CPU time that the
# script itself takes
script_us() {
    "${cli[@]}" INFO commandstats | tr -d '\r' \
    | awk -F '[:,=]' '/^cmdstat_(eval(sha)?|fcall):/ { n += $3; u += $5 }
                      END { if (n) printf "%.2f", u / n; else print "-" }'
}

per_request() {  # per_request TICKS REQUESTS: microseconds each
    awk -v t="$1" -v n="$2" -v hz="$hz" \
        'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }'
}

raw=$work/rounds.txt
: > "$raw"

if [ "$warmup" -gt 0 ]; then
    say "warm-up: ${warmup}s per contender"
    for c in "${contenders[@]}"; do
        run_wrk "$c" "$warmup" >/dev/null
    done
fi

# The machine is shared: tell how much CPU others took during the rounds.
# Ours are the nginx (masters and workers), redis-server, and this
# shell's children (wrk, redis-cli), in clock ticks.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
our_ticks() {
    local p ps=("$redis_pid") t=0 c
    for c in "${contenders[@]}"; do
        ps+=("${pid[$c]}"
             $(cat "/proc/${pid[$c]}/task/${pid[$c]}/children" 2>/dev/null))
    done
    for p in "${ps[@]}"; do
        t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null \
                     || echo 0) ))
    done
    # the second line of `times`: children's user and system time
    t=$(( t + $(times | awk -v hz="$hz" 'NR == 2 {
            split($1, u, /[ms]/); split($2, y, /[ms]/);
            printf "%d", (u[1] * 60 + u[2] + y[1] * 60 + y[2]) * hz }') ))
    echo "$t"
}

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
busy0=$(busy_ticks)
ours0=$(our_ticks)
t0=$(date +%s%N)

n=${#contenders[@]}
for (( r = 1; r <= rounds; r++ )); do
    # each round starts with the next contender, so that none always
    # follows the same one
    for (( k = 0; k < n; k++ )); do
        c=${contenders[$(( (r - 1 + k) % n ))]}
        say "round $r/$rounds: $c, ${duration}s, $conns connections"

        # every run starts from an empty store (the scripts stay cached),
        # so that no contender meets a bigger one and memory stays bounded
        "${cli[@]}" FLUSHALL >/dev/null

        before=0
        if [ -n "${prefix[$c]:-}" ]; then
            before=$(tickets "${prefix[$c]}")
        fi

        # a worker that died and was replaced took its ticks with it
        w=$(worker_of "${pid[$c]}")
        [ "$w" = "${worker[$c]}" ] \
            || die "$c: the nginx worker ${worker[$c]} is gone (now '$w')"

        "${cli[@]}" CONFIG RESETSTAT >/dev/null
        nginx0=$(cpu_ticks "$w")
        redis0=$(cpu_ticks "$redis_pid")
        line=$(run_wrk "$c" "$duration")
        nginx1=$(cpu_ticks "$w")
        redis1=$(cpu_ticks "$redis_pid")
        script=$(script_us)

        answered=$(field requests "$line")
        ok=$(field ok "$line")
        # the mix: the tickets are its intakes' 2xx, the rest other steps
        made=$(field intake_ok "$line")
        made=${made:-$ok}
        kinds=$(field kinds "$line")
        diff=-
        if [ -n "${prefix[$c]:-}" ]; then
            after=$(settled_tickets "${prefix[$c]}")
            diff=$(( after - before - made ))
        fi

        sockerr=$(( $(field connect "$line") + $(field read "$line")
                    + $(field write "$line") + $(field timeout "$line") ))

        printf '%s %d %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s\n' \
            "$c" "$r" \
            "$(awk -v n="$ok" -v d="$(field duration_us "$line")" \
                   'BEGIN { printf "%.0f", n / (d / 1e6) }')" \
            "$(field p50_us "$line")" "$(field p99_us "$line")" \
            "$ok" "$(field other "$line")" "$(field codes "$line")" \
            "$sockerr" "$diff" \
            "$(per_request $(( nginx1 - nginx0 )) "$answered")" \
            "$(per_request $(( redis1 - redis0 )) "$answered")" \
            "$answered" $(( nginx1 - nginx0 )) $(( redis1 - redis0 )) \
            "$script" \
            "$(awk -v n="$made" -v d="$(field duration_us "$line")" \
                   'BEGIN { printf "%.0f", n / (d / 1e6) }')" \
            "${kinds:--}" >> "$raw"
    done
done

load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)
ours=$(( $(our_ticks) - ours0 ))
busy=$(( $(busy_ticks) - busy0 ))
[ -z "${BENCH_DEBUG:-}" ] || say "cpu ticks: busy $busy, ours $ours"
others=$(awk -v b="$busy" -v o="$ours" -v hz="$hz" -v n="$(nproc)" \
             -v s="$(( ($(date +%s%N) - t0) / 1000000 ))e-3" \
             'BEGIN { x = (b - o) / hz / s / n * 100;
                      printf "%.0f", x < 0 ? 0 : x }')

# --- report -----------------------------------------------------------------

median() {  # median CONTENDER COLUMN [FORMAT]: over its rounds
    awk -v c="$1" -v col="$2" '$1 == c { print $col }' "$raw" | sort -n \
    | awk -v f="${3:-%.1f}\n" '{ v[NR] = $1 }
           END { if (NR % 2) print v[(NR + 1) / 2];
                 else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

spread() {  # spread CONTENDER COLUMN: min..max over its rounds
    awk -v c="$1" -v col="$2" '$1 == c { print $col }' "$raw" | sort -n \
    | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }'
}

sum() {
    awk -v c="$1" -v col="$2" '$1 == c { s += $col } END { print s + 0 }' \
        "$raw"
}

declare -A rps p50 p99 other sockerr codes diffmax diffmin
declare -A ncpu rcpu tcpu scpu
for c in "${contenders[@]}"; do
    rps[$c]=$(median "$c" 3)
    ncpu[$c]=$(median "$c" 11 '%.2f')
    rcpu[$c]=$(median "$c" 12 '%.2f')
    scpu[$c]=-
    if [ -n "${prefix[$c]:-}" ]; then
        scpu[$c]=$(median "$c" 16 '%.2f')
    fi
    tcpu[$c]=$(awk -v a="${ncpu[$c]}" -v b="${rcpu[$c]}" \
                   'BEGIN { printf "%.2f", a + b }')
    p50[$c]=$(median "$c" 4)
    p99[$c]=$(median "$c" 5)
    other[$c]=$(sum "$c" 7)
    sockerr[$c]=$(sum "$c" 9)
    codes[$c]=$(awk -v c="$c" '$1 == c && $8 != "-" { printf "%s ", $8 }' \
                    "$raw")
    diffmin[$c]=$(awk -v c="$c" '$1 == c && $10 != "-" { print $10 }' "$raw" \
                  | sort -n | head -n 1)
    diffmax[$c]=$(awk -v c="$c" '$1 == c && $10 != "-" { print $10 }' "$raw" \
                  | sort -n | tail -n 1)
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

failures=()
for c in "${contenders[@]}"; do
    [ -n "${prefix[$c]:-}" ] || continue
    [ "${other[$c]}" -eq 0 ] \
        || failures+=("$c answered ${other[$c]} non-2xx (${codes[$c]% })")
    [ "${sockerr[$c]}" -eq 0 ] \
        || failures+=("$c had ${sockerr[$c]} socket errors")
    if [ "${diffmin[$c]}" -lt 0 ] || [ "${diffmax[$c]}" -gt "$conns" ]; then
        failures+=("$c: tickets - 2xx was ${diffmin[$c]}..${diffmax[$c]}, \
not within 0..$conns")
    fi
done
[ "${other[ceiling]}" -eq 0 ] && [ "${sockerr[ceiling]}" -eq 0 ] \
    || failures+=("ceiling: ${other[ceiling]} non-2xx, \
${sockerr[ceiling]} socket errors")

mp=$(ratio "${rps[module]}" "${rps[peer]}")
mc=$(ratio "${rps[module]}" "${rps[ceiling]}")
tp=$(awk -v r="$mp" 'BEGIN { print (r >= 1.5) ? "met" : "MISSED" }')
tl=$(awk -v u="${p99[module]}" \
         'BEGIN { print (u < 2000) ? "met" : "MISSED" }')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- ngx_cs_module config bench 2>/dev/null)" ]
then
    commit="$commit (with uncommitted changes)"
fi

# the difference of two contenders' medians, nginx and Redis
delta() {
    awk -v n1="${ncpu[$1]}" -v n0="${ncpu[$2]}" \
        -v r1="${rcpu[$1]}" -v r0="${rcpu[$2]}" \
        'BEGIN { printf "nginx %+.2f us, Redis %+.2f us, together %+.2f us",
                        n1 - n0, r1 - r0, n1 - n0 + r1 - r0 }'
}

{
    echo "ngx_cs_module benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')," \
         "commit $commit${base_commit:+, baseline $base_commit}"
    echo "command: ${baseline:+BASELINE=$baseline }BENCH_ROUNDS=$rounds" \
         "BENCH_DURATION=$duration BENCH_CONNECTIONS=$conns" \
         "BENCH_WARMUP=$warmup make bench"
    echo "machine: $(nproc) CPUs, $cpu; load average before $load_before," \
         "after $load_after"
    echo "other processes took ~${others}% of the machine's CPU during the" \
         "rounds$( [ "$others" -ge 10 ] && echo ': the numbers are pessimistic')"
    echo "software: $("$nginx" -v 2>&1 | sed 's/.*version: //')," \
         "redis $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')," \
         "lua module $(dpkg-query -W -f='${Version}' \
                       libnginx-mod-http-lua 2>/dev/null || echo '?')," \
         "$(wrk -v 2>&1 | head -n 1 | cut -d ' ' -f 1-2)"
    echo "load: wrk -t1 -c$conns -d${duration}s, $rounds interleaved rounds," \
         "one nginx worker each, one redis-server shared, all on 127.0.0.1;"
    echo "      a valid ticket (~250 bytes) per request, userId varied;" \
         "medians over rounds"
    echo
    printf '%-9s %12s %9s %9s %9s %9s %14s\n' contender "req/s (2xx)" \
        "p50 ms" "p99 ms" non-2xx "sock.err" "tickets - 2xx"
    for c in "${contenders[@]}"; do
        d=-
        if [ -n "${prefix[$c]:-}" ]; then
            d="${diffmin[$c]}..${diffmax[$c]}"
        fi
        printf '%-9s %12s %9s %9s %9s %9s %14s\n' "$c" "${rps[$c]}" \
            "$(ms "${p50[$c]}")" "$(ms "${p99[$c]}")" "${other[$c]}" \
            "${sockerr[$c]}" "$d"
    done
    echo
    echo "module/peer: ${mp}x throughput    module/ceiling: ${mc}x throughput"
    echo "encrypt/module (the cost of cs_encrypt_key on intake):" \
         "$(ratio "${rps[encrypt]}" "${rps[module]}")x throughput," \
         "$(ratio "${ncpu[encrypt]}" "${ncpu[module]}")x nginx CPU" \
         "per ticket, $(ratio "${tcpu[encrypt]}" "${tcpu[module]}")x" \
         "nginx + Redis"
    if [ -n "$baseline" ]; then
        echo "module/baseline: $(ratio "${rps[module]}" "${rps[baseline]}")x" \
             "throughput"
    fi
    mix_intake=$(median mix 17)
    echo "mix (cs_api, 90% intake, 10% read/solve/rate): intake" \
         "${mix_intake} tickets/s of ${rps[mix]} req/s;" \
         "mix intake/module: $(ratio "$mix_intake" "${rps[module]}")x;" \
         "steps (2xx/sent) in the last round:" \
         "$(awk '$1 == "mix" { k = $18 } END { print k }' "$raw")"
    echo "verdict: module >= 1.5x peer: $tp (${mp}x);" \
         "module p99 < 2 ms at $conns connections: $tl" \
         "($(ms "${p99[module]}") ms);" \
         "checks: $([ ${#failures[@]} -eq 0 ] && echo passed || echo FAILED)"
    for f in "${failures[@]}"; do
        echo "  FAILED: $f"
    done
    echo
    echo "CPU per answered request, us of user + system time" \
         "(/proc/<pid>/stat, CLK_TCK $hz):"
    echo "medians over rounds, each round's min..max beside them; script:" \
         "Redis' own timing"
    echo "of the script calls (INFO commandstats usec_per_call, wall clock" \
         "inside Redis)"
    printf '%-9s %8s %14s %8s %14s %8s %8s\n' contender "nginx us" \
        "(rounds)" "Redis us" "(rounds)" together script
    for c in "${contenders[@]}"; do
        printf '%-9s %8s %14s %8s %14s %8s %8s\n' "$c" \
            "${ncpu[$c]}" "$(spread "$c" 11)" \
            "${rcpu[$c]}" "$(spread "$c" 12)" "${tcpu[$c]}" "${scpu[$c]}"
    done
    echo "secret - module (cs_secret: the nonce, the token's HMAC):" \
         "$(delta secret module)"
    echo "rules - module (100 cs_rule, none matching, pcre_jit on):" \
         "$(delta rules module)"
    echo "encrypt - module (cs_encrypt_key: the issue sealed):" \
         "$(delta encrypt module)"
    if [ -n "$baseline" ]; then
        echo "module - baseline ($base_commit): $(delta module baseline)"
    fi
    echo
    echo "rounds (contender round req/s p50_us p99_us 2xx non-2xx codes" \
         "sock.err tickets-2xx nginx_us Redis_us answered nginx_ticks" \
         "Redis_ticks script_us tickets/s steps):"
    sed 's/^/  /' "$raw"
} | tee "$results"

[ ${#failures[@]} -eq 0 ]
