-- Schema version 8: who holds a delivery's lease. With several `serve` processes on one
-- database (PostgreSQL), a process that starts again frees the leases it held before it
-- stopped, and only those: a neighbour's sends in flight keep theirs. NULL: no lease, or
-- one taken before this column existed (freed by whichever worker starts first).
ALTER TABLE deliveries ADD COLUMN locked_by TEXT;
