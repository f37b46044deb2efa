-- VNPay IPN callbacks: walk a file of pre-signed request paths, each sent once (thread i takes
-- lines i, i+T, ...). args: path-file thread-count
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local paths = {}
local pos = 0
exhausted = 0

function init(args)
  local n, stride, i = 0, tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if i % stride == tid - 1 then
      n = n + 1
      paths[n] = line
    end
    i = i + 1
  end
end

function request()
  pos = pos + 1
  if pos > #paths then
    exhausted = exhausted + 1
    pos = 1
  end
  return wrk.format("GET", paths[pos])
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"RspCode":"00"', 1, true) then count_bad(status, body) end
end
