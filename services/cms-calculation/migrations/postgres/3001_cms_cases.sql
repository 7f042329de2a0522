-- Each CMS case: its parties as columns (to find a family's case), and its whole state — liability
-- periods, account, enforcement, history — as one JSON document, read and written in the command's
-- transaction under the case's lock.
CREATE TABLE cms_cases (
    case_reference       TEXT PRIMARY KEY,
    paying_parent_ref    TEXT NOT NULL,
    receiving_parent_ref TEXT NOT NULL,
    record               TEXT NOT NULL
);
CREATE INDEX cms_cases_by_paying_parent ON cms_cases (paying_parent_ref);
