-- POST users/erase: erases a user (DESIGN §Privacy), in batches of at most
-- 100 tickets, one script each, taken from the end of the user's history
-- (so that an export's cursor stays good meanwhile).
--   erase: each ticket leaves every key: its hash, messages, events index,
--     idempotency records (the intake's and its messages'), its agent's
--     queue and load, the backlog, the closing set, its state's index and
--     the figures of the present (PRESENT_FIGURES); a rule that answered
--     it counts it as `erased` (its `answered` keeps it: the past).
--   anonymize: each ticket stays where it is, detached from the user
--     (PERSONAL_FIELDS: no userId, userKey, nonce, the issue blank, no
--     email, no feedback comment, no sealed twin of them), every message
--     body blank (MESSAGE_PERSONAL_FIELDS), its
--     idempotency records gone (they hold digests of what was written).
-- Either way the ticket leaves the user's history; freed agents take the
-- backlog (drain); the past keeps its counts.  The first batch marks the
-- user's record `erasing` (the mode), so that an unfinished erasure shows
-- as one in an export and is resumed by the next call (another mode is
-- 409 erase_in_progress); the last deletes the user's records (the event
-- id with them: the stream can no longer be linked to the user) and
-- writes user.erased (actor admin:<name>, the mode, the number of
-- tickets; nothing personal).  Every check before the first write.
-- ARGV[9..]: the mode, then the routing settings (see routing()).
-- Answers 200 {mode, tickets (this batch), erased (all so far),
-- remaining, done}; 404 for a user the desk does not know.
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_user.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end
if c.role ~= 'admin' then
    return err(403, 'forbidden', 'this role may not do this')
end

local BATCH = 100
local mode = ARGV[9]
local R = routing(10)

local u, e = user_state()
if not u then
    return e
end

local total, erasing, mark = 0, nil, nil
for _, k in ipairs(u) do
    total = total + k.len
    if k.fields then
        erasing = erasing or k.fields.erasing
        mark = mark or k.record
    end
end
if not mark and total == 0 then
    return err(404, 'not_found', 'there is no such user')
end
mark = mark or u[1].record
if erasing and erasing ~= mode then
    return err(409, 'erase_in_progress',
               'this user is being erased with mode ' .. erasing
               .. '; call again with that mode')
end

-- the batch: from the end of the concatenated histories
local batch, cut = {}, {}
for i = #u, 1, -1 do
    local k, want = u[i], BATCH - #batch
    cut[i] = 0
    if want > 0 and k.len > 0 then
        local ids = redis.call('LRANGE', k.history, -want, -1)
        for j = #ids, 1, -1 do
            batch[#batch + 1] = ids[j]
        end
        cut[i] = #ids
    end
end

-- the tickets (a hash of another user, or none: only left out of the
-- history) and every key the batch writes, checked before the first write
local tickets, keys = {}, event_keys(desk_keys())
local agents = {}
for _, id in ipairs(batch) do
    local key = p .. 'ticket:' .. id
    local flat = redis.pcall('HGETALL', key)
    if type(flat) == 'table' and flat.err then
        return redis.error_reply('CSWRONGTYPE ' .. p .. 'ticket:*')
    end
    local t = {}
    for i = 1, #flat, 2 do
        t[flat[i]] = flat[i + 1]
    end
    if t.userId == USER_ID then
        tickets[#tickets + 1] = {id = id, t = t}
        keys[#keys + 1] = {key .. ':messages', 'list'}
        keys[#keys + 1] = {key .. ':idems', 'set'}
        if t.idemKey then
            keys[#keys + 1] = {p .. 'idem:' .. t.idemKey, 'string',
                               p .. 'idem:*'}
        end
        if mode == 'erase' and t.agent and not agents[t.agent] then
            agents[t.agent] = true
            agent_keys(keys, t.agent)
        end
        if mode == 'erase' and t.rule then
            keys[#keys + 1] = {p .. 'rule:' .. t.rule, 'hash'}
        end
    end
end
if mode == 'erase' then
    for _, f in ipairs(PRESENT_FIGURES) do
        keys[#keys + 1] = {p .. f[1], 'hash'}
    end
    -- the drain may hand the backlog to any agent
    routing_keys(keys, R)
end
-- the last batch appends user.erased after its writes
e = foreign(unpack(keys)) or (#batch == total and events_room())
if e then
    return e
end

-- the first write: the user shows as being erased until the last batch
local done = #batch == total
if not done then
    redis.call('HSET', mark, 'erasing', mode)
end

local now = now_ms()

-- a ticket's idempotency records: the intake's (while it names this
-- ticket) and its messages'
local function drop_records(id, t)
    local key = p .. 'ticket:' .. id
    if t.idemKey then
        local v = redis.call('GET', p .. 'idem:' .. t.idemKey)
        if v and string.sub(v, 1, #id + 1) == id .. ':' then
            redis.call('DEL', p .. 'idem:' .. t.idemKey)
        end
    end
    for _, k in ipairs(redis.call('SMEMBERS', key .. ':idems')) do
        redis.call('DEL', key .. ':idem:' .. k)
    end
    redis.call('DEL', key .. ':idems')
end

-- the present loses the ticket; the agent whose load it freed, or nil
local function erase_present(id, t)
    local freed = release(id, t)
    redis.call('ZREM', p .. 'backlog', id)
    redis.call('ZREM', p .. 'closing', id)
    redis.call('ZREM', p .. 'state:' .. t.state, id)
    for _, f in ipairs(PRESENT_FIGURES) do
        local field = figure_field(f[2], t)
        if field then
            redis.call('HINCRBY', p .. f[1], field, -1)
        end
    end
    return freed
end

local freed = {}
for _, x in ipairs(tickets) do
    local id, t = x.id, x.t
    local key = p .. 'ticket:' .. id
    drop_records(id, t)
    if mode == 'erase' then
        local name = erase_present(id, t)
        if name then
            freed[#freed + 1] = name
        end
        if t.rule then
            redis.call('HINCRBY', p .. 'rule:' .. t.rule, 'erased', 1)
        end
        redis.call('DEL', key, key .. ':messages', key .. ':events')
    else
        local blank, gone = {}, {}
        for name, v in pairs(PERSONAL_FIELDS) do
            if v then
                blank[#blank + 1] = name
                blank[#blank + 1] = v
            elseif t[name] then
                gone[#gone + 1] = name
            end
        end
        if #gone > 0 then
            redis.call('HDEL', key, unpack(gone))
        end
        if #blank > 0 then
            redis.call('HSET', key, unpack(blank))
        end
        local mkey = key .. ':messages'
        local raw = redis.call('LRANGE', mkey, 0, -1)
        if #raw > 0 then
            local out = {}
            for i, m in ipairs(raw) do
                local good, msg = pcall(cjson.decode, m)
                if good and type(msg) == 'table' then
                    for name, v in pairs(MESSAGE_PERSONAL_FIELDS) do
                        msg[name] = v or nil
                    end
                    out[i] = cjson.encode(msg)
                else
                    -- not a message of the desk's: nothing of it kept
                    out[i] = '{}'
                end
            end
            redis.call('DEL', mkey)
            for i = 1, #out, 1000 do
                redis.call('RPUSH', mkey, unpack(out, i,
                                                 math.min(i + 999, #out)))
            end
        end
    end
end

-- out of the histories
for i, k in ipairs(u) do
    if cut[i] > 0 then
        redis.call('LTRIM', k.history, 0, -cut[i] - 1)
    end
end

local erased = tonumber(redis.call('HGET', mark, 'erasedTickets') or 0)
               + #tickets
if done then
    for _, k in ipairs(u) do
        redis.call('DEL', k.record, k.history)
    end
    event('user.erased', 'mode', mode, 'tickets', erased)
else
    redis.call('HSET', mark, 'erasedTickets', erased)
end

-- the capacity freed takes the backlog, each agent once, by name
table.sort(freed)
for i, name in ipairs(freed) do
    if name ~= freed[i - 1] then
        drain(name, now, R.timeout)
    end
end

return ok(200, obj('mode', mode, 'tickets', #tickets, 'erased', erased,
                   'remaining', total - #batch,
                   'done', done and TRUE or FALSE))
