-- PostgreSQL's page fill and compression settings for the cases' table; SQLite has no such
-- settings (it rewrites a row in place on its page).
SELECT 1;
