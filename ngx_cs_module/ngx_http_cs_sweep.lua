-- The desk's sweep, one worker per desk from a timer; the desk's lock
-- keeps the hosts that share the desk from sweeping side by side.  Each
-- call, at most a batch of each:
--   - closes the solved and auto_resolved tickets whose latest solve is
--     older than cs_close_after;
--   - re-routes the assigned tickets of the agents that have been offline
--     for cs_reassign_after, counted from the moment each became offline
--     (it said offline: offlineSince; its heartbeat lapsed: lastSeen plus
--     the presence timeout); never to that agent; its pending ones stay.
-- Runs after ngx_http_cs_common.lua, as role 'sweep'.
--
-- ARGV[2]: the caller's lock id (host:pid:random), unique to one worker.
-- ARGV[5]: '1' with cs_agents: no registry, nothing is re-routed.
-- ARGV[6..10]: cs_close_after (ms), the lock's lifetime (ms), the batch,
--             'sweep' (or 'release' to hand the lock back), and
--             cs_reassign_after (ms).
-- ARGV[11..]: the routing settings (routing() in ngx_http_cs_routing.lua).
-- Answers {held, closed, more, rerouted}: 1 when this caller holds the
-- lock, the tickets closed, 1 when work may remain (call again soon), the
-- tickets re-routed.
--
-- Everything is read and every key a write may touch is proven before the
-- first write (the lock's too: it is taken with the first write), so a
-- foreign value fails the call with nothing written.  Every closing and every move is whole or not at all (a
-- script is atomic), and the sweep is idempotent: each member of
-- <prefix>closing is checked against its ticket, and members that no
-- longer stand for a solve (reopened, closed, gone) are dropped, so a
-- batch always makes progress; a re-routed ticket leaves the agent's load
-- and queue in the same step, so the next call does not find it again.
--
--   redis-cli FCALL cs_<version>_sweep 1 cs: sweep me '' '' '' \
--       345600000 10000 100 sweep 120000 round_robin 60000 604800000 0
--
-- (cs_<version>: the library's name, in redis-cli FUNCTION LIST)

local close_after, lock_ms = tonumber(ARGV[6]), tonumber(ARGV[7])
local batch, mode = tonumber(ARGV[8]), ARGV[9]
local reassign_after = tonumber(ARGV[10])
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
    return {0, 0, 0, 0}
end

if holder and holder ~= who then
    return {0, 0, 0, 0}
end

-- taken, or renewed by its holder, with the call's first write: after
-- every check, so that a refused call writes nothing, the lock neither
local function take_lock()
    if holder then
        redis.call('PEXPIRE', lock, lock_ms)
    else
        redis.call('SET', lock, who, 'PX', lock_ms)
    end
end

local now = now_ms()
local cutoff = now - close_after

-- the one read of an idle desk's closings
local due = redis.pcall('ZRANGEBYSCORE', closing, '-inf', cutoff,
                        'WITHSCORES', 'LIMIT', 0, batch)
if due.err then
    return redis.error_reply('CSWRONGTYPE ' .. closing)
end

-- the moment an agent became offline (its status, lastSeen, offlineSince
-- and createdAt), or nil while it is online or away with a fresh
-- heartbeat.  One that said offline, or a new one, counts from
-- offlineSince (set at its creation and by the presence script); a record
-- written before offlineSince was kept there counts from the later of its
-- creation and its last call, never before the real moment.
local function offline_since(a, timeout)
    local status, seen = a[1], tonumber(a[2])
    if (status == 'online' or status == 'away') and seen then
        if now - seen > timeout then
            return seen + timeout
        end
        return nil
    end
    return tonumber(a[3]) or math.max(tonumber(a[4]) or 0, seen or 0)
end

-- the assigned tickets of the agents offline for cs_reassign_after, at
-- most a batch: {id, agent, category, priority}.  An agent with no load
-- has none.
local R, moves = routing(11), {}
if not static_agents then
    local names = redis.pcall('SMEMBERS', p .. 'agents')
    if names.err then
        return redis.error_reply('CSWRONGTYPE ' .. p .. 'agents')
    end
    table.sort(names)
    for _, name in ipairs(names) do
        if #moves == batch then
            break
        end
        local akey, qkey = p .. 'agent:' .. name, p .. 'queue:' .. name
        local a = redis.pcall('HMGET', akey, 'status', 'lastSeen',
                              'offlineSince', 'createdAt', 'load')
        if a.err then
            return redis.error_reply('CSWRONGTYPE ' .. akey)
        end
        local since = offline_since(a, R.timeout)
        if since and now - since >= reassign_after
           and (tonumber(a[5]) or 0) > 0
        then
            local ids = redis.pcall('LRANGE', qkey, 0, -1)
            if ids.err then
                return redis.error_reply('CSWRONGTYPE ' .. qkey)
            end
            for _, id in ipairs(ids) do
                if #moves == batch then
                    break
                end
                local t = redis.pcall('HMGET', p .. 'ticket:' .. id, 'state',
                                      'agent', 'category', 'priority')
                -- a pending ticket stays; one not the agent's is not ours
                if not t.err and t[1] == 'assigned' and t[2] == name then
                    moves[#moves + 1] = {id = id, agent = name,
                                         category = t[3] or nil,
                                         priority = t[4] or nil}
                end
            end
        end
    end
end

if #due == 0 and #moves == 0 then
    take_lock()
    return {1, 0, 0, 0}
end

-- every key the writes below may touch; routing may write any agent's
-- queue and record, the backlog and the state indexes; the events of the
-- tickets (the stream, each one's index), appended after other writes
local keys = {{p .. 'state:solved', 'zset'},
              {p .. 'state:auto_resolved', 'zset'},
              {p .. 'state:closed', 'zset'}}
if #moves > 0 then
    keys = routing_keys(desk_keys(), R)
end
local ids = {}
for i = 1, #due, 2 do
    ids[#ids + 1] = due[i]
end
for _, m in ipairs(moves) do
    ids[#ids + 1] = m.id
end
local refused = foreign(unpack(event_keys(keys, unpack(ids))))
    or events_room()
if refused then
    return refused
end
take_lock()

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

-- each move whole: out of the agent's queue and load, remembered as its
-- previous agent and as the one that let it go (releasedBy: a drain
-- never hands it back while it waits), then routed by the skills rules,
-- never to that agent, or into the backlog
for _, m in ipairs(moves) do
    local t = {agent = m.agent, state = 'assigned', category = m.category,
               priority = m.priority}
    release(m.id, t)
    redis.call('HSET', p .. 'ticket:' .. m.id, 'previousAgent', m.agent,
               'releasedBy', m.agent)
    local to = place(m.id, t, R, now, m.agent)
    event('ticket.rerouted', 'ticketId', m.id, 'from', m.agent,
          'to', to or '')
end

return {1, closed, (#due == 2 * batch or #moves == batch) and 1 or 0,
        #moves}
