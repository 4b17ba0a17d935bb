#!/usr/bin/env bash
# Records docs/recordings/blind-review.txt: a calibration session assigned on the command line, then
# one blind review in `callqa tui` from the list to the comparison, in a real terminal (tmux 120x40),
# each step's screen taken with `tmux capture-pane -p`.
#
#   docs/recordings/blind-review.sh DB [OUT]
#
# DB: a database holding scored calls and no calibration session named "december" (the recording
# used the ten sample calls: callqa score samples/reference/*.json --name-pattern '{id}_{agent}_{*}').
set -euo pipefail
DB=${1:?give the database}
OUT=${2:-$(dirname "$0")/blind-review.txt}
SRC=$(cd "$(dirname "$0")/../../src" && pwd)  # this checkout's callqa
S=callqa-blind-$$
W=120
H=40
: > "$OUT"

step() {  # step TITLE: append the screen under a heading (once the screen has settled)
  sleep 1
  { printf '\n===== %s =====\n' "$1"; tmux capture-pane -p -t "$S"; } >> "$OUT"
}

wait_for() {  # wait_for TEXT: until the screen shows it (60 s at most)
  for _ in $(seq 600); do
    tmux capture-pane -p -t "$S" | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  echo "timed out waiting for: $1" >&2
  tmux capture-pane -p -t "$S" >&2
  return 1
}

keys() { tmux send-keys -t "$S" "$@"; sleep 0.4; }

tmux new-session -d -s "$S" -x "$W" -y "$H" "TERM=xterm-256color nice -n 10 bash --norc --noprofile"
trap 'tmux kill-session -t "$S" 2>/dev/null || true' EXIT
keys "export PS1='$ ' PYTHONPATH='$SRC' CALLQA_DB='$DB' CALLQA_REVIEWER=ana; alias callqa='python -m callqa.cli'; clear" Enter
keys "callqa calibrate assign --reviewers ana,ben --calls 4 --seed 19 --name december" Enter
wait_for "progress: callqa calibrate status"
step "1. assign: a stratified sample of 4 calls for ana and ben"

keys "callqa tui" Enter
wait_for "reviewer: ana"
keys 6
wait_for "december ana 0/4"
step "2. callqa tui, mode 6 (Blind review): ana's assigned calls and everyone's progress"

keys Enter
wait_for "Criterion 1 of"
step "3. enter: the first call, blind: transcript, no score, no flags; the first criterion"

# answers: yes to most, no to a few, N-A where the criterion does not apply to the call
total=$(tmux capture-pane -p -t "$S" | grep -o 'Criterion 1 of [0-9]*' | awk '{print $4}')
answers=(y y n y a y n y y a)
for i in $(seq 1 $((total - 1))); do
  keys "${answers[$(( (i - 1) % ${#answers[@]} ))]}"
  if [ "$i" -eq 3 ]; then step "4. y y n: three answers stored, on to criterion 4"; fi
done
keys "["
step "5. [: back to the previous criterion (answering again replaces it)"
keys "]"
wait_for "Criterion $total of $total"
step "6. ]: the last criterion, still blind"
keys y
wait_for "You against the machine"
step "7. y, the last answer: the comparison with the machine's answers and evidence, differences first"

keys Escape
wait_for "december ana 1/4"
step "8. escape: the list, ana 1 of 4 done"
keys q
sleep 1
keys "clear; callqa calibrate status --name december" Enter
wait_for "Calibration progress"
step "9. callqa calibrate status"
