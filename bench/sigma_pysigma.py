#!/usr/bin/env python3
"""RuleAtlas' Sigma reader against pySigma 2.0.1: agreement of predicates and load speed.

Usage (from the repository root):

    python3 bench/sigma_pysigma.py [--corpus ../shared/corpus/sigma] [--runs 3]

What it does:

1. Creates `bench/.venv` with `pysigma==2.0.1` (once).
2. Builds our `dump` example in release mode (`cargo build --release -p ruleatlas_sigma
   --example sigma_dump`; `CARGO_TARGET_DIR` is honoured) and runs it over the corpus: one JSON line
   per Sigma document with its predicates.
3. Loads the same files with pySigma's `SigmaCollection.load_ruleset` and turns every detection
   item into `(raw_field, op, value)` triples: pySigma modifiers are mapped to our ops, each value
   of a list is one triple, and values are compared as written (the detection item's
   `original_value`, i.e. before `windash`/`base64offset`/`contains` expansion).
4. Compares the triple sets rule by rule and writes `bench/results/sigma_pysigma.txt`: the
   agreement percentage and every disagreeing rule with the triples only one side has and a
   reason.
5. Times pySigma's `load_ruleset` and our dump (release, all cores) side by side, several runs,
   with peak memory from `/usr/bin/time -v`, and reports the speed ratio.

The script needs no network once the virtual environment exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV = BENCH / ".venv"
VENV_PY = VENV / "bin" / "python"
RESULTS = BENCH / "results"
PYSIGMA = "pysigma==2.0.1"


# ---------------------------------------------------------------------------------------------
# Worker side (runs inside the venv): pySigma load and triple extraction.
# ---------------------------------------------------------------------------------------------

def rule_inputs(corpus: Path) -> list[Path]:
    """The folders our adapter reads rules from: `rules*/` and `deprecated/`."""
    return sorted(p for p in corpus.iterdir() if p.is_dir() and (p.name.startswith("rules") or p.name == "deprecated"))


OP_OF_MODIFIER = {
    "contains": "contains",
    "startswith": "starts_with",
    "endswith": "ends_with",
    "re": "regex_match",
    "cidr": "cidr",
    "gt": "gt",
    "gte": "ge",
    "lt": "lt",
    "lte": "le",
}

def has_wildcard(s: str) -> bool:
    """Unescaped `*`/`?` per the Sigma specification's escaping rules."""
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 < len(s) and s[i + 1] in "*?\\":
                i += 2
                continue
        elif c in "*?":
            return True
        i += 1
    return False


def plain(v):
    """A pySigma original value as written."""
    from sigma.types import SigmaBool, SigmaNull, SigmaNumber, SigmaString  # noqa: PLC0415

    if isinstance(v, SigmaString):
        return v.original
    if isinstance(v, SigmaBool):
        return v.boolean
    if isinstance(v, SigmaNumber):
        return v.number
    if isinstance(v, SigmaNull):
        return None
    return str(v)


def item_triples(item) -> list[tuple[str, str, object]]:
    from sigma.modifiers import reverse_modifier_mapping  # noqa: PLC0415
    from sigma.types import SigmaNull  # noqa: PLC0415

    mods = [reverse_modifier_mapping[m.__name__] for m in item.modifiers]
    field = item.field if item.field else "_text"
    values = item.original_value or []
    ops = [OP_OF_MODIFIER[m] for m in mods if m in OP_OF_MODIFIER]
    out = []
    if "exists" in mods:
        return [(field, "exists", plain(v)) for v in values]
    if "fieldref" in mods:
        op = ops[0] if ops else ("ne" if "neq" in mods else "eq")
        return [(field, op, plain(v)) for v in values]
    if ops:
        return [(field, ops[0], plain(v)) for v in values]
    if item.field is None:
        return [(field, "match", plain(v)) for v in values]
    exact = [v for v in values if not isinstance(v, SigmaNull) and not (isinstance(plain(v), str) and has_wildcard(plain(v)))]
    for v in values:
        p = plain(v)
        if isinstance(v, SigmaNull):
            out.append((field, "exists", "neq" in mods))
        elif isinstance(p, str) and has_wildcard(p):
            out.append((field, "wildcard", p))
        elif "neq" in mods:
            out.append((field, "ne", p))
        elif "all" in mods or len(exact) == 1:
            out.append((field, "eq", p))
        else:
            out.append((field, "in", p))
    return out


def walk_detection(det, out: list) -> None:
    from sigma.rule import SigmaDetection, SigmaDetectionItem  # noqa: PLC0415

    for item in det.detection_items:
        if isinstance(item, SigmaDetection):
            walk_detection(item, out)
        elif isinstance(item, SigmaDetectionItem):
            out.extend(item_triples(item))


def worker_load(corpus: Path) -> None:
    from sigma.collection import SigmaCollection  # noqa: PLC0415

    t0 = time.perf_counter()
    coll = SigmaCollection.load_ruleset(rule_inputs(corpus), collect_errors=True)
    dt = time.perf_counter() - t0
    print(json.dumps({"rules": len(coll.rules), "seconds": dt}))


def key(t) -> str:
    return json.dumps(list(t), ensure_ascii=False)


def worker_extract(corpus: Path, out_path: Path) -> None:
    from sigma.collection import SigmaCollection  # noqa: PLC0415
    from sigma.correlations import SigmaCorrelationRule  # noqa: PLC0415

    coll = SigmaCollection.load_ruleset(rule_inputs(corpus), collect_errors=True)
    with out_path.open("w") as f:
        for rule in coll.rules:
            rec = {"id": str(rule.id) if rule.id else None, "title": rule.title, "errors": [str(e) for e in rule.errors]}
            if isinstance(rule, SigmaCorrelationRule):
                rec["correlation"] = True
                rec["triples"] = []
            else:
                per_search = {}
                try:
                    for name, det in rule.detection.detections.items():
                        ts: list = []
                        walk_detection(det, ts)
                        per_search[name] = [key(t) for t in ts]
                    rec["conditions"] = list(rule.detection.condition)
                except Exception as e:  # noqa: BLE001  (pySigma raised on a broken rule)
                    rec["errors"].append(f"{type(e).__name__}: {e}")
                rec["searches"] = per_search
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Driver side.
# ---------------------------------------------------------------------------------------------

def ensure_venv() -> None:
    if VENV_PY.exists():
        r = subprocess.run([str(VENV_PY), "-c", "import sigma, importlib.metadata as m; print(m.version('pysigma'))"],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == PYSIGMA.split("==")[1]:
            return
    print(f"creating {VENV} with {PYSIGMA} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", PYSIGMA], check=True)


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def build_dump() -> Path:
    subprocess.run(["cargo", "build", "--release", "-p", "ruleatlas_sigma", "--example", "sigma_dump"], cwd=ROOT, check=True)
    return target_dir() / "release" / "examples" / "sigma_dump"


def timed(cmd: list[str]) -> dict:
    """Runs `cmd` under /usr/bin/time -v; returns wall and CPU seconds, peak RSS (MiB), stdout."""
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", r.stderr)
    system = re.search(r"System time \(seconds\): ([\d.]+)", r.stderr)
    cpu = (float(user.group(1)) if user else 0.0) + (float(system.group(1)) if system else 0.0)
    secs = 0.0
    if wall:
        h, m, s = wall.groups()
        secs = int(h or 0) * 3600 + int(m) * 60 + float(s)
    return {"wall": secs, "cpu": cpu, "rss_mib": int(rss.group(1)) / 1024 if rss else 0.0, "stdout": r.stdout}


def referenced(conditions: list[str], names: list[str]) -> set[str]:
    """Search identifiers a condition uses (for classifying disagreements only)."""
    used: set[str] = set()
    for cond in conditions:
        for tok in re.findall(r"[^\s()|]+", cond.split("|")[0]):
            low = tok.lower()
            if low in {"and", "or", "not", "of", "all", "any", "1"}:
                continue
            if low == "them":
                used.update(n for n in names if not n.startswith("_"))
                continue
            pat = re.compile("^" + re.escape(tok).replace(r"\*", ".*") + "$")
            used.update(n for n in names if pat.match(n))
    return used


def classify(only_ours: set[str], only_py: set[str], rec: dict, unref: set[str]) -> str:
    if rec.get("errors"):
        return "pySigma error: " + rec["errors"][0][:160]
    if any("|" in c for c in rec.get("conditions", [])):
        return ("deprecated aggregation in the condition: lowered by us to threshold/join predicates, "
                "ignored by pySigma 2 (which also reads `timeframe:` as a keyword search)")
    if only_py and unref and only_py <= unref:
        return "pySigma also lists search identifiers the condition never uses (not filters)"
    both = [json.loads(t) for t in only_ours | only_py]
    if any(isinstance(t[2], (bool, int, float)) or t[2] is None for t in both):
        fields = {t[0] for t in both}
        return f"scalar typing differs (YAML 1.1 in pySigma vs YAML 1.2): {sorted(fields)[:3]}"
    return "different triples"


def compare(ours_path: Path, py_path: Path, out_path: Path, timing_lines: list[str]) -> float:
    ours: dict[str, set[str]] = {}
    ours_status: dict[str, str] = {}
    for line in ours_path.read_text().splitlines():
        d = json.loads(line)
        if not d.get("id") or d.get("kind") != "rule":
            continue
        ts = set()
        for p in d["predicates"]:
            for v in p["values"]:
                ts.add(key((p["raw_field"], p["op"], v)))
        ours[d["id"]] = ts
        ours_status[d["id"]] = d["status"]
    py: dict[str, dict] = {}
    for line in py_path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("id"):
            py[rec["id"]] = rec
    agree = 0
    disagreements = []
    reasons: Counter[str] = Counter()
    ids = sorted(set(ours) | set(py))
    for rid in ids:
        rec = py.get(rid)
        if rec is None:
            disagreements.append((rid, "pySigma did not load this rule", set(), set()))
            reasons["pySigma did not load this rule"] += 1
            continue
        if rid not in ours:
            disagreements.append((rid, "missing in our output", set(), set()))
            reasons["missing in our output"] += 1
            continue
        names = list(rec.get("searches", {}).keys())
        used = referenced(rec.get("conditions", []), names)
        py_all = {t for n in names for t in rec["searches"][n]}
        unref = {t for n in names if n not in used for t in rec["searches"][n]} - {t for n in used for t in rec["searches"][n]}
        mine = ours[rid]
        if mine == py_all and not rec.get("errors"):
            agree += 1
            continue
        only_ours, only_py = mine - py_all, py_all - mine
        why = classify(only_ours, only_py, rec, unref)
        reasons[why.split(":")[0]] += 1
        disagreements.append((rid, why, only_ours, only_py))
    pct = 100.0 * agree / len(ids) if ids else 0.0
    lines = [
        "RuleAtlas Sigma reader vs pySigma 2.0.1 (generated by bench/sigma_pysigma.py)",
        "",
        f"rules compared: {len(ids)}  agree: {agree}  disagree: {len(ids) - agree}  agreement: {pct:.2f}%",
        "",
        "Disagreements by reason:",
        *[f"  {n:5}  {r}" for r, n in reasons.most_common()],
        "",
        *timing_lines,
        "",
        "Disagreeing rules:",
    ]
    for rid, why, only_ours, only_py in disagreements:
        lines.append(f"- {rid}: {why}")
        for t in sorted(only_ours)[:6]:
            lines.append(f"    only ours:    {t}")
        for t in sorted(only_py)[:6]:
            lines.append(f"    only pySigma: {t}")
    out_path.write_text("\n".join(lines) + "\n")
    return pct


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("RULEATLAS_SHARED", ROOT.parent / "shared")) / "corpus" / "sigma")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--worker", choices=["load", "extract"])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    corpus = args.corpus.resolve()

    if args.worker == "load":
        worker_load(corpus)
        return
    if args.worker == "extract":
        worker_extract(corpus, args.out)
        return

    ensure_venv()
    dump = build_dump()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ruleatlas_sigma_bench_"))
    ours_path, py_path = tmp / "ours.jsonl", tmp / "pysigma.jsonl"

    with ours_path.open("w") as f:
        subprocess.run([str(dump), str(corpus)], stdout=f, check=True)
    subprocess.run([str(VENV_PY), __file__, "--worker", "extract", "--corpus", str(corpus), "--out", str(py_path)], check=True)

    # Timing, side by side: pySigma, our reader alone, and the real `ruleatlas build`
    # (reading, parsing, normalizing and writing the SQLite catalog).
    cli = Path(os.environ.get("RULEATLAS_BIN", target_dir() / "release" / "ruleatlas"))
    if not cli.exists():
        subprocess.run(["cargo", "build", "--release", "-p", "ruleatlas"], cwd=ROOT, check=True)
    py_runs, our_runs, build_runs = [], [], []
    for _ in range(max(1, args.runs)):
        r = timed([str(VENV_PY), __file__, "--worker", "load", "--corpus", str(corpus)])
        inner = json.loads(r["stdout"].strip().splitlines()[-1])
        py_runs.append({**r, "load": inner["seconds"], "rules": inner["rules"]})
        our_runs.append(timed([str(dump), "--quiet", str(corpus)]))
        build_runs.append(timed([str(cli), "build", "--quiet", "--source", f"sigma={corpus}", "-o", str(tmp / "bench.db")]))
    med = statistics.median
    py_wall, py_load, py_cpu = med(r["wall"] for r in py_runs), med(r["load"] for r in py_runs), med(r["cpu"] for r in py_runs)
    our_wall, our_cpu = med(r["wall"] for r in our_runs), med(r["cpu"] for r in our_runs)
    load_avg = os.getloadavg()[0]
    timing_lines = [
        f"Speed (median of {len(py_runs)} runs, {os.cpu_count()} cores, load average {load_avg:.1f}, corpus {corpus}):",
        f"  pySigma load_ruleset        : {py_load:7.3f} s in-process (process wall {py_wall:.3f} s, CPU {py_cpu:.3f} s), "
        f"peak RSS {max(r['rss_mib'] for r in py_runs):6.1f} MiB, {py_runs[0]['rules']} rules",
        f"  ruleatlas_sigma dump, release: {our_wall:7.3f} s process wall (read, parse, lower, link; all cores), CPU {our_cpu:.3f} s, "
        f"peak RSS {max(r['rss_mib'] for r in our_runs):6.1f} MiB",
        f"  ruleatlas build (catalog written): {med(r['wall'] for r in build_runs):7.3f} s process wall, CPU {med(r['cpu'] for r in build_runs):.3f} s, "
        f"peak RSS {max(r['rss_mib'] for r in build_runs):6.1f} MiB",
        f"  ratio, build wall: {py_load / med(r['wall'] for r in build_runs):.1f}x (pySigma load_ruleset / `ruleatlas build` whole process)",
        f"  ratio, build CPU : {py_cpu / med(r['cpu'] for r in build_runs):.1f}x",
        f"  ratio, wall: {py_load / our_wall if our_wall else float('inf'):.1f}x (pySigma load_ruleset / our whole process)",
        f"  ratio, CPU : {py_cpu / our_cpu if our_cpu else float('inf'):.1f}x (process CPU seconds; fairer on a shared, loaded machine)",
    ]
    pct = compare(ours_path, py_path, RESULTS / "sigma_pysigma.txt", timing_lines)
    print(f"agreement {pct:.2f}%")
    print("\n".join(timing_lines))
    print(f"written {RESULTS / 'sigma_pysigma.txt'}")


if __name__ == "__main__":
    main()
