-- Where each of this agency's subscriptions to another agency's feed has got to: the cursor of the
-- last event handled (or the high-water mark of the last heartbeat). It is written in the same
-- transaction as the handling of the event, so the effect and the cursor are saved together.
CREATE TABLE feed_subscriptions (
    name        TEXT PRIMARY KEY,
    last_cursor TEXT NOT NULL
);
