"""The ``gantrans`` command line."""
