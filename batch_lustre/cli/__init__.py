"""The operator's command line of batch-lustre (``batch-lustre --help``, or ``python -m cli --help``)."""
