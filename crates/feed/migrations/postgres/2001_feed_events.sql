-- The transactional outbox: every event the agency publishes, written in the same transaction as
-- the change that caused it, and served to other agencies by familybridge.common.v1.EventFeed.
--
-- `position` alone is NOT a safe feed order on PostgreSQL: BIGSERIAL values are handed out at
-- insert time, but transactions commit in any order, so a reader resuming after position 7 could
-- miss position 6 committed a moment later. Each row therefore records the id of the transaction
-- that wrote it, and the feed is read in (transaction_id, position) order, only up to the oldest
-- transaction still running (pg_snapshot_xmin of the current snapshot): nothing can later appear
-- before a cursor the reader has passed.
CREATE TABLE feed_events (
    position         BIGSERIAL PRIMARY KEY,
    transaction_id   xid8   NOT NULL DEFAULT pg_current_xact_id(),
    event_id         TEXT   NOT NULL UNIQUE,
    stream           TEXT   NOT NULL,
    sequence         BIGINT NOT NULL CHECK (sequence >= 1),
    event_type       TEXT   NOT NULL,
    effective_date   TEXT   NOT NULL,
    traceparent      TEXT   NOT NULL DEFAULT '',
    tracestate       TEXT   NOT NULL DEFAULT '',
    payload_type_url TEXT   NOT NULL,
    payload          BYTEA  NOT NULL,
    -- One event per number within a stream: appending computes max + 1 under the stream's lock,
    -- and this makes a mistaken unlocked append fail instead of duplicating a number. It also
    -- serves that max.
    UNIQUE (stream, sequence)
);

-- The feed's read order.
CREATE INDEX feed_events_read_order ON feed_events (transaction_id, position);
