"""``python -m cli``: the batch-lustre command line."""

from cli.app import main

main()
