-- The two parents of each court case the CMS has heard of, learnt from the case's first event.
-- A court case often opens before either parent applies to the CMS, and a case closed without an
-- order names no parties: linking by these stored parties lets every later event (the closure
-- included) reach CMS cases opened after the court case.
CREATE TABLE court_case_parties (
    court_case_reference TEXT NOT NULL PRIMARY KEY,
    applicant_ref        TEXT NOT NULL,
    respondent_ref       TEXT NOT NULL
);
