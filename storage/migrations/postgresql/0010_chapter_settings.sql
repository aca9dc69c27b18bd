-- Reserved for issue 11 (0010_chapter_settings); filled in by the work that needs it.
SELECT 1;
