-- wrk -s bench/lua/wrk-mix.lua http://127.0.0.1:PORT/api/: the desk's mix,
-- nine requests in ten an intake (as bench/lua/wrk-post.lua posts it), the
-- tenth the next step of a ticket taken in earlier: the customer reads it
-- (GET tickets/{id} with its token), an admin solves it (POST status,
-- $BENCH_ADMIN_KEY), the customer rates it (POST feedback).  A step is
-- queued only once the answer to the one before came, so steps of one
-- ticket never race; a later step goes first, and when none is ready the
-- slot is an intake.  The
-- summary counts 2xx and the rest for each kind, for bench/run.sh to read:
-- ok and other are every request's, intake_ok the tickets made.

local admin = os.getenv("BENCH_ADMIN_KEY") or ""

local head = '{"userId":"bench-user-'
local tail = '","issue":"My order #1042 has not arrived and the tracking '
             .. 'page shows no update since Monday.","category":"shipping",'
             .. '"priority":"high","channel":"web",'
             .. '"email":"customer@example.com"}'

local KINDS = {"intake", "read", "solve", "rate"}
local READY_MAX = 1000  -- tickets waiting for their next step, at most

local threads = {}
local n = 0

local token = {}        -- ticket id -> the customer's token
-- the tickets whose next step may go, by step: a later step first, so
-- that the tickets begun are carried to their end
local ORDER = {"rate", "solve", "read"}
local ready = {read = {}, solve = {}, rate = {}}
local first = {read = 1, solve = 1, rate = 1}   -- the oldest's index
local last = {read = 0, solve = 0, rate = 0}    -- the newest's

counts = {}             -- "<kind> <2xx|other>" -> count, via thread:get()
ok = 0
other = 0
intake_ok = 0
codes = {}              -- status -> count, for everything not 2xx

function setup(thread)
    threads[#threads + 1] = thread
end

local function count(kind, good)
    local key = kind .. (good and " 2xx" or " other")
    counts[key] = (counts[key] or 0) + 1
end

local function push(id, kind)
    local q, f = ready[kind], first[kind]
    if last[kind] - f + 1 >= READY_MAX then
        token[q[f]] = nil
        q[f] = nil
        first[kind] = f + 1
    end
    last[kind] = last[kind] + 1
    q[last[kind]] = id
end

local function pop()
    for _, kind in ipairs(ORDER) do
        local q, f = ready[kind], first[kind]
        local id = q[f]
        if id ~= nil then
            q[f] = nil
            first[kind] = f + 1
            return {id, kind}
        end
    end
    return nil
end

function request()
    n = n + 1
    local step = (n % 10 == 0) and pop() or nil

    if step == nil then
        return wrk.format("POST", wrk.path .. "service",
                          {["Content-Type"] = "application/json"},
                          head .. (n % 10000) .. tail)
    end

    local id, kind = step[1], step[2]
    if kind == "read" then
        return wrk.format("GET", wrk.path .. "tickets/" .. id,
                          {["Authorization"] = "Bearer " .. token[id]})
    elseif kind == "solve" then
        return wrk.format("POST", wrk.path .. "tickets/" .. id .. "/status",
                          {["Authorization"] = "Bearer " .. admin,
                           ["Content-Type"] = "application/json"},
                          '{"state":"solved"}')
    end
    return wrk.format("POST", wrk.path .. "tickets/" .. id .. "/feedback",
                      {["Authorization"] = "Bearer " .. token[id],
                       ["Content-Type"] = "application/json"},
                      '{"csat":4,"ces":5}')
end

function response(status, headers, body)
    local good = status >= 200 and status < 300
    local id = tonumber(string.match(body, '"ticketId":(%d+)') or "")
    local kind = "intake"

    if string.find(body, '"token":"', 1, true) then
        if good then
            token[id] = string.match(body, '"token":"([^"]+)"')
            intake_ok = intake_ok + 1
            push(id, "read")
        end
    elseif string.find(body, '"csat":', 1, true) then
        kind = "rate"
        token[id] = nil
    elseif string.find(body, '"messages":', 1, true) then
        kind = "read"
        push(id, "solve")
    elseif id ~= nil then
        kind = "solve"
        push(id, "rate")
    end

    count(kind, good)
    if good then
        ok = ok + 1
    else
        other = other + 1
        codes[status] = (codes[status] or 0) + 1
    end
end

function done(summary, latency, requests)
    local all_ok, all_other, all_intake, all_codes, all = 0, 0, 0, {}, {}

    for _, t in ipairs(threads) do
        all_ok = all_ok + t:get("ok")
        all_other = all_other + t:get("other")
        all_intake = all_intake + t:get("intake_ok")
        for status, c in pairs(t:get("codes")) do
            all_codes[status] = (all_codes[status] or 0) + c
        end
        for key, c in pairs(t:get("counts")) do
            all[key] = (all[key] or 0) + c
        end
    end

    local list = {}
    for status, c in pairs(all_codes) do
        list[#list + 1] = status .. ":" .. c
    end
    table.sort(list)

    local kinds = {}
    for _, k in ipairs(KINDS) do
        kinds[#kinds + 1] = k .. ":" .. (all[k .. " 2xx"] or 0) .. "/"
                            .. ((all[k .. " 2xx"] or 0)
                                + (all[k .. " other"] or 0))
    end

    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d ok=%d other=%d codes=%s connect=%d read=%d "
        .. "write=%d timeout=%d duration_us=%d p50_us=%d p90_us=%d "
        .. "p99_us=%d max_us=%d intake_ok=%d kinds=%s\n",
        summary.requests, all_ok, all_other,
        #list > 0 and table.concat(list, ",") or "-",
        e.connect, e.read, e.write, e.timeout, summary.duration,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, all_intake,
        table.concat(kinds, ",")))
end
