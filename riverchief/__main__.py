"""``python -m riverchief``: the same command line as the ``riverchief`` script."""

from riverchief.cli import main

main()
