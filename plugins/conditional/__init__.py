"""Built-in plugin 'conditional' (filled in by its issue)."""
