"""The lines a code object's own instructions span: the audit hook judges a function of a file the
candidate edited by whether it holds a line the candidate added (``loopctl_audit._untouched``).

``co_lines`` from Python 3.10; before, the line table ``co_lnotab`` (signed line deltas since 3.6).
Standard library only (the audit hook runs it).
"""


def span(code):
    """(first, last) line of ``code``'s own instructions, its ``def`` line included."""
    numbers = [code.co_firstlineno]
    lines = getattr(code, "co_lines", None)
    if lines is not None:
        numbers += [line for _, _, line in lines() if line is not None]
    else:
        table, line = code.co_lnotab, code.co_firstlineno
        for index in range(1, len(table), 2):
            delta = table[index]
            line += delta - 0x100 if delta >= 0x80 else delta
            numbers.append(line)
    return min(numbers), max(numbers)
