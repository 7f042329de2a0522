-- Each case's history, appended a row per event instead of rewritten inside the case's record at
-- every command (at a year's end the history was two thirds of the record). A record stored
-- before this table existed still holds its history; its first save moves it here.
CREATE TABLE cms_case_history (
    case_reference TEXT    NOT NULL,
    position       BIGINT  NOT NULL,
    entry          TEXT    NOT NULL,
    PRIMARY KEY (case_reference, position)
);
