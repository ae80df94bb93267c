from alignment.cli import main

raise SystemExit(main())
