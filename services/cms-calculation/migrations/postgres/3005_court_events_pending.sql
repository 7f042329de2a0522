-- Court events wait per CMS case until the case reaches their date. An inbox entry is routed once
-- (to every CMS case of the court case's parents) and then applied to each case in date order
-- with the case's other work: before a command dated on or after it, or when the clock reaches
-- it. So a court event dated later in a week can never make a family's earlier action that week
-- come too late, and how fast delivery happened cannot change the result. Applying an entry
-- deletes its row in the case's own transaction, which is what makes it happen once.
CREATE TABLE court_events_pending (
    cms_case_reference TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    effective_date     TEXT NOT NULL,
    PRIMARY KEY (cms_case_reference, event_id)
);
CREATE INDEX court_events_pending_by_case_and_date
    ON court_events_pending (cms_case_reference, effective_date);

-- The inbox records routing, not application, from now on.
ALTER TABLE court_order_inbox RENAME COLUMN applied TO routed;

-- Replaced by the pending rows above: an application is the deletion of its row.
DROP TABLE court_order_applications;
