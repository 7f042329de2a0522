-- The disclosure audit log: one row for each event sent to each agency, written before the event
-- leaves, with the fields actually disclosed and the purpose and legal basis of the data-sharing
-- agreement that allowed it. A redelivery of the same event to the same agency is not a second
-- disclosure: (recipient, event_id) is unique and the first sending is the one recorded.
CREATE TABLE feed_disclosures (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient      TEXT NOT NULL,
    event_id       TEXT NOT NULL REFERENCES feed_events (event_id),
    event_type     TEXT NOT NULL,
    stream         TEXT NOT NULL,
    -- The disclosed field paths, comma-separated ("case_reference,children.nights"): paths are
    -- made of proto field names, which cannot hold a comma.
    fields         TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    legal_basis    TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    disclosed_at   TEXT NOT NULL,
    UNIQUE (recipient, event_id)
);

-- ListDisclosures filters by event as well as by recipient (which the unique index serves).
CREATE INDEX feed_disclosures_by_event ON feed_disclosures (event_id);
