-- DELETE agents/{name}: the agent leaves the registry; its open tickets go
-- back to routing (never to it), and its name stays in their history.
-- ARGV[6..7]: assign (round_robin | least_loaded), the presence timeout
-- (ms).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(true)
if not c then
    return refusal
end

local key, missing = agent_key()
if not key then
    return missing
end

local R = routing(6)
local now = now_ms()

-- reads and proofs first, then the event as the first write
local open = redis.call('LRANGE', p .. 'queue:' .. param, 0, -1)
local refused = foreign(unpack(event_keys(routing_keys(
                                  desk_keys({p .. 'agents', 'set'}), R))))
if refused then
    return refused
end
event('agent.deleted', 'agent', param, 'tickets', #open)

redis.call('SREM', p .. 'agents', param)
redis.call('DEL', key)
redis.call('DEL', p .. 'queue:' .. param)

local routed = 0
for _, id in ipairs(open) do
    local t = redis.call('HMGET', p .. 'ticket:' .. id, 'state', 'category',
                         'priority')
    redis.call('HSET', p .. 'ticket:' .. id, 'previousAgent', param,
               'releasedBy', param)
    if place(id, {state = t[1], category = t[2] or nil, priority = t[3]}, R,
             now, param)
    then
        routed = routed + 1
    end
end

return ok(200, obj('agent', param, 'rerouted', routed,
                   'queued', #open - routed))
