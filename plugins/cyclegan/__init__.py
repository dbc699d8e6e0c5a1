"""Built-in plugin 'cyclegan' (filled in by its issue)."""
