"""What a run records: the append-only attempt log and what each attempt cost.

Owns ``attempts`` (RunLog, AttemptRecord, answers, run settings), ``agentstats`` (an agent
attempt's figures) and ``pricing`` (cost from the
usage tokens and the price table). May import ``harness.providers`` and the vocabulary
(``config``, ``errors``, ``modes``, ``names``).
"""
