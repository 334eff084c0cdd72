#!/usr/bin/env bash
# SMTP acceptance and delivery, atoll next to Postfix delivering to Dovecot
# over LMTP (the OS packages), on the same machine in the same run. Prints
# every figure, then the ratios. The bar (from the issue): at least 1,000
# messages/s accepted and delivered, and at least 2x Postfix+Dovecot.
#
# What is measured
#   Postfix's smtp-source sends MESSAGES (5,000) messages of SIZE (4096)
#   bytes to one mailbox over SESSIONS (20) parallel sessions, a new
#   connection per message (smtp-source's default, as mail from the
#   internet arrives). "accepted/s" is MESSAGES over the time until
#   smtp-source is done (every message got its 250); "delivered/s" is
#   MESSAGES over the time until the last one is in the mailbox, asked over
#   IMAP (STATUS INBOX) every 0.1 s. Each server runs alone, the other
#   stopped.
#
# Configured alike
#   - both durable: atoll syncs its spool before 250 and the island before
#     it drops the spooled copy; Postfix fsyncs its queue file before 250
#     and Dovecot its mail (mail_fsync = optimized) before the LMTP 250.
#   - atoll: roles mx and store in one process (the embedded default's
#     shape), greylisting off (smtp-source never retries), no connection
#     limit per address (smtp-source's sessions all come from 127.0.0.1).
#   - Postfix: bench/postfix/main.cf.in, relaying example.org to Dovecot's
#     LMTP (bench/dovecot/dovecot.conf.in, as in bench/imap.sh) with 20
#     parallel deliveries; no connection limits.
#
# Everything lives in a temporary directory, removed at exit with every
# server stopped. Both servers create one file per message: on an ext4
# file system that has seen millions of files created and deleted (a
# build machine's /tmp), inode allocation itself slows down (the kernel's
# recently_deleted scan shows in a profile), so by default the run gets a
# fresh loop-mounted ext4 file system of its own; TMPDIR=/some/dir runs on
# that directory's file system instead (FRESH_FS=1 forces a fresh one).
# Environment: MESSAGES, SIZE, SESSIONS, SERVERS ("atoll postfix"),
# BENCH_USER, KEEP=1 to keep the directory (logs), TMPDIR, FRESH_FS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

MESSAGES=${MESSAGES:-5000}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-20}
SERVERS=${SERVERS:-atoll postfix}
BENCH_USER=${BENCH_USER:-atoll-test}
PASSWORD=bench-secret
RCPT=user1@example.org

say() { printf 'smtp.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for b in /usr/sbin/smtp-source /usr/sbin/postfix /usr/sbin/dovecot /usr/lib/dovecot/lmtp; do
    [ -x "$b" ] || die "$b is missing: run scripts/setup as root (postfix, dovecot-imapd, dovecot-lmtpd)"
done
[ "$(id -u)" -eq 0 ] || die "run as root: Postfix's master starts as root"

# shellcheck source=bench/lib.sh
source bench/lib.sh

cargo build --release --locked -p atoll >&2
atoll_bin=$root/target/release/atoll

# A fresh file system for the run (FRESH_FS=1, the default when TMPDIR is
# not set): a sparse 4 GiB ext4 image, loop-mounted, as a mail server's
# spool and store would have a partition of their own. Figures then say
# what the programs do, not how many files this machine's /tmp has seen.
fresh_fs=""
if [ "${FRESH_FS:-$([ -z "${TMPDIR:-}" ] && echo 1)}" = 1 ]; then
    command -v mkfs.ext4 >/dev/null || die "FRESH_FS=1 needs mkfs.ext4 (e2fsprogs); or set TMPDIR"
    fresh_fs=$(mktemp -d /var/tmp/atoll-bench-fs.XXXXXX)
    chmod 755 "$fresh_fs"
    truncate -s 4G "$fresh_fs/image"
    mkfs.ext4 -q -F "$fresh_fs/image"
    mkdir "$fresh_fs/mnt"
    mount -o loop "$fresh_fs/image" "$fresh_fs/mnt" || { rm -rf "$fresh_fs"; die "could not loop-mount a fresh file system; set TMPDIR"; }
    chmod 1777 "$fresh_fs/mnt"
    TMPDIR=$fresh_fs/mnt
    say "a fresh ext4 file system for this run at $TMPDIR"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/atoll-smtp-bench.XXXXXX")
chmod 755 "$work"
declare -A server_pid=()
postfix_dir=$work/postfix
cleanup() {
    for s in "${!server_pid[@]}"; do stop_server "$s"; done
    [ ! -f "$postfix_dir/main.cf" ] || postfix -c "$postfix_dir" stop >/dev/null 2>&1 || true
    if [ -n "${KEEP:-}" ]; then say "kept $work"; else rm -rf "$work"; fi
    if [ -n "$fresh_fs" ] && [ -z "${KEEP:-}" ]; then
        umount "$fresh_fs/mnt" && rm -rf "$fresh_fs" || say "warning: could not remove $fresh_fs"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hash=$(openssl passwd -6 "$PASSWORD")

# Messages in $RCPT's INBOX, over IMAP on port $1.
count() {
    python3 - "$1" "$RCPT" "$PASSWORD" <<'PY'
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.status("INBOX", "(MESSAGES)")
print(re.search(rb"MESSAGES (\d+)", data[0]).group(1).decode())
m.logout()
PY
}

# Runs smtp-source against port $1 and waits until IMAP port $2 shows
# every message; prints "accepted_seconds delivered_seconds".
run_load() {
    local smtp=$1 imap=$2 start accepted n
    start=$(date +%s.%N)
    /usr/sbin/smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f bench@example.net -t "$RCPT" \
        -M bench-client.example.net "127.0.0.1:$smtp" >&2
    accepted=$(date +%s.%N)
    for _ in $(seq 1 6000); do
        n=$(count "$imap")
        [ "$n" -ge "$MESSAGES" ] && break
        sleep 0.1
    done
    [ "$n" -ge "$MESSAGES" ] || die "only $n of $MESSAGES messages delivered after 10 minutes"
    [ "$n" -eq "$MESSAGES" ] || die "$n messages in the mailbox, $MESSAGES sent: duplicates"
    awk -v s="$start" -v a="$accepted" -v d="$(date +%s.%N)" 'BEGIN { printf "%.3f %.3f\n", a - s, d - s }'
}

results=$work/results
: >"$results"
report() {
    local s=$1 acc=$2 del=$3
    local a d
    a=$(awk -v m="$MESSAGES" -v t="$acc" 'BEGIN { printf "%.0f", m / t }')
    d=$(awk -v m="$MESSAGES" -v t="$del" 'BEGIN { printf "%.0f", m / t }')
    echo "smtp-bench server=$s messages=$MESSAGES size=$SIZE sessions=$SESSIONS accepted_s=$acc delivered_s=$del accepted/s=$a delivered/s=$d"
    echo "accepted $s $a" >>"$results"
    echo "delivered $s $d" >>"$results"
}

# ------------------------------------------------------------ atoll
run_atoll() {
    local dir=$work/atoll smtp imap http lmtp
    mkdir -p "$dir"
    chown "$BENCH_USER:$BENCH_GROUP" "$dir"
    smtp=$(free_port) imap=$(free_port) http=$(free_port) lmtp=$(free_port)
    cat >"$dir/atoll.toml" <<TOML
[node]
name = "bench"
roles = ["mx", "store"]
data_dir = "$dir/data"

[listen]
http = ["127.0.0.1:$http"]
smtp = ["127.0.0.1:$smtp"]
lmtp = ["127.0.0.1:$lmtp"]
imap = ["127.0.0.1:$imap"]
imaps = []
submission = []
submissions = []
pop3 = []
pop3s = []
managesieve = []

[mx]
max_connections_per_ip = 0

# Postfix and Dovecot in this run check no reverse DNS, SPF, DKIM or DMARC:
# neither does atoll, so that both do the same work and neither waits on
# the machine's DNS.
[mx.authentication]
iprev = false
spf = false
dkim = false
dmarc = false

[imap]
allow_plaintext_auth = true

[passwords]
rehash_on_login = false
TOML
    printf 'address,password_hash\n%s,{SHA512-CRYPT}%s\n' "$RCPT" "$hash" >"$dir/users.csv"
    local run=("${as_user[@]}" env -u ATOLL_CONFIG -u ATOLL_DATA_DIR -u ATOLL_LOG "$atoll_bin" --config "$dir/atoll.toml")
    (cd "$dir" && "${run[@]}" domain add example.org >&2 && "${run[@]}" user import "$dir/users.csv" >&2)
    (cd "$dir" && exec "${run[@]}" serve >>"$dir/serve.log" 2>&1) &
    server_pid[atoll]=$!
    wait_port "$smtp" "${server_pid[atoll]}" "$dir/serve.log"
    wait_port "$imap" "${server_pid[atoll]}" "$dir/serve.log"
    say "atoll: $MESSAGES messages of $SIZE bytes over $SESSIONS sessions"
    read -r acc del < <(run_load "$smtp" "$imap")
    report atoll "$acc" "$del"
    stop_server atoll
}

# ------------------------------------------------------------ Postfix + Dovecot
run_postfix() {
    local ddir=$work/dovecot dimap dlmtp smtp
    mkdir -p "$ddir/run" "$ddir/state" "$ddir/mail"
    dimap=$(free_port) dlmtp=$(free_port) smtp=$(free_port)
    sed -e "s|@DIR@|$ddir|g" -e "s|@PORT@|$dimap|g" -e "s|@LMTP_PORT@|$dlmtp|g" \
        -e "s|@USER@|$BENCH_USER|g" -e "s|@GROUP@|$BENCH_GROUP|g" \
        -e "s|@PROCESS_LIMIT@|500|g" -e "s|@CLIENT_LIMIT@|3000|g" \
        bench/dovecot/dovecot.conf.in >"$ddir/dovecot.conf"
    echo "$RCPT:{SHA512-CRYPT}$hash" >"$ddir/passwd"
    : >"$ddir/dovecot.log"
    chown -R "$BENCH_USER:$BENCH_GROUP" "$ddir"
    "${as_user[@]}" /usr/sbin/dovecot -F -c "$ddir/dovecot.conf" >>"$ddir/dovecot.log" 2>&1 &
    server_pid[dovecot]=$!
    wait_port "$dimap" "${server_pid[dovecot]}" "$ddir/dovecot.log"
    wait_port "$dlmtp" "${server_pid[dovecot]}" "$ddir/dovecot.log"

    mkdir -p "$postfix_dir/queue" "$postfix_dir/data"
    sed -e "s|@DIR@|$postfix_dir|g" -e "s|@LMTP_PORT@|$dlmtp|g" bench/postfix/main.cf.in >"$postfix_dir/main.cf"
    sed -e "s|@PORT@|$smtp|g" bench/postfix/master.cf.in >"$postfix_dir/master.cf"
    chown postfix "$postfix_dir/data"
    postfix -c "$postfix_dir" start >&2 || die "postfix did not start: $(tail -5 "$postfix_dir/maillog" 2>/dev/null)"
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$smtp") 2>/dev/null && break; sleep 0.1; done
    say "postfix+dovecot: $MESSAGES messages of $SIZE bytes over $SESSIONS sessions"
    read -r acc del < <(run_load "$smtp" "$dimap")
    report postfix "$acc" "$del"
    postfix -c "$postfix_dir" stop >&2
    stop_server dovecot
}

say "$(nproc) cores, $(postconf -d mail_version 2>/dev/null | sed 's/.*= /Postfix /'), $(/usr/sbin/dovecot --version | cut -d' ' -f1 | sed 's/^/Dovecot /')"
for s in $SERVERS; do
    case $s in
        atoll) run_atoll ;;
        postfix) run_postfix ;;
        *) die "unknown server $s (atoll, postfix)" ;;
    esac
done

get() { awk -v k="$1" -v s="$2" '$1 == k && $2 == s { print $3 }' "$results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf "%.2f", a / b; else print "-" }'; }
echo
printf '%-24s %14s %16s %16s\n' "" atoll postfix+dovecot atoll/postfix
for k in accepted delivered; do
    a=$(get "$k" atoll) p=$(get "$k" postfix)
    printf '%-24s %14s %16s %16s\n' "$k/s" "${a:--}" "${p:--}" "$(ratio "$a" "$p")"
done
a=$(get delivered atoll) p=$(get delivered postfix)
verdict=$(awk -v a="$a" -v p="$p" 'BEGIN {
    if (a == "") { print "-"; exit }
    printf "1000/s:%s", (a >= 1000 ? "met" : "NOT-met")
    if (p != "") printf " 2x-postfix+dovecot:%s", (a >= 2 * p ? "met" : "NOT-met")
}')
echo "bar (>= 1000 delivered/s and >= 2x Postfix+Dovecot): $verdict"
