# Shell helpers shared by the benchmarks (bench/imap.sh, bench/smtp.sh):
# running servers as an unprivileged user, ports, waiting, stopping.
# Source it after setting BENCH_USER; it expects say/die and an associative
# array server_pid (name -> pid) in the caller.

# The servers run as BENCH_USER (created when run as root).
if [ "$(id -u)" -eq 0 ]; then
    id -u "$BENCH_USER" >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$BENCH_USER"
    # setpriv and not runuser/su: those go through PAM, which resets the
    # open-files limit raised below. An array and not a function: a
    # function run with & is a subshell, and $! would be its pid, not the
    # server's.
    as_user=(setpriv --reuid="$BENCH_USER" --regid="$(id -g "$BENCH_USER")" --init-groups --)
else
    BENCH_USER=$(id -un)
    as_user=()
fi
BENCH_GROUP=$(id -gn "$BENCH_USER")

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something accepts on 127.0.0.1:$1, or the process $2 dies.
wait_port() {
    local port=$1 pid=$2 log=$3
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            # A server that could not bind may answer through another one.
            sleep 0.2
            kill -0 "$pid" 2>/dev/null && return 0
        fi
        kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "server exited before listening on $port"; }
        sleep 0.1
    done
    tail -20 "$log" >&2
    die "nothing listens on $port after 60 s"
}

# A process and all its descendants, parents first.
process_tree() {
    local queue=("$1") i=0 p
    while [ "$i" -lt "${#queue[@]}" ]; do
        p=${queue[i]}
        i=$((i + 1))
        echo "$p"
        # shellcheck disable=SC2207
        queue+=($(cat /proc/"$p"/task/*/children 2>/dev/null))
    done
}

# SIGTERM and a minute to stop (Dovecot's master stops its thousands of
# imap processes itself); then SIGKILL to whatever is left of the tree.
stop_server() {
    local s=$1 pid=${server_pid[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$s did not stop within 60 s: killing it"
        # shellcheck disable=SC2046
        kill -KILL $(process_tree "$pid") 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "server_pid[$s]"
}
