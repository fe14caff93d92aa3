-- wrk script: POST a registration with a fresh email each time, to the event in EVENT_ID or,
-- with EVENT_RANGE=lo-hi, to a random event between those ids.
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  event_id = os.getenv("EVENT_ID")
  local range = os.getenv("EVENT_RANGE")
  if range then
    low, high = range:match("(%d+)-(%d+)")
    low, high = tonumber(low), tonumber(high)
    math.randomseed(os.time() + thread_id)
  end
  run = os.getenv("RUN_ID") or tostring(os.time())
  sent = 0
end

function request()
  sent = sent + 1
  local event = event_id
  if low then event = tostring(math.random(low, high)) end
  local body = string.format(
    '{"name": "Bench Guest", "email": "b%s-%d-%d@example.com"}', run, thread_id, sent)
  return wrk.format("POST", "/api/events/" .. event .. "/register/",
    {["Content-Type"] = "application/json"}, body)
end
