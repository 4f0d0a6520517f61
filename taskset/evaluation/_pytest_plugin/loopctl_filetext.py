"""Whether code compiled under a file's name is that file's own text (``loopctl_audit``'s ``compile`` rule).

Libraries compile a file's text for their own reasons: the whole file, one function of it (an
``ast.parse`` of a snippet), or -- coverage.py's ``phystokens.compile_unicode`` -- the whole file
with its encoding declaration rewritten as a comment. None of these changes what the file's code
does; anything else compiled under its name does. Standard library only (the audit hook runs it).
"""

HEADER_LINES = 2
"""Where an encoding declaration may stand (PEP 263): the only lines a comment may be rewritten in."""


def holds(held, source):
    """True when ``source`` (bytes) is the file's text ``held``, a piece of it, or the file with
    comment lines among its first two rewritten as other comments."""
    return source == held or _snippet(source, held) or _header_comments_aside(source, held)


def _snippet(source, held):
    """A piece of the file (ast.parse of one function, say), indentation and line ends aside."""
    text = source.replace(b"\r\n", b"\n").strip()
    if not text:
        return True
    lines = [line.strip() for line in text.split(b"\n")]
    body = [line.strip() for line in held.replace(b"\r\n", b"\n").split(b"\n")]
    joined = b"\n".join(body)
    return b"\n".join(lines) in joined


def _header_comments_aside(source, held):
    """The same lines, but for a header comment rewritten as another comment (coverage.py neuters
    ``# -*- coding: ... -*-`` so it can compile text it already decoded): no line of code differs."""
    ours = source.split(b"\n", HEADER_LINES)
    theirs = held.split(b"\n", HEADER_LINES)
    if len(ours) != len(theirs) or ours[-1] != theirs[-1]:
        return False
    return all(mine == held_line or (_comment(mine) and _comment(held_line))
               for mine, held_line in zip(ours[:-1], theirs[:-1]))


def _comment(line):
    return line.lstrip(b" \t").startswith(b"#")
