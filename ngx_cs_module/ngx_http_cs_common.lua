-- The prelude of every desk script but the intake (the build puts it in
-- front of each): the desk's prefix, the time from Redis, the caller's
-- check, and the shapes of an answer.
--
-- KEYS[1]: the desk's prefix, a key name every key of the desk starts with
--          (a prefix with a hash tag puts the desk in one cluster slot).
-- ARGV[1..5]: the caller's role (customer, agent, admin), who it is (the
--          ticket id, the agent's or admin's name), its proof (the ticket's
--          nonce, the SHA-256 of the agent's token), the path's {id} or
--          {name}, and '1' when the agents are cs_agents' static ones.
--          nginx has checked the token's MAC; this checks what only Redis
--          knows.  An endpoint's own arguments follow from ARGV[6].
-- Answers: {'ok', status, value} or {'error', status, code, message[, field]}.
-- A value is a string, an integer, false (null), or a table made by obj(),
-- list() or a literal: see ngx_http_cs_answer.c.

local p = KEYS[1]
local role, who, proof, param = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local static_agents = ARGV[5] == '1'

local NULL = false
local TRUE, FALSE = {'!', 'true'}, {'!', 'false'}

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function ok(status, value)
    return {'ok', status, value}
end

local function err(status, code, message, field)
    return {'error', status, code, message, field or NULL}
end

-- obj('name', value, ...): an object; nil values are sent as null
local function obj(...)
    local t, n = {'{'}, select('#', ...)
    local a = {...}
    for i = 1, n do
        local v = a[i]
        if v == nil then
            v = NULL
        end
        t[i + 1] = v
    end
    return t
end

local function list(items)
    local t = {'['}
    for i = 1, #items do
        t[i + 1] = items[i]
    end
    return t
end

-- HGETALL as a table
local function hash(key)
    local flat = redis.call('HGETALL', key)
    if #flat == 0 then
        return nil
    end
    local h = {}
    for i = 1, #flat, 2 do
        h[flat[i]] = flat[i + 1]
    end
    return h
end

local function num(s)
    if s == nil or s == '' then
        return NULL
    end
    return tonumber(s)
end

-- the event id of the user of ticket id, from the user's record (named by
-- the ticket's userKey), or nil when there is none; a record of a foreign
-- type is the error reply, its name masked
local function user_event_id(id)
    local ukey = redis.call('HGET', p .. 'ticket:' .. id, 'userKey')
    if not ukey then
        return nil
    end
    local r = redis.pcall('HGET', p .. 'user:' .. ukey, 'eventId')
    if type(r) == 'table' and r.err then
        return nil, redis.error_reply('CSWRONGTYPE ' .. p .. 'user:*')
    end
    return r or nil
end

-- an event of the desk's stream; the actor is role:name, a customer by
-- the user's event id (the user id is never named here; a ticket without
-- a user record is "customer")
--
-- A script calls it as its first write, after its checks: a foreign value
-- at the stream's key then fails the script with nothing written (an error
-- reply is returned, nil when the entry is written).
local function event(kind, ...)
    local actor = role
    if role == 'customer' then
        local id, e = user_event_id(who)
        if e then
            return e
        end
        actor = id and 'customer:' .. id or 'customer'
    elseif role == 'agent' or role == 'admin' then
        actor = role .. ':' .. who
    end
    local r = redis.pcall('XADD', p .. 'events', 'MAXLEN', '~', 100000, '*',
                          'type', kind, 'actor', actor, ...)
    if type(r) == 'table' and r.err then
        if string.find(r.err, 'WRONGTYPE', 1, true) then
            return redis.error_reply('CSWRONGTYPE ' .. p .. 'events')
        end
        return redis.error_reply(r.err)
    end
end

-- the first of the keys a script writes that holds a foreign value, as
-- the error reply that names it; {key, type} pairs
local function foreign(...)
    for _, kt in ipairs({...}) do
        local t = redis.call('TYPE', kt[1]).ok
        if t ~= 'none' and t ~= kt[2] then
            return redis.error_reply('CSWRONGTYPE ' .. kt[1])
        end
    end
end

-- the keys the moves of a ticket write besides the ticket's own: the
-- backlog, the closing set and the state indexes, then those given; for
-- foreign(), before a script's first write
local STATES = {'queued', 'assigned', 'pending', 'solved', 'closed',
                'auto_resolved'}

local function desk_keys(...)
    local keys = {{p .. 'queue:unassigned', 'list'}, {p .. 'closing', 'zset'}}
    for _, s in ipairs(STATES) do
        keys[#keys + 1] = {p .. 'state:' .. s, 'zset'}
    end
    for _, k in ipairs({...}) do
        keys[#keys + 1] = k
    end
    return keys
end

-- adds what routing may write to keys: every agent's queue and record
-- (cs_agents' queues and route:last)
local function routing_keys(keys, R)
    if static_agents then
        for _, name in ipairs(R.static) do
            keys[#keys + 1] = {p .. 'queue:' .. name, 'list'}
        end
        keys[#keys + 1] = {p .. 'route:last', 'hash'}
        return keys
    end
    for _, name in ipairs(redis.call('SMEMBERS', p .. 'agents')) do
        keys[#keys + 1] = {p .. 'queue:' .. name, 'list'}
        keys[#keys + 1] = {p .. 'agent:' .. name, 'hash'}
    end
    return keys
end

-- the keys of a ticket's agent, when it has one
local function agent_keys(keys, agent)
    if agent then
        keys[#keys + 1] = {p .. 'queue:' .. agent, 'list'}
        if not static_agents then
            keys[#keys + 1] = {p .. 'agent:' .. agent, 'hash'}
        end
    end
    return keys
end

-- the agents' registry -------------------------------------------------

-- online, away or offline: a status whose heartbeat lapsed is offline
local function effective(status, last_seen, now, timeout)
    if status ~= 'online' and status ~= 'away' then
        return 'offline'
    end
    if not last_seen or now - tonumber(last_seen) > timeout then
        return 'offline'
    end
    return status
end

-- name -> {status, load, capacity, last}: the agents that may take work
-- now (online, fresh heartbeat, load under capacity)
local function eligible_agents(now, timeout)
    local out = {}
    for _, name in ipairs(redis.call('SMEMBERS', p .. 'agents')) do
        local a = redis.call('HMGET', p .. 'agent:' .. name, 'status',
                             'lastSeen', 'capacity', 'load', 'lastAssigned')
        local load, cap = tonumber(a[4]) or 0, tonumber(a[3]) or 0
        if effective(a[1], a[2], now, timeout) == 'online' and load < cap then
            out[#out + 1] = {name = name, load = load, capacity = cap,
                             last = tonumber(a[5]) or -1}
        end
    end
    return out
end

-- the choice among eligible agents: round_robin takes the oldest last
-- assignment; least_loaded the most spare capacity, then the oldest last
-- assignment; never assigned counts as oldest; then the name's byte order
local function choose(agents, assign)
    local best
    for _, a in ipairs(agents) do
        if not best then
            best = a
        else
            local better
            if assign == 'least_loaded'
               and a.capacity - a.load ~= best.capacity - best.load
            then
                better = a.capacity - a.load > best.capacity - best.load
            elseif a.last ~= best.last then
                better = a.last < best.last
            else
                better = a.name < best.name
            end
            if better then
                best = a
            end
        end
    end
    return best and best.name or nil
end

-- the ticket's life ------------------------------------------------------

-- every ticket is in the index of its state, <prefix>state:<state>, a
-- sorted set scored by id (GET tickets pages through it)
local function index_state(id, from, to)
    if from then
        redis.call('ZREM', p .. 'state:' .. from, id)
    end
    redis.call('ZADD', p .. 'state:' .. to, id, id)
end

-- a ticket goes to an agent, from the state it was in: its hash, the
-- state index, the agent's queue, load and last assignment
local function assign_to(id, name, now, from)
    local key = p .. 'ticket:' .. id
    redis.call('HSET', key, 'state', 'assigned', 'agent', name,
               'updatedAt', now)
    redis.call('RPUSH', p .. 'queue:' .. name, id)
    index_state(id, from or 'queued', 'assigned')
    if static_agents then
        redis.call('HSET', p .. 'route:last', name, id)
    else
        redis.call('HINCRBY', p .. 'agent:' .. name, 'load', 1)
        redis.call('HSET', p .. 'agent:' .. name, 'lastAssigned', now)
    end
end

-- a ticket waits in the backlog for an agent
local function to_backlog(id, now, from)
    local key = p .. 'ticket:' .. id
    redis.call('HSET', key, 'state', 'queued', 'updatedAt', now)
    redis.call('HDEL', key, 'agent')
    redis.call('RPUSH', p .. 'queue:unassigned', id)
    index_state(id, from, 'queued')
end

-- a ticket (its hash t) leaves its agent's queue; an assigned one frees a
-- place of the agent's capacity: then the agent's name is returned, for a
-- drain once the ticket is placed
local function release(id, t)
    if not t.agent then
        return nil
    end
    redis.call('LREM', p .. 'queue:' .. t.agent, 0, id)
    if t.state == 'assigned' and not static_agents then
        redis.call('HINCRBY', p .. 'agent:' .. t.agent, 'load', -1)
        return t.agent
    end
    return nil
end

-- the routing settings an endpoint that routes gets from ARGV[i]: assign
-- (round_robin | least_loaded), the presence timeout (ms), and cs_agents'
-- names (a count, then the names)
local function routing(i)
    local R = {assign = ARGV[i], timeout = tonumber(ARGV[i + 1]),
               static = {}}
    for k = 1, tonumber(ARGV[i + 2]) or 0 do
        R.static[k] = ARGV[i + 2 + k]
    end
    return R
end

-- the agent that routing gives a ticket now, never `except`; nil: none.
-- cs_agents' agents are always available, the one with the fewest open
-- tickets (least_loaded) or the oldest last ticket (round_robin) first.
local function route(R, now, except)
    if static_agents then
        local best, best_len, best_last
        for _, name in ipairs(R.static) do
            if name ~= except then
                local len = 0
                if R.assign == 'least_loaded' then
                    len = redis.call('LLEN', p .. 'queue:' .. name)
                end
                local last = tonumber(redis.call('HGET', p .. 'route:last',
                                                 name)) or -1
                if not best or len < best_len
                   or (len == best_len and last < best_last)
                then
                    best, best_len, best_last = name, len, last
                end
            end
        end
        return best
    end
    local agents = {}
    for _, a in ipairs(eligible_agents(now, R.timeout)) do
        if a.name ~= except then
            agents[#agents + 1] = a
        end
    end
    return choose(agents, R.assign)
end

-- a ticket goes to the agent routing gives it, or to the backlog; the
-- agent's name or nil
local function place(id, R, now, from, except)
    local to = route(R, now, except)
    if to then
        assign_to(id, to, now, from)
        return to
    end
    to_backlog(id, now, from)
    return nil
end

-- hands the backlog, oldest first, to this agent while it may take work;
-- a ticket this agent let go is never handed back to it.  Looks at the
-- first 100 waiting tickets at most.
local function drain(name, now, timeout)
    if static_agents or not name then
        return 0
    end
    local taken = 0
    local waiting = redis.call('LRANGE', p .. 'queue:unassigned', 0, 99)
    for _, id in ipairs(waiting) do
        local a = redis.call('HMGET', p .. 'agent:' .. name, 'status',
                             'lastSeen', 'capacity', 'load')
        if effective(a[1], a[2], now, timeout) ~= 'online'
           or (tonumber(a[4]) or 0) >= (tonumber(a[3]) or 0)
        then
            return taken
        end
        if redis.call('HGET', p .. 'ticket:' .. id, 'previousAgent')
           ~= name
        then
            redis.call('LREM', p .. 'queue:unassigned', 1, id)
            assign_to(id, name, now, 'queued')
            redis.call('XADD', p .. 'events', 'MAXLEN', '~', 100000, '*',
                       'type', 'ticket.assigned', 'actor', 'routing',
                       'ticketId', id, 'agent', name)
            taken = taken + 1
        end
    end
    return taken
end

-- the caller, or nil when its proof is no longer good: a ticket's token
-- for a ticket that reused its id, an agent's replaced or deleted token
local function caller()
    if role == 'customer' then
        if redis.call('HGET', p .. 'ticket:' .. who, 'nonce') ~= proof then
            return nil
        end
        return {role = role, ticket = who}
    elseif role == 'agent' then
        if redis.call('HGET', p .. 'agent:' .. who, 'token') ~= proof then
            return nil
        end
        return {role = role, name = who}
    elseif role == 'admin' then
        return {role = role, name = who}
    end
    return nil
end

local UNAUTHORIZED = err(401, 'unauthorized',
                         'send valid credentials as Authorization: Bearer <token>')

-- the key of the path's agent, or nil and the 404
local function agent_key()
    local key = p .. 'agent:' .. param
    if redis.call('EXISTS', key) == 0 then
        return nil, err(404, 'not_found', 'there is no such agent')
    end
    return key
end

-- the caller, or nil and the answer that refuses it; a registry endpoint
-- is refused where cs_agents fixes the agents
local function who_calls(registry)
    local c = caller()
    if not c then
        return nil, UNAUTHORIZED
    end
    if registry and static_agents then
        return nil, err(409, 'static_agents',
                        'the agents are fixed by cs_agents in nginx.conf')
    end
    return c
end
