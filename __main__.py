"""Pulumi program of the batch-lustre project (`pulumi up -s taskexport` / `-s autoexport`)."""

import stack

stack.main()
