-- wrk script: POST distinct signed statements from an NDJSON file, one per request.
--   wrk -t2 -c32 -d20s -s post_statements.lua URL -- FILE THREADS [BATCH]
-- Thread k sends lines k, k+THREADS, ...; BATCH > 1 sends that many lines per request as
-- application/x-ndjson. Each line is sent once; a thread that runs out stops sending new lines
-- (it repeats its last one, which the node answers as a duplicate, counted apart).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  batch = tonumber(args[3] or "1")
  lines = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then lines[#lines + 1] = line end
    i = i + 1
  end
  pos = 0
  created, dup, other = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = batch > 1 and "application/x-ndjson" or "application/json"
end

function request()
  local body
  if batch > 1 then
    local parts = {}
    for j = 1, batch do
      pos = pos + 1
      if pos > #lines then pos = #lines end
      parts[#parts + 1] = lines[pos]
    end
    body = table.concat(parts, "\n") .. "\n"
  else
    pos = pos + 1
    if pos > #lines then pos = #lines end
    body = lines[pos]
  end
  return wrk.format(nil, "/statements", nil, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then dup = dup + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c, d, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); d = d + t:get("dup"); o = o + t:get("other")
  end
  io.write(string.format("responses: 201=%d 200=%d other=%d\n", c, d, o))
end
