-- Schema version 18: the language a member reads the site in and the time zone moments
-- are shown in, chosen on their profile or by the switcher on every page. NULL: not
-- chosen, so the browser's cookie or Accept-Language and the node's default decide.

ALTER TABLE accounts ADD COLUMN language TEXT CHECK (language IS NULL OR length(language) <= 8);
ALTER TABLE accounts ADD COLUMN time_zone TEXT CHECK (time_zone IS NULL OR length(time_zone) <= 64);
