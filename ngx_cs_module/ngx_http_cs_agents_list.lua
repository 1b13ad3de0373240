-- GET agents: every agent of the registry, by name, with its effective
-- status (a lapsed heartbeat is offline).  ARGV[6]: the presence timeout
-- (ms).  Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local timeout = tonumber(ARGV[6])
local now = now_ms()
local names = redis.call('SMEMBERS', p .. 'agents')
table.sort(names)

local agents = {}
for _, name in ipairs(names) do
    local a = hash(p .. 'agent:' .. name)
    if a then
        local skills = {}
        for s in string.gmatch(a.skills or '', '[^,]+') do
            skills[#skills + 1] = s
        end
        agents[#agents + 1] = obj(
            'name', name,
            'status', effective(a.status, a.lastSeen, now, timeout),
            'lastSeen', num(a.lastSeen), 'load', tonumber(a.load) or 0,
            'capacity', tonumber(a.capacity), 'skills', list(skills))
    end
end

return ok(200, obj('agents', list(agents)))
