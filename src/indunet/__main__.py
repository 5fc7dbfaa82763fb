"""``python -m indunet``: the same as the ``indunet`` command."""

import sys

from indunet.cli import main

sys.exit(main())
