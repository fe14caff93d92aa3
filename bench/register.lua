-- wrk script: POST a registration with a fresh email each time to the event in EVENT_ID.
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  event_id = os.getenv("EVENT_ID")
  run = os.getenv("RUN_ID") or tostring(os.time())
  sent = 0
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"name": "Bench Guest", "email": "b%s-%d-%d@example.com"}', run, thread_id, sent)
  return wrk.format("POST", "/api/events/" .. event_id .. "/register/",
    {["Content-Type"] = "application/json"}, body)
end
