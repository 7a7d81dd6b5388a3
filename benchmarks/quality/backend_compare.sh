#!/usr/bin/env bash
# Retrieval quality of the backends side by side on the shared QA sets (hybrid mode): CMRC 2018
# trial, and the traditional DRCD questions against the simplified DRCD corpus.
# Usage: [BACKENDS="local milvus"] [LIMIT=N] benchmarks/quality/backend_compare.sh [EVAL_DIR] [WORK_DIR]
#        (defaults: ../shared/eval, /tmp/qabot-backends)
# Both backends use one index folder per set, so they share its embedding cache: the second
# ingest embeds nothing. Set QABOT_MILVUS_KEYWORDS=bm25 (and another QABOT_MILVUS_COLLECTION)
# to measure Milvus's own BM25 over jieba instead of our sparse vectors.
set -euo pipefail
EVAL=${1:-../shared/eval}
WORK=${2:-/tmp/qabot-backends}
mkdir -p "$WORK"
run() {  # index-name corpus queries set-label backend
  python -m bot eval --json --backend "$5" --index "$WORK/$1" --corpus "$2" --queries "$3" \
      ${LIMIT:+--limit "$LIMIT"} \
    | python -c "import json,os,sys; r=json.load(sys.stdin); r['set']='$4'; r['backend']='$5'
if '$5' == 'milvus': r['keywords'] = os.environ.get('QABOT_MILVUS_KEYWORDS') or 'sparse'
print(json.dumps(r, ensure_ascii=False))"
}
for backend in ${BACKENDS:-local milvus}; do
  run cmrc "$EVAL/cmrc2018-trial/corpus.jsonl" "$EVAL/cmrc2018-trial/queries.jsonl" \
    cmrc2018-trial "$backend"
  run drcd "$EVAL/drcd_s2-test/corpus.jsonl" "$EVAL/drcd-test/queries.jsonl" \
    "drcd-test (traditional questions)" "$backend"
done
