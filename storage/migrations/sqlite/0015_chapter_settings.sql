-- Schema version 15: organisers edit their chapter's settings on the web.
-- about is the chapter's longer text, the Markdown its organisers write; about_html the
-- sanitised HTML made from it when it was saved (NULL while there is none). A chapter's
-- picture uses actors.avatar_file and icon_url as a member's does (version 12), and its
-- founded date is chapters.founded_at, which organisers may now set to the real day.
ALTER TABLE chapters ADD COLUMN about TEXT NOT NULL DEFAULT '';
ALTER TABLE chapters ADD COLUMN about_html TEXT;
