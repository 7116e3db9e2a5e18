"""batch-lustre: AWS Batch jobs on a short-lived FSx for Lustre scratch file system, results safely in S3.

The installed package holds the operator's tools: the command line (``batch_lustre.cli``), the Automation
API for other tools (``batch_lustre.automation``) and the offline emulation (``batch_lustre.emulation``).
The Pulumi program they drive (``__main__.py``, ``stack.py``, ``settings.py``, ``parameters.py``, ``asl/``,
``components/``, ``lambda/``) is not installed: it stays in the project directory, where Pulumi runs it, and
the tools import its modules as ``batch_lustre.program.<module>`` (``batch_lustre.project`` says how;
``sys.path`` is not changed).
"""

from importlib import metadata

try:
    __version__ = metadata.version("batch-lustre")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
