"""``python -m slaclock``."""

import sys

from slaclock.cli import main

sys.exit(main())
