import sys

from mario.cli import main

sys.exit(main())
