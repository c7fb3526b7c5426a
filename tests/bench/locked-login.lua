-- wrk: POST /login for a login name the benchmark has locked (429, no hashing).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"locked-bench","password":"bench-password"}'
