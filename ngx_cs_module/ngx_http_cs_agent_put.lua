-- PUT agents/{name}: an admin creates an agent or replaces its record.
-- ARGV[6..9]: capacity, skills (comma-separated), the SHA-256 of the token
-- nginx made (kept only when the agent is new), the presence timeout (ms).
-- Creating answers 201 (nginx adds the token, shown this once); updating
-- answers 200.  Lowering capacity takes no ticket away; raising it drains
-- the backlog.  Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(true)
if not c then
    return refusal
end

local capacity, skills, token = tonumber(ARGV[6]), ARGV[7], ARGV[8]
local timeout = tonumber(ARGV[9])
local key = p .. 'agent:' .. param
local now = now_ms()

local function skill_list()
    local out = {}
    for s in string.gmatch(skills, '[^,]+') do
        out[#out + 1] = s
    end
    return list(out)
end

-- every write below is proven first
local refused = foreign(unpack(event_keys(desk_keys(
                                  {key, 'hash'}, {p .. 'agents', 'set'},
                                  {p .. 'queue:' .. param, 'list'}))))
if refused then
    return refused
end

if redis.call('EXISTS', key) == 0 then
    event('agent.created', 'agent', param, 'capacity', capacity)
    -- a new agent is offline, since now (for cs_reassign_after)
    redis.call('HSET', key, 'name', param, 'capacity', capacity,
               'skills', skills, 'token', token, 'status', 'offline',
               'offlineSince', now, 'load', 0, 'createdAt', now)
    redis.call('SADD', p .. 'agents', param)
    return ok(201, obj('agent', param, 'capacity', capacity,
                       'skills', skill_list()))
end

event('agent.updated', 'agent', param, 'capacity', capacity)
redis.call('HSET', key, 'capacity', capacity, 'skills', skills)
drain(param, now, timeout)

return ok(200, obj('agent', param, 'capacity', capacity,
                   'skills', skill_list()))
