import sys

from freqseg.cli import main

sys.exit(main())
