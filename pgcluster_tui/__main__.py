"""python -m pgcluster_tui, and the pgcluster-tui command."""

import gc
import sys


def main() -> int:
    """Load the command line with the collector off, then run it."""
    # Loading some 560 modules allocates much and frees next to nothing: about 40 ms of
    # collections for no garbage. cli.main turns the collector back on (or tunes it).
    gc.disable()
    from pgcluster_tui.cli import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
