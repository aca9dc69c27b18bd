-- Schema version 19: the language people write in. A chapter's `language` is what its
-- items are written in unless the author says otherwise (NULL: the node's [node]
-- language, so a node that changes its default takes along the chapters that never
-- chose). An item's `language` is sent as the key of its contentMap, nameMap and
-- summaryMap; NULL for items published before this version: nobody said what they were
-- written in, and a wrong tag would have Mastodon offer to translate from the wrong
-- language, so they go out as before, without maps.
ALTER TABLE chapters ADD COLUMN language TEXT CHECK (language IS NULL OR length(language) <= 8);
ALTER TABLE items ADD COLUMN language TEXT CHECK (language IS NULL OR length(language) <= 8);
