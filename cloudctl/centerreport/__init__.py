"""The center report for leadership: one self-contained HTML page (docs/report.md)."""
