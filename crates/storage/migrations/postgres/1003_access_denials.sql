-- Calls the access policy refused, each recorded before the refusal is answered: who called (empty
-- when the caller gave no identity), which RPC, the status answered and why, and the simulated date
-- the service had reached.
CREATE TABLE access_denials (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rpc            TEXT NOT NULL,
    caller         TEXT NOT NULL,
    code           TEXT NOT NULL,
    detail         TEXT NOT NULL,
    simulated_date TEXT
);
