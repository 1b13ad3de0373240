-- Takes one validated ticket into the desk, atomically: the idempotency
-- check, the id, the routing decision, the ticket hash, the agent's queue,
-- the user's history and record, the state's index, the event stream
-- entry and the routing state.
--
-- Every check and read comes before the first write, so an error leaves
-- nothing behind: the type of every key it writes is checked first, and a
-- wrong one is the error "CSWRONGTYPE <key>" (the key's name with the user
-- and idempotency parts masked).  A new ticket never writes into an
-- existing ticket hash: when the sequence hands out an id that is taken
-- (a Redis that lost its last writes), the id moves past it.
--
-- KEYS[1]: the desk's prefix; every key is built from it, so that a prefix
--       with a hash tag puts the whole desk in one cluster slot.
-- ARGV: assign (round_robin | least_loaded), idempotency key ('' for
--       none), number of agents, agents..., userId, issue, category,
--       priority, channel, email, the ticket's nonce ('' without
--       cs_secret), '1' when X-CS-User proved the userId, the presence
--       timeout (ms) of the agents' registry, the user's key name (nginx's
--       HMAC of the userId), the name under the old cs_secret ('' for
--       none), a random event id for a user who has none yet, the
--       cs_rule that answers the ticket ('' for none) and its answer,
--       '1' when the answer lists suggestions from the user's history,
--       cs_sticky (ms, 0 for off), and cs_recurring's N and window (ms);
--       with cs_encrypt_key, then the ticket's seal and the fingerprint
--       of issue and email (the issue and email arrive sealed: stored as
--       issue_enc and email_enc, see ngx_http_cs_crypt.c).
-- Runs after ngx_http_cs_routing.lua, whose rules choose a registry agent,
-- ngx_http_cs_metrics.lua, whose figures it moves, and
-- ngx_http_cs_insights.lua, whose trends and surges it counts.
-- Returns {outcome, id, agent, state, nonce, answer, categories}: outcome
-- is "created", "replayed" or "reused" (the key was used for a different
-- ticket); categories are those of the user's earlier tickets, most
-- recent first, each once (asked for a proven user of a desk with rules).
-- A ticket a rule answers is auto_resolved: no agent, no routing.
-- The time is Redis' own (TIME), so hosts with skewed clocks agree.

-- Every key it writes is proven to hold its type, or to be absent, before
-- the first write, at the least cost: a key it reads anyway is read with
-- pcall (a foreign value fails the read), the few it only writes get a
-- TYPE, and the event stream, written first, fails alone.

local function wrong(shown)
    return redis.error_reply('CSWRONGTYPE ' .. shown)
end

-- a read whose failure names the key: nil and the error reply
local function read(shown, ...)
    local r = redis.pcall(...)
    if type(r) == 'table' and r.err then
        return nil, wrong(shown)
    end
    return r
end

-- a key only written must hold its type or not exist: its type, or nil
-- and the error
local function kind(key, want, shown)
    local t = redis.call('TYPE', key).ok
    if t ~= 'none' and t ~= want then
        return nil, wrong(shown or key)
    end
    return t
end

local function writable(key, want, shown)
    local _, e = kind(key, want, shown)
    return e
end

-- p (KEYS[1]) comes from ngx_http_cs_routing.lua
local assign = ARGV[1]
local idem = ARGV[2]
local nagents = tonumber(ARGV[3])
local agents = {}
for i = 1, nagents do
    agents[i] = ARGV[3 + i]
end

local f = 4 + nagents
local user, issue, category = ARGV[f], ARGV[f + 1], ARGV[f + 2]
local priority, channel, email = ARGV[f + 3], ARGV[f + 4], ARGV[f + 5]
local nonce, proven = ARGV[f + 6], ARGV[f + 7]
local presence_timeout = tonumber(ARGV[f + 8])
local ukey, old_ukey, fresh_event_id = ARGV[f + 9], ARGV[f + 10], ARGV[f + 11]
local rule, answer, with_history = ARGV[f + 12], ARGV[f + 13],
                                   ARGV[f + 14] == '1'
local sticky = tonumber(ARGV[f + 15]) or 0
local recur_n = tonumber(ARGV[f + 16]) or 5
local recur_window = tonumber(ARGV[f + 17]) or 3600000
local seal, fingerprint = ARGV[f + 18] or '', ARGV[f + 19] or ''
local auto = rule ~= ''

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local seq_key, events_key = p .. 'ticket:seq', p .. 'events'
local err

-- the user's keys are named by nginx's HMAC of the userId, never by the
-- id; a wrong type is logged with the name masked all the same
local user_key = p .. 'user:' .. ukey .. ':tickets'
local record_key = p .. 'user:' .. ukey
local user_shown, record_shown = p .. 'user:*:tickets', p .. 'user:*'

-- the categories of the user's tickets before ticket id (its 20 latest),
-- most recent first, each once; none unless asked
local function history(id)
    local cats = {}
    if not with_history then
        return cats
    end
    local ids, seen = redis.call('LRANGE', user_key, -21, -1), {}
    for i = #ids, 1, -1 do
        if tonumber(ids[i]) < id then
            local c = redis.call('HGET', p .. 'ticket:' .. ids[i],
                                 'category')
            if c and not seen[c] then
                seen[c] = true
                cats[#cats + 1] = c
            end
        end
    end
    return cats
end

local idem_key, digest
if idem ~= '' then
    idem_key = p .. 'idem:' .. idem
    -- length-prefixed, so that no two tickets share the text
    local parts = {}
    -- sealed words differ on every try: their keyed fingerprint stands in
    local words = {user, issue, category, priority, channel, email}
    if seal ~= '' then
        words = {user, fingerprint, category, priority, channel}
    end
    for i, v in ipairs(words) do
        parts[i] = #v .. ':' .. v
    end
    digest = redis.sha1hex(table.concat(parts, ','))

    local seen
    seen, err = read(p .. 'idem:*', 'GET', idem_key)
    if err then
        return err
    end
    if seen then
        local id, d, state, agent =
            string.match(seen, '^(%d+):(%x+):([%w_]+):(.*)$')
        if d ~= digest then
            return {'reused', tonumber(id), '', '', '', '', {}}
        end
        local first = redis.call('HMGET', p .. 'ticket:' .. id, 'nonce',
                                 'answer')
        return {'replayed', tonumber(id), agent, state, first[1] or '',
                first[2] or '', history(tonumber(id))}
    end
end

-- the next id, moved past any ticket that already holds it: ids may skip,
-- a ticket is never merged into another
local seq
seq, err = read(seq_key, 'GET', seq_key)
if err then
    return err
end
local id = (tonumber(seq) or 0) + 1
local step = 1
while redis.call('EXISTS', p .. 'ticket:' .. id) == 1 do
    id = id + step
    step = step * 2
end
-- every command below takes the id as text: made once (Lua makes a
-- number into text with sprintf wherever it meets one)
local id_num = id
id = tostring(id)

local agent, registry_agent, turn = '', false, nil
if auto then
    -- a rule answered it: no agent
elseif nagents > 0 then
    if assign == 'least_loaded' then
        local last
        last, err = read(p .. 'route:last', 'HMGET', p .. 'route:last',
                         unpack(agents))
        if err then
            return err
        end
        local best, best_len, best_last
        for i = 1, nagents do
            local len
            len, err = read(p .. 'queue:' .. agents[i], 'LLEN',
                            p .. 'queue:' .. agents[i])
            if err then
                return err
            end
            -- never assigned sorts before any real sequence number
            local seq = tonumber(last[i]) or -1
            if best == nil or len < best_len
               or (len == best_len and seq < best_last)
            then
                best, best_len, best_last = i, len, seq
            end
        end
        agent = agents[best]
    else
        local last_turn
        last_turn, err = read(p .. 'route:rr', 'GET', p .. 'route:rr')
        if err then
            return err
        end
        turn = (tonumber(last_turn) or 0) + 1
        agent = agents[(turn - 1) % nagents + 1]
    end
else
    -- the registry: the rules of ngx_http_cs_routing.lua, the returning
    -- customer's agent first.  None: the backlog.
    local history_key = user_key
    if old_ukey ~= '' and redis.call('EXISTS', user_key) == 0 then
        history_key = p .. 'user:' .. old_ukey .. ':tickets'
    end
    local chosen = route({assign = assign, timeout = presence_timeout},
                         now, nil, category ~= '' and category or nil,
                         sticky_agent(history_key, now, sticky))
    if chosen then
        agent = chosen
        registry_agent = true
    end
end

local state = 'queued'
if auto then
    state = 'auto_resolved'
elseif agent ~= '' then
    state = 'assigned'
end

-- the user's record (a hash): the event id that names the user in the
-- stream, the first one kept
local event_id
event_id, err = read(record_shown, 'HGET', record_key, 'eventId')
if err then
    return err
end

-- the keys only written: the user's history, the state's index, the queue
-- (the backlog, a sorted set, for a ticket without an agent) and, for a
-- static agent, route:last (least_loaded read both already)
local queue_key, queue_type = p .. 'backlog', 'zset'
if agent ~= '' then
    queue_key, queue_type = p .. 'queue:' .. agent, 'list'
end
local proven_by_reads = assign == 'least_loaded' and nagents > 0
local state_key = p .. 'state:' .. state
local user_type
user_type, err = kind(user_key, 'list', user_shown)
err = err or writable(state_key, 'zset')
-- the ticket's index of its stream entries (users/export)
local events_index = p .. 'ticket:' .. id .. ':events'
err = err or writable(events_index, 'list', p .. 'ticket:*:events')
if auto then
    err = err or writable(p .. 'closing', 'zset')
        or writable(p .. 'rule:' .. rule, 'hash')
elseif not err and not proven_by_reads then
    err = writable(queue_key, queue_type)
        or (nagents > 0 and writable(p .. 'route:last', 'hash'))
end
if err then
    return err
end
-- the figures' hash: the label of the ticket's category, and its type
local label, new_label
label, new_label = metrics_label(category)
if not label then
    return new_label
end
local cats = history(id_num)

-- cs_secret new old: the keys named under the old secret move to the new
-- names (below), so that no history is lost; checked on every intake while
-- the old secret is configured, as a host not yet given the new one may
-- still write them
local old_key, old_record, old_type, old_record_type
local has_event_id = event_id and true or false
if old_ukey ~= '' then
    old_key = p .. 'user:' .. old_ukey .. ':tickets'
    old_record = p .. 'user:' .. old_ukey
    old_type, err = kind(old_key, 'list', user_shown)
    if not err then
        old_record_type, err = kind(old_record, 'hash', record_shown)
    end
    if err then
        return err
    end
    -- a user first seen under the old secret keeps its event id
    if not event_id and old_record_type == 'hash' then
        event_id = redis.call('HGET', old_record, 'eventId')
    end
end
event_id = event_id or fresh_event_id

-- the trends and the surge of its category (ngx_http_cs_insights.lua)
local insights
insights, err = intake_insights_plan(label, now, recur_n, recur_window)
if err then
    return err
end

-- the first write: when the stream is foreign, nothing is written at all
local entry = {'XADD', events_key, 'MAXLEN', '~', 100000, '*',
               'type', 'ticket.created', 'ticketId', id, 'user', event_id,
               'agent', agent, 'state', state, 'priority', priority,
               'channel', channel}
if auto then
    entry[#entry + 1] = 'rule'
    entry[#entry + 1] = rule
end
local added = redis.pcall(unpack(entry))
if type(added) == 'table' and added.err then
    if string.find(added.err, 'WRONGTYPE', 1, true) then
        return wrong(events_key)
    end
    return redis.error_reply(added.err)
end

redis.call('RPUSH', events_index, added)
redis.call('SET', seq_key, id)
if turn then
    redis.call('SET', p .. 'route:rr', turn)
end

-- sealed values live in fields of their own, beside the ticket's seal
local sfx = seal ~= '' and '_enc' or ''
local ticket = {
    'id', id, 'userId', user, 'userKey', ukey, 'issue' .. sfx, issue,
    'priority', priority,
    'channel', channel, 'state', state, 'createdAt', now
}
if seal ~= '' then
    table.insert(ticket, 'seal')
    table.insert(ticket, seal)
end
if category ~= '' then
    table.insert(ticket, 'category')
    table.insert(ticket, category)
end
if email ~= '' then
    table.insert(ticket, 'email' .. sfx)
    table.insert(ticket, email)
end
if agent ~= '' then
    table.insert(ticket, 'agent')
    table.insert(ticket, agent)
end
if nonce ~= '' then
    table.insert(ticket, 'nonce')
    table.insert(ticket, nonce)
end
if idem_key then
    -- the intake's idempotency record is found from the ticket (export,
    -- erasure)
    table.insert(ticket, 'idemKey')
    table.insert(ticket, idem)
end
if proven == '1' then
    table.insert(ticket, 'userProven')
    table.insert(ticket, '1')
end
if auto then
    -- answered at once: solved when created, counted once
    for _, v in ipairs({'rule', rule, 'answer', answer, 'solvedAt', now,
                        'firstSolvedAt', now}) do
        table.insert(ticket, v)
    end
end
redis.call('HSET', p .. 'ticket:' .. id, unpack(ticket))

if auto then
    redis.call('ZADD', p .. 'closing', now, id)
    redis.call('HINCRBY', p .. 'rule:' .. rule, 'answered', 1)
elseif registry_agent then
    redis.call('RPUSH', p .. 'queue:' .. agent, id)
    redis.call('HINCRBY', p .. 'agent:' .. agent, 'load', 1)
    redis.call('HSET', p .. 'agent:' .. agent, 'lastAssigned', now)
elseif agent ~= '' then
    redis.call('RPUSH', p .. 'queue:' .. agent, id)
    redis.call('HSET', p .. 'route:last', agent, id)
else
    redis.call('ZADD', queue_key, backlog_score(priority, now, id), id)
end

if old_type == 'list' then
    local moved = redis.call('LRANGE', old_key, 0, -1)
    if user_type == 'none' then
        redis.call('RENAME', old_key, user_key)
    else
        -- both names hold tickets (a host on the old secret wrote the old
        -- one meanwhile): one history again, in id order
        local ids = redis.call('LRANGE', user_key, 0, -1)
        for _, v in ipairs(moved) do
            ids[#ids + 1] = v
        end
        table.sort(ids, function(a, b)
            return (tonumber(a) or 0) < (tonumber(b) or 0)
        end)
        redis.call('DEL', old_key, user_key)
        for i = 1, #ids, 1000 do
            redis.call('RPUSH', user_key,
                       unpack(ids, i, math.min(i + 999, #ids)))
        end
    end
    -- the moved tickets name the new keys, so that the scripts that read
    -- a ticket's user (GET tickets/{id}, the prelude's event()) find them;
    -- once per user and rotation, and never a ticket that is gone
    for _, moved_id in ipairs(moved) do
        local tkey = p .. 'ticket:' .. moved_id
        if redis.pcall('HEXISTS', tkey, 'userKey') == 1 then
            redis.call('HSET', tkey, 'userKey', ukey)
        end
    end
end
if old_record_type == 'hash' then
    -- the record at the new name, when there is one, stands: its event id
    -- is the one the stream knows since the move
    if has_event_id then
        redis.call('DEL', old_record)
    else
        redis.call('RENAME', old_record, record_key)
    end
end
local user_tickets = redis.call('RPUSH', user_key, id)
redis.call('ZADD', state_key, id, id)
metrics_created(channel, priority, label, new_label, user_tickets,
                auto and rule or nil)
intake_insights_write(insights, id, recur_n, recur_window)
if not has_event_id then
    redis.call('HSETNX', record_key, 'eventId', event_id)
end

if idem_key then
    redis.call('SET', idem_key,
               id .. ':' .. digest .. ':' .. state .. ':' .. agent,
               'PX', 86400000)
end

return {'created', id_num, agent, state, nonce, auto and answer or '',
        cats}
