-- POST tickets/{id}/feedback: the customer rates a solved, closed or
-- auto_resolved ticket (else 409 feedback_not_open): csat 1-5, ces 1-7,
-- a comment.  One rating per ticket: a new post within cs_feedback_window
-- of the first replaces the whole rating (an omitted ces is gone), and
-- every figure follows the change; after it, 409 feedback_closed.  A
-- rating at or under cs_alert_csat is an alert when it becomes unhappy:
-- PUBLISH <prefix>alerts and an entry in the <prefix>alerts stream, with
-- the ticket, its agent and category and the csat, never the comment or
-- the user.
-- ARGV[6..13]: csat, ces ('' for none), '1' when a comment was sent, the
-- comment, cs_feedback_window (ms), cs_alert_csat, cs_recurring's N and
-- window (ms); ARGV[14] '1' when the comment arrives sealed to this
-- ticket (cs_encrypt_key: stored as feedbackComment_enc).  A rating that
-- becomes unhappy, or stops being so, counts in its category's recurring
-- problems (ngx_http_cs_insights.lua).
-- Runs after ngx_http_cs_common.lua, ngx_http_cs_metrics.lua and
-- ngx_http_cs_insights.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

local csat, ces = tonumber(ARGV[6]), tonumber(ARGV[7])
local has_comment, comment = ARGV[8] == '1', ARGV[9]
local window, alert_at = tonumber(ARGV[10]), tonumber(ARGV[11])
local recur_n, recur_window = tonumber(ARGV[12]), tonumber(ARGV[13])
local sealed = ARGV[14] == '1'

-- a customer's token opens its own ticket and no other
if c.role ~= 'customer' or c.ticket ~= param then
    return UNAUTHORIZED
end

local key = p .. 'ticket:' .. param
local t = hash(key)
if not t then
    return err(404, 'not_found', 'there is no such ticket')
end

if t.state ~= 'solved' and t.state ~= 'closed'
   and t.state ~= 'auto_resolved'
then
    return err(409, 'feedback_not_open',
               'feedback opens once the ticket is solved')
end

local now = now_ms()
local first = tonumber(t.feedbackAt)
if first and now - first > window then
    return err(409, 'feedback_closed',
               'the time to change this rating is over')
end

local alerts = p .. 'alerts'
local old_csat = tonumber(t.csat)
-- an alert when the rating becomes unhappy, not when it stays so
local unhappy = csat <= alert_at and not (old_csat and old_csat <= alert_at)
local insights, refused = feedback_insights_plan(t, param, csat,
    old_csat, alert_at, now, recur_n, recur_window)
refused = refused
    or foreign(unpack(event_keys({{METRICS, 'hash'}, {alerts, 'stream'}},
                                 param)))
-- the alert is the last write: its stream has room (proven already when
-- the rating raises a recurring alert too)
if not refused and unhappy and not insights.alert then
    refused = stream_room(alerts)
end
if refused then
    return refused
end
event('ticket.feedback', 'ticketId', param, 'csat', csat, 'ces', ces or '')

-- the figures: the old rating out, the new one in
metrics_rating(old_csat, tonumber(t.ces), csat, ces)

local fields = {'csat', csat, 'feedbackUpdatedAt', now}
if not first then
    fields[#fields + 1] = 'feedbackAt'
    fields[#fields + 1] = now
end
if ces then
    fields[#fields + 1] = 'ces'
    fields[#fields + 1] = ces
else
    redis.call('HDEL', key, 'ces')
end
if has_comment then
    fields[#fields + 1] = sealed and 'feedbackComment_enc' or 'feedbackComment'
    fields[#fields + 1] = comment
end
-- one comment: a new rating's, in its field, or none
if has_comment and sealed then
    redis.call('HDEL', key, 'feedbackComment')
elseif has_comment then
    redis.call('HDEL', key, 'feedbackComment_enc')
else
    redis.call('HDEL', key, 'feedbackComment', 'feedbackComment_enc')
end
redis.call('HSET', key, unpack(fields))
feedback_insights_write(insights, key, param, now, recur_n, recur_window)

local alerted = false
if unhappy then
    local alert = cjson.encode({type = 'csat', ticketId = tonumber(param),
                                agent = t.agent or cjson.null,
                                category = t.category or cjson.null,
                                csat = csat})
    redis.call('XADD', alerts, 'MAXLEN', '~', 10000, '*', 'alert', alert)
    redis.call('PUBLISH', alerts, alert)
    alerted = true
end

return ok(first and 200 or 201,
          obj('ticketId', tonumber(param), 'csat', csat, 'ces', ces,
              'comment', has_comment
                         and (sealed and seal_of('ticket:' .. param,
                                                 'comment', comment)
                              or comment)
                         or NULL,
              'alert', alerted and TRUE or FALSE))
