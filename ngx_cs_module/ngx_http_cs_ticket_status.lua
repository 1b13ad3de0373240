-- POST tickets/{id}/status: its agent or an admin moves the ticket along
-- the states' table (DESIGN §Ticket states); any other change, to the same
-- state included, is 409 invalid_transition.  Leaving `assigned` frees a
-- place of the agent's capacity: the backlog drains to it.
-- ARGV[6..]: the new state (pending, solved or closed; the schema checked
-- it), then the routing settings (see routing()).
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_metrics.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local to = ARGV[6]
local R = routing(7)

local key = p .. 'ticket:' .. param
local t = hash(key)
if not t then
    return err(404, 'not_found', 'there is no such ticket')
end

if c.role == 'agent' and t.agent ~= c.name then
    return err(403, 'forbidden', 'this ticket is not assigned to you')
end

-- from -> to -> who: 'any' (its agent or an admin) or 'admin'
local allowed = {
    assigned = {pending = 'any', solved = 'any', closed = 'admin'},
    pending = {solved = 'any', closed = 'admin'},
    solved = {closed = 'any'},
    auto_resolved = {closed = 'any'},
    queued = {closed = 'admin'}
}

local from = t.state
local by = allowed[from] and allowed[from][to]
if not by or (by == 'admin' and c.role ~= 'admin') then
    return err(409, 'invalid_transition',
               'a ticket that is ' .. tostring(from) .. ' cannot become '
               .. to .. (by and ' but by an admin' or ''))
end

local now = now_ms()

local refused = foreign(unpack(event_keys(agent_keys(
                                  desk_keys({METRICS, 'hash'}), t.agent),
                                  param)))
if refused then
    return refused
end
event('ticket.status', 'ticketId', param, 'from', from, 'to', to,
      'agent', t.agent or '')

local freed
if to == 'pending' then
    -- still the agent's open ticket, but no longer its load
    if not static_agents then
        redis.call('HINCRBY', p .. 'agent:' .. t.agent, 'load', -1)
        freed = t.agent
    end
elseif from == 'queued' then
    redis.call('ZREM', p .. 'backlog', param)
else
    freed = release(param, t)
end

local fields = {'state', to, 'updatedAt', now}
if to == 'solved' then
    fields[#fields + 1] = 'solvedAt'
    fields[#fields + 1] = now
    -- the resolution time counts the first solve only
    if not t.firstSolvedAt then
        fields[#fields + 1] = 'firstSolvedAt'
        fields[#fields + 1] = now
    end
    redis.call('ZADD', p .. 'closing', now, param)
    metrics_solved(t.agent, not t.firstSolvedAt
                            and now - (tonumber(t.createdAt) or now) or nil)
elseif to == 'closed' then
    fields[#fields + 1] = 'closedAt'
    fields[#fields + 1] = now
    redis.call('ZREM', p .. 'closing', param)
end
redis.call('HSET', key, unpack(fields))
index_state(param, from, to)

drain(freed, now, R.timeout)

return ok(200, obj('ticketId', tonumber(param), 'state', to,
                   'agent', t.agent))
