"""From the attempt log to figures: the outcome matrix, strategies, confidence intervals, predictions.

Owns ``strategies`` (every strategy replayed from one outcome matrix), ``stats`` (bootstrap CIs),
``summary`` (summary.json) and ``predictions`` (SWE-bench predictions files). May import
``harness.loop``, ``harness.records`` and the vocabulary.
"""
