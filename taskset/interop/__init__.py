"""Task sets to and from other tools: SWE-bench 5 rows, task repositories, eval scripts, dataset files,
Harbor task directories.

Owns ``swebench`` (export and import), ``swebench_rows`` (one task <-> one row),
``swebench_eval`` (the eval script a row carries), ``swebench_repo`` (a task repository),
``swebench_files`` (reading published dataset files), ``destination`` (where an export goes),
``harbor`` and ``harbor_files`` (Harbor task directories, both ways), ``harbor_env`` (Harbor's
environment over loopctl's sandbox: imports ``harbor``, so only Harbor loads it) and
``_harbor_scripts`` (what runs inside a Harbor task). The top floor of ``taskset``: may import
every other sub-package; nothing in ``taskset`` imports it but the lazy names of ``taskset``.
"""
