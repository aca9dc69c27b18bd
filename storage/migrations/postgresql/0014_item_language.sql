-- Schema version 14: the language people write in (SQLite's version 19). A chapter's
-- `language` is what its items are written in unless the author says otherwise (NULL:
-- the node's [node] language). An item's `language` is sent as the key of its
-- contentMap, nameMap and summaryMap; NULL for items published before this version,
-- which go out as before, without maps: nobody said what they were written in.
ALTER TABLE chapters ADD COLUMN language text CHECK (language IS NULL OR length(language) <= 8);
ALTER TABLE items ADD COLUMN language text CHECK (language IS NULL OR length(language) <= 8);
