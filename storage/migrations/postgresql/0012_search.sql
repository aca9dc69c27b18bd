-- Reserved for issue 11 (0012_search); filled in by the work that needs it.
SELECT 1;
