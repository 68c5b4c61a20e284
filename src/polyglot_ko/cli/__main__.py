"""`python -m polyglot_ko.cli COMMAND ...` (what torchrun runs: `torchrun ... -m polyglot_ko.cli pretrain ...`)."""

import sys

from . import main

sys.exit(main())
