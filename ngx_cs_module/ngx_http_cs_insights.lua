-- Trends and recurring problems (DESIGN §Feedback, alerts, insights),
-- shared by the intake, the feedback and GET trends / GET insights (the
-- library has it after ngx_http_cs_common.lua).
--
-- A category counts under the label the figures give it
-- (ngx_http_cs_metrics.lua): the category itself when it is one of the
-- first 50 seen at intake (<prefix>metrics' label:<category>), 'other'
-- otherwise, 'none' for a ticket without one.
--
-- Trends: created tickets per label per UTC day and per UTC hour, one
-- hash per UTC day, <prefix>trend:<day start ms>: field <label> the day's
-- count, <label>:<hh> (hh the UTC hour, 00 to 23) the hour's (a label is
-- [a-z0-9_-], so the two never meet).  It expires TREND_KEEP after the
-- day's end, its hours with it.  An intake proves it with one read
-- (HEXISTS of the day's field: the type, and whether the label is new
-- that day, when the expiry is set) and writes two HINCRBYs.
--
-- Recurring problems (cs_recurring N window), two kinds per label, over a
-- window that slides by the minute (the minutes m - W + 1 .. m, where m is
-- the current minute and W the window in minutes):
-- - surge: created tickets.  <prefix>recur:surge:<label> is a hash of the
--   minute (ms / 60000) to its count and "f<minute>" to the minute's first
--   ticket, for the minutes listed; "n" the running total of those,
--   "head" the oldest listed minute, "last" the latest ticket and
--   "alerted" (1 while the surge has alerted and not fallen below N).
--   <prefix>recur:surge:<label>:minutes lists the minutes that have a
--   count, oldest first, so that the minutes that leave the window are
--   dropped from its head, each once.  A ticket costs one read and one
--   write of the hash (the list is written once a minute); the hash exists
--   exactly for the labels that have had a ticket.
-- - unhappy: ratings at or under cs_alert_csat.  <prefix>recur:unhappy:
--   <label> is a sorted set of ticket ids scored by the time of the
--   rating; a rating that stops being unhappy leaves it.  The ticket
--   keeps the label it was counted under (field unhappyLabel);
--   <prefix>recur:alerted (a hash, field "unhappy:<label>") remembers the
--   alert until the count is below N again.
-- Every function here that writes is given a plan made before the
-- script's first write, whose reads proved the type of every key written.

local TREND_HOUR, TREND_DAY, MINUTE = 3600000, 86400000, 60000
-- in seconds after the day's end: 1100 days, of the day and its hours
local TREND_KEEP = 1100 * 86400

local function insights_wrong(key)
    return redis.error_reply('CSWRONGTYPE ' .. key)
end

-- a read that proves its key holds the type read (or nothing): the value,
-- or nil and the error reply naming the key
local function insights_read(key, ...)
    local r = redis.pcall(...)
    if type(r) == 'table' and r.err then
        if string.find(r.err, 'WRONGTYPE', 1, true) then
            return nil, insights_wrong(key)
        end
        return nil, redis.error_reply(r.err)
    end
    return r
end

-- the label of a ticket's category after its intake, as the figures
-- gave it; nil and the error reply when their hash is foreign
local function category_label(category)
    if category == nil or category == '' then
        return 'none'
    end
    local known, e = insights_read(METRICS, 'HEXISTS', METRICS,
                                   'label:' .. category)
    if e then
        return nil, e
    end
    return known == 1 and category or 'other'
end

local function surge_key(label)
    return p .. 'recur:surge:' .. label
end

local function unhappy_key(label)
    return p .. 'recur:unhappy:' .. label
end

-- the first minute of the window that ends at now
local function window_start(now, window_ms)
    return math.floor(now / MINUTE) - window_ms / MINUTE + 1
end

-- the alert of kind/label for an event that takes its count from n0 to
-- n1, given whether it had alerted: sets plan.alert (raise it now),
-- plan.rearm (the count fell below N) and plan.alerted (the flag after).
-- raise() writes after the call's other writes: the alerts stream is
-- proven here, only when an alert is raised (a foreign value at its key,
-- or a stream with no id left, is the error reply)
local function crossing(plan, kind, label, alerted, n0, n1, threshold)
    -- below N again: re-armed
    if alerted and (n0 < threshold or n1 < threshold) then
        plan.rearm, alerted = true, false
    end
    -- raised by an event that adds to the count, never by one that takes
    -- from it (a count above a lowered N waits for the next one)
    if not alerted and n1 >= threshold and n1 > n0 then
        local alerts = p .. 'alerts'
        local t = redis.call('TYPE', alerts).ok
        if t ~= 'none' and t ~= 'stream' then
            return insights_wrong(alerts)
        end
        local e = t == 'stream' and stream_room(alerts)
        if e then
            return e
        end
        plan.alert, alerted = true, true
    end
    plan.kind, plan.label, plan.count, plan.alerted = kind, label, n1, alerted
end

-- the alert, as the csat alert: PUBLISH and the capped stream; the ticket,
-- the kind, the category and the numbers, never a user or a comment
local function raise(plan, id, threshold, window_ms)
    if not plan.alert then
        return
    end
    local alert = cjson.encode({type = 'recurring', kind = plan.kind,
                                category = plan.label,
                                count = plan.count, threshold = threshold,
                                windowSeconds = window_ms / 1000,
                                ticketId = tonumber(id)})
    local alerts = p .. 'alerts'
    redis.call('XADD', alerts, 'MAXLEN', '~', 10000, '*', 'alert', alert)
    redis.call('PUBLISH', alerts, alert)
end

-- a surge's minutes (its list, oldest first) against the window that
-- starts at minute start: those that left it, the count n less theirs,
-- and the first minute still in it (nil for none)
local function surge_window(sk, minutes, n, start)
    local old = {}
    for _, mm in ipairs(minutes) do
        if tonumber(mm) >= start then
            break
        end
        old[#old + 1] = mm
    end
    if #old > 0 then
        for _, v in ipairs(redis.call('HMGET', sk, unpack(old))) do
            n = n - (tonumber(v) or 0)
        end
    end
    return old, n, minutes[#old + 1]
end

-- the surge hash's fields a ticket reads: n, alerted, head, its minute's
local function surge_state(label, m)
    local sk = surge_key(label)
    return insights_read(sk, 'HMGET', sk, 'n', 'alerted', 'head', m)
end

-- The intake's reads: the plan for a ticket of this label (the figures')
-- created at now, or nil and the error reply.
local function intake_insights_plan(label, now, threshold, window_ms)
    local m = math.floor(now / MINUTE)
    local st, e = surge_state(label, m)
    if e then
        return nil, e
    end

    local day = now - now % TREND_DAY
    -- string.format: half the cost of a number in a concatenation
    local plan = {label = label, day = day,
                  tk = string.format('%strend:%d', p, day),
                  hf = string.format('%s:%02d', label,
                                     math.floor((now - day) / TREND_HOUR))}
    plan.seen, e = insights_read(plan.tk, 'HEXISTS', plan.tk, label)
    if e then
        return nil, e
    end

    -- the surge: the minutes that left the window are dropped
    local sk = surge_key(label)
    local lk = sk .. ':minutes'
    local start = window_start(now, window_ms)
    local n, head, c = tonumber(st[1]) or 0, tonumber(st[3]),
                       tonumber(st[4]) or 0
    plan.sk, plan.lk, plan.minute, plan.c = sk, lk, m, c
    plan.drop = 0
    local listed = false
    if head and head < start then
        local minutes
        minutes, e = insights_read(lk, 'LRANGE', lk, 0, -1)
        if e then
            return nil, e
        end
        local old, first
        old, n, first = surge_window(sk, minutes, n, start)
        plan.drop, plan.old = #old, old
        head = tonumber(first)
        listed = true
    end
    if c == 0 and not listed then
        -- the list gets this minute: proven before
        local _
        _, e = insights_read(lk, 'LLEN', lk)
        if e then
            return nil, e
        end
    end
    -- head and alerted are written when they change
    if head ~= tonumber(st[3]) or not head then
        plan.head = head or m
    end
    plan.n = n + 1
    local alerted = st[2] == '1'
    e = crossing(plan, 'surge', label, alerted, n, n + 1, threshold)
    plan.flag_changed = plan.alerted ~= alerted
    if e then
        return nil, e
    end
    return plan
end

-- The intake's writes for ticket id, after its first write.
local function intake_insights_write(plan, id, threshold, window_ms)
    local label = plan.label
    redis.call('HINCRBY', plan.tk, label, 1)
    redis.call('HINCRBY', plan.tk, plan.hf, 1)
    if plan.seen == 0 then
        redis.call('EXPIREAT', plan.tk,
                   (plan.day + TREND_DAY) / 1000 + TREND_KEEP)
    end

    local sk, lk, m = plan.sk, plan.lk, plan.minute
    if plan.drop > 0 then
        redis.call('LTRIM', plan.lk, plan.drop, -1)
        local fields = {}
        for _, old in ipairs(plan.old) do
            fields[#fields + 1] = old
            fields[#fields + 1] = 'f' .. old
        end
        redis.call('HDEL', sk, unpack(fields))
    end
    local set = {'HSET', sk, m, plan.c + 1, 'n', plan.n, 'last', id}
    if plan.head then
        set[#set + 1] = 'head'
        set[#set + 1] = plan.head
    end
    if plan.flag_changed then
        set[#set + 1] = 'alerted'
        set[#set + 1] = plan.alerted and 1 or 0
    end
    if plan.c == 0 then
        redis.call('RPUSH', lk, m)
        set[#set + 1] = 'f' .. m
        set[#set + 1] = id
    end
    redis.call(unpack(set))
    raise(plan, id, threshold, window_ms)
end

-- The feedback's reads: the plan for ticket id (its hash t) rated csat,
-- from old_csat (nil for none), or nil and the error reply.  Nothing
-- changes unless the rating becomes unhappy or stops being so.
local function feedback_insights_plan(t, id, csat, old_csat, alert_at, now,
                                      threshold, window_ms)
    local was = old_csat ~= nil and old_csat <= alert_at
    local is = csat <= alert_at
    local plan = {}
    if was == is then
        return plan
    end
    local label, e
    if is then
        label, e = category_label(t.category)
        if e then
            return nil, e
        end
    else
        -- counted before this feature: nothing to take back
        label = t.unhappyLabel
        if not label then
            return plan
        end
    end
    local zk = unhappy_key(label)
    local since = window_start(now, window_ms) * MINUTE
    local n
    n, e = insights_read(zk, 'ZCOUNT', zk, since, '+inf')
    if e then
        return nil, e
    end
    local flags = p .. 'recur:alerted'
    local alerted
    alerted, e = insights_read(flags, 'HEXISTS', flags, 'unhappy:' .. label)
    if e then
        return nil, e
    end
    plan.zk, plan.since = zk, since
    plan.add = is
    local n1 = n + 1
    if not is then
        local at = redis.call('ZSCORE', zk, id)
        n1 = (at and tonumber(at) >= since) and n - 1 or n
    end
    e = crossing(plan, 'unhappy', label, alerted == 1, n, n1, threshold)
    if e then
        return nil, e
    end
    return plan
end

-- The feedback's writes, after its first write.
local function feedback_insights_write(plan, key, id, now, threshold,
                                       window_ms)
    if not plan.zk then
        return
    end
    redis.call('ZREMRANGEBYSCORE', plan.zk, '-inf', '(' .. plan.since)
    if plan.add then
        redis.call('ZADD', plan.zk, now, id)
        redis.call('HSET', key, 'unhappyLabel', plan.label)
    else
        redis.call('ZREM', plan.zk, id)
        redis.call('HDEL', key, 'unhappyLabel')
    end
    -- a label that stays quiet leaves nothing behind
    redis.call('PEXPIRE', plan.zk, window_ms + MINUTE)
    local flag = 'unhappy:' .. plan.label
    if plan.alert then
        redis.call('HSET', p .. 'recur:alerted', flag, 1)
    elseif plan.rearm then
        redis.call('HDEL', p .. 'recur:alerted', flag)
    end
    raise(plan, id, threshold, window_ms)
end
