-- POST agents/{name}/token: a new token for the agent (201; nginx adds it
-- to the answer); the old one stops working at once.
-- ARGV[6]: the SHA-256 of the new token.  Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(true)
if not c then
    return refusal
end

local key, missing = agent_key()
if not key then
    return missing
end

local refused = foreign(unpack(event_keys({{key, 'hash'}})))
if refused then
    return refused
end
event('agent.token', 'agent', param)
redis.call('HSET', key, 'token', ARGV[6])

return ok(201, obj('agent', param))
