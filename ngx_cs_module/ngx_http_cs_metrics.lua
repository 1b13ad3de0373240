-- The desk's figures (DESIGN §Metrics), kept as tickets move: the library
-- has this file after ngx_http_cs_routing.lua, and each script that moves
-- a figure calls one of the functions below, after its checks (the hash's
-- type among them).
--
-- Every figure of the past is a field of one hash, <prefix>metrics, moved
-- by HINCRBY: an event costs a few commands on one key, and GET metrics
-- reads them all with one HGETALL.  Its fields:
--   tickets:<channel>:<priority>:<label>:<nth>   tickets created, by the
--       values given at intake and by how many tickets their user had
--       then, one counter per combination, so that an intake adds to one
--       field (the reader sums them by channel, priority, category and
--       nth).  The first 50 categories seen have a label of their own
--       (label:<category> is 1, categories counts them), the rest count
--       as `other`, none as `none`.  <nth> is 1 for the user's first
--       ticket (the user's index <prefix>user:<ukey>:tickets went 0 -> 1:
--       a customer), 2 for its second (1 -> 2: a repeat customer), n
--       after.
--   csat_ratings, csat_sum, csat_satisfied (4 or 5), ces_ratings, ces_sum
--       the ratings as they stand (a changed rating moves them)
--   auto_resolved, auto_reopened   tickets a rule answered, and those of
--       them a customer reopened (once each: a ticket is auto_resolved
--       only at intake)
--   first_response_bucket:<le>, first_response_ms, resolution_bucket:<le>,
--   resolution_ms   the time histograms: a count per bucket (not
--       cumulative; <le> is the bucket's upper bound in seconds, or +Inf)
--       and the sum in ms
--   agent_solved:<name>   moves to solved while the ticket was the agent's
--   rule:<name>   1 for each rule that ever answered (the rules GET
--       metrics lists; their counts are <prefix>rule:<name>'s)
-- The tickets by state are the present: the state indexes' cardinalities.

-- <prefix>metrics, set by each call (desk() in ngx_http_cs_library.lua)
local METRICS
local CATEGORY_LABELS = 50

-- the time histograms' upper bounds (s): 10s 30s 1m 2m 5m 10m 15m 30m 1h
-- 2h 4h 8h 12h 1d 2d 3d 5d 7d 14d 30d, then +Inf
local TIME_BOUNDS = {10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
                     14400, 28800, 43200, 86400, 172800, 259200, 432000,
                     604800, 1209600, 2592000}

-- a duration (ms) into histogram h: 'first_response' or 'resolution'
local function metrics_time(h, ms)
    ms = math.max(0, ms)
    local le = '+Inf'
    for _, b in ipairs(TIME_BOUNDS) do
        if ms <= b * 1000 then
            le = b
            break
        end
    end
    redis.call('HINCRBY', METRICS, h .. '_bucket:' .. le, 1)
    redis.call('HINCRBY', METRICS, h .. '_ms', ms)
end

-- the intake, before its first write: the label a ticket of this category
-- ('' for none) counts under, and true when the label is new; this read
-- proves the hash's type: nil and the error reply when it is foreign
local function metrics_label(category)
    local r = redis.pcall('HMGET', METRICS, 'label:' .. category,
                          'categories')
    if r.err then
        return nil, redis.error_reply('CSWRONGTYPE ' .. METRICS)
    end
    if category == '' then
        return 'none'
    end
    if r[1] then
        return category
    end
    if (tonumber(r[2]) or 0) < CATEGORY_LABELS then
        return category, true
    end
    return 'other'
end

-- a ticket created: its channel, priority and category label (new: the
-- label's first ticket), how many tickets its user has now, and the rule
-- that answered it (nil for none; the resolution time is then 0)
local function metrics_created(channel, priority, label, new, tickets, rule)
    local nth = (tickets == 1 or tickets == 2) and tickets or 'n'
    redis.call('HINCRBY', METRICS, 'tickets:' .. channel .. ':' .. priority
               .. ':' .. label .. ':' .. nth, 1)
    if new then
        redis.call('HSET', METRICS, 'label:' .. label, 1)
        redis.call('HINCRBY', METRICS, 'categories', 1)
    end
    if rule then
        redis.call('HINCRBY', METRICS, 'auto_resolved', 1)
        redis.call('HSETNX', METRICS, 'rule:' .. rule, 1)
        metrics_time('resolution', 0)
    end
end

-- a rating replaced (old_csat nil: the first) by another; a ces may be nil
local function metrics_rating(old_csat, old_ces, csat, ces)
    local d = {csat_ratings = 1, csat_sum = csat - (old_csat or 0),
               csat_satisfied = (csat >= 4 and 1 or 0)
                                - ((old_csat or 0) >= 4 and 1 or 0),
               ces_ratings = (ces and 1 or 0) - (old_ces and 1 or 0),
               ces_sum = (ces or 0) - (old_ces or 0)}
    if old_csat then
        d.csat_ratings = 0
    end
    for _, f in ipairs({'csat_ratings', 'csat_sum', 'csat_satisfied',
                        'ces_ratings', 'ces_sum'}) do
        redis.call('HINCRBY', METRICS, f, d[f])
    end
end

-- a ticket's first public answer by an agent or admin, ms after creation
local function metrics_first_response(ms)
    metrics_time('first_response', ms)
end

-- a ticket solved while it was agent's (nil: none); first: ms from its
-- creation to this solve when this is its first, else nil
local function metrics_solved(agent, first)
    if agent then
        redis.call('HINCRBY', METRICS, 'agent_solved:' .. agent, 1)
    end
    if first then
        metrics_time('resolution', first)
    end
end

-- a customer reopened a ticket a rule had answered
local function metrics_auto_reopened()
    redis.call('HINCRBY', METRICS, 'auto_reopened', 1)
end
