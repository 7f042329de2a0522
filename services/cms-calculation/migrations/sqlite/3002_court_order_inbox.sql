-- Court events received from the court registry's feed (the automatic exchange), kept until the
-- CMS has applied them to the families' cases. Written in the same transaction as the feed cursor,
-- so each event arrives exactly once; applied in order of arrival.
CREATE TABLE court_order_inbox (
    arrival        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    effective_date TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    applied        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX court_order_inbox_pending ON court_order_inbox (applied, arrival);

-- Which court case concerns which CMS case, learnt from the parties of court events.
CREATE TABLE court_case_links (
    court_case_reference TEXT NOT NULL,
    cms_case_reference   TEXT NOT NULL,
    PRIMARY KEY (court_case_reference, cms_case_reference)
);

-- Each court event applied to each CMS case, written in that case's transaction: a restart never
-- applies one twice.
CREATE TABLE court_order_applications (
    event_id           TEXT NOT NULL,
    cms_case_reference TEXT NOT NULL,
    PRIMARY KEY (event_id, cms_case_reference)
);
