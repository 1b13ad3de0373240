#!/usr/bin/env bash
# The faults of `make chaos`, done to the private Redis while the load
# runs: SIGKILL and restart on the same data (the AOF is reloaded), CLIENT
# PAUSE past cs_redis_timeout, FUNCTION FLUSH (the desk's library gone).
# One line per fault goes to
# OUT:  F  kind  start_ms  available_ms  detail
# where available_ms is when Redis answered again (PING -> PONG, so not
# while LOADING); the checker measures recovery from there.  Each fault
# waits until the previous one has been available for CHAOS_GAP ms, so
# that every recovery window is longer than the limit it is checked
# against; no fault starts unless its window fits before the load ends.
#
#   chaos/faults.sh REDIS_DIR REDIS_PORT LOAD_START_MS SECONDS OUT
set -euo pipefail
me=chaos-faults
. "$(dirname "$0")/lib.sh"

dir=$1 port=$2 start=$3 seconds=$4 out=$5
gap=${CHAOS_GAP:-7000}
end=$(( start + seconds * 1000 ))

# kill (with how long Redis stays down, ms), pause (ms), flush; the 6 s
# outage lets the reconnect back-off reach its 5 s cap
kinds=(KILL:500 PAUSE:2500 KILL:2000 FLUSH:0 KILL:6000 PAUSE:1500 KILL:1000
       FLUSH:0)

sleep_until() {
    local left=$(( $1 - $(now_ms) ))
    if [ "$left" -gt 0 ]; then
        sleep "$(printf '%d.%03d' $(( left / 1000 )) $(( left % 1000 )))"
    fi
}

next=$(( start + 3000 ))
k=0
while :; do
    kind=${kinds[k % ${#kinds[@]}]%%:*}
    arg=${kinds[k % ${#kinds[@]}]#*:}
    [ $(( next + arg + gap )) -le "$end" ] || break
    sleep_until "$next"

    t0=$(now_ms)
    case $kind in
    KILL)
        pid=$(redis_pid "$dir")
        kill -KILL "$pid"
        wait_for 10 eval '! listening $port' \
            || die "redis-server $pid still listens after SIGKILL"
        sleep_until $(( t0 + arg ))
        redis_start "$dir" "$port" "${chaos_redis_args[@]}"
        ;;
    PAUSE)
        [ "$(redis-cli -p "$port" client pause "$arg" all)" = OK ] \
            || die "CLIENT PAUSE failed"
        # PING waits for the pause to end
        redis_ping "$port" || wait_for 10 redis_ping "$port" \
            || die "Redis does not answer after CLIENT PAUSE"
        ;;
    FLUSH)
        [ "$(redis-cli -p "$port" function flush)" = OK ] \
            || die "FUNCTION FLUSH failed"
        ;;
    esac
    avail=$(now_ms)

    printf 'F\t%s\t%s\t%s\t%s\n' "$kind" "$t0" "$avail" "$arg" >> "$out"
    say "$kind${arg:+ $arg ms}: Redis available again after $(( avail - t0 )) ms"

    next=$(( avail + gap ))
    k=$(( k + 1 ))
done
