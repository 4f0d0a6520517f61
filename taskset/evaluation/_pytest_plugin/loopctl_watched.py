"""What loopctl_integrity watches in the pytest process: pytest's own packages, whole, and a few
named pieces outside them. Data only; standard library only, like the plugin."""

# Named pieces: where pytest decides, records and reports outcomes, and rewrites assertions (the
# dunder methods and builtins below are outside what the package-wide watch covers). Replacing
# any of these after start-up is how in-process cheating works. Missing entries are skipped.
WATCHED = (
    ("_pytest.runner", "call_and_report"),
    ("_pytest.runner", "runtestprotocol"),
    ("_pytest.runner", "call_runtest_hook"),
    ("_pytest.runner", "pytest_runtest_makereport"),
    ("_pytest.runner", "pytest_runtest_protocol"),
    ("_pytest.runner", "pytest_runtest_call"),
    ("_pytest.runner", "check_interactive_exception"),
    ("_pytest.runner", "CallInfo.from_call"),
    ("_pytest.reports", "TestReport.from_item_and_call"),
    ("_pytest.reports", "TestReport.__init__"),
    ("_pytest.reports", "BaseReport.passed"),
    ("_pytest.reports", "BaseReport.failed"),
    ("_pytest.reports", "BaseReport.skipped"),
    ("_pytest.junitxml", "LogXML.pytest_runtest_logreport"),
    ("_pytest.junitxml", "LogXML.pytest_sessionfinish"),
    ("_pytest.junitxml", "_NodeReporter.append_pass"),
    ("_pytest.junitxml", "_NodeReporter.append_failure"),
    ("_pytest.junitxml", "_NodeReporter.to_xml"),
    ("_pytest.python", "pytest_pyfunc_call"),
    ("_pytest.python", "Function.runtest"),
    ("_pytest.python", "Function.obj"),
    ("_pytest.python", "PyobjMixin.obj"),
    ("_pytest.main", "pytest_runtestloop"),
    ("_pytest.main", "wrap_session"),
    ("_pytest.skipping", "pytest_runtest_makereport"),
    ("_pytest.skipping", "pytest_runtest_setup"),
    ("_pytest.skipping", "pytest_runtest_call"),
    ("_pytest.outcomes", "fail"),
    ("_pytest.outcomes", "skip"),
    ("_pytest.outcomes", "xfail"),
    ("_pytest.outcomes", "exit"),
    ("_pytest.assertion.rewrite", "rewrite_asserts"),
    ("_pytest.assertion.rewrite", "_rewrite_test"),
    ("_pytest.assertion.rewrite", "AssertionRewriter.run"),
    ("_pytest.assertion.rewrite", "AssertionRewriter.visit_Assert"),
    ("_pytest.assertion.rewrite", "AssertionRewritingHook.exec_module"),
    ("_pytest.assertion.rewrite", "AssertionRewritingHook.find_spec"),
    ("_pytest.assertion.util", "assertrepr_compare"),
    ("pluggy._callers", "_multicall"),
    ("pluggy._hooks", "HookCaller.__call__"),
    ("pluggy._hooks", "_HookCaller.__call__"),
    ("pluggy._hooks", "HookImpl.__init__"),
    ("pluggy._manager", "PluginManager._hookexec"),
    ("pluggy._manager", "PluginManager.register"),
    ("pluggy.callers", "_multicall"),
    ("pluggy.hooks", "_HookCaller.__call__"),
    ("pluggy.manager", "PluginManager._hookexec"),
    ("builtins", "AssertionError"),
    ("builtins", "__import__"),
    ("builtins", "compile"),
    ("builtins", "exec"),
)


WATCHED_PACKAGES = ("_pytest", "pytest", "pluggy", "loopctl_pytest_plugin", "loopctl_integrity", "loopctl_honest",
                    "loopctl_watched", "loopctl_programs", "loopctl_filetext",
                    "loopctl_lines", "loopctl_whose")
"""Every function and class of these packages (module globals and class attributes alike) is
watched, not a list of names: a report class rebound in one module, a test item's setup or its
lookup of the test object replaced, all show the same way."""
