-- wrk: POST /login for a login name the benchmark has locked (429, no
-- hashing), from one of 250 client addresses per thread named in
-- X-Forwarded-For (the bench trusts 127.0.0.1 as a proxy), each with its
-- own bucket.
wrk.method = "POST"

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local sent = 0
function request()
  sent = sent + 1
  local headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = "10." .. id .. ".0." .. (sent % 250 + 1) }
  return wrk.format(nil, nil, headers, '{"username":"locked-bench","password":"bench-password"}')
end
