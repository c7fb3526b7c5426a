-- wrk: POST /token/refresh as clients rotate: each refresh token (one per
-- session, from the file REFRESH_TOKENS) is sent once and replaced by the
-- one its answer carries. Each of wrk's threads takes every other line, so
-- no token is in flight twice; the file must hold more tokens than there
-- are connections.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local tokens = {}
function init(args)
  local n = 0
  for line in io.lines(os.getenv("REFRESH_TOKENS")) do
    if n % 2 == id then table.insert(tokens, line) end
    n = n + 1
  end
end

-- Each request comes from one of 250 client addresses per thread, named in
-- X-Forwarded-For (the bench trusts 127.0.0.1 as a proxy): many clients,
-- each with its own bucket, as a service sees them.
local sent = 0
function request()
  local token = table.remove(tokens, 1)
  sent = sent + 1
  local headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = "10." .. id .. ".0." .. (sent % 250 + 1) }
  return wrk.format(nil, nil, headers, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([%w_-]+)"')
  if token then table.insert(tokens, token) end
end
