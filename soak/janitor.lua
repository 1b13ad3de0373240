-- The soak's janitor: keeps Redis at a steady size, so that a long soak
-- measures nginx and not a Redis whose dicts keep growing (a main dict
-- rehash at ~8M keys slowed a 10-minute run to a third of its rate).
-- Deletes the oldest tickets beyond the newest KEEP, at most BATCH per call,
-- with the Idempotency-Key record of each (the load client's issue text
-- "<tag> #<i>: ..." names its key "<tag>-<i>"), trims the user's history
-- (named by the ticket's userKey) and the agents' queues.  Run by
-- soak/janitor.pl every 25 ms.
-- ARGV: prefix, keep, batch, agents...
local p, keep, batch = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local seq = tonumber(redis.call('GET', p .. 'ticket:seq') or '0')
local from = tonumber(redis.call('GET', p .. 'janitor:next') or '1')
local to = math.min(seq - keep, from + batch - 1)
if to < from then
    return 0
end
for id = from, to do
    local k = p .. 'ticket:' .. id
    local f = redis.call('HMGET', k, 'issue', 'userKey')
    if f[1] and f[2] then
        local tag, i = string.match(f[1], '^(%S+) #(%d+):')
        if tag then
            redis.call('UNLINK', p .. 'idem:' .. tag .. '-' .. i)
        end
        redis.call('LTRIM', p .. 'user:' .. f[2] .. ':tickets', -100, -1)
    end
    redis.call('UNLINK', k)
end
redis.call('SET', p .. 'janitor:next', to + 1)
for i = 4, #ARGV do
    redis.call('LTRIM', p .. 'queue:' .. ARGV[i], -keep, -1)
end
return to - from + 1
