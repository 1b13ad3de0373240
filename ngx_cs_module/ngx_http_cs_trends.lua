-- GET trends (admin): created tickets per category label per UTC hour or
-- day, from the buckets the intake keeps (ngx_http_cs_insights.lua).
-- The buckets are those that meet [from, to): from rounded down to its
-- bucket's start, to up to a bucket's end; every one is listed, with a
-- count (0 when none) for every label that has one in the range, or for
-- the one label asked.  At most 2160 hourly buckets (90 days) or 1096
-- daily ones (3 years); more, or from after to, is 422 invalid_field.
-- ARGV[6..9]: from and to (ms; '' for the defaults: to now, from a day of
-- hours or 30 days before to), the bucket (hour or day), the category
-- ('' for all).
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_insights.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local bucket, only = ARGV[8], ARGV[9]
local size, most, letter = TREND_HOUR, 2160, 'h'
if bucket == 'day' then
    size, most, letter = TREND_DAY, 1096, 'd'
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

local counts, seen = {}, {}
for i = 1, n do
    local key = p .. 'trend:' .. letter .. ':' .. (first + (i - 1) * size)
    local b = {}
    if only ~= '' then
        b[only] = tonumber(redis.call('HGET', key, only)) or 0
    else
        local flat = redis.call('HGETALL', key)
        for j = 1, #flat, 2 do
            b[flat[j]] = tonumber(flat[j + 1])
            seen[flat[j]] = true
        end
    end
    counts[i] = b
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
