"""``python -m grec`` is the ``grec`` command."""

import sys

from grec.cli import main

sys.exit(main())
