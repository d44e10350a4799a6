-- Overdue warnings (issue 16): when the tick warned the report's agency (webhook event
-- `report.overdue`) that an open report passed its due time. NULL until then; set by the
-- one conditional UPDATE that claims the warning (`... WHERE code = ? AND overdue_at IS
-- NULL`), so overlapping ticks warn once. A reassignment clears it: the new agency is warned
-- in its turn. Times are UTC RFC 3339 with a trailing Z, so text order is time order.
ALTER TABLE reports ADD COLUMN overdue_at TEXT;

-- The tick's scan: open reports not warned yet, by due time. Partial, so it holds only the
-- reports that may still need a warning; the scan's WHERE repeats these terms word for word
-- (SQLite uses a partial index only when the query's terms imply its WHERE).
CREATE INDEX reports_overdue_due ON reports (due_at)
    WHERE overdue_at IS NULL AND status IN ('received', 'in_progress');
