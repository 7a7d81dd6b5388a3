"""Can the e5 model we ship be made into a reader? (issue 11, fifth round; nothing ships)

A reader reads the question and the passage together and says whether the passage answers.
No such model can be had here (the Hugging Face hub is unreachable; no PyPI package ships
one with its weights), so this tries to make one from the shipped multilingual-e5-small:

* **pairs**: public questions (CMRC trial, DRCD) with the top passage ``tools/calibrate.py
  collect`` kept, where it holds a gold answer (label 1), and the same passage with every
  sentence holding an answer cut (``cut_sentences`` of benchmarks/quality/answer_removed.py,
  label 0); plus cross-corpus questions' top passages (label 0). Calibration-split questions
  train, held-out ones test; the held-out "cut" pairs are real retrievals on the answer-removed
  indexes. The seed rows (answerable with the answer in the top passage: 1; the hard,
  on-topic unanswerable questions: 0) are only tested on.
* **encoding**: ``query: …`` and ``passage: …`` as one pair input (256 tokens), so every
  layer attends across question and passage; layer 9's states are cached.
* **probe**: a logistic regression on the frozen CLS and mean states (layer 9 and 12);
* **fine-tune**: layers 10–12 and a one-unit head trained on the cached states (AdamW,
  ``--lr`` for the layers, 1e-3 for the head, batch 16), evaluated after each epoch.

Printed: ROC AUC per family, beside the shipped confidence model's probability and word
coverage on the seed rows, and the seed AUC of the shipped probability averaged by rank
with half the reader's. Two cores: encoding 3,300 pairs takes about 5 minutes, one epoch
about 4.

    python -m experiments.reader_probe --rows /tmp/calib/sets \\
        --removed /tmp/calib/answer-removed --epochs 3
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from benchmarks.quality.answer_removed import answer_spans, cut_sentences
from embeddings.model import ensure_default_model
from retrieval.query.confidence import load_model

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
SEED_SETS = ("seed", "seed-heldout", "seed-hard", "seed-hard-heldout")
FAMILIES = (  # (label 1, label 0, short name)
    ("public answerable", "public answer removed", "public: answer vs cut"),
    ("public answerable", "public cross-corpus", "public: vs cross-corpus"),
    ("seed answerable", "seed hard", "seed: answerable vs hard"),
    ("seed answerable (held-out)", "seed hard (held-out)", "held-out seed"),
)
CACHED_LAYER = 9  # layers above it are fine-tuned
MAX_TOKENS = 256


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def build_pairs(rows: Path, removed: Path, eval_dir: Path, train_cap: int) -> list[dict]:
    """Labelled (question, passage) pairs, each with its family (``group``)."""
    gold = {}
    for name in ("cmrc2018-trial", "drcd_s2-test"):
        gold |= {q["qid"]: q for q in read(eval_dir / name / "queries.jsonl")}
    rng = random.Random(0)
    pairs, train_pos = [], []
    for name in ("cmrc", "drcd"):
        for r in read(rows / f"{name}.jsonl"):
            q = gold.get(r["qid"])
            spans = answer_spans(r["top_text"], {"answers": q["answers"]}) if q else []
            if not r["correct"] or not spans:
                continue
            if r["heldout"]:
                pairs.append(pair(r, "public answerable", 1))
            else:
                pos = pair(r, "train", 1)
                cut = {**pos, "text": cut_sentences(r["top_text"], spans)[0], "label": 0}
                train_pos.append((pos, cut))
    rng.shuffle(train_pos)
    for pos, cut in train_pos[:train_cap]:
        pairs += [pos, cut]
    for name in ("cmrc-removed", "drcd-removed"):
        kept = read(removed / f"{name}.jsonl")
        rng.shuffle(kept)
        pairs += [pair(r, "public answer removed") for r in kept[:300]]
    for name in ("cmrc-vs-drcd", "drcd-vs-cmrc"):
        kept = read(rows / f"{name}.jsonl")
        rng.shuffle(kept)
        pairs += [
            pair(r, "train" if not r["heldout"] else "public cross-corpus") for r in kept[:150]
        ]
    shipped = load_model()
    for name in SEED_SETS:
        for r in read(rows / f"{name}.jsonl"):
            if r["answerable"] and not r["correct"]:
                continue  # the top passage lacks the answer: neither family
            family = "seed answerable" if r["answerable"] else "seed hard"
            if name.endswith("heldout"):
                family += " (held-out)"
            p = pair(r, family, int(r["answerable"]))
            p["shipped"] = shipped.probability(r["features"])
            p["coverage"] = r["features"]["coverage"]
            pairs.append(p)
    return pairs


def pair(row: dict, group: str, label: int = 0) -> dict:
    return {"question": row["question"], "text": row["top_text"], "label": label, "group": group}


def encode(pairs: list[dict], model, tokenizer) -> None:
    """Cache each pair's layer-9 states (``h``), float16."""
    encoder_layers = model.encoder.layer
    model.encoder.layer = encoder_layers[:CACHED_LAYER]
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i]["text"]))
    start = time.perf_counter()
    for n in range(0, len(order), 8):
        batch = [pairs[i] for i in order[n : n + 8]]
        enc = tokenizer(
            ["query: " + p["question"] for p in batch],
            ["passage: " + p["text"] for p in batch],
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        with torch.inference_mode():
            states = model(**enc).last_hidden_state
        for j, p in enumerate(batch):
            p["h"] = states[j, : int(enc["attention_mask"][j].sum())].numpy().astype(np.float16)
        if n % 800 == 0:
            print(
                f"  encoded {n}/{len(pairs)} pairs, {time.perf_counter() - start:.0f} s", flush=True
            )
    model.encoder.layer = encoder_layers


class Reader(torch.nn.Module):
    """e5's layers above the cached one, and a one-unit head on the CLS state."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.layers = torch.nn.ModuleList(copy.deepcopy(model.encoder.layer[CACHED_LAYER:]))
        self.head = torch.nn.Linear(model.config.hidden_size, 1)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ext = self.model._create_attention_masks(
            attention_mask=mask,
            encoder_attention_mask=None,
            embedding_output=h,
            encoder_hidden_states=None,
            past_key_values=None,
        )[0]
        for layer in self.layers:
            h = layer(h, attention_mask=ext)
            h = h[0] if isinstance(h, tuple) else h
        return self.head(h[:, 0]).squeeze(-1), h


def padded(batch: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(p["h"]) for p in batch)
    h = torch.zeros(len(batch), n, batch[0]["h"].shape[1])
    mask = torch.zeros(len(batch), n, dtype=torch.long)
    for i, p in enumerate(batch):
        h[i, : len(p["h"])] = torch.from_numpy(p["h"].astype(np.float32))
        mask[i, : len(p["h"])] = 1
    return h, mask


def run(reader: Reader, pairs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The head's logits, and pooled states (CLS and mean, layers 9 and 12) for the probe."""
    reader.eval()
    logits, pooled = [0.0] * len(pairs), [None] * len(pairs)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i]["h"]))
    with torch.no_grad():
        for n in range(0, len(order), 16):
            idx = order[n : n + 16]
            h, mask = padded([pairs[i] for i in idx])
            z, top = reader(h, mask)
            m = mask[..., None].float()
            mean9, mean12 = (h * m).sum(1) / m.sum(1), (top * m).sum(1) / m.sum(1)
            feats = torch.cat([h[:, 0], mean9, top[:, 0], mean12], 1).numpy()
            for k, i in enumerate(idx):
                logits[i], pooled[i] = float(z[k]), feats[k]
    reader.train()
    return np.array(logits), np.array(pooled)


def table(pairs: list[dict], scores: np.ndarray, name: str, public: bool = True) -> None:
    """AUC of ``scores`` for each family against its opposite; on the seed families also
    the shipped probability's AUC once half the scores' rank is added to its own."""
    groups = np.array([p["group"] for p in pairs])
    labels = np.array([p["label"] for p in pairs])
    shipped = np.array([p.get("shipped", 0.0) for p in pairs])
    cells = []
    for pos, neg, short in FAMILIES[0 if public else 2 :]:
        sel = (groups == pos) | (groups == neg)
        cell = f"{short} {roc_auc_score(labels[sel], scores[sel]):.3f}"
        if pos.startswith("seed") and name != "shipped":
            both = rankdata(shipped[sel]) + 0.5 * rankdata(scores[sel])
            cell += f" (with shipped {roc_auc_score(labels[sel], both):.3f})"
        cells.append(cell)
    print(f"{name:26s} " + " | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, required=True, help="calibrate.py collect's work dir")
    parser.add_argument("--removed", type=Path, required=True, help="answer-removed rows")
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--train", type=int, default=900, help="answerable pairs to train on")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4, help="the fine-tuned layers' rate")
    args = parser.parse_args()
    for folder in (args.rows, args.removed, args.eval_dir):
        if not folder.is_dir():
            sys.exit(f"error: {folder} is not a folder (see --help)")
    torch.manual_seed(0)
    from transformers import AutoModel, AutoTokenizer

    folder = ensure_default_model()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    pairs = build_pairs(args.rows, args.removed, args.eval_dir, args.train)
    encode(pairs, model, tokenizer)
    train = [p for p in pairs if p["group"] == "train"]
    test = [p for p in pairs if p["group"] != "train"]
    print(f"{len(train)} training pairs, {len(test)} test pairs", flush=True)
    for name in ("shipped", "coverage"):
        seed = [p for p in test if name in p]
        table(seed, np.array([p[name] for p in seed]), name, public=False)
    reader = Reader(model)
    _, train_pooled = run(reader, train)
    _, test_pooled = run(reader, test)
    scaler = StandardScaler().fit(train_pooled)
    probe = LogisticRegression(C=0.01, max_iter=2000)
    probe.fit(scaler.transform(train_pooled), [p["label"] for p in train])
    table(test, probe.decision_function(scaler.transform(test_pooled)), "frozen probe")
    optimiser = torch.optim.AdamW(
        [
            {"params": reader.layers.parameters(), "lr": args.lr},
            {"params": reader.head.parameters(), "lr": 1e-3},
        ],
        weight_decay=0.01,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(0)
    for epoch in range(1, args.epochs + 1):
        start, total = time.perf_counter(), 0.0
        order = rng.permutation(len(train))
        for n in range(0, len(order), 64):  # similar lengths share a batch
            block = sorted(order[n : n + 64], key=lambda i: len(train[i]["h"]))
            for k in range(0, len(block), 16):
                batch = [train[i] for i in block[k : k + 16]]
                z, _ = reader(*padded(batch))
                loss = loss_fn(z, torch.tensor([float(p["label"]) for p in batch]))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
        took = time.perf_counter() - start
        print(f"epoch {epoch}: loss {total / len(train):.3f}, {took:.0f} s", flush=True)
        table(test, run(reader, test)[0], f"fine-tuned, epoch {epoch}")


if __name__ == "__main__":
    main()
