-- Schema version 12: members edit their profile and are welcomed once.
-- avatar_file names the image this node made from a member's upload (under the data
-- directory's media/avatars); icon_url then points at where it is served. summary_html is
-- the summary's Markdown made into sanitised HTML when it was saved (summary keeps the
-- source the member edits); NULL for a plain-text summary (chapters, the command line).
ALTER TABLE actors ADD COLUMN avatar_file TEXT;
ALTER TABLE actors ADD COLUMN summary_html TEXT;
-- An account made by joining on the web is welcomed on its first login; accounts made
-- earlier, or from the command line, are not.
ALTER TABLE accounts ADD COLUMN welcome_pending INTEGER NOT NULL DEFAULT 0
    CHECK (welcome_pending IN (0, 1));
