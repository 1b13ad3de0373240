-- POST users/export: everything the desk stores about a user, a page of at
-- most 100 tickets, found through the user's history
-- (<prefix>user:<ukey>:tickets, then the one under the old cs_secret),
-- never a scan.  Each ticket comes whole: its fields (but secrets), its
-- messages (internal notes too), its feedback (in the fields), its
-- idempotency records (the intake's, named by the ticket's idemKey, and
-- its messages', named by <prefix>ticket:<id>:idems) and the stream
-- entries that concern it (<prefix>ticket:<id>:events; entries the
-- stream's cap trimmed are gone).  A page stops early once its messages,
-- events and records pass 5000, after a whole ticket.  One script per
-- page, so a page never shows a ticket half erased; users/erase takes a
-- history from its end, so a cursor stays good while it works.
-- Each page is audited: a user.exported event (actor admin:<name>, the
-- user's event id, the number of tickets on the page).
-- ARGV[9]: the cursor ('' for the first page): the position in the
-- history.
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_user.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end
if c.role ~= 'admin' then
    return err(403, 'forbidden', 'this role may not do this')
end

local PAGE, ITEMS = 100, 5000
local cursor = tonumber(ARGV[9]) or 0

local u, e = user_state()
if not u then
    return e
end
e = foreign(unpack(event_keys({})))
if e then
    return e
end

local total = 0
for _, k in ipairs(u) do
    total = total + k.len
end

-- the ids of this page, at most PAGE, from the concatenated histories
local ids, skip = {}, cursor
for _, k in ipairs(u) do
    if #ids < PAGE and skip < k.len then
        local got = redis.call('LRANGE', k.history, skip,
                               skip + PAGE - #ids - 1)
        for _, id in ipairs(got) do
            ids[#ids + 1] = id
        end
    end
    skip = math.max(0, skip - k.len)
end

-- a read of a ticket's keys: a foreign value there fails the page (Redis'
-- WRONGTYPE, which names no key, before the audit's write) rather than
-- leave part of the user's data out of an answer that looks whole
local function read_key(...)
    return redis.call(...)
end

-- a flat array of names and values as an object
local function pairs_obj(flat)
    local o = {'{'}
    for i = 1, #flat do
        o[#o + 1] = flat[i]
    end
    return o
end

local tickets, items, pos = {}, 0, cursor
for _, id in ipairs(ids) do
    if items >= ITEMS then
        break
    end
    pos = pos + 1
    local key = p .. 'ticket:' .. id
    local flat = read_key('HGETALL', key) or {}
    local t = {}
    for i = 1, #flat, 2 do
        t[flat[i]] = flat[i + 1]
    end
    -- a ticket of this user (an id whose ticket is gone is passed)
    if t.userId == USER_ID then
        local names = {}
        for name in pairs(t) do
            if not SECRET_FIELDS[name] then
                names[#names + 1] = name
            end
        end
        table.sort(names)
        local fields = {'{'}
        for _, name in ipairs(names) do
            local shown, v = name, t[name]
            if SEALED_FIELDS[name] then
                shown, v = opened(id, t, name)
            elseif NUMERIC_FIELDS[name] then
                v = tonumber(v) or v
            end
            fields[#fields + 1] = shown
            fields[#fields + 1] = v
        end

        local messages = {}
        for _, m in ipairs(read_key('LRANGE', key .. ':messages', 0, -1)
                           or {}) do
            local good, msg = pcall(cjson.decode, m)
            if good and type(msg) == 'table' then
                local body = msg.body
                if msg.body_enc then
                    body = seal_of('ticket:' .. id, 'body', msg.body_enc)
                end
                messages[#messages + 1] =
                    obj('from', msg.from, 'agent', msg.agent,
                        'body', body, 'at', msg.at,
                        'internal', msg.internal and TRUE or FALSE)
            end
        end

        -- idempotency records: the intake's (when it still names this
        -- ticket) and the messages'
        local records = {}
        if t.idemKey then
            local v = read_key('GET', p .. 'idem:' .. t.idemKey)
            if type(v) == 'string'
               and string.sub(v, 1, #id + 1) == id .. ':'
            then
                records[#records + 1] =
                    obj('scope', 'intake', 'key', t.idemKey, 'record', v,
                        'ttl', redis.call('PTTL', p .. 'idem:' .. t.idemKey))
            end
        end
        local idems = read_key('SMEMBERS', key .. ':idems') or {}
        table.sort(idems)
        for _, k in ipairs(idems) do
            local v = read_key('GET', key .. ':idem:' .. k)
            if type(v) == 'string' then
                records[#records + 1] =
                    obj('scope', 'message', 'key', k, 'record', v,
                        'ttl', redis.call('PTTL', key .. ':idem:' .. k))
            end
        end

        local events = {}
        for _, eid in ipairs(read_key('LRANGE', key .. ':events', 0, -1)
                             or {}) do
            local entry = read_key('XRANGE', p .. 'events', eid, eid)
            if entry and entry[1] then
                local o = pairs_obj(entry[1][2])
                table.insert(o, 2, 'id')
                table.insert(o, 3, entry[1][1])
                events[#events + 1] = o
            end
        end

        items = items + #messages + #events + #records
        tickets[#tickets + 1] = obj('ticket', fields,
                                    'messages', list(messages),
                                    'idempotency', list(records),
                                    'events', list(events))
    end
end

-- the user's record(s): the event id, and the mode of an erasure at work
local eid, erasing, has_record = '', NULL, false
for _, k in ipairs(u) do
    if k.fields then
        has_record = true
        if eid == '' and k.fields.eventId then
            eid = k.fields.eventId
        end
        if k.fields.erasing then
            erasing = k.fields.erasing
        end
    end
end
local record = has_record and obj('eventId', eid ~= '' and eid or NULL)
               or NULL

event('user.exported', 'user', eid, 'tickets', #tickets)

return ok(200, obj('userId', USER_ID, 'user', record, 'erasing', erasing,
                   'tickets', list(tickets),
                   'cursor', pos < total and tostring(pos) or NULL))
