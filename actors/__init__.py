"""Local actors: chapters (Group), members (Person) and the node itself (Application)."""
