#!/usr/bin/env bash
# `make soak`: does a worker hold its memory and its answers over time?
#
# A private redis-server (no persistence: Redis is not under test here)
# and an nginx with worker_processes 2 as in production, both under
# build/soak/; a janitor (soak/janitor.lua) keeps Redis at the newest 100k
# tickets, in batches of 500, so that it does not slow down as it grows.
# Then, with chaos/load.c on SOAK_CONNECTIONS keep-alive
# connections (every request a new ticket with its own Idempotency-Key):
#   1. the maximum rate: SOAK_MAX_SECONDS as fast as the connections go;
#      this is the first part of the warm-up;
#   2. SOAK_SECONDS at SOAK_PERCENT of that rate (an open-loop pace), with
#      a line every SOAK_SLICE seconds: answers, non-2xx, socket errors,
#      p50/p99/max latency and the VmRSS of each worker.  The RSS at the
#      end of the first SOAK_WARMUP seconds is the baseline ("start"); the
#      middle and the end are the slices at SOAK_SECONDS/2 and SOAK_SECONDS.
# Fails when a worker's RSS at the end is more than SOAK_RSS_LIMIT_KB
# (1024) above its baseline, on any non-2xx or socket error, on a crashed
# worker or an [alert]/[crit]/[emerg] in the error log.  The last line is
# the verdict.
#
#   SOAK_SECONDS=600 SOAK_SLICE=30 SOAK_WARMUP=30 SOAK_PERCENT=80
#   SOAK_MAX_SECONDS=10 SOAK_CONNECTIONS=64 SOAK_RSS_LIMIT_KB=1024
set -euo pipefail
me=soak
. "$(dirname "$0")/../chaos/lib.sh"
cd "$root"

seconds=${SOAK_SECONDS:-600}
slice=${SOAK_SLICE:-30}
warmup=${SOAK_WARMUP:-30}
percent=${SOAK_PERCENT:-80}
max_seconds=${SOAK_MAX_SECONDS:-10}
conns=${SOAK_CONNECTIONS:-64}
rss_limit=${SOAK_RSS_LIMIT_KB:-1024}
work=$root/build/soak

[ "$seconds" -ge $(( 2 * slice )) ] && [ "$warmup" -lt "$seconds" ] \
    || die "SOAK_SECONDS must be at least 2 slices and longer than SOAK_WARMUP"

master=
load_pid=
janitor_pid=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if alive "$load_pid"; then stop_pid "$load_pid"; fi
    if alive "$janitor_pid"; then stop_pid "$janitor_pid"; fi
    nginx_stop "$master"
    stop_pid "$(redis_pid "$work/redis")"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -f "$module" ] || die "$module is missing: run 'make build' first"
for c in redis-server redis-cli gcc perl; do
    command -v "$c" >/dev/null || die "$c is missing"
done
load=$(build_load)

rm -rf "$work"
mkdir -p "$work"

rport=$(free_port 17400)
redis_start "$work/redis" "$rport" --appendonly no

port=$(free_port 17410)
nginx_conf "$work/nginx" "$port" "$rport" 2 soak: notice
nginx_start "$work/nginx"
master=$started_pid
wait_for 10 listening "$port" \
    || { tail -n 20 "$work/nginx/logs/error.log" >&2;
         die "nginx did not start on 127.0.0.1:$port"; }
wait_for 10 eval '[ "$(redis_nginx_clients "$rport")" -ge 2 ]' \
    || die "the workers did not both connect to Redis"

workers=$(worker_pids "$master")

# Redis stays at the newest 100k tickets (soak/janitor.lua)
perl "$root/soak/janitor.pl" "$rport" soak: 100000 500 25 \
    agent1 agent2 agent3 &
janitor_pid=$!
say "nginx workers $workers on 127.0.0.1:$port, Redis on $rport"

# 1. the maximum rate
"$load" -t "127.0.0.1:$port" -c "$conns" -d "$max_seconds" -k soak-max \
    >"$work/max.out" 2>"$work/max.err" &
load_pid=$!
wait "$load_pid" || die "the load client failed: $(cat "$work/max.err")"
load_pid=
max_line=$(tail -n 1 "$work/max.out")
say "maximum: $max_line"
max_rps=$(sed -n 's/.* rps=\([0-9]*\).*/\1/p' <<<"$max_line")
max_bad=$(sed -n 's/.* non2xx=\([0-9]*\) .* conn_errors=\([0-9]*\) .*/\1+\2/p' \
          <<<"$max_line")
[ -n "$max_rps" ] && [ "$max_rps" -gt 0 ] || die "no maximum rate measured"
rate=$(( max_rps * percent / 100 ))

# 2. the soak itself
say "soaking ${seconds}s at $rate/s ($percent% of $max_rps/s), a line every" \
    "${slice}s; baseline RSS after ${warmup}s"
"$load" -t "127.0.0.1:$port" -c "$conns" -d "$seconds" -r "$rate" \
    -n $(( rate * (seconds + 10) + 1000 )) -s "$slice" -P "${workers// /,}" -k soak -D 10 \
    >"$work/soak.out" 2> >(tee "$work/soak.err" | sed 's/^/soak: /' >&2) &
load_pid=$!
wait "$load_pid" || die "the load client failed"
load_pid=
sleep 0.2    # the tee above flushes
soak_line=$(tail -n 1 "$work/soak.out")
say "$soak_line"

workers_after=$(worker_pids "$master")
say "Redis holds $(redis-cli -p "$rport" dbsize) keys in" \
    "$(redis-cli -p "$rport" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')"

# the verdict from the slice lines, the summary and the error log
perl "$root/soak/verdict.pl" --slices "$work/soak.err" \
    --errlog "$work/nginx/logs/error.log" --summary "$soak_line" \
    --seconds "$seconds" --warmup "$warmup" --limit "$rss_limit" \
    --rate "$rate" --max "$max_rps" --percent "$percent" \
    --max-bad "$max_bad" --workers-before "$workers" \
    --workers-after "$workers_after"
