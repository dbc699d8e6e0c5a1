"""gantrans.export (filled in by its issue)."""
