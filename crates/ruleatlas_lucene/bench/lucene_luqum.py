#!/usr/bin/env python3
"""Checks that ruleatlas_lucene parses the fixture queries as luqum (PyPI) does.

For every `query:` line of tests/fixtures/*.fixture (and any extra file given on the command
line, one query a line) both parsers list the terms of their syntax tree as
(field, kind, text, prohibited); the multisets must agree. Boosts are ignored by both.

    pip install luqum==1.0.0
    python3 crates/ruleatlas_lucene/bench/lucene_luqum.py [queries.txt]

Exit status 1 when a query disagrees. Known, explained differences are listed in EXPLAINED.
"""
import glob
import json
import os
import re
import subprocess
import sys
from collections import Counter

from luqum import tree
from luqum.parser import parser

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)

# Queries where the two parsers are known to differ, with the reason.
EXPLAINED = {
    "a:1 || b:2 && !c:3": "luqum 1.0 has no `||`, `&&`, `!` operators (Lucene's classic parser and "
    "Elasticsearch's query_string do); it reads them as terms and a field named `!c`",
}


def unescape(s):
    return re.sub(r"\\(.)", r"\1", s)


def luqum_terms(node, field="", neg=False, out=None):
    if out is None:
        out = []
    if isinstance(node, tree.SearchField):
        return luqum_terms(node.expr, unescape(node.name), neg, out)
    if isinstance(node, (tree.Not, tree.Prohibit)):
        return luqum_terms(node.a, field, not neg, out)
    if isinstance(node, tree.Boost):
        return luqum_terms(node.expr, field, neg, out)
    if isinstance(node, tree.Proximity):
        out.append((field, "proximity", unescape(node.term.value[1:-1]), neg))
        return out
    if isinstance(node, tree.Fuzzy):
        out.append((field, "fuzzy", unescape(node.term.value), neg))
        return out
    if isinstance(node, tree.Phrase):
        out.append((field, "phrase", unescape(node.value[1:-1]), neg))
        return out
    if isinstance(node, tree.Regex):
        out.append((field, "regex", node.value[1:-1].replace("\\/", "/"), neg))
        return out
    if isinstance(node, tree.Range):
        lo = "[" if node.include_low else "{"
        hi = "]" if node.include_high else "}"
        def bound(b):
            v = b.value
            return unescape(v[1:-1] if isinstance(b, tree.Phrase) else v)

        text = f"{lo}{bound(node.low)} TO {bound(node.high)}{hi}"
        out.append((field, "range", text, neg))
        return out
    if isinstance(node, (tree.From, tree.To)):
        op = (">=" if node.include else ">") if isinstance(node, tree.From) else ("<=" if node.include else "<")
        out.append((field, "compare", op + unescape(node.a.value), neg))
        return out
    if isinstance(node, tree.Word):
        out.append((field, "word", unescape(node.value), neg))
        return out
    for child in node.children:
        luqum_terms(child, field, neg, out)
    return out


def queries():
    qs = []
    for path in sorted(glob.glob(os.path.join(CRATE, "tests", "fixtures", "*.fixture"))):
        for line in open(path, encoding="utf-8"):
            if line.startswith("query: "):
                qs.append(line[len("query: "):].rstrip("\n"))
    for extra in sys.argv[1:]:
        qs.extend(l.rstrip("\n") for l in open(extra, encoding="utf-8") if l.strip())
    return qs


def main():
    qs = queries()
    ours = subprocess.run(
        ["cargo", "run", "-q", "-p", "ruleatlas_lucene", "--example", "terms"],
        input="\n".join(qs) + "\n", capture_output=True, text=True, check=True, cwd=CRATE,
    ).stdout.splitlines()
    agree = disagree = 0
    for q, line in zip(qs, ours):
        mine = Counter(tuple(t) for t in json.loads(line))
        try:
            theirs = Counter(luqum_terms(parser.parse(q)))
        except Exception as e:  # luqum rejects the query
            theirs = Counter({("", "error", str(e), False): 1})
        if mine == theirs:
            agree += 1
        elif q in EXPLAINED:
            print(f"explained: {q!r}: {EXPLAINED[q]}")
            agree += 1
        else:
            disagree += 1
            print(f"DISAGREE: {q!r}\n  ours:  {sorted(mine.elements())}\n  luqum: {sorted(theirs.elements())}")
    print(f"{agree} agree, {disagree} disagree, of {len(qs)} queries")
    sys.exit(1 if disagree else 0)


if __name__ == "__main__":
    main()
