#!/usr/bin/env bash
# Runs every test. The store tests need PostgreSQL: scripts/with-postgres.sh starts a throwaway one on
# loopback unless STENT_PG already gives a connection string.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet restore Stent.sln --locked-mode
dotnet build Stent.sln -c Release --no-restore -nologo -v q
exec bash scripts/with-postgres.sh dotnet run --project tests/property -c Release --no-build -- "$@"
