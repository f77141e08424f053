-- wrk script: each write carries N pipelined GET requests (N from the
-- first script argument, default 16); wrk counts each response.
init = function(args)
  local n = tonumber(args[1]) or 16
  local r = {}
  for i = 1, n do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end
