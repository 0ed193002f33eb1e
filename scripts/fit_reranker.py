"""Fit the sentence reranker, the linear (absolute) sentence score and the abstention model on the development
sets, and report in-sample and held-out (GroupKFold by article, an extra set by quiz date) figures.

    .venv/bin/python scripts/fit_reranker.py [--shared ../shared] [--out index/reranker_weights.json] [--folds 5]
        [--extra NAME=QUESTIONS.jsonl:CORPUS:DATA ...] [--extra-weight 1] [--cache DIR]

Ranking data: every sentence of the retrieved passages, labelled by whether it holds a gold string.
- `weights` (linear, pointwise logistic over LINEAR_FEATURES): an absolute sentence score, used as an
  abstention feature and as the fallback ranker.
- `ranker` (listwise): a linear layer over all FEATURES but the PRIORS (speaker, date, fit_type), trained
  with a softmax over each question's sentences (the answering sentences above the others); the PRIORS are
  added outside it with fixed weights (the development sets hold almost no "what did X say on <date>"
  questions, and xquad few typed ones).
- `abstain`: logistic regression over question-level ABSTAIN_FEATURES, with its own threshold (max F1 of
  abstaining). Answerable: each set's questions asked of its own corpus; unanswerable: the XQuAD questions
  asked of the news samples and the reverse, plus the sample set's unanswerable question. Also reported, not
  fitted: the share of XQuAD questions abstained when their own article is removed from the candidates
  (same-domain unanswerable questions).

`--extra` adds another question set asked of its own corpus (indexed into DATA, or that index reused), e.g.
the RealTimeQA 2024 and 2025 news quizzes, so the ranker learns news questions too and the 2023 quizzes stay
an honest measure: its sentences are labelled strictly (a gold string in a page the question lists), its
questions join the listwise ranking (each weighing `--extra-weight`), and with `--extra-linear` /
`--extra-abstain` the linear score and the abstention model (as answerable questions). Its held-out figures
come from the same folds, grouped by quiz date. `--hidden 16` fits a hidden layer; `--fit-prior fit_type`
fits a feature inside the ranker instead of adding it with its fixed prior. `--cache DIR` keeps each set's
collected sentences between runs (delete it when the code or an index changes).

`--same-domain` also trains abstention on those same-domain questions, and `--max-false-abstain 0.004` picks
the threshold among those withholding at most that share of answerable questions. Measured 2026-11-29: with
both, 66% of same-domain questions are abstained (no better than without); with the first alone, 97%, but 50
answerable questions (4%) are withheld. The question-level features cannot tell a hard answerable question
from an on-topic one the corpus does not answer; the defaults stay.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import pickle
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from newsdesk.index.answers import _norm  # noqa: E402
from newsdesk.index.features import ABSTAIN_FEATURES, FEATURES, LINEAR_FEATURES, WEIGHTS_FILE  # noqa: E402
from newsdesk.index.engine import Engine  # noqa: E402
from newsdesk.index.evaluation import fold, load_questions  # noqa: E402
from newsdesk.index.questions import analyze  # noqa: E402
from newsdesk.index.settings import Settings  # noqa: E402

# Added outside the fitted ranker with fixed weights: speaker and date (the development sets hold almost no
# "what did X say on <date>" questions) and the answer type (xquad asks few "which state / how many years"
# questions; 2.0 chosen on the RealTimeQA 2023 quizzes, where 1 / 2 / 3 gave strict sentence hit@3 0.648 /
# 0.664 / 0.676 and xquad 0.962 / 0.961 / 0.959, see README "News questions").
PRIORS = {"speaker": 2.0, "date": 1.5, "fit_type": 2.0}


# --- data -------------------------------------------------------------------------------------------
def collect(engine: Engine, questions, label: str, drop_gold_doc: bool = False, strict: bool = False,
            group_by_week: bool = False) -> list[dict]:
    """Each question's scored sentences (features `X`, labels `y`: the sentence holds a gold string, and with
    `strict` is in one of the question's `docs`) and what build() would quote for each. Held-out folds group
    questions by their first document, or with `group_by_week` by their quiz's date (`asked_at`)."""
    view = engine.current_view()
    b = view.builder
    snap = view.snapshot
    out = []
    for q in questions:
        info = analyze(q.question, q.asked_at or dt.date.today())
        qvec = engine.embedder.encode_query(q.question)
        cands = view.retriever.search(qvec, q.question, k=30)
        if drop_gold_doc:
            gd = {Path(d).name for d in q.docs}
            rows = snap.chunks(c.chunk_id for c in cands)
            cands = [c for c in cands if c.chunk_id in rows and Path(rows[c.chunk_id].path).name not in gd]
        sents, abst = b.score_sentences(info, qvec, cands)
        gold = [fold(g) for g in q.gold]
        own = {Path(d).name for d in q.docs} if strict and q.docs else None
        q_terms = b.q_terms(info)
        X = np.array([[s.feats[f] for f in FEATURES] for s in sents]) if sents else np.zeros((0, len(FEATURES)))
        lab, res = [], []
        for s in sents:
            text = s.chunk.doc.text
            lab.append((own is None or Path(s.path).name in own)
                       and any(g in fold(text[s.span.start : s.span.end]) for g in gold))
            r = b.quote_of(s, q_terms)
            ok = r is not None and (own is None or Path(r.path).name in own)
            res.append(None if r is None else (r.path, r.start, r.end, _norm(r.quote),
                                               ok and any(g in fold(r.quote) for g in gold),
                                               ok and any(g in fold(r.passage) for g in gold)))
        group = (f"{label}:{q.asked_at}" if group_by_week else Path(q.docs[0]).name if q.docs else label)
        out.append(dict(qid=q.qid, label=label, group=group, weight=1.0,
                        answerable=bool(q.gold) and not drop_gold_doc, X=X, y=np.array(lab, dtype=bool),
                        spans=[(s.path, s.span.start, s.span.end) for s in sents], res=res,
                        abst={k: v for k, v in abst.items() if k != "best_linear"} if abst else None))
    return out


def simulate(item: dict, scores: np.ndarray, k: int = 10) -> list[tuple[bool, bool]]:
    """What build() shows for this sentence order: (quote hit, passage hit) per result."""
    results, covered, keys = [], [], set()
    for i in np.argsort(-scores, kind="stable"):
        p, a0, b0 = item["spans"][i]
        r = item["res"][i]
        if r is None or any(pp == p and a < b0 and a0 < b for pp, a, b in covered):
            continue
        path, a1, b1, key, qh, ph = r
        if any(pp == path and a < b1 and a1 < b for pp, a, b in covered) or key in keys:
            continue
        keys.add(key)
        covered.append((p, a1, b1))
        results.append((qh, ph))
        if len(results) >= k:
            break
    return results


# --- models -----------------------------------------------------------------------------------------
def fit_linear(items: list[dict]) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    cols = [FEATURES.index(f) for f in LINEAR_FEATURES]
    items = [it for it in items if len(it["y"])]
    X = np.concatenate([it["X"][:, cols] for it in items])
    y = np.concatenate([it["y"] for it in items])
    sw = np.concatenate([np.full(len(it["y"]), it.get("weight", 1.0)) for it in items])
    # "balanced" over the weighted samples (sklearn's class_weight ignores sample weights)
    pos = sw[y].sum()
    sw = np.where(y, sw * sw.sum() / (2 * max(pos, 1e-9)), sw * sw.sum() / (2 * max(sw.sum() - pos, 1e-9)))
    clf = LogisticRegression(C=1.0, max_iter=3000).fit(X, y, sample_weight=sw)
    w = {f: float(c) for f, c in zip(LINEAR_FEATURES, clf.coef_[0])}
    w["bias"] = float(clf.intercept_[0])
    for f, prior in PRIORS.items():
        if f in w:
            w[f] = max(w[f], prior)
    return w


def linear_scores(w: dict[str, float], X: np.ndarray) -> np.ndarray:
    return w["bias"] + X[:, : len(LINEAR_FEATURES)] @ np.array([w[f] for f in LINEAR_FEATURES])


def fit_ranker(items: list[dict], hidden: tuple[int, ...] = (), epochs: int = 400, wd: float = 1e-4,
               seed: int = 0, priors: dict[str, float] | None = None) -> dict:
    """Listwise: softmax over a question's sentences, maximizing the probability of its answering ones (each
    question's loss times its item's `weight`). `priors` (default PRIORS) are added outside the network with
    fixed weights; the other FEATURES are its inputs."""
    import torch

    torch.manual_seed(seed)
    priors = PRIORS if priors is None else priors
    features = [f for f in FEATURES if f not in priors]
    items = [it for it in items if len(it["y"]) and it["y"].any()]
    cols = [FEATURES.index(f) for f in features]
    n = max(len(it["y"]) for it in items)
    X = np.zeros((len(items), n, len(cols)))
    M = np.zeros((len(items), n), dtype=bool)
    Y = np.zeros((len(items), n), dtype=bool)
    add = np.zeros((len(items), n))
    for i, it in enumerate(items):
        m = len(it["y"])
        X[i, :m], M[i, :m], Y[i, :m] = it["X"][:, cols], True, it["y"]
        add[i, :m] = sum((w * it["X"][:, FEATURES.index(f)] for f, w in priors.items()), np.zeros(m))
    mean, scale = X[M].mean(0), X[M].std(0) + 1e-6
    Xt = torch.tensor((X - mean) / scale, dtype=torch.float32)
    At, Mt, Yt = (torch.tensor(add, dtype=torch.float32), torch.tensor(M), torch.tensor(Y))
    Wt = torch.tensor([it.get("weight", 1.0) for it in items], dtype=torch.float32)
    dims = [len(cols), *hidden, 1]
    mods: list = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=wd)
    for _ in range(epochs):
        opt.zero_grad()
        s = (net(Xt)[..., 0] + At).masked_fill(~Mt, -1e9)
        loss = ((torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~Yt, -1e9), 1)) * Wt).sum() / Wt.sum()
        loss.backward()
        opt.step()
    layers = [(m.weight.detach().numpy().T.tolist(), m.bias.detach().numpy().tolist())
              for m in net if isinstance(m, torch.nn.Linear)]
    return {"type": "listwise-mlp" if hidden else "listwise-linear", "features": features,
            "mean": mean.tolist(), "scale": scale.tolist(), "layers": layers, "additive": dict(priors)}


def ranker_scores(r: dict, X: np.ndarray) -> np.ndarray:
    h = (X[:, [FEATURES.index(f) for f in r["features"]]] - np.array(r["mean"])) / np.array(r["scale"])
    for n, (W, b) in enumerate(r["layers"]):
        h = h @ np.array(W) + np.array(b)
        if n < len(r["layers"]) - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0] + sum(w * X[:, FEATURES.index(f)] for f, w in r["additive"].items())


def abst_matrix(items: list[dict], w: dict[str, float]) -> np.ndarray:
    rows = []
    for it in items:
        f = dict(it["abst"])
        f["best_linear"] = float(linear_scores(w, it["X"]).max())
        rows.append([f[k] for k in ABSTAIN_FEATURES])
    return np.array(rows)


def fit_abstain(A: np.ndarray, answerable: np.ndarray, max_false: float | None = None) -> dict:
    """Logistic regression and the threshold of best F1 (among thresholds abstaining on at most `max_false`
    of the answerable questions, when given)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = A.mean(0), A.std(0) + 1e-9
    clf = LogisticRegression(C=1.0, max_iter=3000).fit((A - mean) / scale, answerable)
    s = clf.decision_function((A - mean) / scale)
    best_t, best_f1 = 0.0, -1.0
    for t in np.unique(s):
        ab = s < t
        tp = np.sum(ab & ~answerable)
        prec, rec = tp / max(ab.sum(), 1), tp / max((~answerable).sum(), 1)
        f1 = 2 * prec * rec / max(prec + rec, 1e-9)
        if max_false is not None and np.sum(ab & answerable) > max_false * answerable.sum():
            continue
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    # the threshold halfway to the next lower score, so it is not on a training point
    lower = s[s < best_t]
    if len(lower):
        best_t = float((best_t + lower.max()) / 2)
    return {"features": ABSTAIN_FEATURES, "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0]), "threshold": best_t}


def abstain_scores(a: dict, A: np.ndarray) -> np.ndarray:
    return a["intercept"] + ((A - np.array(a["mean"])) / np.array(a["scale"])) @ np.array(a["coef"]) - a["threshold"]


# --- evaluation -------------------------------------------------------------------------------------
def rank_metrics(items: list[dict], scorer, abstained: dict[str, bool] | None = None) -> dict[str, float]:
    hits = np.zeros(5)
    n = 0
    for it in items:
        if not it["answerable"]:
            continue
        n += 1
        if not len(it["y"]) or (abstained and abstained.get(it["qid"])):
            continue
        res = simulate(it, scorer(it["X"]))
        qr = next((r for r, (qh, _) in enumerate(res, 1) if qh), None)
        pr = next((r for r, (_, ph) in enumerate(res, 1) if ph), None)
        hits += [qr is not None and qr <= 1, qr is not None and qr <= 3, qr is not None and qr <= 5,
                 1 / qr if qr else 0.0, pr is not None and pr <= 5]
    return dict(zip(["quote_hit@1", "quote_hit@3", "quote_hit@5", "quote_mrr@10", "passage_hit@5"],
                    (hits / max(n, 1)).round(4).tolist()))


def abst_report(s: np.ndarray, answerable: np.ndarray) -> dict[str, float]:
    ab = s < 0
    tp = np.sum(ab & ~answerable)
    return {"precision": round(float(tp / max(ab.sum(), 1)), 4), "recall": round(float(tp / max((~answerable).sum(), 1)), 4),
            "false_abstentions": int(np.sum(ab & answerable)), "questions": int(len(s))}


def fit_all(rank_items, abst_items, max_false: float | None = None, hidden: tuple[int, ...] = (),
            priors: dict[str, float] | None = None):
    w = fit_linear([it for it in rank_items if it.get("linear", True)])
    r = fit_ranker(rank_items, hidden=hidden, priors=priors)
    A = abst_matrix(abst_items, w)
    a = fit_abstain(A, np.array([it["answerable"] for it in abst_items]), max_false)
    return w, r, a


@dataclass
class Extra:
    """A question set that joins the ranking training: NAME=QUESTIONS.jsonl:CORPUS:DATA."""
    name: str
    questions: Path
    corpus: Path
    data: Path


def parse_extra(spec: str) -> Extra:
    name, eq, rest = spec.partition("=")
    parts = rest.split(":")
    if not eq or not name or len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"--extra {spec!r}: expected NAME=QUESTIONS.jsonl:CORPUS:DATA")
    if name in BUILTIN_SETS:
        raise argparse.ArgumentTypeError(f"--extra {spec!r}: {name!r} is a built-in set's name")
    extra = Extra(name, *(Path(x) for x in parts))
    for what, path in (("questions", extra.questions), ("corpus", extra.corpus)):
        if not path.exists():
            raise argparse.ArgumentTypeError(f"--extra {spec!r}: no {what} at {path}")
    return extra


BUILTIN_SETS = ("news", "xquad", "xquad->news", "news->xquad", "xquad-minus-article")


class Collector:
    """Collects each set's items once per engine (engines opened, and indexed if needed, on first use);
    with a cache folder, a set's items are kept in <cache>/<name>.pkl and read from there next time (delete
    the folder when the code or the index changes)."""

    def __init__(self, cache: Path | None) -> None:
        self.cache = cache
        self.engines: dict[Path, Engine] = {}
        self.embedder = None

    def engine(self, corpus: Path, data: Path) -> Engine:
        if data not in self.engines:
            e = Engine(Settings(corpus=corpus, data=data, progress=False), embedder=self.embedder)
            e.index(progress=False)
            self.embedder = e.embedder
            self.engines[data] = e
        return self.engines[data]

    def items(self, key: str, corpus: Path, data: Path, questions, **kw) -> list[dict]:
        path = self.cache / (key.replace(">", "") + ".pkl") if self.cache else None
        if path is not None and path.exists():
            return pickle.loads(path.read_bytes())
        out = collect(self.engine(corpus, data), questions, key, **kw)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(out))
        return out

    def vectors(self, corpus: Path, data: Path) -> dict[str, str]:
        """The embedding model the items were scored with (this engine's when none was opened)."""
        if self.embedder is None:
            self.engine(corpus, data)
        return {"model": self.embedder.name, "backend": self.embedder.backend}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--out", default=str(WEIGHTS_FILE))
    ap.add_argument("--data", default=None, help="reuse index folders here (default: a new temporary folder)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--same-domain", action="store_true",
                    help="also train abstention on xquad questions asked without their own article")
    ap.add_argument("--max-false-abstain", type=float, default=None,
                    help="choose the abstention threshold among those abstaining at most this share of the "
                    "answerable questions (default: the best F1)")
    ap.add_argument("--extra", type=parse_extra, action="append", default=[], metavar="NAME=QUESTIONS:CORPUS:DATA",
                    help="another question set (with `docs`, `asked_at`) asked of its corpus, indexed in DATA (an "
                    "existing index is reused), that joins the ranking training; labels and hits are strict (from "
                    "a page the question lists), folds group it by quiz date; repeatable")
    ap.add_argument("--extra-weight", type=float, default=1.0,
                    help="weight of an extra set's question in the ranking loss (a built-in one weighs 1)")
    ap.add_argument("--extra-linear", action="store_true", help="the extra sets also train the linear score")
    ap.add_argument("--extra-abstain", action="store_true",
                    help="the extra sets' questions also train abstention (as answerable)")
    ap.add_argument("--hidden", type=int, nargs="*", default=[], help="hidden layer sizes of the ranker (default: linear)")
    ap.add_argument("--fit-prior", action="append", default=[], choices=sorted(PRIORS),
                    help="fit this feature in the ranker instead of adding it with its fixed prior weight; repeatable")
    ap.add_argument("--cache", default=None, help="folder keeping each set's collected items between runs")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    shared = Path(args.shared)
    priors = {f: v for f, v in PRIORS.items() if f not in args.fit_prior}
    hidden = tuple(args.hidden)
    sets = {
        "news": (ROOT / "corpus", load_questions(shared / "eval" / "sample_questions.jsonl")),
        "xquad": (shared / "eval" / "xquad" / "corpus", load_questions(shared / "eval" / "xquad" / "questions.jsonl")),
    }
    tmp = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="fit-"))
    col = Collector(Path(args.cache) if args.cache else None)

    rank_items, neg_items = [], []
    for name, (corpus, qs) in sets.items():
        rank_items += col.items(name, corpus, tmp / name, qs)
        other = "xquad" if name == "news" else "news"
        for it in col.items(f"{name}->{other}", sets[other][0], tmp / other, qs):
            it["answerable"] = False
            neg_items.append(it)
    same_domain = col.items("xquad-minus-article", sets["xquad"][0], tmp / "xquad", sets["xquad"][1],
                            drop_gold_doc=True)
    extra_items = []
    for ex in args.extra:
        for it in col.items(ex.name, ex.corpus, ex.data, load_questions(ex.questions), strict=True,
                            group_by_week=True):
            it.update(weight=args.extra_weight, linear=args.extra_linear)
            extra_items.append(it)
    rank_items += extra_items
    extra = same_domain if args.same_domain else []
    extra += [it for it in extra_items if args.extra_abstain]
    abst_items = [it for it in rank_items if it["label"] not in {ex.name for ex in args.extra}] + neg_items + extra
    abst_items = [it for it in abst_items if it["abst"] is not None]
    measured = ["xquad", *(ex.name for ex in args.extra)]
    by_label = {lab: [it for it in rank_items if it["label"] == lab] for lab in measured}

    def evaluate(w, r, a, test_rank, test_abst):
        s = abstain_scores(a, abst_matrix(test_abst, w))
        abstained = {it["qid"]: bool(v < 0) for it, v in zip(test_abst, s) if it["answerable"]}
        return s, abstained, {
            "ranker": rank_metrics(test_rank, lambda X: ranker_scores(r, X)),
            "linear": rank_metrics(test_rank, lambda X: linear_scores(w, X)),
            "ranker_with_abstention": rank_metrics(test_rank, lambda X: ranker_scores(r, X), abstained),
        }

    def fit(rank, abst):
        return fit_all(rank, abst, args.max_false_abstain, hidden, priors)

    w, r, a = fit(rank_items, abst_items)
    s_in, _, insample = evaluate(w, r, a, by_label["xquad"], abst_items)
    report = {"in_sample_xquad": insample,
              "in_sample_abstention": abst_report(s_in, np.array([it["answerable"] for it in abst_items]))}
    for lab in measured[1:]:
        # an extra set's questions are all answerable: the share abstained is lost
        test = [it for it in by_label[lab] if it["abst"] is not None]
        report[f"in_sample_{lab}"] = evaluate(w, r, a, by_label[lab], test)[2]
    sd = [it for it in same_domain if it["abst"] is not None]
    report["same_domain_unanswerable_abstained"] = round(float(np.mean(abstain_scores(a, abst_matrix(sd, w)) < 0)), 4)

    if args.folds > 1:
        from sklearn.model_selection import GroupKFold

        # every question joins a fold by its group (its article or quiz date); a negative item by its
        # question's group, so a question is never trained on while asked of another corpus in the test fold
        is_extra = {id(it) for it in extra_items}
        group_of = {it["qid"]: it["group"] for it in rank_items if id(it) not in is_extra}
        in_abst = {id(it) for it in abst_items}
        pool = abst_items + [it for it in extra_items if id(it) not in in_abst]
        groups = np.array([it["group"] if id(it) in is_extra else group_of[it["qid"]] for it in pool])
        s_ho = {}
        acc: dict[str, dict[str, np.ndarray]] = {lab: {} for lab in measured}
        for tr, te in GroupKFold(args.folds).split(pool, groups=groups):
            tr_items = [pool[i] for i in tr]
            te_items = [pool[i] for i in te]
            fw, fr, fa = fit([it for it in tr_items if it["answerable"]],
                             [it for it in tr_items if id(it) in in_abst])
            te_abst = [it for it in te_items if it["abst"] is not None]
            for lab in measured:
                te_rank = [it for it in te_items if it["answerable"] and it["label"] == lab]
                s, _, m = evaluate(fw, fr, fa, te_rank, [it for it in te_abst if it["label"] == lab or
                                                         id(it) in in_abst])
                for key, vals in m.items():
                    acc[lab][key] = acc[lab].get(key, 0) + np.array(list(vals.values())) * len(te_rank)
            sc = abstain_scores(fa, abst_matrix(te_abst, fw)) if te_abst else []
            s_ho.update({id(it): v for it, v in zip(te_abst, sc)})
        names = list(insample["ranker"])
        for lab in measured:
            n = len(by_label[lab])
            report[f"held_out_{lab}"] = {k: dict(zip(names, (v / n).round(4).tolist())) for k, v in acc[lab].items()}
        report["held_out_abstention"] = abst_report(np.array([s_ho[id(it)] for it in abst_items]),
                                                    np.array([it["answerable"] for it in abst_items]))
        for lab in measured[1:]:
            sc = [s_ho[id(it)] for it in by_label[lab] if id(it) in s_ho]
            report[f"held_out_{lab}_abstained"] = int(np.sum(np.array(sc) < 0))

    abst_in = report["in_sample_abstention"]
    out = {
        "weights": {**w, "abstain_threshold": float("-inf")},
        "ranker": r,
        "abstain": a,
        "fitted": dt.date.today().isoformat(),
        "vectors": col.vectors(sets["xquad"][0], tmp / "xquad"),
        "training": {
            "questions": len(rank_items),
            "sentences": int(sum(len(it["y"]) for it in rank_items)),
            "extra": {ex.name: {"questions": len(by_label[ex.name]), "weight": args.extra_weight,
                                "linear": args.extra_linear, "abstain": args.extra_abstain} for ex in args.extra},
            "abstention_precision": abst_in["precision"],
            "abstention_recall": abst_in["recall"],
            "abstention_questions": abst_in["questions"],
            "report": report,
        },
    }
    if not args.extra:
        out["training"].pop("extra")
    out["weights"].pop("abstain_threshold")
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
