# Sourced by the scripts that start `tunekit serve --port 0` in the background.
#
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

#   npm_ci_pinned DIR
# runs `npm ci` in DIR unless its node_modules was installed from the same package-lock.json.
npm_ci_pinned() {
  local dir=$1 stamp=$1/node_modules/.tunekit-lock
  if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
}

#   make_work_dir
# sets $work to a new temporary folder and, on exit, stops the server in $server_pid (when set) and
# removes the folder.
make_work_dir() {
  work=$(mktemp -d)
  server_pid=
  trap 'if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; fi; rm -rf "$work"' EXIT
}
