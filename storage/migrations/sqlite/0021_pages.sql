-- Reserved for the organisation's pages (part B); replaced by that part's schema.
SELECT 1;
