-- The service's simulated date (see familybridge.simulation.v1.Clock). One row at most: the
-- `singleton` check keeps it so. A fresh database has no row: the clock has never been advanced.
CREATE TABLE simulation_clock (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    simulated_date TEXT    NOT NULL
);
