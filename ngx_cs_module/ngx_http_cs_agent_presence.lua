-- PUT agents/{name}/presence: the agent says online, away or offline; the
-- call is also its heartbeat.  An agent that comes online takes the
-- backlog.  ARGV[6..7]: the status, the presence timeout (ms).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(true)
if not c then
    return refusal
end

if c.name ~= param then
    return err(403, 'forbidden', 'an agent sets its own presence only')
end

local status, timeout = ARGV[6], tonumber(ARGV[7])
local key = p .. 'agent:' .. param
local now = now_ms()

local before = redis.call('HMGET', key, 'status', 'lastSeen')
local was = effective(before[1], before[2], now, timeout)

-- the agent's hash is proven by the caller's check; the backlog and the
-- stream are proven here
local refused = foreign(unpack(event_keys(desk_keys({p .. 'queue:' .. param,
                                                     'list'}))))
if refused then
    return refused
end
if status ~= was then
    event('agent.presence', 'agent', param, 'status', status)
end

-- offlineSince: the moment it became offline, for cs_reassign_after; on
-- every change of the said status to offline: now, or when its heartbeat
-- lapsed if that came first (a new agent has it from its creation, and
-- an offline agent keeps it while it says offline again)
if status == 'offline' and before[1] ~= 'offline' then
    local since = now
    if was == 'offline' and tonumber(before[2]) then
        since = tonumber(before[2]) + timeout
    end
    redis.call('HSET', key, 'offlineSince', since)
end
redis.call('HSET', key, 'status', status, 'lastSeen', now)

local taken = 0
if status == 'online' then
    taken = drain(param, now, timeout)
end

return ok(200, obj('agent', param, 'presence', status, 'taken', taken))
