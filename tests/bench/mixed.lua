-- wrk: 90 % GET /profile with a token, 10 % POST /login.
local auth = "Bearer " .. os.getenv("TOKEN")
local login_body = '{"username":"bench","password":"bench-password"}'
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then
    return wrk.format("POST", "/login", {["Content-Type"] = "application/json"}, login_body)
  end
  return wrk.format("GET", "/profile", {["Authorization"] = auth})
end
