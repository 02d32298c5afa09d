#!/usr/bin/env bash
# A probe, not a test: what PostgreSQL alone (pgbench, no .NET) takes for the statements of one chain step, beside
# a single-row commit, on a schema a Stent store made (it adds rows and two probe_ tables there: use a throwaway
# one). Needs STENT_PG (Host=…;Port=…;Username=…;Database=…) and pgbench.
# Usage: scripts/probe-chain-sql.sh SCHEMA [ROUNDS]   (SCHEMA: e.g. one left by "Stent.Bench one chain postgres 20 1")
set -euo pipefail
schema=${1:?a schema with Stent tables}
rounds=${2:-8}
[[ $schema =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "bad schema name '$schema'" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
field() { sed -n "s/.*\b$1=\([^;]*\).*/\1/ip" <<<"$STENT_PG"; }
# pgbench reads -d as --debug: the database goes last, as an argument.
conn=(-h "$(field Host)" -p "$(field Port)" -U "$(field Username)")
db=$(field Database)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
s=$schema
"$bin/psql" "${conn[@]}" -q -v ON_ERROR_STOP=1 "$db" <<SQL
SET client_min_messages = warning;
DELETE FROM $s.stent_steps WHERE execution_id = 'probe'; DELETE FROM $s.stent_executions WHERE id = 'probe';
DELETE FROM $s.mt_streams WHERE id = 'probe';
CREATE TABLE IF NOT EXISTS $s.probe_payload (data jsonb); TRUNCATE $s.probe_payload;
-- A chain step's event as the store writes it (times hold colons, which pgbench reads as variables: kept in a table).
INSERT INTO $s.probe_payload VALUES ('[{"\$type":"step_completed","position":"0/1","output":"{\"id\":1,\"ok\":true}",
  "attempt":1,"startedAt":"2026-12-03T04:00:00.123+00:00","endedAt":"2026-12-03T04:00:00.124+00:00"},
  {"\$type":"decision_completed","at":"2026-12-03T04:00:00.125+00:00"},
  {"\$type":"step_scheduled","position":"0/1/1","name":"bench_trivial","input":"2"}]');
CREATE TABLE IF NOT EXISTS $s.probe_commits (id bigserial PRIMARY KEY, data jsonb NOT NULL);
INSERT INTO $s.mt_streams (id, version) VALUES ('probe', 0);
INSERT INTO $s.stent_executions (id, workflow, version, state, created_at, updated_at, tags, priority,
  stream_version, root) VALUES ('probe', 'bench_chain', 1, 'Running', 0, 0, '[]', 0, 0, 'probe');
INSERT INTO $s.stent_steps (execution_id, position, name, input, tags, priority, available_at, running, lease_until,
  root) VALUES ('probe', '0', 'bench_trivial', '0', '[]', 0, 0, 1, 9000000000000, 'probe');
SQL
step_id=$("$bin/psql" "${conn[@]}" "$db" -Atc "SELECT id FROM $s.stent_steps WHERE execution_id = 'probe'")
max=9223372036854775807
refuse() {
  echo "WITH w AS ($1 RETURNING id) SELECT id FROM w UNION ALL SELECT NULL WHERE 1 / (SELECT count(*) FROM w) = 0"
}
# The three statements of a chain step's command (see RelationalWorkStore.Commits, MartenStreams.Insert).
stream="UPDATE $s.mt_streams SET version = version + 1, timestamp = now() WHERE id = 'probe'
  RETURNING version - 1 AS base"
events="INSERT INTO $s.mt_events (seq_id, id, stream_id, version, data, type, tenant_id,
  timestamp, mt_dotnet_type, is_archived) SELECT nextval('$s.mt_events_sequence'), gen_random_uuid(), 'probe',
  (SELECT base FROM s) + 1, (SELECT data FROM $s.probe_payload), 'event_batch', '*DEFAULT*', now(),
  'Stent.Replay.EventBatch, Stent.Core', FALSE"
append="WITH s AS ($stream) $events"
inbox="EXISTS (SELECT 1 FROM $s.stent_inbox i WHERE i.execution_id = 'probe')"
wake=", runnable_at = nullif(LEAST(coalesce(runnable_at, $max), coalesce(CASE WHEN 0 = 1 THEN NULL
  WHEN cancel_requested = 1 OR $inbox THEN :n ELSE (SELECT min(t) FROM (SELECT min(due_at) AS t FROM $s.stent_timers
  WHERE execution_id = 'probe' UNION ALL SELECT deadline FROM $s.stent_executions x WHERE x.id = 'probe') AS due) END,
  $max)), $max)"
execution() { echo "UPDATE $s.stent_executions SET state = 'Running', updated_at = :n, stream_version = stream_version
  + 1, lease_until = NULL, completed_at = NULL, output = NULL, error = NULL, awaiting = NULL $1 WHERE id = 'probe'
  AND (lease_until IS NULL OR lease_until < :n) AND state IN ('Pending', 'Running', 'Blocked') $2"; }
recycle="UPDATE $s.stent_steps SET position = 'p' || :n, name = 'bench_trivial', input = :n, queue = NULL,
  tags = '[]', priority = 0, max_concurrent = NULL, max_per_second = NULL, available_at = :n, attempt = 1, lost = 0,
  lease_token = :n, lease_until = :n + 30000, worker = 'w', trace_parent = NULL, items = 0
  WHERE running = 1 AND lease_until >= 0 AND id = $step_id"
oneline() { tr '\n' ' ' <<<"$1"; }
script() { # NAME STATEMENT... : one pipelined command (one Sync, one implicit transaction), as the store sends it
  local name=$1; shift
  { echo '\set n random(1, 1000000000)'; echo '\startpipeline'
    for st in "$@"; do echo "$(oneline "$st");"; done; echo '\endpipeline'; } >"$dir/$name.sql"
}
script commit "INSERT INTO $s.probe_commits (data) VALUES ('{\"type\":\"completed\",\"attempt\":1}'::jsonb)"
script step "$append" "$(refuse "$(execution "$wake" "AND NOT $inbox")")" "$(refuse "$recycle")"
script execution "$(refuse "$(execution "$wake" "AND NOT $inbox")")"
script execution_plain "$(refuse "$(execution "" "")")"
script one_statement "WITH s AS ($stream), e AS ($events RETURNING 1),
  x AS ($(execution "$wake" "AND NOT $inbox") RETURNING id), r AS ($recycle RETURNING id)
  SELECT 1 / (SELECT count(*) FROM x) + 1 / (SELECT count(*) FROM r) + (SELECT count(*) FROM e)"
names=(commit step one_statement execution execution_plain)
for name in "${names[@]}"; do
  "$bin/pgbench" "${conn[@]}" -n -M prepared -f "$dir/$name.sql" -t 5 "$db" >/dev/null
done
for ((r = 0; r < rounds; r++)); do
  for name in "${names[@]}"; do
    echo "$name $("$bin/pgbench" "${conn[@]}" -n -M prepared -f "$dir/$name.sql" -t 800 "$db" 2>/dev/null |
      awk '/latency average/ {print $4}')"
  done
done >"$dir/times"
python3 - "$dir/times" <<'PY'
import collections, statistics, sys
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, ms = line.split()
    times[name].append(float(ms))
commit = statistics.median(times["commit"])
for name, ms in times.items():
    m = statistics.median(ms)
    print(f"{name:16} {m:.3f} ms (median of {len(ms)})  {m / commit:.2f} x a single-row commit")
PY
