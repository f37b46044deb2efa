-- Shared by the bench scripts: per-thread ids, counting unexpected answers, a JSON summary.
threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

bad = 0
bad_sample = ""

function count_bad(status, body)
  bad = bad + 1
  if bad_sample == "" then
    bad_sample = tostring(status) .. " " .. string.sub(body or "", 1, 200)
  end
end

function done(summary, latency, requests)
  local total_bad, sample = 0, ""
  for _, t in ipairs(threads) do
    total_bad = total_bad + (t:get("bad") or 0)
    local s = t:get("bad_sample") or ""
    if sample == "" then sample = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, ' ..
    '"timeouts": %d, "bad": %d, "bad_sample": %q}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, total_bad, sample))
end
