-- HTTP/1.1 pipelining for wrk: every write carries `depth` requests (default 16).
-- The request is the one on wrk's command line: its path and query, and the
-- headers given with -H (wrk.format merges wrk.path and wrk.headers).
-- wrk parses the string request() returns once, counts the requests in it, and
-- then counts every response: "N requests in" is per response, not per write.
-- Optional: wrk ... -s pipeline.lua URL -- 8   (another depth)

local depth = 16
local req

init = function(args)
   local n = tonumber(args[1] or "")
   if n and n >= 1 then
      depth = math.floor(n)
   end
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
