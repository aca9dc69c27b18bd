-- Reserved for item language (part C); replaced by that part's schema.
SELECT 1;
