-- GET trends (admin): created tickets per category label per UTC hour or
-- day, from the day hashes the intake keeps (ngx_http_cs_insights.lua).
-- The buckets are those that meet [from, to): from rounded down to its
-- bucket's start, to up to a bucket's end; every one is listed, with a
-- count (0 when none) for every label that has one in the range, or for
-- the one label asked.  At most 2160 hourly buckets (90 days) or 1096
-- daily ones (3 years); more, or from after to, is 422 invalid_field.
-- ARGV[6..9]: from and to (ms; '' for the defaults: to now, from a day of
-- hours or 30 days before to), the bucket (hour or day), the category
-- ('' for all).
-- Reads: the day hashes that hold the range (at most 91 for hours, 1096
-- for days), one call each.
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_insights.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local bucket, only = ARGV[8], ARGV[9]
local size, most = TREND_HOUR, 2160
if bucket == 'day' then
    size, most = TREND_DAY, 1096
end

local to = tonumber(ARGV[7]) or now_ms()
local from = tonumber(ARGV[6])
    or to - (bucket == 'day' and 30 or 1) * TREND_DAY

if from > to then
    return err(422, 'invalid_field', 'from must not be after to', 'from')
end

local first = from - from % size
local n = math.ceil((to - first) / size)
if n > most then
    return err(422, 'invalid_field', bucket == 'day'
               and 'at most 1096 daily buckets (3 years) at a time'
               or 'at most 2160 hourly buckets (90 days) at a time', 'from')
end

-- the day hashes that hold the range: at most 91 for hours, 1096 for
-- days; a day's fields are <label> (the day) and <label>:<hh> (its hours)
local counts, seen = {}, {}
for i = 1, n do
    counts[i] = {}
end
local day0 = first - first % TREND_DAY
-- days without a category: the labels any day can hold are those the
-- figures gave (the first 50 categories, other, none), read once; each
-- day is one HMGET of their day fields, never its hours' fields
local candidates
if bucket == 'day' and only == '' then
    local m, e = insights_read(METRICS, 'HGETALL', METRICS)
    if e then
        return e
    end
    candidates = {'other', 'none'}
    for j = 1, #m, 2 do
        if string.sub(m[j], 1, 6) == 'label:' then
            candidates[#candidates + 1] = string.sub(m[j], 7)
        end
    end
end
local last = first + (n - 1) * size
for day = day0, last, TREND_DAY do
    local key = p .. 'trend:' .. day
    if bucket == 'day' then
        local i = (day - first) / size + 1
        if only ~= '' then
            counts[i][only] = tonumber(redis.call('HGET', key, only)) or 0
        else
            local v = redis.call('HMGET', key, unpack(candidates))
            for j, label in ipairs(candidates) do
                if v[j] then
                    counts[i][label] = tonumber(v[j])
                    seen[label] = true
                end
            end
        end
    else
        -- the day's hours in the range: buckets i0 .. i1
        local i0 = math.max(1, (day - first) / size + 1)
        local i1 = math.min(n, (day + TREND_DAY - first) / size)
        local h0 = (first + (i0 - 1) * size - day) / size
        if i0 > i1 then
            -- no hour of this day in the range (from = to)
        elseif only ~= '' then
            local fields = {}
            for i = i0, i1 do
                fields[#fields + 1] = string.format('%s:%02d', only,
                                                    h0 + i - i0)
            end
            local v = redis.call('HMGET', key, unpack(fields))
            for i = i0, i1 do
                counts[i][only] = tonumber(v[i - i0 + 1]) or 0
            end
        else
            local flat = redis.call('HGETALL', key)
            for j = 1, #flat, 2 do
                local label, hh = string.match(flat[j], '^(.+):(%d%d)$')
                local i = hh and tonumber(hh) - h0 + i0
                if i and i >= i0 and i <= i1 then
                    counts[i][label] = tonumber(flat[j + 1])
                    seen[label] = true
                end
            end
        end
    end
end

local labels = {}
if only ~= '' then
    labels[1] = only
else
    for label in pairs(seen) do
        labels[#labels + 1] = label
    end
    table.sort(labels)
end

local buckets = {}
for i = 1, n do
    local pairs_ = {'{'}
    for _, label in ipairs(labels) do
        pairs_[#pairs_ + 1] = label
        pairs_[#pairs_ + 1] = counts[i][label] or 0
    end
    buckets[i] = obj('at', first + (i - 1) * size, 'counts', pairs_)
end

return ok(200, obj('bucket', bucket, 'from', first, 'to', to,
                   'categories', list(labels), 'buckets', list(buckets)))
