#!/usr/bin/python3
"""lint-truncation.py: no silent truncation in src/ (issue 11).

Fails, printing file:line, on
  - an snprintf()/vsnprintf() call whose result is ignored (a statement of its own, or cast to
    void): text that does not fit would be cut without anyone noticing. Use fixed_printf() or
    fixed_copy() (lib/fixed_str.h) with the result checked, a strbuf, or check the result;
  - any use of strcpy, strncpy, strcat, strncat, sprintf or vsprintf.
A line may stay only when scripts/lint-truncation.allow lists it with a reason:
    path | the code of the flagged line, trimmed | why it is allowed
Entries match by path and code, not line number, so edits elsewhere in a file do not break them.

Usage: scripts/lint-truncation.py [files...]   (default: every .c and .h file under src/)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALLOW = ROOT / "scripts" / "lint-truncation.allow"

CALL = re.compile(r"\b(v?snprintf)\s*\(")
BANNED = re.compile(r"\b(strcpy|strncpy|strcat|strncat|sprintf|vsprintf)\s*\(")
CONTROL = ("if", "while", "for", "switch")


def blank_comments_and_strings(text):
    """Replaces comments and string/char literals by spaces, keeping newlines and offsets."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            i += 1
            continue
        for k in range(i, j):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def matching_open(code, close):
    """Index of the '(' that matches the ')' at close, or -1."""
    depth = 0
    for k in range(close, -1, -1):
        if code[k] == ")":
            depth += 1
        elif code[k] == "(":
            depth -= 1
            if depth == 0:
                return k
    return -1


def result_ignored(code, start):
    """True when the call at start begins a statement (its value goes nowhere)."""
    k = start - 1
    while k >= 0 and code[k].isspace():
        k -= 1
    if k < 0 or code[k] in ";{}":
        return True
    if code[k] == ")":  # "(void)snprintf(" or "if (x) snprintf("
        o = matching_open(code, k)
        if o < 0:
            return False
        if code[o + 1:k].strip() == "void":
            return True
        before = code[:o].rstrip()
        return re.search(r"\b(%s)$" % "|".join(CONTROL), before) is not None
    if code[k] == ":":  # "case X: snprintf(" or "label: snprintf(", not "a ? b : snprintf("
        stmt_start = max(code.rfind(c, 0, k) for c in ";{}") + 1
        head = code[stmt_start:k].strip()
        return re.fullmatch(r"(case\b.*|default|[A-Za-z_]\w*)", head, re.S) is not None
    word = re.search(r"\b(\w+)$", code[:k + 1])
    return word is not None and word.group(1) in ("else", "do")


def findings(path, text):
    code = blank_comments_and_strings(text)
    lines = text.split("\n")
    for m in CALL.finditer(code):
        if result_ignored(code, m.start()):
            line = code.count("\n", 0, m.start()) + 1
            yield line, lines[line - 1].strip(), f"{m.group(1)} result ignored"
    for m in BANNED.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        yield line, lines[line - 1].strip(), f"{m.group(1)} is not allowed"


def load_allowlist():
    allowed, problems = {}, []
    if not ALLOW.exists():
        return allowed, problems
    for no, raw in enumerate(ALLOW.read_text().split("\n"), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        first, last = raw.find(" | "), raw.rfind(" | ")
        if first < 0 or last == first or not raw[last + 3:].strip():
            problems.append(f"{ALLOW.relative_to(ROOT)}:{no}: want 'path | code | reason'")
            continue
        key = (raw[:first].strip(), raw[first + 3:last].strip())
        allowed[key] = [no, 0]
    return allowed, problems


def main(argv):
    files = [pathlib.Path(a) for a in argv] or sorted(
        p for p in (ROOT / "src").rglob("*") if p.suffix in (".c", ".h"))
    allowed, problems = load_allowlist()
    bad = [("", 0, p) for p in problems]
    for f in files:
        f = f if f.is_absolute() else (pathlib.Path.cwd() / f)
        f = f.resolve()
        rel = str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f)
        for line, src, what in findings(rel, f.read_text(errors="replace")):
            entry = allowed.get((rel, src))
            if entry:
                entry[1] += 1
                continue
            bad.append((rel, line, f"{rel}:{line}: {what}: {src}"))
    for (rel, src), (no, used) in allowed.items():
        if used == 0 and not argv:
            print(f"lint-truncation: note: {ALLOW.name}:{no} matches nothing any more "
                  f"({rel}); remove it", file=sys.stderr)
    for _, _, text in sorted(bad):
        print(text)
    if bad:
        print(f"lint-truncation: {len(bad)} problem(s): check the result of snprintf (or use "
              f"fixed_printf/fixed_copy/strbuf), or list the line in {ALLOW.name} with a reason",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
