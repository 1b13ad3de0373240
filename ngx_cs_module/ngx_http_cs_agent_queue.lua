-- GET agents/{name}/queue: the agent's open tickets, for that agent or an
-- admin: assigned first, each by priority (urgent, high, normal, low), then
-- age.  The cursor is a place in that order.
-- ARGV[6..7]: the limit (1 to 100), the cursor ('' for the start); ARGV[8]:
-- '1' when the name is one of cs_agents' (static agents have no record).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

if c.role == 'agent' and c.name ~= param then
    return err(403, 'forbidden', 'an agent reads its own queue')
end

if static_agents then
    if ARGV[8] ~= '1' then
        return err(404, 'not_found', 'there is no such agent')
    end
else
    local _, missing = agent_key()
    if missing then
        return missing
    end
end

local limit, from = tonumber(ARGV[6]), tonumber(ARGV[7]) or 0

local rank = {urgent = 1, high = 2, normal = 3, low = 4}
local open = {}
for _, id in ipairs(redis.call('LRANGE', p .. 'queue:' .. param, 0, -1)) do
    local t = redis.call('HMGET', p .. 'ticket:' .. id, 'state', 'priority',
                         'category', 'channel', 'issue', 'createdAt',
                         'updatedAt', 'issue_enc', 'seal')
    if t[1] then
        open[#open + 1] = {id = tonumber(id), state = t[1],
                           priority = t[2], category = t[3],
                           channel = t[4],
                           issue = words({issue = t[5], issue_enc = t[8],
                                          seal = t[9]}, 'issue'),
                           created = tonumber(t[6]) or 0,
                           updated = tonumber(t[7]) or nil}
    end
end

table.sort(open, function(a, b)
    if (a.state == 'assigned') ~= (b.state == 'assigned') then
        return a.state == 'assigned'
    end
    local ra, rb = rank[a.priority] or 5, rank[b.priority] or 5
    if ra ~= rb then
        return ra < rb
    end
    if a.created ~= b.created then
        return a.created < b.created
    end
    return a.id < b.id
end)

local out = {}
for i = from + 1, math.min(from + limit, #open) do
    local t = open[i]
    out[#out + 1] = obj('ticketId', t.id, 'state', t.state, 'agent', param,
                        'priority', t.priority, 'category', t.category,
                        'channel', t.channel, 'issue', t.issue,
                        'createdAt', t.created,
                        'updatedAt', t.updated or t.created)
end

local next_cursor = NULL
if #open > from + limit then
    next_cursor = tostring(from + limit)
end

return ok(200, obj('agent', param, 'tickets', list(out),
                   'cursor', next_cursor))
