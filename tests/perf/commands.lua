-- wrk script for tests/perf/bench_commands.py: a mix of enrolments, stage transitions and held
-- meetings.
--
-- Usage (the Python script writes the files and runs this for you):
--   wrk -t2 -c32 -d30s --latency -s commands.lua http://127.0.0.1:PORT -- CONFIG IDS_PREFIX
--
-- CONFIG is a file of `key value` lines:
--   token <bearer token valid for every grantee below>
--   grantee <slug>            (one line per grantee; enrolments go round-robin over them)
--   occurred_at <RFC3339>     (for the 1->3 transitions)
--   transition_share <0..1>   (fraction of requests that are transitions while ids remain)
--   meeting_share <0..1>      (fraction of requests that are held meetings; 0: none)
--   meetings_from <epoch s>   (the first meeting time; each thread's step a minute at a time)
-- IDS_PREFIX..<n> (n = 1, 2, ... one file per wrk thread) holds `t <slug> <participant id>`
-- lines: pre-enrolled stage-1 participants, each moved 1->3 exactly once; and `m <slug>
-- <pairing id>` lines: pairings whose held meetings this thread records, round robin. A thread whose ids
-- run out sends enrolments only (counted as `fallback_enrolments`).

local threads = {}
local next_thread = 1

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local f = io.open(path, "r")
  if f == nil then
    error("cannot open " .. path)
  end
  local lines = {}
  for line in f:lines() do
    if line ~= "" then
      table.insert(lines, line)
    end
  end
  f:close()
  return lines
end

local grantees = {}
local ids = {}
local pairings = {}
local next_pairing = 0
local mshare = 0.0
local mcredit = 0.0
local meetings_from = 0
local next_id = 1
local share = 0.5
local credit = 0.0
local enrol_body = ""
local rr = 0
local transition_body = ""
local headers = {}

-- counters read by done() through thread:get()
enrolments = 0
transitions = 0
meetings = 0
fallback_enrolments = 0
statuses = {}
ids_loaded = 0

function init(args)
  local config, ids_prefix = args[1], args[2]
  local token, occurred_at = nil, nil
  for _, line in ipairs(read_lines(config)) do
    local key, value = line:match("^(%S+)%s+(.*)$")
    if key == "token" then
      token = value
    elseif key == "grantee" then
      table.insert(grantees, value)
    elseif key == "occurred_at" then
      occurred_at = value
    elseif key == "transition_share" then
      share = tonumber(value)
    elseif key == "meeting_share" then
      mshare = tonumber(value)
    elseif key == "meetings_from" then
      meetings_from = tonumber(value)
    end
  end
  for _, line in ipairs(read_lines(ids_prefix .. thread_no)) do
    local kind, slug, id = line:match("^(%S+)%s+(%S+)%s+(%S+)$")
    if kind == "m" then
      table.insert(pairings, { slug, id })
    else
      table.insert(ids, { slug, id })
    end
  end
  ids_loaded = #ids
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
  enrol_body = '{"first_name":"Bench","last_name":"LASTNAME"'
    .. ',"date_of_birth":"1990-04-01","program_entry_date":"2026-01-15",'
    .. '"facility":"FCI-A","cohort":"C1"}'
  rr = thread_no
  transition_body = '{"to_stage":3,"occurred_at":"' .. occurred_at .. '"}'
end

-- A number as letters (1 -> "b", 26 -> "ba"): every enrolment gets a name of its own, or the
-- duplicate check (same name and date of birth) would answer 409 `possible_duplicate`.
local function letters(n)
  local out = ""
  repeat
    out = string.char(97 + n % 26) .. out
    n = math.floor(n / 26)
  until n == 0
  return out
end

local function enrol()
  rr = rr + 1
  local i = (rr % #grantees) + 1
  local body = enrol_body:gsub("LASTNAME", "Load" .. letters(thread_no) .. "x" .. letters(rr))
  return wrk.format("POST", "/v1/grantees/" .. grantees[i] .. "/participants", headers, body)
end

local function meeting()
  next_pairing = next_pairing + 1
  local entry = pairings[(next_pairing % #pairings) + 1]
  -- Each thread's meetings fall in a 20-day window of their own, a minute apart.
  local t = meetings_from + (thread_no - 1) * 20 * 86400 + next_pairing * 60
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ", t)
  local body = '{"pairing_id":"' .. entry[2] .. '","scheduled_for":"' .. at
    .. '","location":{"kind":"off_site"},"held":{"occurred_at":"' .. at
    .. '","duration_minutes":45,"topics":["employment"],"summary":"Worked on a resume."}}'
  return wrk.format("POST", "/v1/grantees/" .. entry[1] .. "/meetings", headers, body)
end

function request()
  mcredit = mcredit + mshare
  if mcredit >= 1.0 and #pairings > 0 then
    mcredit = mcredit - 1.0
    meetings = meetings + 1
    return meeting()
  end
  credit = credit + share
  if credit >= 1.0 then
    credit = credit - 1.0
    if next_id <= #ids then
      local entry = ids[next_id]
      next_id = next_id + 1
      transitions = transitions + 1
      return wrk.format(
        "POST",
        "/v1/grantees/" .. entry[1] .. "/participants/" .. entry[2] .. "/stage-transitions",
        headers, transition_body
      )
    end
    fallback_enrolments = fallback_enrolments + 1
  end
  enrolments = enrolments + 1
  return enrol()
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

local function json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function done(summary, latency, requests)
  local total = { enrolments = 0, transitions = 0, meetings = 0, fallback_enrolments = 0, ids_loaded = 0 }
  local codes = {}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(total) do
      total[k] = total[k] + (thread:get(k) or 0)
    end
    local s = thread:get("statuses") or {}
    for code, n in pairs(s) do
      codes[code] = (codes[code] or 0) + n
    end
  end
  local parts = {}
  local function add(key, value)
    table.insert(parts, json_string(key) .. ":" .. value)
  end
  add("duration_us", string.format("%d", summary.duration))
  add("requests", string.format("%d", summary.requests))
  add("bytes", string.format("%d", summary.bytes))
  add("errors", string.format(
    '{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  local lat = {}
  for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
    table.insert(lat, string.format('"p%s":%d', tostring(p), latency:percentile(p)))
  end
  table.insert(lat, string.format('"min":%d', latency.min))
  table.insert(lat, string.format('"max":%d', latency.max))
  table.insert(lat, string.format('"mean":%.1f', latency.mean))
  table.insert(lat, string.format('"stdev":%.1f', latency.stdev))
  add("latency_us", "{" .. table.concat(lat, ",") .. "}")
  for k, v in pairs(total) do
    add(k, string.format("%d", v))
  end
  local st = {}
  for code, n in pairs(codes) do
    table.insert(st, json_string(code) .. ":" .. string.format("%d", n))
  end
  add("statuses", "{" .. table.concat(st, ",") .. "}")
  io.write("BENCH_JSON " .. "{" .. table.concat(parts, ",") .. "}\n")
end
