"""``python -m flowzip`` runs the command line tool."""

from flowzip.cli import main

main()
