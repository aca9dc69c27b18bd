-- Schema version 7: reserved for issue 10 (profiles); filled in by the work that needs it.
SELECT 1;
