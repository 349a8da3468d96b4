"""What every area shares: errors with locations, YAML with line numbers, rendering,
the center, audit log, atomic writes and locks, the SQLite state store."""
