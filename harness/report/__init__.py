"""The report of a run: HTML and Markdown pages, tables and SVG charts.

Owns ``render`` (report.html and report.md from the summary), ``tables``, ``chart`` and
``display`` (how numbers are printed). May import ``harness.results`` and everything below it.
"""
