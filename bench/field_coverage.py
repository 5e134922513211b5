#!/usr/bin/env python3
"""Field-normalization figures from a catalog (issue: field normalization).

Usage: python3 bench/field_coverage.py ruleatlas.db [path/to/ruleatlas]

- share of (rule, field) pairs whose field is canonical (mapped by the taxonomy, or an ECS
  name kept as written) per vendor, over counted rules and counted predicate kinds, non-computed;
- canonical fields used by rules of >= 3 vendors, before (raw names) and after (normalized);
- the T1621 field rows before and after.
"""
import json
import sqlite3
import subprocess
import sys
from collections import defaultdict

binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/ruleatlas"
catalog_path = sys.argv[1] if len(sys.argv) > 1 else "ruleatlas.db"
fields_json = json.loads(subprocess.run([binary, "fields", "--json", "--catalog", catalog_path],
                                        check=True, capture_output=True, text=True).stdout)
canonical = {f["field"] for f in fields_json if f["canonical"]}

db = sqlite3.connect(catalog_path)
rows = db.execute(
    """SELECT r.id, r.vendor, p.field, p.raw_field, p.computed, r.domains
       FROM predicates p JOIN rules r ON r.id = p.rule_id
       WHERE r.kind = 'rule' AND NOT r.deprecated AND p.kind IN ('filter', 'threshold')"""
).fetchall()

pairs = defaultdict(set)  # vendor -> {(rule, field, mapped)}
families = defaultdict(set)  # (vendor, family) -> {(rule, field, mapped)}
for rid, vendor, field, raw, computed, domains in rows:
    if computed:
        continue
    entry = (rid, field, field in canonical)
    pairs[vendor].add(entry)
    doms = set(json.loads(domains or "[]"))
    if "endpoint" in doms:
        families[(vendor, "endpoint")].add(entry)
    if doms & {"identity", "cloud"}:
        families[(vendor, "cloud-identity")].add(entry)

print("share of (rule, field) pairs whose field is canonical (taxonomy), per vendor, non-computed")
for vendor in sorted(pairs):
    p = pairs[vendor]
    mapped = sum(1 for _, _, m in p if m)
    fam = []
    for family in ("endpoint", "cloud-identity"):
        q = families.get((vendor, family), set())
        if q:
            m = sum(1 for _, _, x in q if x)
            fam.append(f"{family} {100.0 * m / len(q):5.1f}% of {len(q)}")
    print(f"  {vendor:8} {mapped:6}/{len(p):6} = {100.0 * mapped / max(1, len(p)):5.1f}%   " + "; ".join(fam))

def multi_vendor(col):
    vendors = defaultdict(set)
    for rid, vendor, field, raw, computed, _ in rows:
        vendors[field if col == "field" else raw].add(vendor)
    return sum(1 for v in vendors.values() if len(v) >= 3)

print(f"fields used by rules of >= 3 vendors: before (raw) {multi_vendor('raw')}, after (normalized) {multi_vendor('field')}")

t = db.execute(
    """SELECT r.vendor, p.field, p.raw_field, r.id FROM predicates p
       JOIN rules r ON r.id = p.rule_id JOIN rule_techniques t ON t.rule_id = r.id
       WHERE t.technique_id = 'T1621' AND r.kind = 'rule' AND NOT r.deprecated
       AND p.kind IN ('filter', 'threshold')"""
).fetchall()
for label, idx in (("before (raw field)", 2), ("after (normalized field)", 1)):
    rules = defaultdict(set)
    vend = defaultdict(set)
    for row in t:
        rules[row[idx]].add(row[3])
        vend[row[idx]].add(row[0])
    top = sorted(rules, key=lambda f: (-len(rules[f]), f))[:12]
    print(f"T1621 field rows, {label}: {len(rules)} distinct")
    for f in top:
        print(f"  {f:40} rules {len(rules[f]):3}  vendors {','.join(sorted(vend[f]))}")
