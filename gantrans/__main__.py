"""``python -m gantrans`` (also what ``torchrun -m gantrans`` runs)."""

import sys

from gantrans.cli.main import main

sys.exit(main())
