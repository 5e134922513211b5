#!/usr/bin/env python3
"""Extracts the queries of the shared corpus into per-target seed directories.

Usage: python3 fuzz/seeds.py [$RULEATLAS_SHARED/corpus] [fuzz/corpus]

The language-only fuzz targets (kql, lucene, eql, esql, spl, kusto) take a bare query as
input, so their seeds are the queries found in the rule files, one file each. The file-level
targets (sigma, yaral, check) read the shared corpus folders directly as a read-only extra
corpus and need no extraction. Writes only into the output folder (git-ignored).
"""
import hashlib
import os
import sys
import tomllib

import yaml

corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("RULEATLAS_SHARED", "/work/shared"), "corpus")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "corpus")

ELASTIC_LANG = {"kuery": "kql", "lucene": "lucene", "eql": "eql", "esql": "esql"}
counts = {}


def put(target, text):
    if not isinstance(text, str) or not text.strip():
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    data = text.encode()
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1


def walk(sub, exts):
    for root, _, files in os.walk(os.path.join(corpus, sub)):
        for f in files:
            if f.lower().endswith(exts):
                yield os.path.join(root, f)


for p in walk("elastic", (".toml",)):
    try:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
    except Exception:
        continue
    rule = doc.get("rule", {})
    target = ELASTIC_LANG.get(rule.get("language", ""))
    if target:
        put(target, rule.get("query"))
    for flt in rule.get("filters", []) or []:
        q = (flt.get("query") or {}) if isinstance(flt, dict) else {}
        if isinstance(q, dict) and "query_string" in q:
            put("lucene", q["query_string"].get("query"))

for p in walk("splunk", (".yml", ".yaml")):
    try:
        with open(p, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except Exception:
        continue
    if isinstance(doc, dict):
        put("spl", doc.get("search"))

for p in walk("kusto", (".yml", ".yaml")):
    try:
        with open(p, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except Exception:
        continue
    if isinstance(doc, dict):
        put("kusto", doc.get("query"))

for t, n in sorted(counts.items()):
    print(f"{t}: {n} seeds")
