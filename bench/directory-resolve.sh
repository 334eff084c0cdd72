#!/usr/bin/env bash
# Resolutions per second through the directory on SQLite, PostgreSQL and
# MariaDB, each with 1,000,000 accounts and 100,000 aliases (override with
# e.g. --accounts 100000). PostgreSQL and MariaDB are throwaway servers
# started by scripts/db on free loopback ports. Prints one line per engine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p atoll-bench --bin directory-resolve >&2
bin=target/release/directory-resolve
work=$(mktemp -d /tmp/atoll-bench.XXXXXX)
chmod 755 "$work" # the database servers run as an unprivileged user
trap 'scripts/db stop "$work/pg" >/dev/null 2>&1 || true; scripts/db stop "$work/my" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
engines=${ENGINES:-sqlite postgres mysql}
for engine in $engines; do
  case $engine in
    sqlite) "$bin" "$@" ;;
    # Assigned first, so that a server that fails to start stops the run.
    postgres) url=$(scripts/db start postgres "$work/pg"); "$bin" --url "$url" "$@"; scripts/db stop "$work/pg" >&2 ;;
    mysql) url=$(scripts/db start mariadb "$work/my"); "$bin" --url "$url" "$@"; scripts/db stop "$work/my" >&2 ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
done
