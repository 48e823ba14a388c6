"""``python -m flowzip`` runs the command line tool."""

from flowzip.frontends.cli import main

main()
