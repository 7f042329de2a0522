-- The trace context each court event came with, so that applying it continues the family's trace
-- (the court's order, the CMS's recalculation and the hub's reaction are one trace). Events taken
-- in before this column existed carry none: applying them begins a trace of its own.
ALTER TABLE court_order_inbox ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
ALTER TABLE court_order_inbox ADD COLUMN tracestate TEXT NOT NULL DEFAULT '';
