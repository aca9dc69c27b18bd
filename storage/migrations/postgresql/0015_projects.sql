-- Reserved for projects (part A); replaced by that part's schema.
SELECT 1;
