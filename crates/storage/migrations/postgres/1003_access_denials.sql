-- Calls the access policy refused, each counted before the refusal is answered: one row per RPC,
-- caller (empty when the caller gave no identity), status answered and reason, with how many times
-- and the simulated dates of the first and the latest. Counted rather than a row a call, so that
-- refused callers, anonymous ones above all, cannot grow the database by calling again: the rows
-- are bounded by the RPCs, the identities and the reasons.
CREATE TABLE access_denials (
    rpc          TEXT   NOT NULL,
    caller       TEXT   NOT NULL,
    code         TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    times        BIGINT NOT NULL,
    first_date   TEXT,
    latest_date  TEXT,
    PRIMARY KEY (rpc, caller, code, reason)
);
