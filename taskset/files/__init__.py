"""Files on disk that must survive a crash or a hostile tree: the bottom floor of ``taskset``.

Owns crash-safe writes (``atomic``), one writer per directory (``dirlock``), the cache's location
(``cache``), temporary folders named after their owner (``tempdirs``) and tree walks without
recursion (``walk``). Imports nothing of ``taskset`` but ``taskset.errors``.
"""
