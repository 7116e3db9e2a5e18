"""The Pulumi program's modules, under this package's name: ``batch_lustre.program.asl``, ``.components``,
``.parameters``, ``.settings``, ``.stack``.

They stay at the top level of the project directory, where ``pulumi up`` runs ``__main__.py``; this package's
``__path__`` is that directory (``batch_lustre.project.program_path``), so Python's own import system finds
them there, and nothing is added to ``sys.path`` or imported under a top-level name. The design, and why:
``batch_lustre.project``.
"""

from batch_lustre.project import program_path

__path__ = program_path()
