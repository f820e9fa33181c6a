"""`python -m evaltui` runs the CLI."""

from evaltui.cli import main

main()
