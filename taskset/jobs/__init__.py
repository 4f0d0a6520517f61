"""Running many units of work: the local process pool, Ray, and progress reports.

Owns ``pool`` (``--jobs N``), ``raypool`` (``--backend ray``, the same units as Ray tasks) and
``progress`` (what long work reports; the CLI draws it). Imports only ``taskset.errors``.
"""
