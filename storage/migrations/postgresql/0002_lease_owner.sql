-- Schema version 2 (SQLite's 8): who holds a delivery's lease. A `serve` process that
-- starts again frees the leases it held before it stopped, and only those: another
-- process's sends in flight keep theirs.
ALTER TABLE deliveries ADD COLUMN locked_by text;
