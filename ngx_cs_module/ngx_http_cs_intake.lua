-- Takes one validated ticket into the desk, atomically: the idempotency
-- check, the id, the routing decision, the ticket hash, the agent's queue,
-- the user's history, the state's index, the event stream entry and the
-- routing state.
--
-- Every check and read comes before the first write, so an error leaves
-- nothing behind: the type of every key it writes is checked first, and a
-- wrong one is the error "CSWRONGTYPE <key>" (the key's name with the user
-- and idempotency parts masked).  A new ticket never writes into an
-- existing ticket hash: when the sequence hands out an id that is taken
-- (a Redis that lost its last writes), the id moves past it.
--
-- KEYS[1]: the desk's prefix; every key is built from it, so that a prefix
--       with a hash tag puts the whole desk in one cluster slot.
-- ARGV: assign (round_robin | least_loaded), idempotency key ('' for
--       none), number of agents, agents..., userId, issue, category,
--       priority, channel, email, the ticket's nonce ('' without
--       cs_secret), '1' when X-CS-User proved the userId, the presence
--       timeout (ms) of the agents' registry.
-- Returns {outcome, id, agent, state, nonce}: outcome is "created",
-- "replayed" or "reused" (the key was used for a different ticket).
-- The time is Redis' own (TIME), so hosts with skewed clocks agree.

-- Every key it writes is proven to hold its type, or to be absent, before
-- the first write, at the least cost: a key it reads anyway is read with
-- pcall (a foreign value fails the read), the few it only writes get a
-- TYPE, and the event stream, written first, fails alone.

local function wrong(shown)
    return redis.error_reply('CSWRONGTYPE ' .. shown)
end

-- a read whose failure names the key: nil and the error reply
local function read(shown, ...)
    local r = redis.pcall(...)
    if type(r) == 'table' and r.err then
        return nil, wrong(shown)
    end
    return r
end

-- a key only written must hold its type or not exist
local function writable(key, want, shown)
    local t = redis.call('TYPE', key).ok
    if t ~= 'none' and t ~= want then
        return wrong(shown or key)
    end
end

local p = KEYS[1]
local assign = ARGV[1]
local idem = ARGV[2]
local nagents = tonumber(ARGV[3])
local agents = {}
for i = 1, nagents do
    agents[i] = ARGV[3 + i]
end

local f = 4 + nagents
local user, issue, category = ARGV[f], ARGV[f + 1], ARGV[f + 2]
local priority, channel, email = ARGV[f + 3], ARGV[f + 4], ARGV[f + 5]
local nonce, proven = ARGV[f + 6], ARGV[f + 7]
local presence_timeout = tonumber(ARGV[f + 8])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local seq_key, events_key = p .. 'ticket:seq', p .. 'events'
local user_key = p .. 'user:' .. user .. ':tickets'
local err

local idem_key, digest
if idem ~= '' then
    idem_key = p .. 'idem:' .. idem
    -- length-prefixed, so that no two tickets share the text
    local parts = {}
    for i, v in ipairs({user, issue, category, priority, channel, email}) do
        parts[i] = #v .. ':' .. v
    end
    digest = redis.sha1hex(table.concat(parts, ','))

    local seen
    seen, err = read(p .. 'idem:*', 'GET', idem_key)
    if err then
        return err
    end
    if seen then
        local id, d, state, agent =
            string.match(seen, '^(%d+):(%x+):([%w_]+):(.*)$')
        if d ~= digest then
            return {'reused', tonumber(id), '', '', ''}
        end
        local first = redis.call('HGET', p .. 'ticket:' .. id, 'nonce')
        return {'replayed', tonumber(id), agent, state, first or ''}
    end
end

-- the next id, moved past any ticket that already holds it: ids may skip,
-- a ticket is never merged into another
local seq
seq, err = read(seq_key, 'GET', seq_key)
if err then
    return err
end
local id = (tonumber(seq) or 0) + 1
local step = 1
while redis.call('EXISTS', p .. 'ticket:' .. id) == 1 do
    id = id + step
    step = step * 2
end

local agent, registry_agent, turn = '', false, nil
if nagents > 0 then
    if assign == 'least_loaded' then
        local last
        last, err = read(p .. 'route:last', 'HMGET', p .. 'route:last',
                         unpack(agents))
        if err then
            return err
        end
        local best, best_len, best_last
        for i = 1, nagents do
            local len
            len, err = read(p .. 'queue:' .. agents[i], 'LLEN',
                            p .. 'queue:' .. agents[i])
            if err then
                return err
            end
            -- never assigned sorts before any real sequence number
            local seq = tonumber(last[i]) or -1
            if best == nil or len < best_len
               or (len == best_len and seq < best_last)
            then
                best, best_len, best_last = i, len, seq
            end
        end
        agent = agents[best]
    else
        local last_turn
        last_turn, err = read(p .. 'route:rr', 'GET', p .. 'route:rr')
        if err then
            return err
        end
        turn = (tonumber(last_turn) or 0) + 1
        agent = agents[(turn - 1) % nagents + 1]
    end
else
    -- the registry (as ngx_http_cs_common.lua chooses): an agent online
    -- with a fresh heartbeat and load under capacity; round_robin takes the
    -- oldest last assignment, least_loaded the most spare capacity first;
    -- never assigned is oldest; then the name.  None: the backlog.
    local best, names
    names, err = read(p .. 'agents', 'SMEMBERS', p .. 'agents')
    if err then
        return err
    end
    for _, name in ipairs(names) do
        local a
        a, err = read(p .. 'agent:' .. name, 'HMGET', p .. 'agent:' .. name,
                      'status', 'lastSeen', 'capacity', 'load',
                      'lastAssigned')
        if err then
            return err
        end
        local load, cap = tonumber(a[4]) or 0, tonumber(a[3]) or 0
        if a[1] == 'online' and a[2]
           and now - tonumber(a[2]) <= presence_timeout and load < cap
        then
            local c = {name = name, spare = cap - load,
                       last = tonumber(a[5]) or -1}
            local better = not best
            if best then
                if assign == 'least_loaded' and c.spare ~= best.spare then
                    better = c.spare > best.spare
                elseif c.last ~= best.last then
                    better = c.last < best.last
                else
                    better = c.name < best.name
                end
            end
            if better then
                best = c
            end
        end
    end
    if best then
        agent = best.name
        registry_agent = true
    end
end

local state = 'queued'
if agent ~= '' then
    state = 'assigned'
end

-- the keys only written: the user's history, the state's index, the queue
-- and, for a static agent, route:last (least_loaded read both already)
local queue_key = p .. 'queue:' .. (agent ~= '' and agent or 'unassigned')
local proven_by_reads = assign == 'least_loaded' and nagents > 0
local state_key = p .. 'state:' .. state
err = writable(user_key, 'list', p .. 'user:*:tickets')
    or writable(state_key, 'zset')
if not err and not proven_by_reads then
    err = writable(queue_key, 'list')
        or (nagents > 0 and writable(p .. 'route:last', 'hash'))
end
if err then
    return err
end

-- the first write: when the stream is foreign, nothing is written at all
local added = redis.pcall('XADD', events_key, 'MAXLEN', '~', 100000, '*',
                          'type', 'ticket.created', 'ticketId', id,
                          'userId', user, 'agent', agent, 'state', state,
                          'priority', priority, 'channel', channel)
if type(added) == 'table' and added.err then
    if string.find(added.err, 'WRONGTYPE', 1, true) then
        return wrong(events_key)
    end
    return redis.error_reply(added.err)
end

redis.call('SET', seq_key, id)
if turn then
    redis.call('SET', p .. 'route:rr', turn)
end

local ticket = {
    'id', id, 'userId', user, 'issue', issue, 'priority', priority,
    'channel', channel, 'state', state, 'createdAt', now
}
if category ~= '' then
    table.insert(ticket, 'category')
    table.insert(ticket, category)
end
if email ~= '' then
    table.insert(ticket, 'email')
    table.insert(ticket, email)
end
if agent ~= '' then
    table.insert(ticket, 'agent')
    table.insert(ticket, agent)
end
if nonce ~= '' then
    table.insert(ticket, 'nonce')
    table.insert(ticket, nonce)
end
if proven == '1' then
    table.insert(ticket, 'userProven')
    table.insert(ticket, '1')
end
redis.call('HSET', p .. 'ticket:' .. id, unpack(ticket))

if registry_agent then
    redis.call('RPUSH', p .. 'queue:' .. agent, id)
    redis.call('HINCRBY', p .. 'agent:' .. agent, 'load', 1)
    redis.call('HSET', p .. 'agent:' .. agent, 'lastAssigned', now)
elseif agent ~= '' then
    redis.call('RPUSH', p .. 'queue:' .. agent, id)
    redis.call('HSET', p .. 'route:last', agent, id)
else
    redis.call('RPUSH', p .. 'queue:unassigned', id)
end

redis.call('RPUSH', user_key, id)
redis.call('ZADD', state_key, id, id)

if idem_key then
    redis.call('SET', idem_key,
               id .. ':' .. digest .. ':' .. state .. ':' .. agent,
               'PX', 86400000)
end

return {'created', id, agent, state, nonce}
