"""The sentence features the answer builder computes, their default linear weights, and where the fitted
reranker lives: one module that the builder (index/answers.py), the model (index/rerank_model.py) and the
fitting script (scripts/fit_reranker.py) share, so a new retrieval signal is added here first."""
from __future__ import annotations

from pathlib import Path

WEIGHTS_FILE = Path(__file__).with_name("reranker_weights.json")

FEATURES = [
    "dense_sent",  # cosine of the question to the sentence's late-chunked vector
    "coverage",  # IDF-weighted share of question terms in the sentence
    "coverage_ctx",  # ... in the sentence and its neighbours
    "retrieval",  # fused retrieval score of the passage, max-normalized
    "dense_chunk",  # cosine of the question to the passage
    "fit_when",  # a "when" question and the sentence holds a date or year
    "fit_number",  # a "how many/much" question and the sentence holds a number
    "fit_who",  # a "who" question and the sentence names someone the question does not
    "speaker",  # a quotation attributed to a person the question names (for "what did X say")
    "date",  # the sentence, or the lines just before it, mention a date the question pins
    "quoted",  # the sentence holds a direct quotation and the question asks what someone said
    "short",  # very short sentences (headlines, fragments) carry less
    # added with the non-linear reranker
    "bm25",  # BM25 score of the passage, max-normalized over the candidates
    "passage_rank",  # 1 / (1 + rank of the passage among the fused candidates)
    "fit_where",  # a "where" question and the sentence names a place-like name the question does not
    "novel",  # share of the sentence's capitalized names and numbers that the question does not hold
    "rare",  # the question's rarest term occurs in the sentence
    "length",  # log of the sentence's word count
    "rel_dense",  # dense_sent minus the best dense_sent of the question's sentences
    "rel_coverage",  # coverage minus the best coverage
    "rel_coverage_ctx",  # coverage_ctx minus the best coverage_ctx
    "dense_rank",  # 1 / (1 + rank of the sentence by dense_sent within the question)
    "coverage_rank",  # 1 / (1 + rank of the sentence by coverage within the question)
    "q_when", "q_number", "q_who", "q_where", "q_why", "q_said",  # the question's type (for interactions)
    # added for quiz-style news questions (index/answer_type.py)
    "fit_type",  # the sentence holds a candidate of the type the question asks for that the question lacks
]
LINEAR_FEATURES = FEATURES[:12]
# Abstention: question-level features (absolute, so a question whose best match is weak stays weak).
ABSTAIN_FEATURES = [
    "best_linear",  # the best sentence's linear (absolute) score
    "max_dense_sent", "max_coverage", "max_coverage_ctx", "max_dense_chunk",
    "rare_found",  # the question's rarest term occurs in a candidate sentence
]
DEFAULT_WEIGHTS = {
    "dense_sent": 1.0, "coverage": 1.2, "coverage_ctx": 0.4, "retrieval": 0.6, "dense_chunk": 0.5,
    "fit_when": 0.3, "fit_number": 0.3, "fit_who": 0.3, "speaker": 0.8, "date": 0.4, "quoted": 0.3, "short": -0.3, "bias": 0.0,
    "abstain_threshold": 0.0,
}
