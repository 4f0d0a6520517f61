"""The escalation loop: prompts, answers turned into edits, the evaluator's gate, tiers in order.

Owns ``context`` (which files a prompt shows: oracle, traceback or bm25 retrieval), ``prompts``,
``edits`` and ``diffs`` (from a task to a prompt, from an answer to a candidate), ``tier`` (one
tier's attempts against the evaluator), ``gate`` (budgets and stop signals), ``prehoc`` (the
difficulty score the heuristic strategies route on) and ``raycells`` (the same cells as Ray
tasks). May import ``harness.records``, ``harness.providers``, the vocabulary and ``taskset``.
"""
