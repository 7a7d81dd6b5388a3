"""Would a sentence-level "reader" signal make the confidence model better? (issue 11, round 4)

Offline, on the rows ``tools/calibrate.py collect`` keeps (each question, its top passage, its
features): the e5 model we ship encodes each question (query prompt, as ``ask`` does) and each
sentence of its top passage (document prompt, cut at 160 characters, as the opt-in semantic
tie-break does); their cosines give the reader features

* ``s_max``: the best sentence cosine;
* ``s_top3``: the best cosine among the three sentences holding the most IDF of the question's
  words (what a capped runtime version would encode);
* ``s_same``: 1 if the best sentence by meaning is the best by words.

Each feature set is refitted exactly as ``tools/calibrate.py fit`` fits (calibration split only)
and printed with its held-out rates, the rates on answer-removed sets
(``benchmarks/quality/answer_removed.py``, given with ``--cut``; never fitted), 5-fold
cross-validation on the calibration split, a cascade (the reader model decides only where the
13-feature model's probability lies in a band), and how well each feature alone separates the
families (ROC AUC). Vectors are cached in ``--vectors``: the first run encodes some 13,000 texts
(about 5 minutes on two busy cores).

    python -m experiments.reader_signal --work /tmp/calib/sets \\
        --cut sentence=/tmp/calib/answer-removed --cut clause=/tmp/calib/clause-removed \\
        --vectors /tmp/calib/reader-vectors.pkl
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from corpus.normalize import search_key
from retrieval.query.confidence import FEATURES, ConfidenceModel, load_model
from tools import calibrate

READER = ("s_max", "s_top3", "s_same")
CUT = 160  # characters kept of each sentence
_END = re.compile(r"[。！？；!?;\n]+")
VARIANTS = (
    ("13 features, refitted", ()),
    ("+ s_max", ("s_max",)),
    ("+ s_top3", ("s_top3",)),
    ("+ s_max + s_same", ("s_max", "s_same")),
)
BAND = (0.4, 0.8)  # the cascade's band on the 13-feature model's probability


def sentences(text: str) -> list[str]:
    """The passage's sentences as the reader sees them (cut at :data:`CUT` characters)."""
    return [s.strip()[:CUT] for s in _END.split(text) if s.strip()]


def reader_features(
    question: np.ndarray, vectors: np.ndarray, word_scores: list[float]
) -> dict[str, float]:
    """The :data:`READER` features from the question's vector, its top passage's sentence
    vectors (one row each) and each sentence's IDF mass of the question's words."""
    if not len(vectors):
        return dict.fromkeys(READER, 0.0)
    cosines = vectors @ question
    by_words = sorted(range(len(word_scores)), key=lambda i: -word_scores[i])
    return {
        "s_max": float(cosines.max()),
        "s_top3": float(cosines[by_words[:3]].max()),
        "s_same": float(int(cosines.argmax()) == by_words[0]),
    }


class Vectors:
    """Question and sentence vectors, cached in a pickle file between runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache = pickle.loads(path.read_bytes()) if path.exists() else {"q": {}, "s": {}}
        self._embedder = None

    def fill(self, questions: set[str], texts: set[str]) -> None:
        """Encode whatever is not cached yet, 32 at a time, and save."""
        missing_q = sorted(questions - self.cache["q"].keys())
        missing_s = sorted(texts - self.cache["s"].keys(), key=len)
        if not missing_q and not missing_s:
            return
        from retrieval.engine import shared_embedder

        embedder = shared_embedder()
        for keys, encode, into in (
            (missing_q, embedder.encode_queries, self.cache["q"]),
            (missing_s, embedder.encode_sentences, self.cache["s"]),
        ):
            for i in range(0, len(keys), 32):
                into.update(zip(keys[i : i + 32], encode(keys[i : i + 32]), strict=True))
        self.path.write_bytes(pickle.dumps(self.cache))
        print(f"encoded {len(missing_q)} questions and {len(missing_s)} sentences", flush=True)


def add_reader_features(rows: list[dict], vectors: Vectors) -> None:
    keys = {search_key(r["question"][:500]) for r in rows}
    vectors.fill(keys, {s for r in rows for s in sentences(r["top_text"])})
    for r in rows:
        found = sentences(r["top_text"])
        words = [sum(v for w, v in r["idf"].items() if w in search_key(s)) for s in found]
        matrix = np.array([vectors.cache["s"][s] for s in found]).reshape(len(found), -1)
        question = vectors.cache["q"][search_key(r["question"][:500])]
        r["features"].update(reader_features(question, matrix, words))


def load(work: Path, cuts: list[tuple[str, Path]]) -> list[dict]:
    rows = calibrate.load_rows(work)
    for name, folder in cuts:
        for r in calibrate.load_rows(folder):
            r["cut"] = name  # measured only: never fitted, whatever its split
            rows.append(r)
    return rows


def fit(rows: list[dict], names: tuple[str, ...]) -> ConfidenceModel:
    return calibrate.fit_model([r for r in rows if not r["heldout"] and "cut" not in r], names)


def confident(model, row: dict) -> bool:
    """``model`` is a model, or a cascade ``(base, reader, lo, hi)``."""
    if isinstance(model, tuple):
        base, reader, lo, hi = model
        p = base.probability(row["features"])
        model = reader if lo <= p < hi else base
    return model.probability(row["features"]) >= model.threshold


def right(model, rows: list[dict]) -> str:
    """Share of ``rows`` decided right (answerable: confident), with its counts."""
    ok = sum(confident(model, r) == r["answerable"] for r in rows)
    return f"{ok / len(rows):.3f} ({ok}/{len(rows)})" if rows else "–"


def families(rows: list[dict]) -> dict[str, list[dict]]:
    """The held-out families of the issue's bands, and the answer-removed sets."""
    held = [r for r in rows if r["heldout"] and "cut" not in r]
    out = {
        "public answerable": [r for r in held if calibrate.group(r) == "public-answerable"],
        "public unanswerable": [r for r in held if calibrate.group(r) == "public-unanswerable"],
        "seed held-out answerable": [
            r for r in held if r["set"] == "seed-heldout" and r["answerable"]
        ],
        "hard held-out": [r for r in held if r["set"] == "seed-hard-heldout"],
        "English held-out answerable": [
            r for r in held if r["set"] == "seed-english-heldout" and r["answerable"]
        ],
        "English held-out unanswerable": [
            r for r in held if r["set"] == "seed-english-heldout" and not r["answerable"]
        ],
    }
    for name in sorted({r["cut"] for r in rows if "cut" in r}):
        out[f"answer {name} cut"] = [r for r in rows if r.get("cut") == name]
    return out


def fold(row: dict) -> int:
    return int(hashlib.sha1((row["set"] + row["qid"]).encode()).hexdigest(), 16) % 5


def cv_group(row: dict) -> str:
    if row["set"].startswith("seed-hard"):
        return "hard"
    kind = calibrate.group(row)
    return f"English {kind}" if row["set"].startswith("seed-english") else kind


def cross_validate(rows: list[dict], names: tuple[str, ...], band=None) -> dict[str, list[int]]:
    """5 folds of the calibration split: right decisions per family, out of how many."""
    cal = [r for r in rows if not r["heldout"] and "cut" not in r]
    result: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for k in range(5):
        train = [r for r in cal if fold(r) != k]
        model = calibrate.fit_model(train, names)
        if band:
            model = (calibrate.fit_model(train, FEATURES), model, *band)
        for r in (r for r in cal if fold(r) == k):
            result[cv_group(r)][0] += confident(model, r) == r["answerable"]
            result[cv_group(r)][1] += 1
    return dict(sorted(result.items()))


def separation(rows: list[dict]) -> str:
    """ROC AUC of single features: answerable ranked right against each unanswerable kind."""
    from sklearn.metrics import roc_auc_score

    plain = [r for r in rows if "cut" not in r]
    good = [r for r in plain if r["correct"] and calibrate.group(r) == "public-answerable"]
    seed_good = [r for r in plain if r["correct"] and calibrate.group(r) == "seed-answerable"]
    pairs = {
        "public answerable / unanswerable": (
            good,
            [r for r in plain if calibrate.group(r) == "public-unanswerable"],
        ),
        "seed answerable / hard": (seed_good, [r for r in plain if cv_group(r) == "hard"]),
    }
    for name in sorted({r["cut"] for r in rows if "cut" in r}):
        pairs[f"public answerable / answer {name} cut"] = (
            good,
            [r for r in rows if r.get("cut") == name],
        )
    names = ("coverage", "dense_top", *READER)
    lines = ["| pair (rows) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, (pos, neg) in pairs.items():
        y = [1] * len(pos) + [0] * len(neg)
        aucs = [roc_auc_score(y, [r["features"][n] for r in pos + neg]) for n in names]
        lines.append(
            f"| {label} ({len(pos)} / {len(neg)}) | " + " | ".join(f"{a:.3f}" for a in aucs) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="collected sets (calibrate.py)")
    parser.add_argument(
        "--cut",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="collected answer-removed sets (measured, never fitted); repeatable",
    )
    parser.add_argument("--vectors", type=Path, required=True, help="vector cache (pickle)")
    args = parser.parse_args()
    cuts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1])) for c in args.cut]
    rows = load(args.work, cuts)
    add_reader_features(rows, Vectors(args.vectors))
    groups = families(rows)
    print("| model (threshold) | " + " | ".join(groups) + " |")
    print("|---" * (len(groups) + 1) + "|")
    models = {"shipped": load_model()} | {
        name: fit(rows, FEATURES + extra) for name, extra in VARIANTS
    }
    base = models["13 features, refitted"]
    models["cascade: + s_top3 where p in [0.4, 0.8)"] = (base, models["+ s_top3"], *BAND)
    for name, model in models.items():
        threshold = model.threshold if isinstance(model, ConfidenceModel) else model[1].threshold
        cells = " | ".join(right(model, g) for g in groups.values())
        print(f"| {name} ({threshold}) | {cells} |")
    plain = [r for r in rows if "cut" not in r]
    paying = sum(BAND[0] <= base.probability(r["features"]) < BAND[1] for r in plain)
    print(f"\ncascade: {paying} of {len(plain)} questions ({paying / len(plain):.3f}) in the band")
    print("\n5-fold cross-validation on the calibration split (right / questions):")
    for name, extra in VARIANTS:
        result = cross_validate(rows, FEATURES + extra)
        print(f"- {name}: " + ", ".join(f"{g} {a}/{n}" for g, (a, n) in result.items()))
    result = cross_validate(rows, FEATURES + ("s_top3",), BAND)
    print("- cascade (+ s_top3): " + ", ".join(f"{g} {a}/{n}" for g, (a, n) in result.items()))
    print("\nseparation by one feature (ROC AUC):")
    print(separation(rows))


if __name__ == "__main__":
    main()
