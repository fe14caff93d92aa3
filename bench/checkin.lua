-- wrk script: POST a check-in of a random ticket read from TICKETS_FILE (one per line), with a
-- fresh nonce each time, as the door device whose bearer token is DEVICE_TOKEN, to EVENT_ID.
-- The first scan of a ticket answers 201, every later one 409 already_checked_in.
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  event_id = os.getenv("EVENT_ID")
  token = os.getenv("DEVICE_TOKEN")
  tickets = {}
  for line in io.lines(os.getenv("TICKETS_FILE")) do
    tickets[#tickets + 1] = line
  end
  math.randomseed(os.time() + thread_id)
  run = os.getenv("RUN_ID") or tostring(os.time())
  sent = 0
end

function request()
  sent = sent + 1
  local body = string.format('{"ticket": "%s", "nonce": "%s-%d-%d"}',
    tickets[math.random(1, #tickets)], run, thread_id, sent)
  return wrk.format("POST", "/api/events/" .. event_id .. "/checkins/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
