-- The cs_close_after sweep: solved and auto_resolved tickets whose latest
-- solve is older than cs_close_after are closed, at most a batch a call.
-- One worker per desk calls it from a timer; the desk's lock keeps the
-- hosts that share the desk from sweeping side by side.
-- Runs after ngx_http_cs_common.lua, as role 'sweep'.
--
-- ARGV[2]: the caller's lock id (host:pid:random), unique to one worker.
-- ARGV[6..9]: cs_close_after (ms), the lock's lifetime (ms), the batch,
--             and 'sweep', or 'release' to hand the lock back.
-- Answers {held, closed, more}: 1 when this caller holds the lock, the
-- tickets closed, 1 when due tickets may remain (call again soon).
--
-- Every closing is whole or not at all (a script is atomic), and the
-- sweep is idempotent: each member of <prefix>closing is checked against
-- its ticket before anything is written, and members that no longer stand
-- for a solve (reopened, closed, gone) are dropped, so a batch always
-- makes progress.
--
--   cat ngx_http_cs_common.lua ngx_http_cs_sweep.lua > /tmp/sweep.lua
--   redis-cli --eval /tmp/sweep.lua cs: , sweep me '' '' '' \
--       345600000 10000 100 sweep

local close_after, lock_ms = tonumber(ARGV[6]), tonumber(ARGV[7])
local batch, mode = tonumber(ARGV[8]), ARGV[9]
local lock, closing = p .. 'lock:sweep', p .. 'closing'

-- the lock: the value is the holder's id; only the holder renews or
-- releases it
local holder = redis.pcall('GET', lock)
if type(holder) == 'table' and holder.err then
    return redis.error_reply('CSWRONGTYPE ' .. lock)
end

if mode == 'release' then
    if holder == who then
        redis.call('DEL', lock)
    end
    return {0, 0, 0}
end

if not holder then
    redis.call('SET', lock, who, 'PX', lock_ms)
elseif holder == who then
    redis.call('PEXPIRE', lock, lock_ms)
else
    return {0, 0, 0}
end

local now = now_ms()
local cutoff = now - close_after

-- the one read of an idle desk
local due = redis.pcall('ZRANGEBYSCORE', closing, '-inf', cutoff,
                        'WITHSCORES', 'LIMIT', 0, batch)
if due.err then
    return redis.error_reply('CSWRONGTYPE ' .. closing)
end
if #due == 0 then
    return {1, 0, 0}
end

local refused = foreign({p .. 'events', 'stream'},
                        {p .. 'state:solved', 'zset'},
                        {p .. 'state:auto_resolved', 'zset'},
                        {p .. 'state:closed', 'zset'})
if refused then
    return refused
end

local closed = 0
for i = 1, #due, 2 do
    local id, score = due[i], tonumber(due[i + 1])
    local key = p .. 'ticket:' .. id
    local t = redis.pcall('HMGET', key, 'state', 'solvedAt')
    local state, solved
    if not t.err then
        state, solved = t[1], tonumber(t[2]) or score
    end

    if state ~= 'solved' and state ~= 'auto_resolved' then
        -- reopened, closed by hand, erased, or not a ticket: not ours
        redis.call('ZREM', closing, id)
    elseif solved > cutoff then
        -- solved again since it was listed: due later
        redis.call('ZADD', closing, solved, id)
    else
        event('ticket.closed', 'ticketId', id, 'from', state)
        redis.call('HSET', key, 'state', 'closed', 'closedAt', now,
                   'updatedAt', now)
        redis.call('ZREM', closing, id)
        index_state(id, state, 'closed')
        closed = closed + 1
    end
end

return {1, closed, #due == 2 * batch and 1 or 0}
