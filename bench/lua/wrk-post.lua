-- wrk -s bench/lua/wrk-post.lua: every request POSTs the same ticket with
-- a different userId (10000 users in turn), and the summary line counts
-- 2xx against everything else, for bench/run.sh to read.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local head = '{"userId":"bench-user-'
local tail = '","issue":"My order #1042 has not arrived and the tracking '
             .. 'page shows no update since Monday.","category":"shipping",'
             .. '"priority":"high","channel":"web",'
             .. '"email":"customer@example.com"}'

local threads = {}
local n = 0

ok = 0          -- read by done() through thread:get()
other = 0
codes = {}      -- status -> count, for everything not 2xx

function setup(thread)
    threads[#threads + 1] = thread
end

function request()
    n = n + 1
    return wrk.format(nil, nil, nil, head .. (n % 10000) .. tail)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
    else
        other = other + 1
        codes[status] = (codes[status] or 0) + 1
    end
end

function done(summary, latency, requests)
    local all_ok, all_other, all_codes = 0, 0, {}

    for _, t in ipairs(threads) do
        all_ok = all_ok + t:get("ok")
        all_other = all_other + t:get("other")
        for status, count in pairs(t:get("codes")) do
            all_codes[status] = (all_codes[status] or 0) + count
        end
    end

    local list = {}
    for status, count in pairs(all_codes) do
        list[#list + 1] = status .. ":" .. count
    end
    table.sort(list)

    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d ok=%d other=%d codes=%s connect=%d read=%d "
        .. "write=%d timeout=%d duration_us=%d p50_us=%d p90_us=%d "
        .. "p99_us=%d max_us=%d\n",
        summary.requests, all_ok, all_other,
        #list > 0 and table.concat(list, ",") or "-",
        e.connect, e.read, e.write, e.timeout, summary.duration,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max))
end
