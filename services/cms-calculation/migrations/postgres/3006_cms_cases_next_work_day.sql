-- The next day each case has time-driven work (an instalment, a review, a hearing, a pause's end),
-- kept beside the record whenever the case is saved, so a clock move visits only the cases with
-- something due instead of every case. '9999-12-31' is "nothing due"; a row saved before this
-- column existed holds NULL, and is visited until it is saved again.
ALTER TABLE cms_cases ADD COLUMN next_work_day TEXT;
CREATE INDEX cms_cases_by_next_work_day ON cms_cases (next_work_day);
