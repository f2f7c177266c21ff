"""`python -m pytest_mes.sandbox [options]`: the same as `mes sandbox [options]`."""

import sys

from pytest_mes.cli import main

sys.exit(main(["sandbox", *sys.argv[1:]]))
