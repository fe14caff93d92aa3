"""What the database keeps by itself, written once: one module per concern, applied by the
migrations and named by the model fields that depend on it.

- `counters`: `Event.seats_taken` and `Event.waitlist_taken`, kept by triggers on attendee rows
  (both databases);
- `versions`: `Event.change_version` and the event catalog's version, for the response cache
  (PostgreSQL only);
- `registration`: the registration decision and its writes as one function (PostgreSQL only;
  SQLite takes the Python path of core.services.register_attendee);
- `operations`: the migration operations that apply these;
- `cursors`: the cursor of the statements every request of a hot path sends.

Statuses and kinds are formatted into the SQL from the models' choices, so a search for a status
finds these rules too.
"""
