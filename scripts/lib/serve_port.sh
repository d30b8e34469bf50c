# Sourced by the scripts that start `tunekit serve --port 0` in the background.
#   port=$(wait_for_port PID LOG NAME) || exit 2
# prints the port of serve's "... on http://127.0.0.1:PORT" line in LOG once it appears; fails (with
# the log on stderr) when the server process PID ends first or 30 s pass. NAME prefixes the message.
wait_for_port() {
  local pid=$1 log=$2 name=$3 port
  for _ in $(seq 300); do
    port=$(sed -n 's/.* on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "$name: the server exited" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$name: the server did not start within 30 s" >&2
  cat "$log" >&2
  return 1
}
