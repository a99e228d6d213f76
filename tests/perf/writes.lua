-- wrk script for the write routes of tests/perf/test_write_routes.py: the same shape of load on a
-- route and on floor (a)'s catch-all. From the environment:
--   PERF_METHOD   PUT or POST
--   PERF_TARGETS  "path|authorization,path|authorization,...", taken in turn (several providers'
--                 keys, so the load is not one row lock)
--   PERF_BODY     the body, where {free} becomes a number 0..10 and {ref} a fresh 64-hex client_ref
-- done() prints one JSON line like referrals.lua (status_errors: responses other than 2xx or 3xx).

local targets = {}
local counter = 0
local block = 0
local threads = {}

function setup(thread)
  thread:set("block", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = os.getenv("PERF_METHOD")
  wrk.headers["Content-Type"] = "application/json"
  for entry in string.gmatch(os.getenv("PERF_TARGETS"), "[^,]+") do
    local path, authorization = string.match(entry, "^([^|]*)|(.*)$")
    table.insert(targets, { path = path, authorization = authorization })
  end
end

function request()
  counter = counter + 1
  local target = targets[(counter % #targets) + 1]
  local body = os.getenv("PERF_BODY")
  body = string.gsub(body, "{free}", tostring(counter % 11))
  body = string.gsub(body, "{ref}", string.format("%s%08x%08x", string.rep("a", 48), block, counter))
  local headers = { ["Content-Type"] = "application/json" }
  if target.authorization ~= "" then
    headers["Authorization"] = target.authorization
  end
  return wrk.format(nil, target.path, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'PERF {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status
  ))
end
