"""``python -m cfinv``: the same as the ``cfinv`` command."""

import sys

from cfinv.cli import main

sys.exit(main())
