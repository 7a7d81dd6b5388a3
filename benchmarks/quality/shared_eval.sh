#!/usr/bin/env bash
# Retrieval quality on the shared public QA sets (CMRC 2018 trial, DRCD test).
# Usage: [MODES="hybrid bigram-bm25"] benchmarks/quality/shared_eval.sh [EVAL_DIR] [WORK_DIR]
#        (defaults: all four modes, ../shared/eval, /tmp/qabot-eval)
# Prints one JSON report per (data set, mode); the traditional DRCD questions are
# asked against the simplified DRCD corpus.
set -euo pipefail
EVAL=${1:-../shared/eval}
WORK=${2:-/tmp/qabot-eval}
mkdir -p "$WORK"
run() {  # name corpus queries mode
  python -m bot eval --json --index "$WORK/$1" --corpus "$2" --queries "$3" --mode "$4" \
    | python -c "import json,sys; r=json.load(sys.stdin); r['set']='$5'; print(json.dumps(r, ensure_ascii=False))"
}
for mode in ${MODES:-hybrid bigram-bm25 dense keyword}; do
  run cmrc "$EVAL/cmrc2018-trial/corpus.jsonl" "$EVAL/cmrc2018-trial/queries.jsonl" $mode cmrc2018-trial
  run drcd "$EVAL/drcd_s2-test/corpus.jsonl" "$EVAL/drcd_s2-test/queries.jsonl" $mode drcd_s2-test
  run drcd "$EVAL/drcd_s2-test/corpus.jsonl" "$EVAL/drcd-test/queries.jsonl" $mode "drcd-test (traditional questions)"
done
