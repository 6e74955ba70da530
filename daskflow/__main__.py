"""``python -m daskflow``: the same as the ``daskflow`` command."""

import sys

from .cli import main

sys.exit(main())
