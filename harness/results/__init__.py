"""From the attempt log to figures: the outcome matrix, strategies, confidence intervals, predictions.

Owns ``strategies`` (every strategy replayed from one outcome matrix), ``stats`` (bootstrap CIs),
``summary`` (summary.json), ``agentmodes`` (the A–F table of agent loops) and ``predictions``
(SWE-bench predictions files). May import ``harness.agent``, ``harness.loop``, ``harness.records``
and the vocabulary.
"""
