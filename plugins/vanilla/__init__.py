"""Built-in plugin 'vanilla' (filled in by its issue)."""
