-- GET metrics (an admin) and cs_metrics (a scraper nginx lets through):
-- the desk's figures, read in O(number of figures), never a scan: the
-- hash <prefix>metrics (see ngx_http_cs_metrics.lua), the state indexes'
-- cardinalities, the agents' records and the rules' counts.
-- ARGV[1]: 'admin', or 'scrape' for cs_metrics (nginx sets it; no token).
-- ARGV[6]: 'json' for GET metrics' object, 'prometheus' for the text
-- exposition format 0.0.4 (the answer's value is then the whole text).
-- ARGV[7..]: the routing settings (see routing()): cs_agents' names.
-- Runs after ngx_http_cs_common.lua and ngx_http_cs_metrics.lua.

if role ~= 'scrape' then
    local c, refusal = who_calls(false)
    if not c then
        return refusal
    end
end

local format = ARGV[6]
local R = routing(7)

local CHANNELS = {'web', 'email', 'chat', 'social', 'phone', 'api'}
local PRIORITIES = {'low', 'normal', 'high', 'urgent'}

local m = redis.pcall('HGETALL', METRICS)
if m.err then
    return redis.error_reply('CSWRONGTYPE ' .. METRICS)
end
local f = {}
for i = 1, #m, 2 do
    f[m[i]] = m[i + 1]
end

local function n(field)
    return tonumber(f[field]) or 0
end

-- a / b * 100, nil when b is 0
local function percent(a, b)
    if b == 0 then
        return nil
    end
    return a / b * 100
end

-- the figures ------------------------------------------------------------

-- the tickets created, summed by channel, priority, category label and
-- the user's count then (1: a customer, 2: a repeat customer)
local total = 0
local channels, priorities, categories, nths = {}, {}, {}, {}
local rules, solved = {}, {}
for k, v in pairs(f) do
    local ch, pr, cat, nth =
        string.match(k, '^tickets:([^:]+):([^:]+):([^:]+):([^:]+)$')
    if ch then
        v = tonumber(v) or 0
        total = total + v
        channels[ch] = (channels[ch] or 0) + v
        priorities[pr] = (priorities[pr] or 0) + v
        categories[cat] = (categories[cat] or 0) + v
        nths[nth] = (nths[nth] or 0) + v
    end
    local rule = string.match(k, '^rule:(.+)$')
    if rule then
        rules[#rules + 1] = rule
    end
    local agent = string.match(k, '^agent_solved:(.+)$')
    if agent then
        solved[agent] = tonumber(v) or 0
    end
end

-- every channel and priority, 0 included; the categories seen
local by_channel, by_priority, by_category = {}, {}, {}
for _, c in ipairs(CHANNELS) do
    by_channel[#by_channel + 1] = {c, channels[c] or 0}
end
for _, pr in ipairs(PRIORITIES) do
    by_priority[#by_priority + 1] = {pr, priorities[pr] or 0}
end
for cat, v in pairs(categories) do
    by_category[#by_category + 1] = {cat, v}
end
table.sort(by_category, function(a, b) return a[1] < b[1] end)
table.sort(rules)

local by_state = {}
for _, s in ipairs(STATES) do
    by_state[#by_state + 1] = {s, redis.call('ZCARD', p .. 'state:' .. s)}
end

-- a histogram: cumulative buckets {le, count}, the count, the sum (s), and
-- the q-quantile as the reader of fixed buckets gets it: linear within
-- the bucket where the rank falls (nil without a count; the last finite
-- bound when it falls past it)
local function histogram(h)
    local buckets, cum = {}, 0
    for _, b in ipairs(TIME_BOUNDS) do
        cum = cum + n(h .. '_bucket:' .. b)
        buckets[#buckets + 1] = {b, cum}
    end
    cum = cum + n(h .. '_bucket:+Inf')
    buckets[#buckets + 1] = {'+Inf', cum}
    local H = {buckets = buckets, count = cum, sum = n(h .. '_ms') / 1000}
    function H.quantile(q)
        if cum == 0 then
            return nil
        end
        local rank, lo, below = q * cum, 0, 0
        for _, b in ipairs(buckets) do
            if b[1] == '+Inf' then
                return lo
            end
            if b[2] >= rank and b[2] > below then
                return lo + (b[1] - lo) * (rank - below) / (b[2] - below)
            end
            lo, below = b[1], b[2]
        end
        return lo
    end
    return H
end

local frt, res = histogram('first_response'), histogram('resolution')

-- the agents: the registry's (or cs_agents': their open tickets are
-- their load, and they have no capacity), by name
local agents = {}
if static_agents then
    for _, name in ipairs(R.static) do
        local load = redis.call('LLEN', p .. 'queue:' .. name)
        agents[#agents + 1] = {name = name, load = load,
                               solved = solved[name] or 0}
    end
else
    for _, name in ipairs(redis.call('SMEMBERS', p .. 'agents')) do
        local a = redis.call('HMGET', p .. 'agent:' .. name, 'load',
                             'capacity')
        agents[#agents + 1] = {name = name, load = tonumber(a[1]) or 0,
                               capacity = tonumber(a[2]),
                               solved = solved[name] or 0}
    end
end
table.sort(agents, function(a, b) return a.name < b.name end)

local rule_counts = {}
for _, name in ipairs(rules) do
    local r = redis.call('HMGET', p .. 'rule:' .. name, 'answered',
                         'reopened')
    rule_counts[#rule_counts + 1] = {name = name,
                                     answered = tonumber(r[1]) or 0,
                                     reopened = tonumber(r[2]) or 0}
end

local csat_pct = percent(n('csat_satisfied'), n('csat_ratings'))
local loyalty_pct = percent((nths['2'] or 0), (nths['1'] or 0))
local ces_mean = n('ces_ratings') > 0 and n('ces_sum') / n('ces_ratings')
                 or nil
local auto_rate = percent(n('auto_resolved') - n('auto_reopened'), total)

-- JSON -------------------------------------------------------------------

-- a number that may have a fraction ({'#', text}; nil is null)
local function real(x)
    if x == nil then
        return NULL
    end
    if x == math.floor(x) and math.abs(x) < 1e15 then
        return {'#', string.format('%d', x)}
    end
    return {'#', string.format('%.10g', x)}
end

if format == 'json' then
    local function counts(pairs_list)
        local o = {'{'}
        for _, kv in ipairs(pairs_list) do
            o[#o + 1] = kv[1]
            o[#o + 1] = kv[2]
        end
        return o
    end

    local function times(H)
        local b = {}
        for _, x in ipairs(H.buckets) do
            b[#b + 1] = obj('le', x[1], 'count', x[2])
        end
        return obj('count', H.count, 'sumSeconds', real(H.sum),
                   'medianSeconds', real(H.quantile(0.5)),
                   'p90Seconds', real(H.quantile(0.9)),
                   'buckets', list(b))
    end

    local a = {}
    for _, x in ipairs(agents) do
        a[#a + 1] = obj('name', x.name, 'load', x.load,
                        'capacity', x.capacity, 'solved', x.solved)
    end
    local rl = {}
    for _, x in ipairs(rule_counts) do
        rl[#rl + 1] = obj('rule', x.name, 'answered', x.answered,
                          'reopened', x.reopened)
    end

    return ok(200, obj(
        'tickets', obj('total', total, 'byState', counts(by_state),
                       'byChannel', counts(by_channel),
                       'byPriority', counts(by_priority),
                       'byCategory', counts(by_category)),
        'csat', obj('ratings', n('csat_ratings'),
                    'satisfied', n('csat_satisfied'),
                    'percent', real(csat_pct)),
        'loyalty', obj('customers', (nths['1'] or 0),
                       'repeat', (nths['2'] or 0),
                       'percent', real(loyalty_pct)),
        'ces', obj('ratings', n('ces_ratings'), 'sum', n('ces_sum'),
                   'mean', real(ces_mean)),
        'autoResolution', obj('tickets', total,
                              'autoResolved', n('auto_resolved'),
                              'reopened', n('auto_reopened'),
                              'rate', real(auto_rate)),
        'firstResponse', times(frt),
        'resolution', times(res),
        'agents', list(a),
        'rules', list(rl)))
end

-- Prometheus text exposition 0.0.4 ---------------------------------------

local out = {}

local function value(x)
    if x == nil then
        return 'NaN'
    end
    if x == math.floor(x) and math.abs(x) < 1e15 then
        return string.format('%d', x)
    end
    return string.format('%.10g', x)
end

-- a label's value, escaped as the format asks
local function esc(s)
    s = string.gsub(tostring(s), '\\', '\\\\')
    s = string.gsub(s, '"', '\\"')
    return (string.gsub(s, '\n', '\\n'))
end

local function family(name, kind, help)
    out[#out + 1] = '# HELP ' .. name .. ' ' .. help
    out[#out + 1] = '# TYPE ' .. name .. ' ' .. kind
end

local function sample(name, x, label, v)
    if label then
        name = name .. '{' .. label .. '="' .. esc(v) .. '"}'
    end
    out[#out + 1] = name .. ' ' .. value(x)
end

-- one family of samples {label value, count}
local function labelled(name, kind, help, label, rows)
    family(name, kind, help)
    for _, kv in ipairs(rows) do
        sample(name, kv[2], label, kv[1])
    end
end

local function prom_histogram(name, help, H)
    family(name, 'histogram', help)
    for _, b in ipairs(H.buckets) do
        local le = b[1] == '+Inf' and '+Inf' or value(b[1])
        out[#out + 1] = name .. '_bucket{le="' .. le .. '"} ' .. b[2]
    end
    out[#out + 1] = name .. '_sum ' .. value(H.sum)
    out[#out + 1] = name .. '_count ' .. H.count
end

labelled('cs_tickets', 'gauge', 'Tickets now in each state.', 'state',
         by_state)
family('cs_tickets_created_total', 'counter', 'Tickets created.')
sample('cs_tickets_created_total', total)
labelled('cs_tickets_created_by_channel_total', 'counter',
         'Tickets created, by channel.', 'channel', by_channel)
labelled('cs_tickets_created_by_priority_total', 'counter',
         'Tickets created, by their priority at intake.', 'priority',
         by_priority)
labelled('cs_tickets_created_by_category_total', 'counter',
         'Tickets created, by their category at intake (the first 50 '
         .. 'seen; later ones are other, none is none).', 'category',
         by_category)

family('cs_csat_ratings_total', 'counter', 'Tickets rated (csat).')
sample('cs_csat_ratings_total', n('csat_ratings'))
family('cs_csat_satisfied_ratings', 'gauge',
       'Ratings of 4 or 5 as they stand (a changed rating moves it).')
sample('cs_csat_satisfied_ratings', n('csat_satisfied'))
family('cs_csat_percent', 'gauge',
       'CSAT: ratings of 4 or 5 / all ratings * 100 (NaN before any).')
sample('cs_csat_percent', csat_pct)

family('cs_customers_total', 'counter', 'Users with at least one ticket.')
sample('cs_customers_total', (nths['1'] or 0))
family('cs_customers_repeat_total', 'counter',
       'Users with two tickets or more.')
sample('cs_customers_repeat_total', (nths['2'] or 0))
family('cs_loyalty_percent', 'gauge',
       'Loyalty: users with two tickets or more / users * 100.')
sample('cs_loyalty_percent', loyalty_pct)

family('cs_ces_ratings', 'gauge', 'Ratings with a ces (1 to 7), as they '
       .. 'stand.')
sample('cs_ces_ratings', n('ces_ratings'))
family('cs_ces_sum', 'gauge', 'The sum of the ces ratings, as they stand.')
sample('cs_ces_sum', n('ces_sum'))
family('cs_ces_mean', 'gauge', 'CES: the mean ces rating (1 to 7).')
sample('cs_ces_mean', ces_mean)

family('cs_tickets_auto_resolved_total', 'counter',
       'Tickets a rule answered at intake.')
sample('cs_tickets_auto_resolved_total', n('auto_resolved'))
family('cs_tickets_auto_reopened_total', 'counter',
       'Tickets a rule answered that their customer reopened.')
sample('cs_tickets_auto_reopened_total', n('auto_reopened'))
family('cs_auto_resolution_percent', 'gauge',
       'Auto-resolved tickets never reopened / all tickets * 100.')
sample('cs_auto_resolution_percent', auto_rate)

prom_histogram('cs_first_response_seconds',
               'Creation to the first public answer of an agent or admin.',
               frt)
prom_histogram('cs_resolution_seconds',
               'Creation to the first solve (0 for an auto-resolved ticket).',
               res)

local loads, caps, solves = {}, {}, {}
for _, x in ipairs(agents) do
    loads[#loads + 1] = {x.name, x.load}
    if x.capacity then
        caps[#caps + 1] = {x.name, x.capacity}
    end
    solves[#solves + 1] = {x.name, x.solved}
end
labelled('cs_agent_load', 'gauge', 'An agent\'s assigned tickets.', 'agent',
         loads)
labelled('cs_agent_capacity', 'gauge', 'An agent\'s capacity.', 'agent',
         caps)
labelled('cs_agent_solved_total', 'counter',
         'Moves to solved of tickets the agent had.', 'agent', solves)

local answered, reopened = {}, {}
for _, x in ipairs(rule_counts) do
    answered[#answered + 1] = {x.name, x.answered}
    reopened[#reopened + 1] = {x.name, x.reopened}
end
labelled('cs_rule_answered_total', 'counter',
         'Tickets a rule answered at intake.', 'rule', answered)
labelled('cs_rule_reopened_total', 'counter',
         'Tickets a rule answered that their customer reopened.', 'rule',
         reopened)

return ok(200, table.concat(out, '\n') .. '\n')
