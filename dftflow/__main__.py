"""`python -m dftflow` = the `dftflow` command."""

import sys

from dftflow.cli import main

sys.exit(main())
