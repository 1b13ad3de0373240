-- GET agents: every agent of the registry, by name, with its effective
-- status (a lapsed heartbeat is offline), a page at a time.  ARGV[6..8]:
-- the presence timeout (ms), the limit (1 to 100), the cursor (a place in
-- the names' order; '' for the start).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local timeout, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local from = tonumber(ARGV[8]) or 0
local now = now_ms()
local names = redis.call('SMEMBERS', p .. 'agents')
table.sort(names)

local agents = {}
for i = from + 1, math.min(from + limit, #names) do
    local name = names[i]
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

local next_cursor = NULL
if #names > from + limit then
    next_cursor = tostring(from + limit)
end

return ok(200, obj('agents', list(agents), 'cursor', next_cursor))
