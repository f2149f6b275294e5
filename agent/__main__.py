"""`python -m agent`: the same as the `edge-agent` console script."""

import sys

from agent.cli.main import main

sys.exit(main())
