"""Run the CLI as ``python -m werk.cli``."""

from werk.cli.main import main

main()
