-- wrk script: POST a referral with a fresh, valid BSN on every request (one BSN for every
-- request would only measure a row lock). BSNs are 999-prefixed test numbers passing the
-- elfproef, the same rule as services/sim/region.py synthetic_bsn: the weighted sum of the
-- first eight digits (weights 9..2) mod 11 is the ninth digit; sums giving 10 are skipped.
-- Each wrk thread counts through its own block of the 100,000 bodies, so no BSN repeats.
-- The Authorization header comes from PERF_AUTHORIZATION; done() prints one JSON line
-- (status_errors: responses other than 2xx or 3xx).

local threads = {}
local counter = 0
local block = 0
-- PERF_BSN_OFFSET moves every block, so a second wrk in the same run sends other BSNs.
local offset = tonumber(os.getenv("PERF_BSN_OFFSET") or "0")

function setup(thread)
  thread:set("block", #threads)
  table.insert(threads, thread)
end

local function next_bsn()
  while true do
    local body = string.format("999%05d", (offset + block * 50000 + counter) % 100000)
    counter = counter + 1
    local sum = 0
    for i = 1, 8 do
      sum = sum + (10 - i) * tonumber(body:sub(i, i))
    end
    local check = sum % 11
    if check < 10 then
      return body .. tostring(check)
    end
  end
end

-- PERF_RATE with PERF_CONNECTIONS paces wrk to about PERF_RATE requests per second over all its
-- connections: each waits before its next request. wrk waits for each answer first, so the rate
-- falls short by the answers' latency; the test reports the rate it got.
local rate = tonumber(os.getenv("PERF_RATE") or "")
local connections = tonumber(os.getenv("PERF_CONNECTIONS") or "")
if rate and connections then
  function delay()
    return 1000 * connections / rate
  end
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = os.getenv("PERF_AUTHORIZATION")
end

-- PERF_REFERRAL=ambulant sends a regular ambulant referral (category 45) instead: the background
-- load of tests/perf/test_shortage_latency.py, which must not touch the verblijf places it measures.
local ambulant = os.getenv("PERF_REFERRAL") == "ambulant"

function request()
  if ambulant then
    return wrk.format(nil, nil, nil, string.format(
      '{"client":{"bsn":"%s","birth_date":"2012-05-01","municipality_code":"0402"},'
        .. '"referrer":{"type":"02","agb":"01234567"},"product_category":"45","urgency":"regulier",'
        .. '"ambulant_tried":true}',
      next_bsn()
    ))
  end
  local body = string.format(
    '{"client":{"bsn":"%s","birth_date":"2010-02-14","municipality_code":"1942"},'
      .. '"referrer":{"type":"03","agb":"01234567"},"product_category":"46","setting":"crisisplek",'
      .. '"settings":["pleegzorg"],"urgency":"crisis","ambulant_tried":false}',
    next_bsn()
  )
  return wrk.format(nil, nil, nil, body)
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
