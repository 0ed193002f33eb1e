"""Fit the sentence reranker, the linear (absolute) sentence score and the abstention model on the development
sets, and report in-sample and held-out (GroupKFold by article) figures.

    .venv/bin/python scripts/fit_reranker.py [--shared ../shared] [--out index/reranker_weights.json] [--folds 5]

Ranking data: every sentence of the retrieved passages, labelled by whether it holds a gold string.
- `weights` (linear, pointwise logistic over LINEAR_FEATURES): an absolute sentence score, used as an
  abstention feature and as the fallback ranker.
- `ranker` (listwise): a linear layer over all FEATURES but speaker/date, trained with a softmax over each
  question's sentences (the answering sentences above the others); speaker and date are added outside it
  with their prior weights (the development sets hold almost no "what did X say on <date>" questions).
- `abstain`: logistic regression over question-level ABSTAIN_FEATURES, with its own threshold (max F1 of
  abstaining). Answerable: each set's questions asked of its own corpus; unanswerable: the XQuAD questions
  asked of the news samples and the reverse, plus the sample set's unanswerable question. Also reported, not
  fitted: the share of XQuAD questions abstained when their own article is removed from the candidates
  (same-domain unanswerable questions).

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
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from newsdesk.index.answers import _norm  # noqa: E402
from newsdesk.index.features import ABSTAIN_FEATURES, FEATURES, LINEAR_FEATURES, WEIGHTS_FILE  # noqa: E402
from newsdesk.index.engine import Engine  # noqa: E402
from newsdesk.index.evaluation import fold, load_questions  # noqa: E402
from newsdesk.index.lexical import terms  # noqa: E402
from newsdesk.index.questions import analyze  # noqa: E402
from newsdesk.index.settings import Settings  # noqa: E402

# Added outside the fitted ranker with fixed weights: speaker and date (the development sets hold almost no
# "what did X say on <date>" questions) and the answer type (xquad asks few "which state / how many years"
# questions; 2.0 chosen on the RealTimeQA 2023 quizzes, where 1 / 2 / 3 gave strict sentence hit@3 0.648 /
# 0.664 / 0.676 and xquad 0.962 / 0.961 / 0.959, see README "News questions").
PRIORS = {"speaker": 2.0, "date": 1.5, "fit_type": 2.0}
RANKER_FEATURES = [f for f in FEATURES if f not in PRIORS]


# --- data -------------------------------------------------------------------------------------------
def collect(engine: Engine, questions, label: str, drop_gold_doc: bool = False) -> list[dict]:
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
        q_terms = {t: b.lexical.idf(t) for t in set(terms(q.question))}
        X = np.array([[s.feats[f] for f in FEATURES] for s in sents]) if sents else np.zeros((0, len(FEATURES)))
        lab, res = [], []
        for s in sents:
            text = s.chunk.doc.text
            lab.append(any(g in fold(text[s.span.start : s.span.end]) for g in gold))
            r = b.quote_of(s, q_terms)
            res.append(None if r is None else (r.path, r.start, r.end, _norm(r.quote),
                                               any(g in fold(r.quote) for g in gold),
                                               any(g in fold(r.passage) for g in gold)))
        out.append(dict(qid=q.qid, label=label, group=Path(q.docs[0]).name if q.docs else label,
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
    X = np.concatenate([it["X"][:, cols] for it in items if len(it["y"])])
    y = np.concatenate([it["y"] for it in items if len(it["y"])])
    clf = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced").fit(X, y)
    w = {f: float(c) for f, c in zip(LINEAR_FEATURES, clf.coef_[0])}
    w["bias"] = float(clf.intercept_[0])
    for f, prior in PRIORS.items():
        if f in w:
            w[f] = max(w[f], prior)
    return w


def linear_scores(w: dict[str, float], X: np.ndarray) -> np.ndarray:
    return w["bias"] + X[:, : len(LINEAR_FEATURES)] @ np.array([w[f] for f in LINEAR_FEATURES])


def fit_ranker(items: list[dict], hidden: tuple[int, ...] = (), epochs: int = 400, wd: float = 1e-4,
               seed: int = 0) -> dict:
    """Listwise: softmax over a question's sentences, maximizing the probability of its answering ones."""
    import torch

    torch.manual_seed(seed)
    items = [it for it in items if len(it["y"]) and it["y"].any()]
    cols = [FEATURES.index(f) for f in RANKER_FEATURES]
    n = max(len(it["y"]) for it in items)
    X = np.zeros((len(items), n, len(cols)))
    M = np.zeros((len(items), n), dtype=bool)
    Y = np.zeros((len(items), n), dtype=bool)
    add = np.zeros((len(items), n))
    for i, it in enumerate(items):
        m = len(it["y"])
        X[i, :m], M[i, :m], Y[i, :m] = it["X"][:, cols], True, it["y"]
        add[i, :m] = sum(w * it["X"][:, FEATURES.index(f)] for f, w in PRIORS.items())
    mean, scale = X[M].mean(0), X[M].std(0) + 1e-6
    Xt = torch.tensor((X - mean) / scale, dtype=torch.float32)
    At, Mt, Yt = (torch.tensor(add, dtype=torch.float32), torch.tensor(M), torch.tensor(Y))
    dims = [len(cols), *hidden, 1]
    mods: list = []
    for a, b in zip(dims[:-1], dims[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=wd)
    for _ in range(epochs):
        opt.zero_grad()
        s = (net(Xt)[..., 0] + At).masked_fill(~Mt, -1e9)
        loss = (torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~Yt, -1e9), 1)).mean()
        loss.backward()
        opt.step()
    layers = [(m.weight.detach().numpy().T.tolist(), m.bias.detach().numpy().tolist())
              for m in net if isinstance(m, torch.nn.Linear)]
    return {"type": "listwise-mlp" if hidden else "listwise-linear", "features": RANKER_FEATURES,
            "mean": mean.tolist(), "scale": scale.tolist(), "layers": layers, "additive": dict(PRIORS)}


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


def fit_all(rank_items, abst_items, max_false: float | None = None):
    w = fit_linear(rank_items)
    r = fit_ranker(rank_items)
    A = abst_matrix(abst_items, w)
    a = fit_abstain(A, np.array([it["answerable"] for it in abst_items]), max_false)
    return w, r, a


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
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    shared = Path(args.shared)
    sets = {
        "news": (ROOT / "corpus", load_questions(shared / "eval" / "sample_questions.jsonl")),
        "xquad": (shared / "eval" / "xquad" / "corpus", load_questions(shared / "eval" / "xquad" / "questions.jsonl")),
    }
    tmp = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="fit-"))
    engines = {}
    shared_embedder = None
    for name, (corpus, _) in sets.items():
        e = Engine(Settings(corpus=corpus, data=tmp / name, progress=False), embedder=shared_embedder)
        e.index(progress=False)
        shared_embedder = e.embedder
        engines[name] = e

    rank_items, neg_items = [], []
    for name, (_, qs) in sets.items():
        rank_items += collect(engines[name], qs, name)
        other = "xquad" if name == "news" else "news"
        for it in collect(engines[other], qs, f"{name}->{other}"):
            it["answerable"] = False
            neg_items.append(it)
    same_domain = collect(engines["xquad"], sets["xquad"][1], "xquad-minus-article", drop_gold_doc=True)
    extra = same_domain if args.same_domain else []
    abst_items = [it for it in rank_items + neg_items + extra if it["abst"] is not None]
    xq = [it for it in rank_items if it["label"] == "xquad"]

    def evaluate(w, r, a, test_rank, test_abst):
        s = abstain_scores(a, abst_matrix(test_abst, w))
        abstained = {it["qid"]: bool(v < 0) for it, v in zip(test_abst, s) if it["answerable"]}
        return s, abstained, {
            "ranker": rank_metrics(test_rank, lambda X: ranker_scores(r, X)),
            "linear": rank_metrics(test_rank, lambda X: linear_scores(w, X)),
            "ranker_with_abstention": rank_metrics(test_rank, lambda X: ranker_scores(r, X), abstained),
        }

    w, r, a = fit_all(rank_items, abst_items, args.max_false_abstain)
    s_in, _, insample = evaluate(w, r, a, xq, abst_items)
    report = {"in_sample_xquad": insample,
              "in_sample_abstention": abst_report(s_in, np.array([it["answerable"] for it in abst_items]))}
    sd = [it for it in same_domain if it["abst"] is not None]
    report["same_domain_unanswerable_abstained"] = round(float(np.mean(abstain_scores(a, abst_matrix(sd, w)) < 0)), 4)

    if args.folds > 1:
        from sklearn.model_selection import GroupKFold

        group_of = {it["qid"]: it["group"] for it in rank_items}
        groups = np.array([group_of[it["qid"]] for it in abst_items])
        s_ho = np.zeros(len(abst_items))
        acc: dict[str, np.ndarray] = {}
        for tr, te in GroupKFold(args.folds).split(abst_items, groups=groups):
            tr_items = [abst_items[i] for i in tr]
            te_items = [abst_items[i] for i in te]
            fw, fr, fa = fit_all([it for it in tr_items if it["answerable"]], tr_items, args.max_false_abstain)
            te_rank = [it for it in te_items if it["answerable"] and it["label"] == "xquad"]
            s, _, m = evaluate(fw, fr, fa, te_rank, te_items)
            s_ho[te] = s
            for key, vals in m.items():
                acc[key] = acc.get(key, 0) + np.array(list(vals.values())) * len(te_rank)
        names = list(insample["ranker"])
        report["held_out_xquad"] = {k: dict(zip(names, (v / len(xq)).round(4).tolist())) for k, v in acc.items()}
        report["held_out_abstention"] = abst_report(s_ho, np.array([it["answerable"] for it in abst_items]))

    abst_in = report["in_sample_abstention"]
    out = {
        "weights": {**w, "abstain_threshold": float("-inf")},
        "ranker": r,
        "abstain": a,
        "fitted": dt.date.today().isoformat(),
        "vectors": {"model": shared_embedder.name, "backend": shared_embedder.backend},
        "training": {
            "questions": len(rank_items),
            "sentences": int(sum(len(it["y"]) for it in rank_items)),
            "abstention_precision": abst_in["precision"],
            "abstention_recall": abst_in["recall"],
            "abstention_questions": abst_in["questions"],
            "report": report,
        },
    }
    out["weights"].pop("abstain_threshold")
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
