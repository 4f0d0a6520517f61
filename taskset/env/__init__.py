"""Test environments: dependency files, resolution by date, interpreters, the install ladder, the cache.

Owns reading what a project needs (``depfiles``, ``setuppy``, ``requirements``, ``specs``, ``deps``,
``cimatrix``), which interpreter fits (``pythons``), the version a build gets instead of asking git
(``scmversion``; ``ownwheel``: the project built alone), what the repository pinned (``pins``: lock
files, reconciled pin files), building a venv rung by rung (``install``, ``buildfailure``,
``project``, ``treebuild``) and relaxing a resolution with no solution (``relax``), where the
project is imported from (``layout``), the cached environment itself (``environment``) and the
checks that it is still whole (``check``, ``probe``). May import ``taskset.files``,
``taskset.record`` and ``taskset.errors``; nothing of workspaces, evaluation or interop.
"""
