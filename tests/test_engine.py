"""The core engine on the real model, real FAISS and real files: chunks, index runs, answers, the CLI."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.index.chunking import chunk_spans
from newsdesk.index.errors import IndexProblem
from tests.samples import SAMPLE_FILES, child_env, copy_samples

SAMPLES = SAMPLE_FILES
POMPEO = ("There is no military solution to the Libya conflict",
          "We have made clear that we oppose the military offensive")


def test_chunks_are_sentence_aligned_with_exact_offsets():
    text = SAMPLES[1].read_text(encoding="utf-8")
    spans = chunk_spans(text, target_words=140, max_words=180)
    assert len(spans) > 3
    for a, b in zip(spans, spans[1:]):
        assert b.start < a.end, "consecutive chunks share one sentence"
    for s in spans:
        chunk = text[s.start : s.end]
        assert chunk == chunk.strip()
        assert len(chunk.split()) <= 180


def test_abbreviations_do_not_split_sentences():
    from newsdesk.index.sentences import split_sentences

    text = "Gen. Smith met the U.S. envoy on Jan. 5 in Washington. He left."
    sents = [text[s.start : s.end] for s in split_sentences(text)]
    assert sents == ["Gen. Smith met the U.S. envoy on Jan. 5 in Washington.", "He left."]


def test_an_unbalanced_quote_mark_does_not_swallow_the_paragraph():
    """sentencex skips sentence ends inside what it takes for a quotation; a backtick closed by a curly
    apostrophe made one 170-word "sentence" of a Wikipedia paragraph. Such a run-on is split again."""
    from newsdesk.index.sentences import LONG_WORDS, split_sentences

    text = ("Dr. Ada Quill (936–1013) pioneered the distillation of tinctures. Her Liber tincturae explains how to "
            "prepare the `simples’ from which the complex remedies were then compounded by St. Anselm's monks. "
            "Sabur Ibn Sahl (d 869), was, however, the first to write a pharmacopoeia, describing a large variety "
            "of drugs and remedies for ailments. Al-Biruni wrote one of the most valuable works on pharmacology, "
            "entitled Kitab al-Saydalah, in which he detailed the properties of drugs and the duties of the "
            "pharmacist. Avicenna, too, described no less than 700 preparations. He devoted a whole volume to "
            "simple drugs in The Canon of Medicine, which was printed in Latin more than fifty times.")
    assert len(text.split()) > LONG_WORDS
    sents = [text[s.start : s.end] for s in split_sentences(text)]
    assert sents[0] == "Dr. Ada Quill (936–1013) pioneered the distillation of tinctures."
    assert sents[1].startswith("Her Liber tincturae") and sents[1].endswith("by St. Anselm's monks.")
    assert sents[2].startswith("Sabur Ibn Sahl") and sents[-1].startswith("He devoted")
    assert len(sents) == 6 and all(len(x.split()) <= LONG_WORDS for x in sents)


def test_a_change_of_chunking_rechunks_every_document_and_embeds_only_new_chunks(tmp_path, engine_over):
    copy_samples(tmp_path / "corpus")
    first = engine_over(tmp_path / "corpus").index(progress=False)
    eng = engine_over(tmp_path / "corpus", chunk_words=60, max_chunk_words=90)
    rep = eng.index(progress=False)
    assert rep.updated == 2 and rep.chunks > first.chunks and 0 < rep.chunks_embedded
    assert all(len(r.passage) > 0 for r in eng.ask("What did Pompeo say on April 7?").results)
    again = eng.index(progress=False)
    assert again.unchanged == 2 and again.chunks_embedded == 0
    back = engine_over(tmp_path / "corpus").index(progress=False)  # the old chunks' vectors were forgotten: embedded
    assert back.updated == 2 and back.chunks == first.chunks and back.chunks_embedded > 0


def test_index_reports_and_second_run_embeds_nothing(sample_engine):
    st = sample_engine.status()
    assert st.documents == 2 and st.chunks > 5
    titles = {s.title for s in st.sources}
    assert "Trump Greenlighted Haftar\u2019s Attack on US-Backed Libyan Government" in titles
    assert "The American Conservative" in {s.source for s in st.sources}
    again = sample_engine.index(progress=False)
    assert again.chunks_embedded == 0 and again.unchanged == 2
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_boilerplate_is_not_indexed(sample_engine):
    store = sample_engine._store()
    text = "\n".join(store.document(p).text for p in store.document_hashes())
    for junk in ("Advertisement", "Popular Right Now", "Leave A Reply", "READ MORE ARTICLES ON", "scorecard"):
        assert junk not in text


def test_headline_question_quotes_pompeo_verbatim(sample_engine):
    ans = sample_engine.ask("what did Pompeo say on April 7?", k=3)
    assert not ans.abstained
    assert any(any(p in r.quote for p in POMPEO) for r in ans.results[:3])
    store = sample_engine._store()
    for r in ans.results:
        doc = store.document(r.path)
        assert doc.text[r.start : r.end] == r.quote, "every quote is verbatim at its offsets"
        assert r.quote in r.passage
        assert len(r.quote.split()) <= 60


def test_unanswerable_question_abstains(sample_engine):
    ans = sample_engine.ask("What is the capital of Australia?")
    assert ans.abstained and ans.results == []
    data = ans.to_json()
    assert {k: data[k] for k in ("question", "abstained", "results")} == {
        "question": "What is the capital of Australia?", "abstained": True, "results": []}
    assert data["reason"], "an abstention says why"


def test_answer_json_shape(sample_engine):
    data = sample_engine.ask("Which militant group could exploit Libya's power vacuum?").to_json()
    assert set(data) == {"question", "abstained", "results"}
    r = data["results"][0]
    assert set(r) == {"quote", "passage", "path", "start", "end", "title", "source", "date", "score",
                      "speaker", "said_on", "also_in"}
    assert r["said_on"] is None or len(r["said_on"]) == 10
    assert isinstance(r["also_in"], list)
    assert "Islamic State militants" in r["quote"]
    assert r["path"].endswith(".txt") and "/" not in r["path"]


def test_bad_files_are_skipped_with_reasons(tmp_path, engine_over):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLES[0], corpus)
    (corpus / "empty.txt").write_text("")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "big.txt").write_text("word " * 300_000)
    eng = engine_over(corpus, max_file_mb=1)
    rep = eng.index(progress=False)
    reasons = {s.path: s.reason for s in rep.skipped}
    assert set(reasons) == {"empty.txt", "image.txt", "broken.pdf", "notes.docx", "big.txt"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["image.txt"]
    assert "PDF" in reasons["broken.pdf"]
    assert "unsupported" in reasons["notes.docx"]
    assert "too large" in reasons["big.txt"]
    assert rep.added == 1 and rep.documents == 1


def test_other_model_index_gives_rebuild_message(tmp_path, engine_over):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLES[0], corpus)
    engine_over(corpus).index(progress=False)
    other = engine_over(corpus, model="some/other-model")
    with pytest.raises(IndexProblem, match="newsdesk index --rebuild"):
        other.ask("what did Pompeo say?")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsdesk.bot.cli", *args], cwd=cwd, env=child_env(),
                          capture_output=True, text=True, timeout=240)


def test_cli_index_and_ask_json(tmp_path):
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    p = _cli("index", "--corpus", str(corpus), "--data", str(tmp_path / "d"), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert set(rep) == {"documents", "chunks", "added", "updated", "removed", "unchanged", "chunks_embedded",
                        "skipped", "seconds"}
    assert rep["added"] == 2 and rep["chunks_embedded"] == rep["chunks"] > 0
    p = _cli("ask", "what did Pompeo say on April 7?", "--corpus", str(corpus), "--data", str(tmp_path / "d"),
             "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    ans = json.loads(p.stdout)
    assert any(any(x in r["quote"] for x in POMPEO) for r in ans["results"][:3])
    p = _cli("ask", "what did Pompeo say on April 7?", "--corpus", str(corpus), "--data", str(tmp_path / "d"),
             cwd=tmp_path)
    assert "\u201c" in p.stdout and "004_563c2adb94c7b42a.txt" in p.stdout and "Business Insider" in p.stdout
    # A one-off `ask` on the default (int8) backend never loads torch or transformers (~1.4 s and ~180 MB).
    code = ("import sys; from newsdesk.bot.cli import main; rc = main(['ask', 'what did Pompeo say on April 7?', '--corpus', "
            f"{str(corpus)!r}, '--data', {str(tmp_path / 'd')!r}]); "
            "print('LOADED', 'torch' in sys.modules, 'transformers' in sys.modules, rc)")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=child_env(),
                       capture_output=True, text=True, timeout=240)
    assert "Business Insider" in p.stdout and "LOADED False False 0" in p.stdout, p.stdout + p.stderr


def test_cli_index_of_named_files(tmp_path):
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    data = str(tmp_path / "d")
    assert _cli("index", "--corpus", str(corpus), "--data", data, cwd=tmp_path).returncode == 0
    (corpus / "flood.txt").write_text("Flood in Tarnow\n\nThe river Vistula flooded the old town of Tarnow.\n")
    (corpus / "other.txt").write_text("Drought in Leeds\n\nNo rain fell in Leeds for forty days, the council said.\n")
    p = _cli("index", "corpus/flood.txt", "--corpus", str(corpus), "--data", data, "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["added"] == 1 and rep["documents"] == 3  # other.txt, not named, waits for the next full run
    (tmp_path / "elsewhere.txt").write_text("Elsewhere\n\nNot in the corpus.\n")
    p = _cli("index", str(tmp_path / "elsewhere.txt"), "--corpus", str(corpus), "--data", data, cwd=tmp_path)
    assert p.returncode == 2 and "not inside the corpus folder" in p.stderr
    p = _cli("index", "--corpus", str(corpus), "--data", data, "--json", cwd=tmp_path)
    assert json.loads(p.stdout)["added"] == 1 and json.loads(p.stdout)["unchanged"] == 3


def test_eval_reports_metrics(tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        json.dumps({"qid": "a", "question": "what did Pompeo say on April 7?", "gold": list(POMPEO)}) + "\n"
        + json.dumps({"qid": "b", "question": "What is the capital of Australia?", "gold": []}) + "\n"
    )
    p = _cli("eval", str(qfile), "--corpus", str(copy_samples(tmp_path / "corpus")), "--data", str(tmp_path / "d"), "--json",
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    m = out["metrics"]
    assert m["quote_hit@3"] == 1.0 and m["abstention_recall"] == 1.0 and m["verbatim"] == 1.0
    assert [q["qid"] for q in out["questions"]] == ["a", "b"]
    assert out["questions"][1]["answer"]["abstained"] is True


def test_cli_export_int8_builds_the_cached_model(tmp_path):
    """A real export (--force), logged at INFO (-v): newsdesk's own lines, none of the exporter's internals."""
    p = _cli("-v", "export-int8", "--force", "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "INFO newsdesk.index.onnx_backend: int8 ONNX model of all-MiniLM-L6-v2 written to" in p.stderr
    for noise in ("torchvision", "onnx_ir", "onnxscript", "Loading weights", "faiss.loader"):
        assert noise not in p.stderr, (noise, p.stderr[-3000:])
    built = list((tmp_path / "d" / "models").glob("*-onnx-int8"))
    assert len(built) == 1 and any(f.suffix == ".onnx" for f in built[0].rglob("*")), list(built[0].rglob("*"))
    assert str(built[0]) in p.stdout


def test_sentence_vectors_are_stored_in_int8_and_older_float16_rows_still_read(tmp_path):
    import numpy as np

    from newsdesk.index.store import Store

    rng = np.random.default_rng(1)
    sv = rng.normal(size=(12, 384)).astype(np.float32)
    sv /= np.linalg.norm(sv, axis=1, keepdims=True)
    sv[5] = 0  # a sentence past the model's token limit
    spans = np.arange(24, dtype=np.int32).reshape(12, 2)
    store = Store(tmp_path)
    try:
        store.put_embeddings(["new"], np.ones((1, 384), np.float32), [(spans, sv)])
        blob = store.conn.execute("SELECT sent_vectors FROM embeddings WHERE hash='new'").fetchone()[0]
        assert len(blob) == 12 * (384 + 4)  # half of float16's 12 * 768
        store.conn.execute("INSERT INTO embeddings(hash, vector, sent_spans, sent_vectors) VALUES (?,?,?,?)",
                           ("old", np.ones(384, np.float32).tobytes(), spans.tobytes(), sv.astype(np.float16).tobytes()))
        got = store.get_sentences(["new", "old"], 384)
    finally:
        store.close()
    for h in ("new", "old"):
        np.testing.assert_array_equal(got[h][0], spans)
        assert not got[h][1][5].any()
        cos = np.sum(got[h][1] * sv, axis=1)[np.arange(12) != 5]
        assert cos.min() > 0.999, h
