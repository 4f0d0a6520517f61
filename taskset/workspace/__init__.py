"""Workspaces: mirrors, history-free trees at base_commit, test files, diff paths, provenance.

Owns the repository mirrors (``mirrors``), the workspace and its edits (``workspace``, with the
git plumbing in ``gitdir`` and file writes in ``files``), which paths are tests or pytest
configuration (``testfiles``, ``pytestconfig``), which paths a diff touches (``diffpaths``),
whether a candidate may touch a path (``pathsafety``) and where a task comes from
(``provenance``). May import ``taskset.files`` and ``taskset.errors``.
"""
