-- The benchmark's peer: POST /api/service written the way an OpenResty
-- user would write it, with Debian's packages (libnginx-mod-http-lua,
-- lua-nginx-redis, lua-cjson).  It checks what the module checks, in the
-- same order, and runs the SAME Redis function with the same ARGV layout
-- (ngx_cs_module/ngx_http_cs_intake.lua in the desk's library, FCALL,
-- the library loaded again on "Function not found"),
-- one pooled Redis connection per request in flight.
--
-- Differences that the module does not have and that this peer accepts:
-- cjson keeps the last of duplicate keys, and the first field at fault is
-- found in a fixed order, not in body order.  Neither changes the cost of
-- a valid ticket, which is all the benchmark sends.

local cjson = require "cjson.safe"
local redis = require "nginx.redis"

local ngx = ngx
local type = type
local pairs = pairs
local tostring = tostring
local str_find = string.find
local re_find = ngx.re.find

local _M = {}

local conf, library, intake_fn
local static_args       -- assign, idem, count, agents...
local n_static

local priorities = { low = true, normal = true, high = true, urgent = true }
local channels = { web = true, email = true, chat = true, social = true,
                   phone = true, api = true }
local known = { userId = true, issue = true, category = true,
                priority = true, channel = true, email = true }


-- a name of 16 bytes in base64url, as the module makes the user's key name
-- (HMAC-SHA256 of "key:" userId under the public key of a desk without
-- cs_secret; lua-nginx has HMAC-SHA1 only, of the same cost) and the event
-- id of a new user (RAND_bytes in the module)
local url_chars = { ["+"] = "-", ["/"] = "_" }
local USER_KEY = "ngx_cs_module user keys: no cs_secret"

local function name(bytes)
    local b = ngx.encode_base64(bytes:sub(1, 16), true)
    return (b:gsub("[+/]", url_chars))
end


-- c: library (the desk's library, as ngx_http_cs_library.sh makes it,
--    named library_name), library_name, redis_host, redis_port, prefix,
--    agents, assign, timeout (ms), connect_timeout (ms), pool_size,
--    issue_max
function _M.init(c)
    local f = assert(io.open(c.library, "rb"))
    library = f:read("*a")
    f:close()
    intake_fn = c.library_name .. "_intake"

    conf = c
    static_args = { c.assign, "", tostring(#c.agents) }
    for i = 1, #c.agents do
        static_args[3 + i] = c.agents[i]
    end
    n_static = #static_args
end


local function send(status, body, extra)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    if extra then
        for k, v in pairs(extra) do
            ngx.header[k] = v
        end
    end
    ngx.print(body)
    return ngx.exit(ngx.HTTP_OK)
end


local function fail(status, code, message, field, extra)
    local t = { status = "error", error = code, message = message,
                field = field }
    return send(status, cjson.encode(t), extra)
end


local function is_json(ct)
    if not ct then
        return false
    end
    return re_find(ct, [[^\s*application/json\s*(;|$)]], "ijo") ~= nil
end


local function check_string(name, v)
    if type(v) ~= "string" then
        return "the value must be a string"
    end

    local len = #v

    if name == "userId" then
        if len == 0 or len > 128 then
            return "userId must be 1 to 128 bytes"
        end
        if str_find(v, "[%z\1-\31\127]") or str_find(v, "\194[\128-\159]")
        then
            return "userId must not contain control characters"
        end

    elseif name == "issue" then
        if len > conf.issue_max then
            return "issue is longer than the configured maximum"
        end
        if not str_find(v, "[^ \t\r\n]") then
            return "issue must not be blank"
        end

    elseif name == "category" then
        if len == 0 or len > 64 or str_find(v, "[^a-z0-9_%-]") then
            return "category must be 1 to 64 characters of [a-z0-9_-]"
        end

    elseif name == "priority" then
        if not priorities[v] then
            return "priority must be one of low, normal, high, urgent"
        end

    elseif name == "channel" then
        if not channels[v] then
            return "channel must be one of web, email, chat, social, "
                   .. "phone, api"
        end

    else -- email
        if len > 254 then
            return "email must be at most 254 bytes"
        end
        if str_find(v, "[%z\1-\32\127]") then
            return "email must not contain spaces or control characters"
        end
        local at = str_find(v, "@", 1, true)
        if not at or at == 1 or at == len
           or str_find(v, "@", at + 1, true)
        then
            return "email must contain one @ between a name and a domain"
        end
    end

    return nil
end


local order = { "userId", "issue", "category", "priority", "channel",
                "email" }


local function read_body()
    ngx.req.read_body()

    local body = ngx.req.get_body_data()
    if body then
        return body
    end

    local file = ngx.req.get_body_file()
    if not file then
        return ""
    end

    local f = io.open(file, "rb")
    if not f then
        return nil
    end
    body = f:read("*a")
    f:close()

    return body
end


function _M.handle()
    if ngx.req.get_method() ~= "POST" then
        return fail(405, "method_not_allowed", "only POST is allowed here",
                    nil, { Allow = "POST" })
    end

    if not is_json(ngx.var.content_type) then
        return fail(415, "unsupported_media_type",
                    "the body must be sent as Content-Type: application/json")
    end

    local idem = ngx.var.http_idempotency_key
    if idem == nil then
        idem = ""

    elseif #idem == 0 or #idem > 128 or str_find(idem, "[^\32-\126]") then
        return fail(400, "invalid_idempotency_key",
                    "Idempotency-Key must be one header of 1 to 128 "
                    .. "printable ASCII characters")
    end

    local body = read_body()
    if not body then
        return fail(500, "internal_error", "internal error")
    end

    -- PCRE's UTF-8 mode refuses an invalid subject: one pass over the body
    local _, _, err = re_find(body, [[^\s*\{]], "jou")
    if err or not str_find(body, "^%s*{") then
        return fail(400, "invalid_json", "the body must be a JSON object "
                    .. "in valid UTF-8")
    end

    local t = cjson.decode(body)
    if type(t) ~= "table" then
        return fail(400, "invalid_json", "the body is not valid JSON")
    end

    for k in pairs(t) do
        if not known[k] then
            return fail(422, "unknown_field", "unknown field",
                        tostring(k))
        end
    end

    local msg
    for i = 1, #order do
        local name = order[i]
        local v = t[name]
        if v == nil then
            if i <= 2 then
                return fail(422, "missing_field", name .. " is required",
                            name)
            end
        else
            msg = check_string(name, v)
            if msg then
                return fail(422, "invalid_field", msg, name)
            end
        end
    end

    -- the desk's prefix is the script's one key; the time is Redis' own
    local args = { intake_fn, 1, conf.prefix }
    for i = 1, n_static do
        args[3 + i] = static_args[i]
    end
    args[5] = idem
    local n = 3 + n_static
    args[n + 1] = t.userId
    args[n + 2] = t.issue
    args[n + 3] = t.category or ""
    args[n + 4] = t.priority or "normal"
    args[n + 5] = t.channel or "api"
    args[n + 6] = t.email or ""
    -- no nonce (no cs_secret), no proof, the presence timeout
    args[n + 7] = ""
    args[n + 8] = ""
    args[n + 9] = "60000"
    -- the user's key name, none under an old secret, a fresh event id
    args[n + 10] = name(ngx.hmac_sha1(USER_KEY, "key:" .. t.userId))
    args[n + 11] = ""
    args[n + 12] = name(ngx.sha1_bin(tostring(math.random()) .. ngx.now()))
    -- no cs_rule answers (no rules), no history, cs_sticky (unused with
    -- static agents)
    args[n + 13] = ""
    args[n + 14] = ""
    args[n + 15] = ""
    args[n + 16] = "0"
    -- cs_recurring's defaults: 5 tickets within an hour
    args[n + 17] = "5"
    args[n + 18] = "3600000"

    local red = redis:new()

    -- lua-nginx-redis 0.27 has one timeout for connect, send and read
    red:set_timeout(conf.connect_timeout)

    local ok
    ok, err = red:connect(conf.redis_host, conf.redis_port)
    if not ok then
        return fail(503, "store_unavailable",
                    "the ticket store is not reachable; retry later", nil,
                    { ["Retry-After"] = "1" })
    end

    red:set_timeout(conf.timeout)

    local res
    res, err = red:fcall(unpack(args))
    if not res and err and str_find(err, "Function not found", 1, true) then
        res, err = red["function"](red, "load", "replace", library)
        if res then
            res, err = red:fcall(unpack(args))
        end
    end

    if not res then
        red:close()
        if err == "timeout" then
            return fail(504, "store_timeout",
                        "the ticket store did not answer in time; retry "
                        .. "with the same Idempotency-Key")
        end
        ngx.log(ngx.ERR, "intake script failed: ", err)
        return fail(503, "store_unavailable",
                    "the ticket store refused the ticket; retry later", nil,
                    { ["Retry-After"] = "1" })
    end

    red:set_keepalive(60000, conf.pool_size)

    if res[1] == "reused" then
        return fail(409, "idempotency_key_reused",
                    "this Idempotency-Key was used for a different ticket")
    end

    local agent = res[3]
    return send(201, '{"status":"success","message":"Request received and '
                .. 'processed.","ticketId":' .. res[2] .. ',"agent":'
                .. (agent ~= "" and cjson.encode(agent) or "null")
                .. ',"state":' .. cjson.encode(res[4]) .. '}')
end


return _M
