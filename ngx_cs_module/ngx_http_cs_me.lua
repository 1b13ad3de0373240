-- GET me: who the token names.  A customer is named by its ticket id.
-- Runs after ngx_http_cs_common.lua.

local c, refusal = who_calls(false)
if not c then
    return refusal
end

if c.role == 'customer' then
    return ok(200, obj('role', 'customer', 'name', tonumber(c.ticket)))
end

return ok(200, obj('role', c.role, 'name', c.name))
