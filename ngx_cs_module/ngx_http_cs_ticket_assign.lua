-- POST tickets/{id}/assign: its agent or an admin hands a queued, assigned
-- or pending ticket to a named agent, which must exist (404) and be under
-- its capacity (409 agent_at_capacity); presence is not asked.  A pending
-- ticket stays pending.  No agent (null): back to routing, never to the
-- agent that let it go.
-- ARGV[6..]: the agent's name ('' for null), then the routing settings
-- (see routing()).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local target = ARGV[6]
local R = routing(7)

local key = p .. 'ticket:' .. param
local t = hash(key)
if not t then
    return err(404, 'not_found', 'there is no such ticket')
end

if c.role == 'agent' and t.agent ~= c.name then
    return err(403, 'forbidden', 'this ticket is not assigned to you')
end

if t.state ~= 'queued' and t.state ~= 'assigned' and t.state ~= 'pending'
then
    return err(409, 'invalid_transition',
               'only a queued, assigned or pending ticket can be assigned')
end

if target == '' and t.state == 'queued' then
    return err(409, 'invalid_transition', 'this ticket is already waiting '
                                          .. 'for routing')
end

if target ~= '' then
    if target == t.agent then
        return err(409, 'invalid_transition',
                   'this ticket is already assigned to ' .. target)
    end
    if static_agents then
        local known = false
        for _, name in ipairs(R.static) do
            known = known or name == target
        end
        if not known then
            return err(404, 'not_found', 'there is no such agent')
        end
    else
        local a = redis.call('HMGET', p .. 'agent:' .. target, 'name',
                             'capacity', 'load')
        if not a[1] then
            return err(404, 'not_found', 'there is no such agent')
        end
        if (tonumber(a[3]) or 0) >= (tonumber(a[2]) or 0) then
            return err(409, 'agent_at_capacity',
                       target .. ' has no free capacity')
        end
    end
end

local now = now_ms()

local refused = foreign(unpack(event_keys(routing_keys(
                                  agent_keys(desk_keys(), t.agent), R),
                                  param)))
if refused then
    return refused
end
event('ticket.assign', 'ticketId', param, 'from', t.agent or '',
      'to', target)

local from = t.state
if from == 'queued' then
    redis.call('ZREM', p .. 'backlog', param)
end
local freed = release(param, t)

local agent, state
if target == '' then
    redis.call('HSET', key, 'previousAgent', t.agent, 'releasedBy', t.agent)
    agent = place(param, t, R, now, t.agent)
    state = agent and 'assigned' or 'queued'
elseif from == 'pending' then
    -- stays pending: an open ticket of the new agent, not its load
    redis.call('HSET', key, 'agent', target, 'updatedAt', now)
    redis.call('HDEL', key, 'releasedBy')
    redis.call('RPUSH', p .. 'queue:' .. target, param)
    if not static_agents then
        redis.call('HSET', p .. 'agent:' .. target, 'lastAssigned', now)
    else
        redis.call('HSET', p .. 'route:last', target, param)
    end
    agent, state = target, 'pending'
else
    assign_to(param, target, now, from)
    agent, state = target, 'assigned'
end

drain(freed, now, R.timeout)

return ok(200, obj('ticketId', tonumber(param), 'state', state,
                   'agent', agent))
