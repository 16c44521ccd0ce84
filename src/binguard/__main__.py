from binguard.cli import main

raise SystemExit(main())
