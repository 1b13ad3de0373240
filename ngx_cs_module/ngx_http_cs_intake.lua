-- Takes one validated ticket into the desk, atomically: the idempotency
-- check, the id, the routing decision, the ticket hash, the agent's queue,
-- the user's history, the event stream entry and the routing state.
--
-- Every check and read comes before the first write, so an error leaves
-- nothing behind.
--
-- KEYS: none; every key is built from the prefix, so that the module and
--       redis-cli --eval run the same text.
-- ARGV: prefix, now (ms), assign (round_robin | least_loaded),
--       idempotency key ('' for none), number of agents, agents...,
--       userId, issue, category, priority, channel, email
-- Returns {outcome, id, agent, state}: outcome is "created", "replayed"
-- or "reused" (the key was used for a different ticket).

local p = ARGV[1]
local now = ARGV[2]
local assign = ARGV[3]
local idem = ARGV[4]
local nagents = tonumber(ARGV[5])
local agents = {}
for i = 1, nagents do
    agents[i] = ARGV[5 + i]
end

local f = 6 + nagents
local user, issue, category = ARGV[f], ARGV[f + 1], ARGV[f + 2]
local priority, channel, email = ARGV[f + 3], ARGV[f + 4], ARGV[f + 5]

local idem_key, digest
if idem ~= '' then
    idem_key = p .. 'idem:' .. idem
    -- length-prefixed, so that no two tickets share the text
    local parts = {}
    for i, v in ipairs({user, issue, category, priority, channel, email}) do
        parts[i] = #v .. ':' .. v
    end
    digest = redis.sha1hex(table.concat(parts, ','))

    local seen = redis.call('GET', idem_key)
    if seen then
        local id, d, state, agent =
            string.match(seen, '^(%d+):(%x+):([%w_]+):(.*)$')
        if d ~= digest then
            return {'reused', tonumber(id), '', ''}
        end
        return {'replayed', tonumber(id), agent, state}
    end
end

local agent = ''
if nagents > 0 then
    if assign == 'least_loaded' then
        local last = redis.call('HMGET', p .. 'route:last', unpack(agents))
        local best, best_len, best_last
        for i = 1, nagents do
            local len = redis.call('LLEN', p .. 'queue:' .. agents[i])
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
        local turn = redis.call('INCR', p .. 'route:rr')
        agent = agents[(turn - 1) % nagents + 1]
    end
end

local id = redis.call('INCR', p .. 'ticket:seq')
local state = 'queued'
if agent ~= '' then
    state = 'assigned'
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
redis.call('HSET', p .. 'ticket:' .. id, unpack(ticket))

if agent ~= '' then
    redis.call('RPUSH', p .. 'queue:' .. agent, id)
    redis.call('HSET', p .. 'route:last', agent, id)
else
    redis.call('RPUSH', p .. 'queue:unassigned', id)
end

redis.call('RPUSH', p .. 'user:' .. user .. ':tickets', id)

redis.call('XADD', p .. 'events', 'MAXLEN', '~', 100000, '*',
           'type', 'ticket.created', 'ticketId', id, 'userId', user,
           'agent', agent, 'state', state, 'priority', priority,
           'channel', channel)

if idem_key then
    redis.call('SET', idem_key,
               id .. ':' .. digest .. ':' .. state .. ':' .. agent,
               'PX', 86400000)
end

return {'created', id, agent, state}
