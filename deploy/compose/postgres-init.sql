-- Run once, when the PostgreSQL container first starts with an empty data folder: one database per
-- agency, as in production each service owns its data. Each service creates its tables itself
-- (its migrations run at start-up).
CREATE DATABASE court_registry;
CREATE DATABASE cms_calculation;
CREATE DATABASE referral_hub;
