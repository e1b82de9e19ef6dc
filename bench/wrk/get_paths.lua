-- wrk script: GET the paths listed in a file (one per line), in turn, from every connection.
--   wrk -t2 -c64 -d10s -s get_paths.lua URL -- PATHS_FILE [ACCEPT]
-- Non-200 answers are counted and printed: a benchmark of errors is not a benchmark.
local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] then wrk.headers["Accept"] = args[2] end
  pos = math.random(#paths)
  bad = 0
end

function request()
  pos = pos % #paths + 1
  return wrk.format("GET", paths[pos])
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("non-200 answers: %d\n", b))
end
