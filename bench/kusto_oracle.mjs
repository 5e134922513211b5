// Microsoft's Kusto parser as an oracle for ruleatlas_kusto.
//
// Usage (from the repository root):
//   npm install --prefix bench @kusto/language-service-next
//   cargo run -p ruleatlas_kusto --example kusto_dump -- ../shared/corpus/kusto --queries /tmp/kusto_queries.json
//   node bench/kusto_oracle.mjs /tmp/kusto_queries.json > bench/results/kusto_oracle_corpus.txt
//   node bench/kusto_oracle.mjs crates/ruleatlas_kusto/tests/fixtures/operators.kqltest > bench/results/kusto_oracle_fixtures.txt
//   node bench/kusto_oracle.mjs crates/ruleatlas_kusto/tests/fixtures/syntax.kqltest > bench/results/kusto_oracle_syntax.txt
//
// The dump holds every corpus query (decoded from YAML by our adapter) with our parser's
// verdict; this script parses each with Kusto.Language.KustoCode.Parse and prints, per query,
// whether each parser accepts it (no syntax errors) and Microsoft's syntax diagnostics.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pkg = join(here, 'node_modules', '@kusto', 'language-service-next');
// The package is a Bridge.NET build: bridge.js defines the runtime, then the Kusto types land on globalThis.
require(join(pkg, 'bridge.js'));
require(join(pkg, 'Kusto.Language.Bridge.js'));
const Kusto = globalThis.Kusto;

const input = process.argv[2];
if (!input) {
  console.error('usage: node bench/kusto_oracle.mjs QUERIES.json');
  process.exit(2);
}
// A `.kqltest` fixture file (crates/ruleatlas_kusto/tests/fixtures/*.kqltest) is read directly:
// the crate's fixture tests assert that our parser accepts every case except those whose name
// contains "unknown operator", so that is our verdict here.
function readFixtures(text) {
  const cases = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) {
      const name = line.slice(3);
      const ok = !name.includes('unknown operator');
      cases.push({ path: name, query: '', ours_ok: ok, errors: ok ? [] : ['unknown operator (asserted by the fixture test)'] });
    } else if (cases.length && !line.startsWith('-> ') && !line.startsWith('!> ') && line.trim() !== '') {
      cases[cases.length - 1].query += line + '\n';
    }
  }
  return cases;
}
const raw = readFileSync(input, 'utf8');
const queries = input.endsWith('.kqltest') ? readFixtures(raw) : JSON.parse(raw);

function syntaxErrors(text) {
  const code = Kusto.Language.KustoCode.Parse(text);
  const diags = code.GetSyntaxDiagnostics();
  const out = [];
  for (let i = 0; i < diags.Count; i++) {
    const d = diags.getItem(i);
    if (d.Severity === 'Error') out.push(`${d.Code} @${d.Start}: ${d.Message}`);
  }
  return out;
}

let both = 0, neither = 0, onlyOurs = 0, onlyTheirs = 0;
const lines = [];
for (const q of queries) {
  const theirs = syntaxErrors(q.query);
  const theirsOk = theirs.length === 0;
  const oursOk = q.ours_ok;
  let verdict;
  if (oursOk && theirsOk) { both++; verdict = 'both-accept'; }
  else if (!oursOk && !theirsOk) { neither++; verdict = 'both-reject'; }
  else if (oursOk) { onlyOurs++; verdict = 'DISAGREE ours-accepts'; }
  else { onlyTheirs++; verdict = 'DISAGREE microsoft-accepts'; }
  lines.push(`${verdict}\t${q.path}`);
  if (!theirsOk) lines.push(`    microsoft: ${theirs.join(' | ')}`);
  if (!oursOk) lines.push(`    ours: ${q.errors.join(' | ')}`);
}
console.log(`queries ${queries.length}: both accept ${both}, both reject ${neither}, only ours accepts ${onlyOurs}, only Microsoft accepts ${onlyTheirs}`);
for (const l of lines) console.log(l);
