-- Every sending of an already disclosed event to the same agency again (a subscription resumed from
-- an earlier cursor, after a restart or a dropped connection), recorded before it leaves: the
-- disclosure log says what each agency knows, this one how often it was told.
CREATE TABLE feed_redeliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    disclosure_id  INTEGER NOT NULL REFERENCES feed_disclosures (id),
    redelivered_at TEXT NOT NULL
);

CREATE INDEX feed_redeliveries_by_disclosure ON feed_redeliveries (disclosure_id);
