-- GET tickets: an admin lists tickets of any state and agent, an agent its
-- own.  ?state=queued is the backlog in its drain order (the cursor is a
-- place in it); otherwise the tickets come by id, oldest first, through
-- the state indexes, and the cursor is the last id looked at.  A page
-- looks at 1000 tickets at most: a filter that matches few may answer
-- fewer than the limit, with a cursor to go on.
-- ARGV[6..9]: the state ('' for any), the agent ('' for any), the limit
-- (1 to 100), the cursor ('' for the start; digits, nginx checked).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local state, agent, limit, cursor = ARGV[6], ARGV[7], tonumber(ARGV[8]),
                                    ARGV[9]

if c.role == 'agent' then
    if agent == '' then
        agent = c.name
    elseif agent ~= c.name then
        return err(403, 'forbidden', 'an agent lists its own tickets')
    end
end

local function summary(id)
    local t = redis.call('HMGET', p .. 'ticket:' .. id, 'state', 'agent',
                         'priority', 'category', 'channel', 'issue',
                         'createdAt', 'updatedAt', 'issue_enc', 'seal')
    if not t[1] then
        return nil
    end
    return obj('ticketId', tonumber(id), 'state', t[1], 'agent', t[2] or NULL,
               'priority', t[3], 'category', t[4] or NULL, 'channel', t[5],
               'issue', words({issue = t[6], issue_enc = t[9], seal = t[10]},
                              'issue'),
               'createdAt', num(t[7] or nil),
               'updatedAt', num(t[8] or t[7] or nil)), t[2]
end

local out, next_cursor = {}, NULL

if state == 'queued' then
    -- the backlog has no agent
    if agent == '' then
        local from = tonumber(cursor) or 0
        local ids = redis.call('ZRANGE', p .. 'backlog', from,
                               from + limit - 1)
        for _, id in ipairs(ids) do
            out[#out + 1] = summary(id)
        end
        if redis.call('ZCARD', p .. 'backlog') > from + limit then
            next_cursor = tostring(from + limit)
        end
    end
    return ok(200, obj('tickets', list(out), 'cursor', next_cursor))
end

local sources = {state}
if state == '' then
    sources = {'queued', 'assigned', 'pending', 'solved', 'closed',
               'auto_resolved'}
end

-- the ids after `after` in every source, merged in order, a chunk at a
-- time; `done` when no source has more
local after = cursor ~= '' and cursor or '-inf'
local looked, budget = 0, 1000
local more = true
while more and #out < limit and looked < budget do
    local ids, bound = {}, nil
    more = false
    for _, s in ipairs(sources) do
        local got = redis.call('ZRANGEBYSCORE', p .. 'state:' .. s,
                               '(' .. after, '+inf', 'LIMIT', 0, 100)
        for _, id in ipairs(got) do
            ids[#ids + 1] = tonumber(id)
        end
        -- a full chunk may have more after its last id
        if #got == 100 then
            more = true
            local last = tonumber(got[#got])
            if not bound or last < bound then
                bound = last
            end
        end
    end
    table.sort(ids)
    for _, id in ipairs(ids) do
        if (bound and id > bound) or #out == limit or looked == budget then
            more = true
            break
        end
        looked = looked + 1
        after = tostring(id)
        local s, a = summary(id)
        if s and (agent == '' or a == agent) then
            out[#out + 1] = s
        end
    end
end

if more then
    next_cursor = after
end

return ok(200, obj('tickets', list(out), 'cursor', next_cursor))
