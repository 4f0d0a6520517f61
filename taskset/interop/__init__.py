"""Task sets to and from other tools: SWE-bench 5 rows, task repositories, eval scripts, dataset files.

Owns ``swebench`` (export and import), ``swebench_rows`` (one task <-> one row),
``swebench_eval`` (the eval script a row carries), ``swebench_repo`` (a task repository) and
``swebench_files`` (reading published dataset files). The top floor of ``taskset``: may import
every other sub-package; nothing in ``taskset`` imports it but the lazy names of ``taskset``.
"""
