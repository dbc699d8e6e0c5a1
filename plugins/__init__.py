"""gantrans's built-in plugins (import name ``gantrans_plugins``).

Each sub-package is registered through the ``gantrans`` entry-point group exactly like a
third-party plugin and reaches the core only through the public hook specifications and the
toolkit modules a third party may import (``gantrans.recipe``, ``gantrans.gan``,
``gantrans.data``). Plugin modules import no torch at top level, so listing plugins is cheap.
"""
