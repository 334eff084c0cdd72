#!/usr/bin/env bash
# IMAP throughput and memory per idle connection, atoll next to Dovecot (from
# the OS packages) on the same machine in the same run. Prints every figure,
# then a table with the ratios atoll/Dovecot. The bar (from the issue): at
# least 1.5x Dovecot's ops/s, and a tenth of its memory per idle connection.
#
# What is measured
#   - ops/s of a mix of SELECT, FETCH, STORE, APPEND, SEARCH and EXPUNGE
#     (bench/src/bin/imap-load.rs; weights in its DEFAULT_MIX, MIX= to
#     change) at 20 and 200 concurrent sessions (CLIENTS=), each run
#     WARMUP (10s) uncounted then DURATION (60s) counted. The servers take
#     turns: one is loaded while the other sits idle.
#   - PSS (proportional set size, /proc/PID/smaps_rollup) of the whole server
#     (atoll: its one process; Dovecot: the master and every process under
#     it: imap, imap-login, auth, log, anvil, config...) freshly restarted
#     with no session, then with IDLE (5000) sessions logged in, INBOX
#     selected and in IDLE; the difference divided by the sessions is the
#     memory per idle connection. Both servers are restarted before this, so
#     neither reuses memory freed after the load runs.
#
# Configured alike
#   - USERS (20) accounts user1..userN@example.org, every one with an INBOX
#     of MESSAGES (10,000) real messages: the 2,403 of the jwz test corpus
#     (SpamAssassin easy_ham, package golang-github-gatherstars-com-jwz-dev)
#     taken in turn, each with an X-Imap-Load header numbering it so that no
#     two deliveries are byte-identical. Both are filled over LMTP with the
#     same stream: each message in one transaction to all users (Dovecot
#     hardlinks the copies of one transaction, atoll stores one
#     content-addressed blob: each shares what a real multi-recipient
#     delivery lets it share). 20 users and not 200: 200 x 10,000 messages
#     would take far longer to fill than the benchmark itself; with 200
#     clients, ten sessions share each mailbox (a person's phone, laptop and
#     webmail) and see each other's APPENDs and EXPUNGEs.
#   - The same password hash for both: one SHA512-CRYPT hash, in Dovecot's
#     passwd-file and imported into atoll (`atoll user import`) with
#     passwords.rehash_on_login = false, so atoll does not turn it into
#     argon2id (~76 ms per login) at the first login. Sessions log in once
#     and stay open during the load runs anyway: the figure is IMAP work.
#   - LOGIN without TLS on loopback for both ([imap] allow_plaintext_auth,
#     Dovecot's ssl = no / disable_plaintext_auth = no): TLS would cost both
#     the same and blur the comparison.
#   - fsync at both servers' defaults (on). Dovecot: sdbox, one process per
#     session (the stock model), limits raised for 5,000 sessions
#     (bench/dovecot/dovecot.conf.in). Both run unprivileged, as
#     BENCH_USER (atoll-test, created by scripts/db) when run as root.
#
# Everything lives in a temporary directory, removed at exit with both
# servers stopped. Environment: USERS, MESSAGES, CLIENTS ("20 200"), IDLE (0: none),
# DURATION, WARMUP, MIX, SERVERS ("atoll dovecot"), BENCH_USER, KEEP=1 to
# keep the directory (logs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

USERS=${USERS:-20}
MESSAGES=${MESSAGES:-10000}
CLIENTS=${CLIENTS-20 200} # empty: no load runs
IDLE=${IDLE:-5000}
DURATION=${DURATION:-60s}
WARMUP=${WARMUP:-10s}
MIX=${MIX:-}
SERVERS=${SERVERS:-atoll dovecot}
BENCH_USER=${BENCH_USER:-atoll-test}
CORPUS=${CORPUS:-/usr/share/gocode/src/github.com/gatherstars-com/jwz/test/testdata/ham}
PASSWORD=bench-secret

say() { printf 'imap.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ------------------------------------------------------------ prerequisites
if ! [ -x /usr/sbin/dovecot ] || ! [ -x /usr/lib/dovecot/lmtp ] || ! [ -x /usr/lib/dovecot/imap ]; then
    [ "$(id -u)" -eq 0 ] || die "Dovecot is missing: run scripts/setup as root (dovecot-imapd, dovecot-lmtpd)"
    say "installing dovecot-imapd dovecot-lmtpd"
    # Keep the package from starting the system's Dovecot: we run our own.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd >&2
    [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
fi
[ -d "$CORPUS" ] || die "corpus $CORPUS missing: run scripts/setup (golang-github-gatherstars-com-jwz-dev)"
command -v openssl >/dev/null || die "openssl is needed to make the SHA512-CRYPT hash"

# shellcheck source=bench/lib.sh
source bench/lib.sh


# 5,000 sessions: that many sockets in imap-load, and in Dovecot's log and
# anvil processes a connection per imap process.
need_fds=$((2 * IDLE + 3000))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need_fds" ]; then
    ulimit -Hn "$need_fds" 2>/dev/null || die "open-files hard limit $hard < $need_fds; raise it (ulimit -Hn) or lower IDLE"
fi
ulimit -n "$need_fds"

cargo build --release --locked -p atoll -p atoll-bench >&2
atoll_bin=$root/target/release/atoll
load_bin=$root/target/release/imap-load

# ------------------------------------------------------------ scratch space
work=$(mktemp -d /tmp/atoll-imap-bench.XXXXXX)
chmod 755 "$work"
declare -A server_pid=()
idle_pid=""
cleanup() {
    [ -z "$idle_pid" ] || kill -TERM "$idle_pid" 2>/dev/null || true
    for s in "${!server_pid[@]}"; do stop_server "$s"; done
    if [ -n "${KEEP:-}" ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hash=$(openssl passwd -6 "$PASSWORD")
users_pattern='user%d@example.org'

# ------------------------------------------------------------ atoll
atoll_dir=$work/atoll
setup_atoll() {
    mkdir -p "$atoll_dir"
    chown "$BENCH_USER:$BENCH_GROUP" "$atoll_dir"
    atoll_imap=$(free_port) atoll_lmtp=$(free_port) atoll_http=$(free_port)
    # Only the store role (LMTP and IMAP) and only these listeners.
    cat >"$atoll_dir/atoll.toml" <<EOF
[node]
name = "bench"
roles = ["store"]
data_dir = "$atoll_dir/data"

[listen]
http = ["127.0.0.1:$atoll_http"]
lmtp = ["127.0.0.1:$atoll_lmtp"]
imap = ["127.0.0.1:$atoll_imap"]
imaps = []
smtp = []
submission = []
submissions = []
pop3 = []
pop3s = []
managesieve = []

[imap]
allow_plaintext_auth = true

[passwords]
rehash_on_login = false
EOF
    {
        echo "address,password_hash"
        for i in $(seq 1 "$USERS"); do echo "user$i@example.org,{SHA512-CRYPT}$hash"; done
    } >"$atoll_dir/users.csv"
    atoll() { (cd "$atoll_dir" && "${as_user[@]}" env -u ATOLL_CONFIG -u ATOLL_DATA_DIR -u ATOLL_LOG "$atoll_bin" --config "$atoll_dir/atoll.toml" "$@"); }
    atoll domain add example.org >&2
    atoll user import "$atoll_dir/users.csv" >&2
}
start_atoll() {
    # setpriv and env exec: $! is the server's own pid.
    "${as_user[@]}" env -u ATOLL_CONFIG -u ATOLL_DATA_DIR -u ATOLL_LOG \
        "$atoll_bin" --config "$atoll_dir/atoll.toml" serve >>"$atoll_dir/serve.log" 2>&1 &
    server_pid[atoll]=$!
    wait_port "$atoll_imap" "${server_pid[atoll]}" "$atoll_dir/serve.log"
    wait_port "$atoll_lmtp" "${server_pid[atoll]}" "$atoll_dir/serve.log"
}

# ------------------------------------------------------------ Dovecot
dovecot_dir=$work/dovecot
setup_dovecot() {
    mkdir -p "$dovecot_dir/run" "$dovecot_dir/state" "$dovecot_dir/mail"
    dovecot_imap=$(free_port) dovecot_lmtp=$(free_port)
    sed -e "s|@DIR@|$dovecot_dir|g" -e "s|@PORT@|$dovecot_imap|g" -e "s|@LMTP_PORT@|$dovecot_lmtp|g" \
        -e "s|@USER@|$BENCH_USER|g" -e "s|@GROUP@|$BENCH_GROUP|g" \
        -e "s|@PROCESS_LIMIT@|$((IDLE + 500))|g" -e "s|@CLIENT_LIMIT@|$((2 * IDLE + 3000))|g" \
        bench/dovecot/dovecot.conf.in >"$dovecot_dir/dovecot.conf"
    for i in $(seq 1 "$USERS"); do echo "user$i@example.org:{SHA512-CRYPT}$hash"; done >"$dovecot_dir/passwd"
    : >"$dovecot_dir/dovecot.log" # Dovecot opens it as $BENCH_USER
    chown -R "$BENCH_USER:$BENCH_GROUP" "$dovecot_dir"
}
start_dovecot() {
    # -F: in the foreground, so that its pid is ours and every Dovecot
    # process is a descendant of it.
    "${as_user[@]}" /usr/sbin/dovecot -F -c "$dovecot_dir/dovecot.conf" >>"$dovecot_dir/dovecot.log" 2>&1 &
    server_pid[dovecot]=$!
    wait_port "$dovecot_imap" "${server_pid[dovecot]}" "$dovecot_dir/dovecot.log"
    wait_port "$dovecot_lmtp" "${server_pid[dovecot]}" "$dovecot_dir/dovecot.log"
}

imap_port() { if [ "$1" = atoll ]; then echo "$atoll_imap"; else echo "$dovecot_imap"; fi; }
lmtp_port() { if [ "$1" = atoll ]; then echo "$atoll_lmtp"; else echo "$dovecot_lmtp"; fi; }

load=("$load_bin" --users "$users_pattern" --user-count "$USERS" --password "$PASSWORD")

# Sum of PSS in KiB over a process and all its descendants.
pss_kib() {
    local files=() p
    for p in $(process_tree "$1"); do files+=("/proc/$p/smaps_rollup"); done
    # cat and not awk on the files: awk stops at the first one that is gone
    # (a login process that just exited).
    { cat "${files[@]}" 2>/dev/null || true; } | awk '/^Pss:/ { s += $2 } END { print s + 0 }'
}

# The process that is the server itself (setpriv execs, so the pid we
# started is the server's).
server_root() { echo "${server_pid[$1]}"; }

results=$work/results
: >"$results"
record() { echo "$1 $2 $3" >>"$results"; } # key server value

# ------------------------------------------------------------ run
say "$(nproc) cores, $(/usr/sbin/dovecot --version | cut -d' ' -f1 | sed 's/^/Dovecot /'), $USERS users x $MESSAGES messages, clients: $CLIENTS, idle: $IDLE"
for s in $SERVERS; do
    case $s in
        atoll) setup_atoll; start_atoll ;;
        dovecot) setup_dovecot; start_dovecot ;;
        *) die "unknown server $s (atoll, dovecot)" ;;
    esac
    say "$s: filling $USERS mailboxes with $MESSAGES messages each over LMTP"
    "${load[@]}" --fill "$MESSAGES" --lmtp-port "$(lmtp_port "$s")" --corpus "$CORPUS" --label "$s" | tee -a "$work/output"
done

field() { sed -n "s|.* $1=\([^ ]*\).*|\1|p"; }

for c in $CLIENTS; do
    for s in $SERVERS; do
        say "$s: $c clients, ${WARMUP} warm-up + ${DURATION}"
        out=$("${load[@]}" --port "$(imap_port "$s")" --clients "$c" --duration "$DURATION" --warmup "$WARMUP" \
            ${MIX:+--mix "$MIX"} --label "$s")
        echo "$out" | tee -a "$work/output"
        record "ops$c" "$s" "$(echo "$out" | head -1 | field 'ops/s')"
        record "errors$c" "$s" "$(echo "$out" | head -1 | field errors)"
    done
done

if [ "$IDLE" -gt 0 ]; then
    for s in $SERVERS; do
        say "$s: restarting, then $IDLE sessions in IDLE"
        stop_server "$s"
        "start_$s"
        sleep 5 # let start-up work (migrations, heartbeat, config parsing) settle
        before=$(pss_kib "$(server_root "$s")")
        : >"$work/idle-$s.out"
        "${load[@]}" --port "$(imap_port "$s")" --idle "$IDLE" --duration 0 --label "$s" >"$work/idle-$s.out" 2>"$work/idle-$s.err" &
        idle_pid=$!
        while ! grep -q 'ready=' "$work/idle-$s.out"; do
            kill -0 "$idle_pid" 2>/dev/null || { cat "$work/idle-$s.err" >&2; die "imap-load --idle stopped"; }
            sleep 1
        done
        sleep 5 # sessions that just logged in may still be settling
        with=$(pss_kib "$(server_root "$s")")
        ready=$(field ready <"$work/idle-$s.out")
        kill -TERM "$idle_pid"
        wait "$idle_pid" || true
        idle_pid=""
        head -3 "$work/idle-$s.err" >&2
        tee -a "$work/output" <"$work/idle-$s.out"
        per=$(awk -v a="$before" -v b="$with" -v n="$ready" 'BEGIN { if (n > 0) printf "%.4f", (b - a) / n / 1024; else print "nan" }')
        line="imap-load server=$s idle=$IDLE ready=$ready pss_before=$((before / 1024))MiB pss_idle=$((with / 1024))MiB MiB/idle-connection=$per"
        echo "$line" | tee -a "$work/output"
        record idle "$s" "$per"
    done
fi

# ------------------------------------------------------------ summary
get() { awk -v k="$1" -v s="$2" '$1 == k && $2 == s { print $3 }' "$results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf "%.2f", a / b; else print "-" }'; }
echo
printf '%-28s %14s %14s %14s\n' "" atoll dovecot atoll/dovecot
verdict=""
for c in $CLIENTS; do
    a=$(get "ops$c" atoll) d=$(get "ops$c" dovecot)
    r=$(ratio "$a" "$d")
    printf '%-28s %14s %14s %14s\n' "ops/s, $c clients" "${a:--}" "${d:--}" "$r"
    printf '%-28s %14s %14s\n' "  errors" "$(get "errors$c" atoll)" "$(get "errors$c" dovecot)"
    verdict+=$(awk -v r="$r" -v c="$c" 'BEGIN { if (r != "-") printf " throughput@%s:%s", c, (r >= 1.5 ? "met" : "NOT-met") }')
done
if [ "$IDLE" -gt 0 ]; then
    a=$(get idle atoll) d=$(get idle dovecot)
    r=$(ratio "$a" "$d")
    printf '%-28s %14s %14s %14s\n' "MiB per idle connection" "${a:--}" "${d:--}" "$r"
    verdict+=$(awk -v r="$r" 'BEGIN { if (r != "-") printf " idle-memory:%s", (r <= 0.1 ? "met" : "NOT-met") }')
fi
echo "bar (>= 1.5x ops/s, <= 0.1x memory per idle connection):${verdict:- -}"
