-- GET insights (admin): the recurring problems that stand now, each a
-- label (ngx_http_cs_insights.lua) whose count within the window is at
-- least N: surges (created tickets) and unhappy ratings, most first.  Each
-- names its first and last ticket in the window, the rule that answers
-- the category (null for none), an action and a sentence for people:
--   investigate_surge  a surge;
--   add_rule           unhappy ratings in a category no rule answers;
--   review_rule        unhappy ratings in a category a rule answers (its
--                      answered and reopened counts, <prefix>rule:<name>,
--                      are in the sentence).
-- Reads only: the minutes that left a window are left for the next
-- ticket of that label to drop.
-- ARGV[6..]: cs_recurring's N and window (ms), then pairs of a category
-- and a cs_rule that has it, in the rules' order.
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_insights.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local threshold, window_ms = tonumber(ARGV[6]), tonumber(ARGV[7])
local rules = {}
for i = 8, #ARGV - 1, 2 do
    if not rules[ARGV[i]] then
        rules[ARGV[i]] = ARGV[i + 1]
    end
end

local now = now_ms()
local start = window_start(now, window_ms)
local since = start * MINUTE

-- "1h", "90m", "1h30m"
local function span(ms)
    local m = ms / MINUTE
    local h = math.floor(m / 60)
    m = m % 60
    if h == 0 then
        return m .. 'm'
    end
    return h .. 'h' .. (m > 0 and m .. 'm' or '')
end

-- a surge's count in the window, its first and last ticket
local function surge(label)
    local sk = surge_key(label)
    local n = tonumber(redis.call('HGET', sk, 'n'))
    if not n then
        return 0
    end
    local minutes = redis.call('LRANGE', sk .. ':minutes', 0, -1)
    local _, first
    _, n, first = surge_window(sk, minutes, n, start)
    if not first then
        return 0
    end
    local ids = redis.call('HMGET', sk, 'f' .. first, 'last')
    return n, tonumber(ids[1]), tonumber(ids[2])
end

local function unhappy(label)
    local zk = unhappy_key(label)
    local n = redis.call('ZCOUNT', zk, since, '+inf')
    if n == 0 then
        return 0
    end
    local first = redis.call('ZRANGEBYSCORE', zk, since, '+inf',
                             'LIMIT', 0, 1)
    local last = redis.call('ZREVRANGEBYSCORE', zk, '+inf', since,
                            'LIMIT', 0, 1)
    return n, tonumber(first[1]), tonumber(last[1])
end

local function sentence(kind, label, n, first, last, rule)
    local within = string.format('%d %s in category "%s" within %s '
                                 .. '(threshold %d), tickets %d to %d',
                                 n, kind == 'surge' and 'new tickets'
                                                     or 'unhappy ratings',
                                 label, span(window_ms), threshold,
                                 first, last)
    if kind == 'surge' then
        return 'Look into a surge: ' .. within .. (rule
            and string.format('; rule "%s" answers this category.', rule)
            or '; no rule answers this category.')
    end
    if not rule then
        return within .. ': add a cs_rule that answers "' .. label
               .. '", or look at how these tickets are handled.'
    end
    local r = redis.call('HMGET', p .. 'rule:' .. rule, 'answered',
                         'reopened')
    return string.format('%s: review rule "%s", which answers this '
                         .. 'category; %d of its %d answers were reopened.',
                         within, rule, tonumber(r[2]) or 0,
                         tonumber(r[1]) or 0)
end

-- the figures' labels (label:<category> in their hash), none and other
local labels = {}
for _, f in ipairs(redis.call('HKEYS', METRICS)) do
    local label = string.match(f, '^label:(.+)$')
    if label and label ~= 'none' and label ~= 'other' then
        labels[#labels + 1] = label
    end
end
labels[#labels + 1] = 'none'
labels[#labels + 1] = 'other'

local found = {}
for _, label in ipairs(labels) do
    for _, kind in ipairs({'surge', 'unhappy'}) do
        local n, first, last
        if kind == 'surge' then
            n, first, last = surge(label)
        else
            n, first, last = unhappy(label)
        end
        if n >= threshold then
            local rule = rules[label]
            local action = 'investigate_surge'
            if kind == 'unhappy' then
                action = rule and 'review_rule' or 'add_rule'
            end
            found[#found + 1] = {kind = kind, label = label, n = n,
                                 first = first, last = last, rule = rule,
                                 action = action}
        end
    end
end

table.sort(found, function(a, b)
    if a.n ~= b.n then
        return a.n > b.n
    end
    if a.kind ~= b.kind then
        return a.kind < b.kind
    end
    return a.label < b.label
end)

local items = {}
for i, f in ipairs(found) do
    items[i] = obj('kind', f.kind, 'category', f.label, 'count', f.n,
                   'threshold', threshold, 'windowSeconds', window_ms / 1000,
                   'firstTicketId', f.first, 'lastTicketId', f.last,
                   'rule', f.rule or NULL, 'action', f.action,
                   'suggestion', sentence(f.kind, f.label, f.n, f.first,
                                          f.last, f.rule))
end

return ok(200, obj('insights', list(items)))
