#!/bin/bash
# Wall time of the README's default command (`python -m tf_dpvae.train --reg factor`), from a fresh
# --out, for this checkout and, if given, an older one, in one invocation (issue 27, item 1).
#
#   git worktree add --detach /tmp/old b6bcdf6
#   benchmarks/default_command_time.sh /tmp/old                     # the default command, new then old
#   EXTRA="--flow-coupling affine" benchmarks/default_command_time.sh  # this checkout, another model
#
# Prints one line per checkout: path, commit, wall seconds, 1-minute load at the end; the run's own
# summary (best checkpoint and its validation −ELBO) is in /tmp/default_command.<name>.log.
# The export lands in each checkout's saved_models/run/ (the command's default); it is removed after.
set -u
export TF_CPP_MIN_LOG_LEVEL=3
here="$(cd "$(dirname "$0")/.." && pwd)"
python="$here/.venv/bin/python"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, extra flags: ${EXTRA:-none}"
for tree in "$here" "$@"; do
  out="$(mktemp -d)/run"
  cd "$tree" || exit 2
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  PYTHONPATH="$tree" "$python" -m tf_dpvae.train --reg factor ${EXTRA:-} --out "$out" \
    > "/tmp/default_command.$(basename "$tree").log" 2>&1
  status=$?
  end=$(date +%s.%N)
  rm -rf "$tree/saved_models/run"
  echo "$tree $(git -C "$tree" rev-parse --short HEAD) exit $status wall" \
       "$(python3 -c "print(round($end - $start, 1))") s, load $(cut -d' ' -f1 /proc/loadavg)," \
       "$(grep -o 'validation negative ELBO [0-9.]*' "/tmp/default_command.$(basename "$tree").log")"
done
