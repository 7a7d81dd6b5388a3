#!/usr/bin/env bash
# Does a change keep every answer? The same indexes and questions, asked by this checkout and
# by another (e.g. `git worktree add /tmp/before <commit>`): the eval reports (timings aside)
# and every `ask --batch --json` line are compared.
# Usage: benchmarks/quality/same_answers.sh OTHER_CHECKOUT [EVAL_DIR] [WORK_DIR]
#        (defaults: ../shared/eval, /tmp/qabot-same-answers). Indexes are built by this checkout;
#        both read them, so the index format must not have changed between the two.
set -euo pipefail
OTHER=$(cd "$1" && pwd)
HERE=$(pwd)
EVAL=$(cd "${2:-../shared/eval}" && pwd)
WORK=${3:-/tmp/qabot-same-answers}
PY=$(command -v python)
mkdir -p "$WORK"
T=$HERE/tests/data
python -m bot ingest --corpus corpus/seed --index "$WORK/seed" >/dev/null 2>&1
python -m bot ingest --corpus "$EVAL/cmrc2018-trial/corpus.jsonl" --index "$WORK/cmrc" >/dev/null 2>&1
python -m bot ingest --corpus "$EVAL/drcd_s2-test/corpus.jsonl" --index "$WORK/drcd" >/dev/null 2>&1
sets="seed:$T/seed_questions.jsonl seed:$T/seed_questions_heldout.jsonl seed:$T/seed_unanswerable.jsonl
seed:$T/seed_english.jsonl cmrc:$EVAL/cmrc2018-trial/queries.jsonl
drcd:$EVAL/drcd_s2-test/queries.jsonl drcd:$EVAL/drcd-test/queries.jsonl"
for side in here other; do
  root=$HERE; [ $side = other ] && root=$OTHER
  for s in $sets; do
    idx=${s%%:*}; q=${s#*:}; name=$(basename "$(dirname "$q")")-$(basename "$q" .jsonl)
    # from inside the checkout, so that `python -m bot` imports that checkout's code
    (cd "$root" && PYTHONPATH=$root "$PY" -m bot eval --json --index "$WORK/$idx" --queries "$q" \
      2>/dev/null) > "$WORK/$side-eval-$name.json"
    # exit 1 when some lines could not be asked (CMRC has two empty questions): each such
    # line is an {"error": …} record in the output, compared like the others
    (cd "$root" && PYTHONPATH=$root "$PY" -m bot ask --json --batch "$q" --index "$WORK/$idx" \
      2>/dev/null) > "$WORK/$side-ask-$name.jsonl" || [ $? -eq 1 ]
  done
done
python - "$WORK" <<'PY'
import glob, json, sys
work, timing = sys.argv[1], {"p50_ms", "p95_ms", "seconds"}
for here in sorted(glob.glob(f"{work}/here-eval-*.json")):
    a, b = json.load(open(here)), json.load(open(here.replace("/here-", "/other-")))
    diff = {k: (b.get(k), a.get(k)) for k in (a.keys() | b.keys()) - timing if a.get(k) != b.get(k)}
    name = here.rsplit("here-eval-", 1)[1]
    print(f"{name}: R@1 {a['recall_at_1']} MRR@10 {a['mrr_at_10']} —",
          "report identical" if not diff else f"differs (other, here): {diff}")
for here in sorted(glob.glob(f"{work}/here-ask-*.jsonl")):
    a = open(here).read().splitlines()
    b = open(here.replace("/here-", "/other-")).read().splitlines()
    same = sum(x == y for x, y in zip(a, b))
    print(f"{here.rsplit('here-ask-', 1)[1]}: {same}/{len(a)} answers byte-identical")
PY
