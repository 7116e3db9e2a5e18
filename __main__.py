"""Pulumi program of the batch-lustre project (`pulumi up -s taskexport` / `-s autoexport`)."""

from batch_lustre.program import stack

stack.main()
