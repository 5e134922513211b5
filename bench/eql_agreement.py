#!/usr/bin/env python3
"""EQL agreement: our parser (ruleatlas_eql) against Elastic's own (`eql==1.0.1`, PyPI).

For every EQL query of the Elastic corpus (rules with `language = "eql"`, hunting queries whose
text is EQL), parse it with `eql.parse_query` under `elasticsearch_syntax` and
`ignore_missing_functions`, collect the `eql.ast.Field` nodes (dotted `base + path`), and compare
with the fields our lowering reads (predicate raw fields, `by` keys, fields related by `join`
predicates), dumped by `cargo run --release -p ruleatlas_eql --example fields`.

Reports: every query eql parses also parses here; the share of EQL rules whose field sets agree
(target >= 97%); the time eql needs to parse all queries against ours to parse and lower them.

Usage: python3 bench/eql_agreement.py [--corpus DIR] [--out bench/results/eql_agreement.txt]
Creates bench/.venv with eql==1.0.1 on first run.
"""

import argparse
import json
import re
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"


def ensure_venv():
    py = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "eql==1.0.1"])
    os.execv(str(py), [str(py), __file__, *sys.argv[1:]])


def looks_like_eql(q):
    words = q.split()
    first = words[0].lower() if words else ""
    second = words[1].lower() if len(words) > 1 else ""
    return first in ("sequence", "sample") or second == "where"


def corpus_queries(root):
    import tomllib

    out = []
    for f in sorted(root.rglob("*.toml")):
        rel = f.relative_to(root).as_posix()
        try:
            doc = tomllib.loads(f.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001 - a broken file is simply not an EQL query
            continue
        rule = doc.get("rule") or {}
        if rule.get("language") == "eql" and isinstance(rule.get("query"), str):
            out.append({"path": rel, "query": rule["query"], "hunt": False})
        hunt = doc.get("hunt") or {}
        for q in hunt.get("query") or []:
            if isinstance(q, str) and looks_like_eql(q):
                out.append({"path": rel, "query": q, "hunt": True})
    return out


def field_name(f):
    name = f.base
    for p in f.path:
        name += f"[{p}]" if isinstance(p, int) else f".{p}"
    return name


def eql_fields(eql, q, optimize=True):
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        if optimize:
            ast = eql.parse_query(q)
        else:
            with eql.parser.skip_optimizations:
                ast = eql.parse_query(q)
    return {field_name(n) for n in ast if isinstance(n, eql.ast.Field)}


def main():
    ensure_venv()
    import eql

    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.environ.get("RULEATLAS_SHARED", str(ROOT.parent / "shared")) + "/corpus/elastic")
    ap.add_argument("--out", default=str(BENCH / "results" / "eql_agreement.txt"))
    args = ap.parse_args()
    root = Path(args.corpus)
    queries = corpus_queries(root)

    # Ours: build first (not timed), then time the example end to end and its own report.
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", "/work/targets/ruleatlas_eql")
    exe = Path(env["CARGO_TARGET_DIR"]) / "release" / "examples" / "fields"
    built = subprocess.run(["cargo", "build", "-q", "--release", "-p", "ruleatlas_eql", "--example", "fields"], cwd=ROOT, env=env)
    if built.returncode != 0 and not exe.exists():
        sys.exit("cargo build of the `fields` example failed")
    t0 = time.perf_counter()
    res = subprocess.run([str(exe), str(root)], capture_output=True, text=True, check=True)
    ours_wall = time.perf_counter() - t0
    ours_inner = res.stderr.strip()
    ours = {}
    for line in res.stdout.splitlines():
        o = json.loads(line)
        ours[(o["path"], o["query"])] = o

    # Theirs: parse every query, timed.
    theirs = {}
    t0 = time.perf_counter()
    for q in queries:
        try:
            theirs[(q["path"], q["query"])] = ("ok", eql_fields(eql, q["query"]))
        except Exception as e:  # noqa: BLE001 - eql raises several error types
            msg = [ln for ln in str(e).splitlines() if ln.strip()]
            where = msg[0] if msg else ""
            what = msg[1] if len(msg) > 1 else type(e).__name__
            theirs[(q["path"], q["query"])] = ("error", f"{what} ({where})")
    eql_time = time.perf_counter() - t0

    lines = []
    # queries, eql parsed, we parsed too, fields agree, agree once eql's optimizer is off
    stats = {"rules": [0, 0, 0, 0, 0], "hunts": [0, 0, 0, 0, 0]}
    disagreements, we_fail, they_fail, runs_cmp = [], [], [], []
    for q in queries:
        key = (q["path"], q["query"])
        kind = "hunts" if q["hunt"] else "rules"
        s = stats[kind]
        s[0] += 1
        status, theirs_fields = theirs[key]
        mine = ours.get(key)
        if status != "ok":
            they_fail.append((q["path"], theirs_fields, bool(mine and mine["ok"])))
            # `with runs=N` names no field: without it eql 1.0.1 reads the rest.
            stripped = re.sub(r"\bwith\s+runs\s*=\s*\d+", "", q["query"])
            if stripped != q["query"] and mine and mine["ok"]:
                try:
                    f = eql_fields(eql, stripped, optimize=False)
                    runs_cmp.append((q["path"], f == set(mine["fields"])))
                except Exception:  # noqa: BLE001
                    pass
            continue
        s[1] += 1
        if not mine or not mine["ok"]:
            we_fail.append(q["path"])
            continue
        s[2] += 1
        mine_fields = set(mine["fields"])
        if mine_fields == theirs_fields:
            s[3] += 1
        else:
            raw = eql_fields(eql, q["query"], optimize=False)
            why = ("eql's optimizer folded the condition (it treats fields as single-valued, so "
                   "`x == \"a\" and x == \"b\"` becomes `false`); without optimizations the sets "
                   + ("agree" if raw == mine_fields else "still differ"))
            if raw == mine_fields:
                s[4] += 1
            disagreements.append((kind, q["path"], sorted(theirs_fields - mine_fields), sorted(mine_fields - theirs_fields), why))

    def pct(a, b):
        return 100.0 * a / b if b else 0.0

    r, h = stats["rules"], stats["hunts"]
    lines.append("EQL agreement: ruleatlas_eql vs eql==1.0.1 (elasticsearch_syntax, ignore_missing_functions)")
    lines.append(f"corpus: {root}")
    lines.append("")
    lines.append(f"EQL rules: {r[0]}; eql parses {r[1]}; of those we parse {r[2]} ({pct(r[2], r[1]):.2f}%)")
    lines.append(f"field sets agree: {r[3]} of {r[1]} rules eql parses ({pct(r[3], r[1]):.2f}%), {pct(r[3], r[0]):.2f}% of all EQL rules")
    lines.append(f"field sets agree with eql's optimizer off (`skip_optimizations`): {r[3] + r[4]} of {r[1]} ({pct(r[3] + r[4], r[1]):.2f}%)")
    lines.append(f"EQL hunting queries: {h[0]}; eql parses {h[1]}; we parse {h[2]}; fields agree {h[3]}")
    lines.append(f"queries eql rejects: {len(they_fail)} (we parse {sum(1 for t in they_fail if t[2])} of them)")
    lines.append(f"  of those, with `with runs=N` removed eql parses {len(runs_cmp)}; field sets agree for {sum(1 for _, ok in runs_cmp if ok)}")
    agree_all = r[3] + r[4] + sum(1 for p, ok in runs_cmp if ok and not p.startswith("hunting/"))
    lines.append(f"all EQL rules whose field sets agree (optimizer off, `runs` removed): {agree_all} of {r[0]} ({pct(agree_all, r[0]):.2f}%)")
    lines.append("")
    lines.append(f"speed ({len(queries)} queries):")
    lines.append(f"  eql 1.0.1 parse_query, all queries:        {eql_time * 1000:10.1f} ms")
    lines.append(f"  ours, whole `fields` process (walks the corpus, reads and TOML-parses the files, parses+lowers): {ours_wall * 1000:.1f} ms  -> {eql_time / ours_wall:.1f}x faster")
    lines.append(f"  ours, parse+lower only: {ours_inner}")
    try:
        inner_ms = float(ours_inner.split(" in ")[1].split(" ms")[0])
        lines.append(f"      -> {eql_time * 1000 / inner_ms:8.1f}x faster than eql parsing alone")
    except (IndexError, ValueError):
        pass
    lines.append("")
    lines.append("queries eql parses and we do not:")
    lines.extend(f"  {p}" for p in we_fail) if we_fail else lines.append("  none")
    lines.append("")
    lines.append("queries eql rejects (its message): Elasticsearch EQL syntax newer than eql 1.0.1")
    reasons = {}
    for _, err, _ in they_fail:
        key = err.split(" (")[0]
        reasons[key] = reasons.get(key, 0) + 1
    for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {n:4}  {k}")
    lines.append("  (\"Unsupported usage of repeated syntax\" is `with runs=N`, \"Negative subquery\" a `![...]`")
    lines.append("   missing-event step; both, and `sample by`, are Elasticsearch 8.x EQL that eql 1.0.1 lacks.)")
    for p, err, we_ok in they_fail:
        lines.append(f"  {p}: {err[:150]} (ours: {'parsed' if we_ok else 'failed'})")
    lines.append("")
    lines.append("field-set disagreements (only-in-eql / only-in-ours):")
    for kind, p, only_theirs, only_mine, why in disagreements:
        lines.append(f"  [{kind}] {p}")
        lines.append(f"      why: {why}")
        lines.append(f"      only eql:  {only_theirs}")
        lines.append(f"      only ours: {only_mine}")
    out = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(out, encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
