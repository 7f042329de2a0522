-- The transactional outbox: every event the agency publishes, written in the same transaction as
-- the change that caused it, and served to other agencies by familybridge.common.v1.EventFeed.
--
-- `position` is the feed order. SQLite lets one writer in at a time, so positions are handed out
-- in commit order and a reader may safely resume after the last position it saw. AUTOINCREMENT
-- (rather than a plain rowid) guarantees a position is never reused, so a stored cursor can
-- never come to mean a different event.
CREATE TABLE feed_events (
    position         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT    NOT NULL UNIQUE,
    stream           TEXT    NOT NULL,
    sequence         INTEGER NOT NULL CHECK (sequence >= 1),
    event_type       TEXT    NOT NULL,
    effective_date   TEXT    NOT NULL,
    traceparent      TEXT    NOT NULL DEFAULT '',
    tracestate       TEXT    NOT NULL DEFAULT '',
    payload_type_url TEXT    NOT NULL,
    payload          BLOB    NOT NULL,
    -- One event per number within a stream: appending computes max + 1, and this makes a
    -- mistaken concurrent append fail instead of duplicating a number. It also serves that max.
    UNIQUE (stream, sequence)
);
