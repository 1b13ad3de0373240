-- The prelude of every desk script but the intake (common_prelude(), run
-- before each): the desk's prefix, the time from Redis, the caller's
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

-- p (KEYS[1]), ARGV and static_agents come from ngx_http_cs_routing.lua,
-- in front of this file
local role, who, proof, param

local function common_prelude()
    role, who, proof, param = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
    static_agents = ARGV[5] == '1'
end

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

-- a value nginx sealed (cs_encrypt_key, ngx_http_cs_crypt.c), for nginx
-- to open into the answer: where it was read, the ticket (its id, or its
-- seal for the intake's words) and the field, is its associated data, so
-- a value copied elsewhere does not open
local function seal_of(ref, field, value)
    if not value then
        return NULL
    end
    return {'$', ref .. '/' .. field, value}
end

-- a ticket's issue or email from its fields: sealed or plain
local function words(t, field)
    if t[field .. '_enc'] then
        return seal_of('seal:' .. (t.seal or ''), field, t[field .. '_enc'])
    end
    return t[field]
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

-- the key of the record of the user of ticket id (named by the ticket's
-- userKey), or nil when there is none
local function user_record(id)
    local ukey = redis.call('HGET', p .. 'ticket:' .. id, 'userKey')
    return ukey and p .. 'user:' .. ukey or nil
end

-- an event of the desk's stream; the actor is role:name, a customer by
-- the user's event id (the user id is never named here; a ticket without
-- a user record is "customer"); an event of a ticket is indexed beside it
-- (for users/export).  The entry's id.
--
-- It never refuses: a script proves what it touches first, with
-- event_keys() among the keys it gives foreign() before its first write,
-- so that no event can fail a script half written.  A stream with no room
-- left fails the XADD: as a script's first write, before anything is
-- written; a script that appends after another write proves the room
-- first (events_room()).
local function event(kind, ...)
    local actor = role
    if role == 'customer' then
        local record = user_record(who)
        local id = record and redis.call('HGET', record, 'eventId')
        actor = id and 'customer:' .. id or 'customer'
    elseif role == 'agent' or role == 'admin' then
        actor = role .. ':' .. who
    end
    local e = redis.call('XADD', p .. 'events', 'MAXLEN', '~', 100000, '*',
                         'type', kind, 'actor', actor, ...)
    if select(1, ...) == 'ticketId' then
        redis.call('RPUSH', p .. 'ticket:' .. select(2, ...) .. ':events', e)
    end
    return e
end

-- adds to keys, for foreign(), what event() touches for events of these
-- tickets (ids; none for an event of no ticket): the stream, each
-- ticket's index of its events and a customer caller's record (read for
-- its event id), named without the ticket's id or the user's part
local function event_keys(keys, ...)
    keys[#keys + 1] = {p .. 'events', 'stream'}
    for _, id in ipairs({...}) do
        keys[#keys + 1] = {p .. 'ticket:' .. id .. ':events', 'list',
                           p .. 'ticket:*:events'}
    end
    if role == 'customer' then
        local record = user_record(who)
        if record then
            keys[#keys + 1] = {record, 'hash', p .. 'user:*'}
        end
    end
    return keys
end

-- XADD * fails on a stream whose last id is the last of the id space:
-- where a script appends after another write (or more than once), it
-- proves first that the stream at key has room.  A millisecond part that
-- high (the year 584 million) is no desk's: the stream is foreign.  nil,
-- or the error reply.  It reads only the key: the intake, which runs no
-- prelude, uses it for the alerts stream.
local function stream_room(key)
    local info = redis.pcall('XINFO', 'STREAM', key)
    if info.err then
        -- none yet (the type is proven first); else, as a NOPERM of an
        -- ACL without XINFO, the error itself
        if string.find(info.err, 'no such key', 1, true) then
            return nil
        end
        return redis.error_reply(info.err)
    end
    for i = 1, #info, 2 do
        if info[i] == 'last-generated-id' then
            if string.match(info[i + 1], '^(%d+)') == '18446744073709551615'
            then
                return redis.error_reply('CSWRONGTYPE ' .. key)
            end
            return nil
        end
    end
    return nil
end

-- the events stream's room (foreign() has proven its type)
local function events_room()
    return stream_room(p .. 'events')
end

-- the first of the keys a script writes that holds a foreign value, as
-- the error reply that names it; {key, type} pairs, or {key, type, name}
-- where the key holds a client's words (an Idempotency-Key) and the log
-- gets the name instead
local function foreign(...)
    for _, kt in ipairs({...}) do
        local t = redis.call('TYPE', kt[1]).ok
        if t ~= 'none' and t ~= kt[2] then
            return redis.error_reply('CSWRONGTYPE ' .. (kt[3] or kt[1]))
        end
    end
end

-- the keys the moves of a ticket write besides the ticket's own: the
-- backlog, the closing set and the state indexes, then those given; for
-- foreign(), before a script's first write
local STATES = {'queued', 'assigned', 'pending', 'solved', 'closed',
                'auto_resolved'}

local function desk_keys(...)
    local keys = {{p .. 'backlog', 'zset'}, {p .. 'closing', 'zset'}}
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
