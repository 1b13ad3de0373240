-- DELETE agents/{name}: the agent leaves the registry; its open tickets go
-- back to routing (never to it), and its name stays in their history.
-- ARGV[6..7]: assign (round_robin | least_loaded), the presence timeout.
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(true)
if not c then
    return refusal
end

local key, missing = agent_key()
if not key then
    return missing
end

local assign, timeout = ARGV[6], tonumber(ARGV[7])
local now = now_ms()

-- reads and proofs first, then the event as the first write
local open = redis.call('LRANGE', p .. 'queue:' .. param, 0, -1)
local refused = foreign({p .. 'agents', 'set'},
                        {p .. 'queue:unassigned', 'list'})
    or event('agent.deleted', 'agent', param, 'tickets', #open)
if refused then
    return refused
end

redis.call('SREM', p .. 'agents', param)
redis.call('DEL', key)
redis.call('DEL', p .. 'queue:' .. param)

local routed = 0
for _, id in ipairs(open) do
    local tkey = p .. 'ticket:' .. id
    redis.call('HSET', tkey, 'state', 'queued', 'previousAgent', param,
               'updatedAt', now)
    redis.call('HDEL', tkey, 'agent')
    local to = choose(eligible_agents(now, timeout), assign)
    if to then
        assign_to(id, to, now)
        routed = routed + 1
    else
        redis.call('RPUSH', p .. 'queue:unassigned', id)
    end
end

return ok(200, obj('agent', param, 'rerouted', routed,
                   'queued', #open - routed))
