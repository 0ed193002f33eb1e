"""Token ids and per-token sentence indexes for the GPU feed, made by the tokenizing worker processes.

The GPU outruns the host's tokenizer: Hugging Face's fast tokenizer with character offsets (which late
chunking needs, to know which sentence each token belongs to) is slow on the CPU (measured in docs/scaling.md,
"GPU"), most of it the BERT normalizer keeping its alignment map. For a BERT WordPiece tokenizer (all-MiniLM-L6-v2
and its kind) `SentenceTokens` gets the same ids and sentence indexes without offsets:

- the BERT normalizer (control characters dropped, white space to " ", CJK characters spaced, accents
  stripped, lower case) works character by character, so it is applied by `str.translate` with a table of
  each character's normalization, taken from the tokenizer's own normalizer the first time a character is
  seen;
- each sentence (and any text between sentences) is tokenized as its own piece, separated by a special-token
  marker the tokenizer never splits, so each token's sentence is the number of markers before it. This equals
  tokenizing the whole chunk because every piece boundary is one where the BERT pre-tokenizer splits anyway
  (white space or punctuation on one side); a chunk where that does not hold, or that contains a special
  token's text, or whose sentences overlap, goes through the offsets path.

Any other tokenizer (by `NEWSDESK_MODEL`) always takes the offsets path. Both paths give the same arrays
(tests/test_scale.py compares them on tricky text).
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Sequence

import numpy as np


def sentence_index(offsets: np.ndarray, spans: Sequence[Sequence[int]]) -> np.ndarray:
    """Per token, the index of the sentence span that holds it whole, or -1 (special tokens, tokens across a
    boundary or outside every span). Spans must not overlap (sentences don't)."""
    out = np.full(len(offsets), -1, dtype=np.int16)
    if not len(spans) or not len(offsets):
        return out
    sp = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    order = np.argsort(sp[:, 0], kind="stable")
    starts, ends = sp[order, 0], sp[order, 1]
    a, e = offsets[:, 0], offsets[:, 1]
    j = np.searchsorted(starts, a, side="right") - 1
    ok = (j >= 0) & (e > a)
    jj = np.clip(j, 0, None)
    ok &= (a >= starts[jj]) & (e <= ends[jj])
    out[ok] = order[jj[ok]]
    return out


class SentenceTokens:
    """Built from the tokenizer's JSON (`tokenizer.backend_tokenizer.to_str()`) in each worker process."""

    def __init__(self, tokenizer_json: str, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.max_length = max_length
        self.full = Tokenizer.from_str(tokenizer_json)  # the offsets path: the tokenizer as configured
        self.full.no_padding()
        self.full.enable_truncation(max_length)
        spec = json.loads(tokenizer_json)
        self.specials = [t["content"] for t in spec.get("added_tokens", [])]
        self.fast = _bert_shape(spec)
        if not self.fast:
            return
        self.plain = Tokenizer.from_str(tokenizer_json)  # no normalizer: the text comes normalized
        self.plain.normalizer = None
        self.plain.no_padding()
        self.plain.no_truncation()
        vocab = spec["model"]["vocab"]
        self.cls, self.sep = vocab["[CLS]"], vocab["[SEP]"]
        self.s_mark, self.g_mark = vocab["[MASK]"], vocab["[SEP]"]  # a sentence starts / other text starts
        self.normalizer = self.full.normalizer
        self.table: dict[int, str] = {o: self.normalizer.normalize_str(chr(o)) for o in range(128)}

    # --- one batch ----------------------------------------------------------------------------------------
    def prepare(self, texts: list[str], sentences: list | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Token ids, attention mask and (with sentences) per-token sentence index, padded to the batch's
        longest; the first two as the tokenizer itself gives them."""
        if sentences is None:
            return _pad([(np.asarray(e.ids, dtype=np.int32), None) for e in self.full.encode_batch(texts)], False)
        rows: list[Any] = [None] * len(texts)
        marked: list[tuple[int, str, np.ndarray]] = []
        slow: list[int] = []
        for i, (text, spans) in enumerate(zip(texts, sentences)):
            m = self._marked(text, spans) if self.fast else None
            if m is None:
                slow.append(i)
            else:
                marked.append((i, *m))
        if marked:
            encs = self.plain.encode_batch_fast([m for _, m, _ in marked], add_special_tokens=False)
            for (i, _, order), enc in zip(marked, encs):
                rows[i] = self._split_markers(np.asarray(enc.ids, dtype=np.int32), order)
        if slow:
            encs = self.full.encode_batch([texts[i] for i in slow])
            for i, enc in zip(slow, encs):
                offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
                rows[i] = (np.asarray(enc.ids, dtype=np.int32), sentence_index(offsets, sentences[i]))
        return _pad(rows, True)

    # --- the marker path ----------------------------------------------------------------------------------
    def _normalizer_for(self, text: str):
        """A function normalizing pieces of `text` as the BERT normalizer would: plain `str.lower` when every
        character is one lower-casing alone normalizes (most news text), else the per-character table."""
        table = self.table
        odd = False
        if not text.isascii():
            for c in set(text):
                if c > "\x7f":
                    if ord(c) not in table:
                        table[ord(c)] = self.normalizer.normalize_str(c)
                    odd = odd or table[ord(c)] != c.lower()
            # (str.lower turns a word-final capital sigma into ς; the normalizer, character by character, into σ)
            odd = odd or "\u03a3" in text
        if odd or _CONTROL.search(text):
            return lambda piece: piece.translate(table)
        return str.lower

    def _splits(self, c: str) -> bool:
        """The BERT pre-tokenizer always splits next to `c` (white space or punctuation, after normalizing)."""
        n = self.table[ord(c)]
        return n == " " or (len(n) == 1 and _punctuation(n))

    def _marked(self, text: str, spans: Sequence[Sequence[int]]) -> tuple[str, np.ndarray] | None:
        """The chunk as normalized pieces with markers, and the sentence index of each sentence marker in turn;
        None when the offsets path must take it."""
        if "[" in text and any(s in text for s in self.specials):
            return None
        norm = self._normalizer_for(text)
        order = sorted(range(len(spans)), key=lambda j: spans[j][0])
        out: list[str] = []
        seq: list[int] = []
        pos, n = 0, len(text)

        def cut(p: int) -> bool:  # a piece boundary at p is one the pre-tokenizer makes anyway
            return p <= 0 or p >= n or self._splits(text[p - 1]) or self._splits(text[p])

        for j in order:
            a, b = int(spans[j][0]), min(int(spans[j][1]), n)
            if a < pos:
                return None  # overlapping sentences
            if a >= b:
                continue  # an empty span (or one past the text): a sentence with no tokens
            if a > pos and not text[pos:a].isspace():
                if not cut(pos):
                    return None
                out.append(" [SEP] ")
                out.append(norm(text[pos:a]))
            if not (cut(a) and cut(b)):
                return None
            out.append(" [MASK] ")
            out.append(norm(text[a:b]))
            seq.append(j)
            pos = b
        if pos < n and not text[pos:].isspace():
            if not cut(pos):
                return None
            out.append(" [SEP] ")
            out.append(norm(text[pos:]))
        return "".join(out), np.asarray(seq, dtype=np.int16)

    def _split_markers(self, ids: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop the markers: content ids (truncated, with [CLS] and [SEP]) and each one's sentence index."""
        marks = np.flatnonzero((ids == self.s_mark) | (ids == self.g_mark))
        is_s = ids[marks] == self.s_mark
        value = np.full(len(marks), -1, dtype=np.int16)
        value[is_s] = order[: int(is_s.sum())]  # the k-th sentence marker opens sentence order[k]
        lengths = np.diff(np.append(marks, len(ids))) - 1  # tokens after each marker, up to the next
        keep = self.max_length - 2
        body = np.delete(ids, marks)[:keep]
        sidx = np.repeat(value, lengths)[:keep]
        full = np.empty(len(body) + 2, dtype=np.int32)
        full[0], full[1:-1], full[-1] = self.cls, body, self.sep
        out = np.full(len(body) + 2, -1, dtype=np.int16)
        out[1:-1] = sidx
        return full, out


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # dropped by the BERT normalizer


def _bert_shape(spec: dict) -> bool:
    """A tokenizer the marker path reproduces: BERT normalizer and pre-tokenizer, WordPiece, [CLS] A [SEP]."""
    post = spec.get("post_processor") or {}
    single = [next(iter(x.values())).get("id") for x in post.get("single", [])]
    vocab = (spec.get("model") or {}).get("vocab") or {}
    return ((spec.get("normalizer") or {}).get("type") == "BertNormalizer"
            and (spec.get("pre_tokenizer") or {}).get("type") == "BertPreTokenizer"
            and (spec.get("model") or {}).get("type") == "WordPiece"
            and post.get("type") == "TemplateProcessing" and single == ["[CLS]", "A", "[SEP]"]
            and all(t in vocab for t in ("[CLS]", "[SEP]", "[MASK]"))
            and {"[SEP]", "[MASK]"} <= {t["content"] for t in spec.get("added_tokens", [])})


def _punctuation(c: str) -> bool:
    """BERT's punctuation: ASCII symbols and every Unicode P* character."""
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or unicodedata.category(c)[0] == "P"


def _pad(rows: list, with_sentences: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    L = max(len(ids) for ids, _ in rows)
    ids = np.zeros((len(rows), L), dtype=np.int32)
    mask = np.zeros((len(rows), L), dtype=np.int8)
    sidx = np.full((len(rows), L), -1, dtype=np.int16) if with_sentences else None
    for i, (r, s) in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
        if sidx is not None:
            sidx[i, : len(r)] = s
    return ids, mask, sidx
