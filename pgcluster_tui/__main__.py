"""python -m pgcluster_tui."""

import sys

from pgcluster_tui.cli import main

sys.exit(main())
