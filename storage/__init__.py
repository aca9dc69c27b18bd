"""Storage: the embedded SQLite store (schema, migrations, queries). All SQL lives here."""
