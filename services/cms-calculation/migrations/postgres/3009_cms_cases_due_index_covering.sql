-- The index a clock move finds the cases with something due by holds their references as well, so
-- the search reads the index alone, never the cases' rows (the records, half a page each): a week
-- costs a few index pages, whatever the caseload.
DROP INDEX cms_cases_by_next_work_day;
CREATE INDEX cms_cases_by_next_work_day ON cms_cases (next_work_day, case_reference);
