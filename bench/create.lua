-- POST /v1/payments with a unique Idempotency-Key and dossier code per request (two items, sandbox).
-- args: run-prefix api-key agency-code provider
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local counter = 0
local prefix, key, agency, provider

function init(args)
  prefix, key, agency, provider = args[1], args[2], args[3], args[4]
end

function request()
  counter = counter + 1
  local n = prefix .. "-" .. tid .. "-" .. counter
  local body = '{"agency_code":"' .. agency .. '","dossier_code":"BENCH-' .. n .. '",' ..
    '"procedure_code":"1.001234","description":"Le phi ho tich va chung thuc",' ..
    '"payer":{"name":"Nguyen Van A","id_number":"001099000001"},' ..
    '"items":[{"revenue_type_code":"2771","amount":50000,"description":"Trich luc"},' ..
    '{"revenue_type_code":"2716","amount":20000}],' ..
    '"provider":"' .. provider .. '","return_url":"https://portal.example.gov.vn/ho-so/' .. n .. '"}'
  return wrk.format("POST", "/v1/payments", {
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = "bench-" .. n,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then count_bad(status, body) end
end
