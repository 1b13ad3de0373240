-- POST tickets/{id}/messages: a message from the ticket's customer, its
-- agent or an admin (201).  A customer's message on a pending, solved or
-- auto_resolved ticket reopens it: back to its agent when that agent may
-- take work, else routed like a new ticket; a rule's answer reopened so
-- counts against the rule.  The first public message of
-- an agent or admin sets firstResponseAt, once.  A closed ticket takes no
-- message (409 ticket_closed).
-- ARGV[6..]: the body, '1' when internal, the Idempotency-Key ('' for
-- none), then the routing settings (see routing()).
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_metrics.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local body, internal, idem = ARGV[6], ARGV[7] == '1', ARGV[8]
local R = routing(9)
-- with cs_encrypt_key, after routing's: the body's fingerprint (the body
-- arrives sealed to this ticket and is stored as body_enc)
local fingerprint = ARGV[13 + #R.static] or ''
local sealed = fingerprint ~= ''
local shown = sealed and seal_of('ticket:' .. param, 'body', body) or body

-- a customer's token opens its own ticket and no other
if c.role == 'customer' and c.ticket ~= param then
    return UNAUTHORIZED
end

local key = p .. 'ticket:' .. param
local t = hash(key)
if not t then
    return err(404, 'not_found', 'there is no such ticket')
end

if c.role == 'agent' and t.agent ~= c.name then
    return err(403, 'forbidden', 'this ticket is not assigned to you')
end

if c.role == 'customer' and internal then
    return err(403, 'forbidden', 'a customer cannot write internal notes')
end

local messages_key = key .. ':messages'

-- the same key and message again: the first answer; another message
local idem_key, digest
if idem ~= '' then
    -- beside the ticket, where no intake key can name it; the author is
    -- part of what the key promises
    idem_key = key .. ':idem:' .. idem
    digest = redis.sha1hex(role .. ':' .. who .. ':'
                           .. (internal and '1:' or '0:')
                           .. (sealed and fingerprint or body))
    local seen = redis.call('GET', idem_key)
    if seen then
        local at, d, state, agent =
            string.match(seen, '^(%d+):(%x+):([%w_]+):(.*)$')
        if d ~= digest then
            return err(409, 'idempotency_key_reused',
                       'this Idempotency-Key was used for a different '
                       .. 'message')
        end
        return ok(201, obj('ticketId', tonumber(param), 'state', state,
                           'agent', agent ~= '' and agent or NULL,
                           'message', obj('from', c.role == 'customer'
                                                  and 'customer' or 'agent',
                                          'agent', c.role ~= 'customer'
                                                   and c.name or NULL,
                                          'body', shown,
                                          'at', tonumber(at),
                                          'internal',
                                          internal and TRUE or FALSE)))
    end
end

if t.state == 'closed' then
    return err(409, 'ticket_closed', 'this ticket is closed')
end

local reopen = c.role == 'customer'
    and (t.state == 'pending' or t.state == 'solved'
         or t.state == 'auto_resolved')

local keys = desk_keys({messages_key, 'list'}, {METRICS, 'hash'})
if idem_key then
    -- the names of the ticket's idempotency records (export, erasure)
    keys[#keys + 1] = {key .. ':idems', 'set'}
end
if reopen then
    keys = routing_keys(agent_keys(keys, t.agent), R)
    if t.rule then
        keys[#keys + 1] = {p .. 'rule:' .. t.rule, 'hash'}
    end
end
-- a reopening appends two events: the second must not meet a full stream
local refused = foreign(unpack(event_keys(keys, param)))
    or (reopen and events_room())
if refused then
    return refused
end
if reopen then
    event('ticket.reopened', 'ticketId', param, 'from', t.state)
end
event('ticket.message', 'ticketId', param,
      'internal', internal and '1' or '0')

local now = now_ms()
local m = {from = 'customer', at = now, internal = internal}
m[sealed and 'body_enc' or 'body'] = body
if c.role ~= 'customer' then
    m.from, m.agent = 'agent', c.name
end
redis.call('RPUSH', messages_key, cjson.encode(m))

local fields = {'updatedAt', now}
-- (a rule's answer is the response of an auto_resolved ticket: none here)
if c.role ~= 'customer' and not internal and not t.firstResponseAt
   and t.state ~= 'auto_resolved'
then
    fields[#fields + 1] = 'firstResponseAt'
    fields[#fields + 1] = now
    metrics_first_response(now - (tonumber(t.createdAt) or now))
end
redis.call('HSET', key, unpack(fields))

local state, agent = t.state, t.agent
if reopen then
    redis.call('ZREM', p .. 'closing', param)
    -- a rule's answer that did not help counts against the rule, once
    if t.state == 'auto_resolved' and t.rule then
        redis.call('HINCRBY', p .. 'rule:' .. t.rule, 'reopened', 1)
    end
    if t.state == 'auto_resolved' then
        metrics_auto_reopened()
    end
    -- back to its agent when it may take work
    local back = false
    if agent and static_agents then
        for _, name in ipairs(R.static) do
            back = back or name == agent
        end
    elseif agent then
        local a = redis.call('HMGET', p .. 'agent:' .. agent, 'status',
                             'lastSeen', 'capacity', 'load')
        back = effective(a[1], a[2], now, R.timeout) == 'online'
               and (tonumber(a[4]) or 0) < (tonumber(a[3]) or 0)
    end
    if back and state == 'pending' then
        -- still in its queue: it counts as load again
        redis.call('HSET', key, 'state', 'assigned')
        index_state(param, 'pending', 'assigned')
        -- an assignment like any other: load, and the last assignment
        if not static_agents then
            redis.call('HINCRBY', p .. 'agent:' .. agent, 'load', 1)
            redis.call('HSET', p .. 'agent:' .. agent, 'lastAssigned', now)
        else
            redis.call('HSET', p .. 'route:last', agent, param)
        end
    elseif back then
        assign_to(param, agent, now, state)
    else
        release(param, t)
        agent = place(param, t, R, now)
    end
    state = agent and 'assigned' or 'queued'
end

if idem_key then
    redis.call('SET', idem_key,
               now .. ':' .. digest .. ':' .. state .. ':' .. (agent or ''),
               'PX', 86400000)
    -- outlives every record it names
    redis.call('SADD', key .. ':idems', idem)
    redis.call('PEXPIRE', key .. ':idems', 86400000)
end

return ok(201, obj('ticketId', tonumber(param), 'state', state,
                   'agent', agent,
                   'message', obj('from', m.from, 'agent', m.agent,
                                  'body', shown, 'at', now,
                                  'internal', internal and TRUE or FALSE)))
