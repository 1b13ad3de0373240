-- GET tickets/{id}: the ticket, for its customer, its agent or an admin.
-- Customers see public messages only; agents and admins also get
-- "customer", the user's 20 latest other tickets.
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

-- a customer's token opens its own ticket and no other
if c.role == 'customer' and c.ticket ~= param then
    return UNAUTHORIZED
end

local t = hash(p .. 'ticket:' .. param)
if not t then
    return err(404, 'not_found', 'there is no such ticket')
end

if c.role == 'agent' and t.agent ~= c.name then
    return err(403, 'forbidden', 'this ticket is not assigned to you')
end

local messages = {}
local raw = redis.call('LRANGE', p .. 'ticket:' .. param .. ':messages', 0, -1)
for _, m in ipairs(raw) do
    local ok_, msg = pcall(cjson.decode, m)
    if ok_ and (c.role ~= 'customer' or not msg.internal) then
        local body = msg.body
        if msg.body_enc then
            body = seal_of('ticket:' .. param, 'body', msg.body_enc)
        end
        messages[#messages + 1] = obj('from', msg.from, 'agent', msg.agent,
                                      'body', body, 'at', msg.at,
                                      'internal', msg.internal and TRUE or FALSE)
    end
end

local answer = obj(
    'ticketId', tonumber(param), 'userId', t.userId,
    'issue', words(t, 'issue'), 'email', words(t, 'email'),
    'state', t.state, 'agent', t.agent,
    'priority', t.priority, 'category', t.category, 'channel', t.channel,
    'createdAt', num(t.createdAt),
    'updatedAt', num(t.updatedAt or t.createdAt),
    'firstResponseAt', num(t.firstResponseAt), 'solvedAt', num(t.solvedAt),
    'answer', t.answer, 'messages', list(messages))

if c.role ~= 'customer' then
    -- the user's history is named by the ticket's userKey (an HMAC of the
    -- userId, see ngx_http_cs_intake.lua)
    local others, ids = {}, {}
    if t.userKey then
        ids = redis.call('LRANGE', p .. 'user:' .. t.userKey .. ':tickets',
                         -21, -1)
    end
    for i = #ids, 1, -1 do
        if ids[i] ~= param and #others < 20 then
            local o = redis.call('HMGET', p .. 'ticket:' .. ids[i],
                                 'category', 'state', 'csat')
            if o[2] then
                others[#others + 1] = obj('ticketId', tonumber(ids[i]),
                                          'category', o[1] or NULL,
                                          'state', o[2],
                                          'csat', num(o[3] or nil))
            end
        end
    end
    answer[#answer + 1] = 'customer'
    answer[#answer + 1] = list(others)
end

return ok(200, answer)
