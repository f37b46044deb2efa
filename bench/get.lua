-- GET /v1/payments/{id} over a pool of existing payment ids. args: id-file api-key
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local ids = {}
local key
local pos = 0

function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  key = args[2]
  pos = tid * 7919
end

function request()
  pos = pos + 1
  return wrk.format("GET", "/v1/payments/" .. ids[(pos % #ids) + 1], {["Authorization"] = "Bearer " .. key})
end

function response(status, headers, body)
  if status ~= 200 then count_bad(status, body) end
end
