"""Migration waves: the plan model, validation, wave scheduling (pure), the executor and
its SQLite journal. ``cloudctl.cli.migrate`` is the thin command layer over this package."""
