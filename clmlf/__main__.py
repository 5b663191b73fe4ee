import sys

from clmlf.cli import main

sys.exit(main())
