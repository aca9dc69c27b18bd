-- Schema version 11: reserved for issue 10 (mail); filled in by the work that needs it.
SELECT 1;
