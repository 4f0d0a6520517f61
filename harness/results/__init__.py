"""From the attempt log to figures: the outcome matrix, strategies, confidence intervals, predictions.

Owns ``strategies`` (every strategy replayed from one outcome matrix), ``stats`` (bootstrap CIs),
``summary`` (summary.json, split by task class on request), ``classes`` (task classes and the
decision matrix), ``retrieval`` (recall of gold files per context setting), ``agentmodes`` (the
A–F table of agent loops) and ``predictions`` (SWE-bench predictions files). May import
``harness.agent``, ``harness.loop``, ``harness.records``, the vocabulary and ``taskset``.
"""
