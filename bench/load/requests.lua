-- Requests for wrk: HTTP/1.1 pipelining and campaign IDs.
--   wrk ... -s requests.lua URL -- DEPTH CAMPAIGNS
-- DEPTH (default 16): requests per write. wrk parses the string request() returns once,
-- counts the requests in it, and then counts every response: "N requests in" is per
-- response, not per write.
-- CAMPAIGNS (default 1): with 1, every request is the one on wrk's command line (its path
-- and query, and the headers given with -H; wrk.format merges wrk.path and wrk.headers).
-- With N > 1 the campaignID cycles through site0000.com ... (N distinct values: Kafka
-- message keys, so events spread over the partitions). Every string is built in init, so
-- wrk formats nothing per request.

local reqs = {}
local next_req = 0

init = function(args)
   local depth = math.max(1, math.floor(tonumber(args[1] or "") or 16))
   local n = math.max(1, math.floor(tonumber(args[2] or "") or 1))
   for i = 0, n - 1 do
      local batch = {}
      for d = 0, depth - 1 do
         local path = nil
         if n > 1 then
            path = string.format(
               "/track/pageview.gif?campaignID=site%04d.com&scroll-depth=70%%25&dark-mode=true",
               (i * depth + d) % n)
         end
         batch[#batch + 1] = wrk.format(nil, path)
      end
      reqs[i + 1] = table.concat(batch)
   end
end

request = function()
   next_req = next_req % #reqs + 1
   return reqs[next_req]
end
