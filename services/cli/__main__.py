"""`python -m services.cli`: the `prowd` command."""

import sys

from services.cli.main import main

sys.exit(main())
