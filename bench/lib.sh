# Shared by the bench scripts (sourced).
# wait_listen LOGFILE PID: waits until the daemon prints "listening on HOST:PORT", prints HOST:PORT.
wait_listen() {
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$1" 2>/dev/null; then sed -n 's/^listening on //p' "$1" | head -1; return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "daemon did not start; log $1:" >&2; tail -20 "$1" >&2; return 1
}
