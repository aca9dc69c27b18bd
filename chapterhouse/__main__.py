import sys

from chapterhouse.cli import main

sys.exit(main())
