"""gantrans.gan (filled in by its issue)."""
