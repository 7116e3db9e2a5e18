"""``python -m cli``: the batch-lustre command line."""

from batch_lustre.cli.app import main

main()
