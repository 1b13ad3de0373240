#!/usr/bin/env bash
# Why `make chaos` can lose acknowledged tickets with appendfsync everysec:
# Redis itself (7.0, Debian's), no nginx involved.
#
# With everysec, Redis fsyncs the AOF in a background thread.  While such
# an fsync is still running, flushAppendOnlyFile() postpones its write(2)
# of the AOF buffer (for up to 2 s) but the replies of the commands in
# that buffer are sent anyway.  A SIGKILL of the redis process in that
# window loses writes that clients were already told about.  A slow disk
# makes the window; here strace makes every fdatasync() take 3 s.
#
# Prints e.g. "acknowledged INCRs: 52   after SIGKILL + AOF reload: 40".
# With appendfsync always (CS_APPENDFSYNC=always) both numbers are equal.
set -u
port=${CS_PORT:-17399}
policy=${CS_APPENDFSYNC:-everysec}
dir=$(mktemp -d)
start() {
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
        --appendonly yes --appendfsync "$policy" --daemonize no \
        --logfile "$dir/redis.log" &
    pid=$!
    until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
        sleep 0.05
    done
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

command -v strace >/dev/null || { echo "needs strace" >&2; exit 2; }
start
strace -f -qq -o /dev/null -e trace=fdatasync \
    -e inject=fdatasync:delay_enter=3000000 -p "$pid" 2>/dev/null &
spid=$!
sleep 0.5
acked=0
end=$(( $(ms) + 2500 ))
while [ "$(ms)" -lt "$end" ]; do
    v=$(redis-cli -p "$port" incr c) && acked=$v
done
kill -KILL "$pid"; wait "$pid" 2>/dev/null
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
start
stored=$(redis-cli -p "$port" get c)
echo "appendfsync $policy: acknowledged INCRs: $acked   after SIGKILL + AOF reload: ${stored:-0}"
kill "$pid"; wait "$pid" 2>/dev/null
rm -rf "$dir"
[ "${stored:-0}" -eq "$acked" ]
