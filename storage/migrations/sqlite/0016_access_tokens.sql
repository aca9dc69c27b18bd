-- Reserved for issue 11 (0016_access_tokens); filled in by the work that needs it.
SELECT 1;
