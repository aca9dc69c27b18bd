-- Schema version 14: reserved for issue 10 (member_reactions); filled in by the work that needs it.
SELECT 1;
