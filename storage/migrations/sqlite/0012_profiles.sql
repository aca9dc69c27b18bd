-- Schema version 12: reserved for issue 10 (profiles); filled in by the work that needs it.
SELECT 1;
