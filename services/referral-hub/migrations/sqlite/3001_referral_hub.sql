-- The referral hub's own records.

-- Events received from the court registry's and the CMS's feeds, in the same transaction as the
-- feed cursor, so each arrives exactly once. The hub acts on them when its clock reaches their date,
-- in (date, publisher, stream, sequence) order, whatever order they arrived in.
CREATE TABLE hub_inbox (
    arrival        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT    NOT NULL UNIQUE,
    publisher      TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    stream         TEXT    NOT NULL,
    sequence       BIGINT  NOT NULL,
    effective_date TEXT    NOT NULL,
    traceparent    TEXT    NOT NULL,
    tracestate     TEXT    NOT NULL,
    payload        BLOB      NOT NULL,
    handled        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hub_inbox_pending ON hub_inbox (handled, effective_date);

-- CMS cases the hub has heard of, with their parents; live once the CMS has made a calculation.
CREATE TABLE hub_cms_cases (
    case_reference       TEXT    PRIMARY KEY,
    paying_parent_ref    TEXT    NOT NULL,
    receiving_parent_ref TEXT    NOT NULL,
    live                 INTEGER NOT NULL DEFAULT 0,
    last_missed_on       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX hub_cms_cases_parents ON hub_cms_cases (paying_parent_ref, receiving_parent_ref);

-- Contacts with the CMS, screened for distress.
CREATE TABLE hub_contacts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    cms_case_reference TEXT    NOT NULL,
    person_ref         TEXT    NOT NULL,
    contact_date       TEXT    NOT NULL,
    distressed         INTEGER NOT NULL
);
CREATE INDEX hub_contacts_person ON hub_contacts (person_ref, contact_date);

-- Court cases the hub has heard of, with their parties and welfare flags.
CREATE TABLE hub_court_cases (
    court_case_reference   TEXT    PRIMARY KEY,
    applicant_ref          TEXT    NOT NULL,
    respondent_ref         TEXT    NOT NULL,
    domestic_abuse_alleged INTEGER NOT NULL,
    in_proceedings         INTEGER NOT NULL
);

-- Parents flagged by screening, and until when.
CREATE TABLE hub_flags (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    person_ref         TEXT NOT NULL,
    cms_case_reference TEXT NOT NULL,
    flagged_on         TEXT NOT NULL,
    flagged_until      TEXT NOT NULL
);
CREATE INDEX hub_flags_person ON hub_flags (person_ref, flagged_until);

-- Referrals to support pathways.
CREATE TABLE hub_referrals (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    person_ref         TEXT NOT NULL,
    cms_case_reference TEXT NOT NULL,
    pathway            TEXT NOT NULL,
    made_on            TEXT NOT NULL,
    accepted_on        TEXT NOT NULL,
    closes_on          TEXT NOT NULL,
    reason             TEXT NOT NULL
);
CREATE INDEX hub_referrals_person ON hub_referrals (person_ref);

-- Enforcement pauses asked of the CMS, each with its review at the end.
CREATE TABLE hub_pauses (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    cms_case_reference TEXT    NOT NULL,
    person_ref         TEXT    NOT NULL,
    starts_on          TEXT    NOT NULL,
    review_on          TEXT    NOT NULL,
    reviewed           INTEGER NOT NULL DEFAULT 0,
    still_distressed   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hub_pauses_due ON hub_pauses (reviewed, review_on);

-- Joint case reviews of variation applications.
CREATE TABLE hub_reviews (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    court_case_reference    TEXT    NOT NULL,
    cms_case_reference      TEXT    NOT NULL,
    status                  TEXT    NOT NULL,
    opened_on               TEXT    NOT NULL,
    concluded_on            TEXT    NOT NULL DEFAULT '',
    current_weekly_amount   TEXT    NOT NULL,
    projected_weekly_amount TEXT    NOT NULL,
    projected_payer_ref     TEXT    NOT NULL,
    roles_flip              INTEGER NOT NULL,
    decided_by_order_id     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX hub_reviews_court_case ON hub_reviews (court_case_reference, status);
