import sys

from subtile.cli.main import main

sys.exit(main())
