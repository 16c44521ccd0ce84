"""`python -m binguard COMMAND`: the same as the `binguard` script (for environments without it)."""

from binguard.cli import main

raise SystemExit(main())
