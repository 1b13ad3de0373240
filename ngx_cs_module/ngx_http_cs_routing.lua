-- Routing and the moves of a ticket, shared by every desk script: the
-- first file of the desk's library (ngx_http_cs_library.sh), so that one
-- copy of the rules decides for all.
--
-- The agent set (DESIGN §Routing): without cs_agents, the registry's
-- agents that are available (online, heartbeat within the presence
-- timeout) and under capacity; the skills rule (a ticket of a category
-- goes to an agent that lists it, else to one that lists no skills; an
-- agent listing other skills never takes it); the returning customer's
-- agent first (cs_sticky); then round_robin (oldest last assignment) or
-- least_loaded (most spare capacity, then oldest last assignment); never
-- assigned counts as oldest; then the name.  With cs_agents (v1), those
-- agents, always available.

-- Set by each call, before its script runs (desk() in
-- ngx_http_cs_library.lua): the call's keys and arguments, as an EVAL
-- script's KEYS and ARGV, and the desk's prefix, KEYS[1]
local KEYS, ARGV, p
-- with cs_agents: set by the prelude (ngx_http_cs_common.lua)
local static_agents = false

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

-- a comma-separated skills field as a set, and how many
local function skill_set(field)
    local set, n = {}, 0
    for s in string.gmatch(field or '', '[^,]+') do
        set[s] = true
        n = n + 1
    end
    return set, n
end

-- the agents that may take work now (online, fresh heartbeat, load under
-- capacity): {name, load, capacity, last, skills, nskills}
local function eligible_agents(now, timeout)
    local out = {}
    for _, name in ipairs(redis.call('SMEMBERS', p .. 'agents')) do
        local a = redis.call('HMGET', p .. 'agent:' .. name, 'status',
                             'lastSeen', 'capacity', 'load', 'lastAssigned',
                             'skills')
        local load, cap = tonumber(a[4]) or 0, tonumber(a[3]) or 0
        if effective(a[1], a[2], now, timeout) == 'online' and load < cap then
            local skills, n = skill_set(a[6])
            out[#out + 1] = {name = name, load = load, capacity = cap,
                             last = tonumber(a[5]) or -1, skills = skills,
                             nskills = n}
        end
    end
    return out
end

-- the skills rule: of these agents, those that list the category; when
-- none does, those that list no skills; a ticket without a category may
-- go to any
local function skilled(agents, category)
    if not category then
        return agents
    end
    local listed, unskilled = {}, {}
    for _, a in ipairs(agents) do
        if a.skills[category] then
            listed[#listed + 1] = a
        elseif a.nskills == 0 then
            unskilled[#unskilled + 1] = a
        end
    end
    if #listed > 0 then
        return listed
    end
    return unskilled
end

-- the choice among the agents the rules allow: round_robin takes the
-- oldest last assignment; least_loaded the most spare capacity, then the
-- oldest last assignment; never assigned counts as oldest; then the
-- name's byte order
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

-- the returning customer's agent: the agent of the user's latest ticket
-- that had one, when that ticket is within cs_sticky (ms; 0 for off);
-- looks at the user's 20 latest tickets
local function sticky_agent(history_key, now, sticky)
    if not sticky or sticky == 0 then
        return nil
    end
    local ids = redis.call('LRANGE', history_key, -20, -1)
    for i = #ids, 1, -1 do
        local t = redis.call('HMGET', p .. 'ticket:' .. ids[i], 'agent',
                             'createdAt')
        if t[1] then
            if now - (tonumber(t[2]) or 0) <= sticky then
                return t[1]
            end
            return nil
        end
    end
    return nil
end

-- the routing settings a script that routes gets from ARGV[i]: assign
-- (round_robin | least_loaded), the presence timeout (ms), cs_sticky (ms,
-- 0 for off), and cs_agents' names (a count, then the names)
local function routing(i)
    local R = {assign = ARGV[i], timeout = tonumber(ARGV[i + 1]),
               sticky = tonumber(ARGV[i + 2]) or 0, static = {}}
    for k = 1, tonumber(ARGV[i + 3]) or 0 do
        R.static[k] = ARGV[i + 3 + k]
    end
    return R
end

-- the agent that routing gives a ticket of this category (nil for none)
-- now, never `except`, the returning customer's `sticky` agent first when
-- the rules allow it; nil: none.  cs_agents' agents are always available:
-- the one with the fewest open tickets (least_loaded) or the oldest last
-- ticket (round_robin) first.
local function route(R, now, except, category, sticky)
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
    agents = skilled(agents, category)
    if sticky then
        for _, a in ipairs(agents) do
            if a.name == sticky then
                return sticky
            end
        end
    end
    return choose(agents, R.assign)
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
    -- whoever let it go before, it is placed now
    redis.call('HDEL', key, 'releasedBy')
    redis.call('RPUSH', p .. 'queue:' .. name, id)
    index_state(id, from or 'queued', 'assigned')
    if static_agents then
        redis.call('HSET', p .. 'route:last', name, id)
    else
        redis.call('HINCRBY', p .. 'agent:' .. name, 'load', 1)
        redis.call('HSET', p .. 'agent:' .. name, 'lastAssigned', now)
    end
end

-- the backlog, <prefix>backlog, is a sorted set in drain order: by
-- priority (urgent, high, normal, low), then by the time the ticket
-- entered it (ms), then by id within a ms; a score holds all three
-- exactly (a band of 1e15 per priority holds ms * 100 until the year
-- 2286, and 4 bands stay under 2^53)
local RANK = {urgent = 0, high = 1, normal = 2, low = 3}
local BAND = 1e15

local function backlog_score(priority, entered, id)
    return (RANK[priority] or 2) * BAND + entered * 100 + tonumber(id) % 100
end

-- a ticket waits in the backlog for an agent
local function to_backlog(id, now, from, priority)
    local key = p .. 'ticket:' .. id
    redis.call('HSET', key, 'state', 'queued', 'updatedAt', now)
    redis.call('HDEL', key, 'agent')
    redis.call('ZADD', p .. 'backlog', backlog_score(priority, now, id), id)
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

-- a ticket (its hash t: state, category, priority) goes to the agent routing
-- gives it, never `except`, or to the backlog; the agent's name or nil
local function place(id, t, R, now, except)
    local to = route(R, now, except, t.category)
    if to then
        assign_to(id, to, now, t.state)
        return to
    end
    to_backlog(id, now, t.state, t.priority)
    return nil
end

-- hands the backlog, in its order, to this agent while it may take work:
-- the tickets its skills allow (any, for an agent that lists none; one
-- without a category, for any agent); a ticket this agent let go (its
-- releasedBy, cleared once the ticket is placed again) is not handed back
-- to it.  Looks at the first 1000 waiting tickets at most, a
-- hundred at a time.
local function drain(name, now, timeout)
    if static_agents or not name then
        return 0
    end
    local taken = 0
    local skills, nskills = skill_set(redis.call('HGET', p .. 'agent:' .. name,
                                                 'skills'))
    -- the tickets passed over stay in the backlog, ahead of the next chunk
    local passed = 0
    for _ = 1, 10 do
        local waiting = redis.call('ZRANGE', p .. 'backlog', passed,
                                   passed + 99)
        if #waiting == 0 then
            return taken
        end
        for _, id in ipairs(waiting) do
            local a = redis.call('HMGET', p .. 'agent:' .. name, 'status',
                                 'lastSeen', 'capacity', 'load')
            if effective(a[1], a[2], now, timeout) ~= 'online'
               or (tonumber(a[4]) or 0) >= (tonumber(a[3]) or 0)
            then
                return taken
            end
            local t = redis.call('HMGET', p .. 'ticket:' .. id,
                                 'releasedBy', 'category')
            if t[1] ~= name and (nskills == 0 or not t[2] or skills[t[2]])
            then
                redis.call('ZREM', p .. 'backlog', id)
                assign_to(id, name, now, 'queued')
                -- a drain follows other writes: its event may not fail
                -- the script (a stream that takes no entry more, or a
                -- foreign value at the ticket's index of its events,
                -- leaves the event out; the move stands)
                local e = redis.pcall('XADD', p .. 'events', 'MAXLEN', '~',
                                      100000, '*', 'type', 'ticket.assigned',
                                      'actor', 'routing', 'ticketId', id,
                                      'agent', name)
                if type(e) == 'string' then
                    redis.pcall('RPUSH', p .. 'ticket:' .. id .. ':events', e)
                end
                taken = taken + 1
            else
                passed = passed + 1
            end
        end
    end
    return taken
end
