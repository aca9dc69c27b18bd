-- Schema version 8: reserved for issue 10 (taking_part); filled in by the work that needs it.
SELECT 1;
