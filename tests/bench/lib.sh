# Shared by the shell benchmarks (sourced, not run): the lines every
# benchmark config opens with, and the wait for a log line.

# supervisord_section DIR LOGLEVEL [MINFDS]: the [supervisord] section of a
# benchmark config keeping its main log, pid file and children's logs in DIR.
supervisord_section() {
    cat <<CONF
[supervisord]
logfile=$1/main.log
pidfile=$1/sd.pid
childlogdir=$1
nodaemon=true
loglevel=$2
${3:+minfds=$3}
CONF
}

# wait_count FILE TEXT COUNT [TIMEOUT]: poll FILE until TEXT is on COUNT
# lines, or fail after TIMEOUT seconds (300).
wait_count() {
    local deadline=$(( $(date +%s) + ${4:-300} ))
    local count
    while count=$(grep -c -- "$2" "$1" 2>/dev/null); [ "${count:-0}" -lt "$3" ]; do
        [ "$(date +%s)" -gt "$deadline" ] && { echo "timeout waiting for $3 x $2 in $1" >&2; return 1; }
        sleep 0.005
    done
}
