"""``python -m zstd_chunked`` runs the command line."""

import sys

from .cli import main

raise SystemExit(main(sys.argv[1:]))
