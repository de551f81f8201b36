"""`python -m syncer` runs the command line, like the `syncer` script."""

from syncer.cli import main

main()
