"""Built-in plugin 'networks' (filled in by its issue)."""
