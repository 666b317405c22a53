-- augur-mirror.lua: traffic mirroring for HAProxy 2.6 (Lua 5.3 and
-- core.httpclient), the validation before a traffic shift
-- (docs/ORCHESTRATOR.md, "Mirroring").
--
-- In a backend:
--   http-request lua.augur_mirror
--   http-response lua.augur_mirror_res
-- and on the stats socket (level admin):
--   augur mirror set BACKEND 127.0.0.1:PORT   start copying to PORT (resets
--                                             the counters)
--   augur mirror clear BACKEND                stop copying, forget counters
--   augur mirror show BACKEND                 one JSON line of counters
--
-- For a backend with a target, every live GET or HEAD is copied (method,
-- path and query, a few headers) once its answer is known, into a bounded
-- queue; background tasks send the copies to the target with
-- core.httpclient, compare the mirror's status and latency with the live
-- answer's and discard the mirror's answer.  The live request never waits
-- for the mirror: a full queue drops the copy (counted in "dropped"); other
-- methods are counted in "skipped", never copied.

local QUEUE_MAX = 1024     -- copies waiting, all backends together
local WORKERS = 4          -- tasks sending copies, each one at a time
local IDLE_MS = 5          -- a worker's sleep when the queue is empty
local RING = 1024          -- latencies kept per side for the percentiles
local TIMEOUT_MS = 2000    -- a copy's timeout
local COPIED_HEADERS = { "accept", "accept-language", "user-agent",
                         "content-type" }

-- backend name -> its mirror (target and counters)
local mirrors = {}
-- the queue: a ring of copies
local queue = { head = 1, tail = 1, n = 0, items = {} }
-- every `set` starts a new generation: copies of an older one are ignored
local generations = 0

local function now_ms()
    local t = core.now()
    return t.sec * 1000.0 + t.usec / 1000.0
end

local function new_mirror(target)
    return {
        target = target, generation = 0,
        requests = 0, compared = 0, status_mismatch = 0, new_errors = 0,
        skipped = 0, dropped = 0,
        old_lat = { n = 0, next = 1 }, new_lat = { n = 0, next = 1 },
    }
end

local function ring_add(r, v)
    r[r.next] = v
    r.next = r.next % RING + 1
    if r.n < RING then r.n = r.n + 1 end
end

-- nearest-rank percentile of the ring (0 when empty)
local function ring_pct(r, q)
    if r.n == 0 then return 0 end
    local v = {}
    for i = 1, r.n do v[i] = r[i] end
    table.sort(v)
    local rank = math.ceil(q * r.n)
    if rank < 1 then rank = 1 end
    return v[rank]
end

local function push(item)
    if queue.n >= QUEUE_MAX then return false end
    queue.items[queue.tail] = item
    queue.tail = queue.tail % QUEUE_MAX + 1
    queue.n = queue.n + 1
    return true
end

local function pop()
    if queue.n == 0 then return nil end
    local item = queue.items[queue.head]
    queue.items[queue.head] = nil
    queue.head = queue.head % QUEUE_MAX + 1
    queue.n = queue.n - 1
    return item
end

core.register_action("augur_mirror", { "http-req" }, function(txn)
    local m = mirrors[txn.sf:be_name()]
    if m == nil then return end
    local method = txn.sf:method()
    if method ~= "GET" and method ~= "HEAD" then
        m.skipped = m.skipped + 1
        return
    end
    local hdrs = {}
    local all = txn.http:req_get_headers()
    for _, name in ipairs(COPIED_HEADERS) do
        if all[name] ~= nil and all[name][0] ~= nil then
            hdrs[name] = { all[name][0] }
        end
    end
    hdrs["x-augur-mirror"] = { "1" }
    txn:set_priv({ t0 = now_ms(), method = method, path = txn.sf:pathq(),
                   headers = hdrs, generation = m.generation })
end)

core.register_action("augur_mirror_res", { "http-res" }, function(txn)
    local p = txn:get_priv()
    if type(p) ~= "table" or p.t0 == nil then return end
    local be = txn.sf:be_name()
    local m = mirrors[be]
    if m == nil or m.generation ~= p.generation then return end
    m.requests = m.requests + 1
    p.old_ms = now_ms() - p.t0
    p.old_status = tonumber(txn.sf:status()) or 0
    p.backend = be
    if not push(p) then m.dropped = m.dropped + 1 end
end)

local function send_copy(c)
    local m = mirrors[c.backend]
    if m == nil or m.generation ~= c.generation then return end
    local hc = core.httpclient()
    local req = { url = "http://" .. m.target .. c.path, headers = c.headers,
                  timeout = TIMEOUT_MS }
    local t0 = now_ms()
    local ok, res
    if c.method == "HEAD" then
        ok, res = pcall(hc.head, hc, req)
    else
        ok, res = pcall(hc.get, hc, req)
    end
    local new_ms = now_ms() - t0
    -- the target may have changed while the copy was in flight
    if mirrors[c.backend] ~= m or m.generation ~= c.generation then return end
    local status = (ok and type(res) == "table" and tonumber(res.status)) or 0
    m.compared = m.compared + 1
    if status == 0 or status >= 500 then m.new_errors = m.new_errors + 1 end
    if status ~= c.old_status then
        m.status_mismatch = m.status_mismatch + 1
    end
    ring_add(m.old_lat, c.old_ms)
    ring_add(m.new_lat, new_ms)
end

for _ = 1, WORKERS do
    core.register_task(function()
        while true do
            local c = pop()
            if c == nil then
                core.msleep(IDLE_MS)
            else
                local ok, err = pcall(send_copy, c)
                if not ok then
                    core.Warning("augur-mirror: " .. tostring(err))
                end
            end
        end
    end)
end

local function json_str(s)
    return '"' .. tostring(s):gsub('[%c"\\]', function(ch)
        return string.format("\\u%04x", ch:byte())
    end) .. '"'
end

local function show(m)
    return string.format(
        '{"target":%s,"requests":%d,"compared":%d,"status_mismatch":%d,' ..
        '"new_errors":%d,"skipped":%d,"dropped":%d,' ..
        '"old_p50_ms":%.3f,"old_p99_ms":%.3f,"new_p50_ms":%.3f,' ..
        '"new_p99_ms":%.3f}\n',
        m.target and json_str(m.target) or "null", m.requests, m.compared,
        m.status_mismatch, m.new_errors, m.skipped, m.dropped,
        ring_pct(m.old_lat, 0.50), ring_pct(m.old_lat, 0.99),
        ring_pct(m.new_lat, 0.50), ring_pct(m.new_lat, 0.99))
end

-- A target is an IPv4 address and a port: the mirror never resolves names.
local function valid_target(t)
    if t == nil then return false end
    local a, b, c, d, port = t:match("^(%d+)%.(%d+)%.(%d+)%.(%d+):(%d+)$")
    if a == nil then return false end
    for _, x in ipairs({ a, b, c, d }) do
        if tonumber(x) > 255 then return false end
    end
    port = tonumber(port)
    return port >= 1 and port <= 65535
end

local function backend_exists(name)
    return name ~= nil and core.backends[name] ~= nil
end

core.register_cli({ "augur", "mirror" },
    "augur mirror set|clear|show BACKEND [IP:PORT] : traffic mirroring",
    function(applet, _, _, verb, be, target)
        if verb == "set" then
            if not backend_exists(be) then
                applet:send("error: no backend " .. tostring(be) .. "\n")
            elseif not valid_target(target) then
                applet:send("error: target must be IPV4:PORT, not " ..
                            tostring(target) .. "\n")
            else
                local m = new_mirror(target)
                generations = generations + 1
                m.generation = generations
                mirrors[be] = m
                applet:send("ok\n")
            end
        elseif verb == "clear" then
            if not backend_exists(be) then
                applet:send("error: no backend " .. tostring(be) .. "\n")
            else
                mirrors[be] = nil
                applet:send("ok\n")
            end
        elseif verb == "show" then
            if not backend_exists(be) then
                applet:send("error: no backend " .. tostring(be) .. "\n")
            else
                applet:send(show(mirrors[be] or new_mirror(nil)))
            end
        else
            applet:send("usage: augur mirror set BACKEND IP:PORT | " ..
                        "clear BACKEND | show BACKEND\n")
        end
    end)
