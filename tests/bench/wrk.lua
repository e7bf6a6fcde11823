-- wrk.lua: the request of one benchmark run, from the environment
-- (bench.py sets it): BENCH_METHOD, BENCH_BODY (a file sent as an
-- application/ocsp-request body), BENCH_HOST, BENCH_PATH, BENCH_CLOSE=1
-- (Connection: close), BENCH_BODIES=DIR:N (POST DIR/req-0.der ..
-- req-<N-1>.der in turn, from a random start in each thread).  done()
-- writes the summary as JSON to BENCH_OUT; "requests" counts completed
-- answers (wrk also counts each answer that closes its connection as a
-- read error).

local function env(name)
	local v = os.getenv(name)
	if v == "" then
		return nil
	end
	return v
end

wrk.method = env("BENCH_METHOD") or "GET"
if env("BENCH_BODY") then
	local f = assert(io.open(env("BENCH_BODY"), "rb"))
	wrk.body = f:read("*a")
	f:close()
	wrk.headers["Content-Type"] = "application/ocsp-request"
end
if env("BENCH_HOST") then
	wrk.headers["Host"] = env("BENCH_HOST")
end
if env("BENCH_PATH") then
	wrk.path = env("BENCH_PATH")
end
if env("BENCH_CLOSE") == "1" then
	wrk.headers["Connection"] = "close"
end

if env("BENCH_BODIES") then
	local dir, n = env("BENCH_BODIES"):match("^(.*):(%d+)$")
	local reqs, i = {}, 0
	wrk.headers["Content-Type"] = "application/ocsp-request"
	for k = 0, tonumber(n) - 1 do
		local f = assert(io.open(dir .. "/req-" .. k .. ".der", "rb"))
		reqs[#reqs + 1] = wrk.format(nil, nil, nil, f:read("*a"))
		f:close()
	end
	setup = function(thread)
		thread:set("start", math.random(#reqs))
	end
	init = function(args)
		i = start or 0
	end
	request = function()
		i = i % #reqs + 1
		return reqs[i]
	end
end

done = function(summary, latency, requests)
	local e = summary.errors
	local f = assert(io.open(os.getenv("BENCH_OUT"), "w"))
	f:write(string.format('{"requests": %d, "duration_us": %d, ' ..
	    '"bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
	    '"write": %d, "status": %d, "timeout": %d}, "lat_us": ' ..
	    '{"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
	    summary.requests, summary.duration, summary.bytes, e.connect,
	    e.read, e.write, e.status, e.timeout, latency.mean,
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99), latency.max))
	f:close()
end
