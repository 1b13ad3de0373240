-- POST tickets/{id}/fields: its agent or an admin sets the priority, the
-- category (null: none) or both, while the ticket is queued, assigned or
-- pending; a waiting ticket whose priority changes moves in the backlog.
-- A waiting ticket whose category changes is routed again: an agent the
-- skills rule kept from it may take it now.
-- ARGV[6..9]: '1' when a priority was sent, the priority, '1' when a
-- category was sent, the category ('' for null); then the routing
-- settings (see routing()).
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local has_priority, priority = ARGV[6] == '1', ARGV[7]
local has_category, category = ARGV[8] == '1', ARGV[9]
local R = routing(10)

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
    return err(409, 'invalid_transition', 'the fields of a ticket change '
               .. 'only while it is queued, assigned or pending')
end

local now = now_ms()

local keys = desk_keys()
if t.state == 'queued' and has_category then
    keys = routing_keys(keys, R)
end
local refused = foreign(unpack(event_keys(keys, param)))
if refused then
    return refused
end
event('ticket.fields', 'ticketId', param,
      'priority', has_priority and priority or '',
      'category', has_category and category or '')

local fields = {'updatedAt', now}
if has_priority then
    fields[#fields + 1] = 'priority'
    fields[#fields + 1] = priority
    t.priority = priority
end
if has_category and category ~= '' then
    fields[#fields + 1] = 'category'
    fields[#fields + 1] = category
    t.category = category
elseif has_category then
    redis.call('HDEL', key, 'category')
    t.category = nil
end
redis.call('HSET', key, unpack(fields))

-- a waiting ticket takes its new priority's place in the backlog, and
-- keeps the time it entered it
if has_priority and t.state == 'queued' then
    local old = redis.call('ZSCORE', p .. 'backlog', param)
    if old then
        redis.call('ZADD', p .. 'backlog',
                   RANK[priority] * BAND + tonumber(old) % BAND, param)
    end
end

-- a new category may open the ticket to an agent the skills rule kept
-- from it
if has_category and t.state == 'queued' then
    local to = route(R, now, t.releasedBy, t.category)
    if to then
        redis.call('ZREM', p .. 'backlog', param)
        assign_to(param, to, now, 'queued')
        t.state, t.agent = 'assigned', to
    end
end

return ok(200, obj('ticketId', tonumber(param), 'state', t.state,
                   'agent', t.agent, 'priority', t.priority,
                   'category', t.category))
