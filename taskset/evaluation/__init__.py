"""The evaluator: run a task's tests confined, read two witnesses, and decide a verdict.

Owns the verdict (``verdict``: ``evaluate``), the test run (``runner``, ``process``, ``limits``),
confinement (``sandbox``, ``identity``, ``userns``, ``reaper``), the pytest plugin that runs
inside the task's interpreter (``_pytest_plugin/``), the readers of what a run leaves behind
(``junit``, ``witness``, ``safeio``), tamper evidence (``tamper``, ``protect``, the static screen
``screen``), feedback for a retry (``feedback``) and one shell command confined like a test run
(``shell``: an agent's commands).
May import ``taskset.workspace``, ``taskset.env``, ``taskset.files``, ``taskset.record`` and
``taskset.errors``.
"""
