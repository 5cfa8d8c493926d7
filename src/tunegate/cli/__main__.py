"""``python -m tunegate.cli``."""

from tunegate.cli import main

main()
