-- Each case as the registry holds it: the whole record (parties, children, orders, hearings, a
-- pending variation) as one JSON document, read and written in the command's transaction under the
-- case's lock. Status and date are columns of their own so that cases can be found without reading
-- every record.
CREATE TABLE court_cases (
    case_reference  TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    last_changed_on TEXT NOT NULL,
    record          TEXT NOT NULL
);
CREATE INDEX court_cases_by_status ON court_cases (status, last_changed_on);
