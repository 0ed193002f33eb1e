"""The Milvus store against a real Milvus server: `milvus-lite server` started on a free loopback port for the
session, spoken to by pymilvus over that socket (the client code a Standalone or Distributed deployment runs).
The real model, the real indexer, the real engine; each test writes its own collections."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from pathlib import Path

import pytest

from newsdesk.bot.cli import _check_paths
from newsdesk.bot.exits import UsageError
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings
from newsdesk.index.store import IndexDamaged, ModelMismatch
from newsdesk.index.stores import StoreUnavailable
from newsdesk.index.stores.milvus import META_PROPERTY
from tests.samples import copy_samples

pytest.importorskip("pymilvus", reason="the milvus extra (in dev) is not installed")
from pymilvus import DataType, MilvusClient  # noqa: E402

from milvus_server import MilvusServer, free_port  # noqa: E402  (scripts/milvus_server.py)

ROOT = Path(__file__).resolve().parent.parent
POMPEO = ("There is no military solution to the Libya conflict", "We have made clear that we oppose the military offensive")
POMPEO_Q = "what did Pompeo say on April 7?"
FLOOD = "Flood in Tarnow\n\nThe river Vistula flooded the old town of Tarnow on Monday, the mayor said.\n"
FLOOD_Q = "Which river flooded Tarnow?"
# ../shared/eval/sample_questions.jsonl, inline so that the test needs nothing outside the repository
SAMPLE = ["what did Pompeo say on April 7?",
          "What did the National Security Council say about Bloomberg's report?",
          "Who met Trump on April 9 and urged him to back Haftar?",
          "Why does the author think the U.S. should stay out of the Libyan civil war?",
          "Which militant group could exploit Libya's power vacuum?",
          "What is the capital of Australia?"]


@pytest.fixture(scope="session")
def milvus(tmp_path_factory):
    server = MilvusServer(tmp_path_factory.mktemp("milvus-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_for(milvus, tmp_path):
    """`settings_for(name, **overrides)`: a corpus and data folder of their own, the session's Milvus, and
    collections of this test's own."""
    prefix = f"t{uuid.uuid4().hex[:12]}"

    def make(name: str = "a", copy_sample: bool = True, **overrides) -> Settings:
        corpus = tmp_path / name / "corpus"
        if copy_sample and not corpus.exists():
            copy_samples(corpus)
        corpus.mkdir(parents=True, exist_ok=True)
        values = dict(corpus=corpus, data=tmp_path / name / "data", progress=False, store=milvus.store,
                      milvus_collection=prefix, milvus_timeout=5)
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


def quotes(engine: Engine, question: str) -> list[str]:
    return [r.quote for r in engine.ask(question, k=5).results]


def test_the_sample_corpus_in_milvus_answers_the_headline_question(settings_for, embedder):
    eng = Engine(settings_for(), embedder=embedder)
    rep = eng.index(progress=False)
    assert (rep.added, rep.documents, rep.chunks_embedded) == (2, 2, rep.chunks) and rep.chunks > 5
    ans = eng.ask(POMPEO_Q, k=3)
    assert not ans.abstained
    assert any(p in r.quote for r in ans.results[:3] for p in POMPEO)
    for r in ans.results:
        doc = eng.document(r.path)
        assert doc is not None and doc.text[r.start : r.end] == r.quote, "every quote is verbatim at its offsets"
    again = eng.index(progress=False)
    assert (again.unchanged, again.added, again.updated, again.chunks_embedded) == (2, 0, 0, 0)
    st = eng.status()
    assert st.documents == 2 and st.chunks == rep.chunks and "Business Insider" in {s.source for s in st.sources}
    assert eng.ask("What is the capital of Australia?").abstained


def test_add_change_and_delete_follow_in_answers(settings_for, embedder):
    s = settings_for()
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    before = eng.store.generation()
    flood = Path(s.corpus) / "flood.txt"
    flood.write_text(FLOOD)
    assert eng.index(progress=False).added == 1
    assert eng.store.generation() != before, "a commit gives readers a new generation (their tables are re-read)"
    assert any("Vistula" in q for q in quotes(eng, FLOOD_Q))
    flood.write_text(FLOOD.replace("Vistula", "Dunajec"))
    rep = eng.index(progress=False)
    assert rep.updated == 1 and rep.chunks_embedded >= 1
    got = quotes(eng, FLOOD_Q)
    assert any("Dunajec" in q for q in got) and not any("Vistula" in q for q in got)
    flood.unlink()
    # `newsdesk index flood.txt` names a deleted file: accepted, as it is indexed; a never-indexed one is not
    assert _check_paths(eng, [str(flood)]) == [flood.resolve()]
    with pytest.raises(UsageError, match="nothing indexed there: .*never.txt"):
        _check_paths(eng, [str(Path(s.corpus) / "never.txt")])
    rep = eng.index(progress=False)
    assert rep.removed == 1 and rep.documents == 2
    assert not any(r.path == "flood.txt" for r in eng.ask(FLOOD_Q).results)
    assert eng.document("flood.txt") is None
    assert eng.status().chunks == rep.chunks, "no rows of replaced or removed versions are left"


def test_two_engines_with_separate_data_folders_see_each_others_writes(settings_for, embedder):
    """Two bots on two machines: their own corpus and data folders, one Milvus. What one adds (here through
    /add's path, add_file) the other answers; one's full index run never removes the other's documents."""
    one = Engine(settings_for("one"), embedder=embedder)
    two = Engine(settings_for("two", copy_sample=False), embedder=embedder)
    one.index(progress=False)
    assert any(p in q for q in quotes(two, POMPEO_Q) for p in POMPEO), "two answers from one's documents"
    two.add_file("flood.txt", FLOOD.encode())
    assert any("Vistula" in q for q in quotes(one, FLOOD_Q))
    assert one.index(progress=False).removed == 0 and two.index(progress=False).removed == 0
    assert {s.path for s in one.status().sources} == {s.path for s in two.status().sources} >= {"flood.txt"}
    (Path(two.settings.corpus) / "flood.txt").unlink()
    assert two.index(progress=False).removed == 1
    assert not any(r.path == "flood.txt" for r in one.ask(FLOOD_Q).results)


KILLER = """
import os, signal, sys
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings
from newsdesk.index.stores.milvus import MilvusStore

real = MilvusStore.client

def client(self):
    c = real(self)
    upsert = c.upsert
    def killing_upsert(name, rows, **kw):
        if name == getattr(self, os.environ["KILL_AT"]):  # heads_name: the chunk and text rows are written,
            # the commit is next; terms_name: the commit is written, its term counts are next
            os.kill(os.getpid(), signal.SIGKILL)
        return upsert(name, rows, **kw)
    c.upsert = killing_upsert
    return c

MilvusStore.client = client
Engine(Settings(_env_file=None, **{k: v for k, v in zip(sys.argv[1::2], sys.argv[2::2])})).index(progress=False)
"""


def test_an_index_run_killed_before_its_commit_leaves_the_previous_answers(settings_for, embedder, tmp_path):
    s = settings_for()
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    before = quotes(eng, POMPEO_Q)
    art = Path(s.corpus) / "004_563c2adb94c7b42a.txt"
    art.write_text(art.read_text().replace("There is no military solution", "There is no diplomatic solution"))
    args = [str(x) for kv in dict(corpus=s.corpus, data=s.data, store=s.store, milvus_collection=s.milvus_collection,
                                 progress="false", model_cache=ROOT / ".newsdesk" / "models").items() for x in kv]
    proc = subprocess.run([sys.executable, "-c", KILLER, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KILL_AT": "heads_name"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # the same lead answers (lower ranks may move a little: Milvus's own BM25 statistics may count the uncommitted
    # rows, though no text of theirs is ever read, as the next line checks)
    assert quotes(eng, POMPEO_Q)[:3] == before[:3], "the killed run's rows are not answered from"
    assert not any("diplomatic" in q for q in quotes(eng, "Is there a diplomatic solution in Libya?"))
    assert eng.status().chunks < eng.store.count(eng.store.chunks_name), "the killed run left rows behind"
    rep = eng.index(progress=False)
    assert rep.updated == 1
    assert any("no diplomatic solution" in q for q in quotes(eng, POMPEO_Q))
    assert eng.status().chunks == eng.store.count(eng.store.chunks_name), "and its orphans are gone"


def test_a_run_killed_between_its_commit_and_its_term_counts_is_recounted_by_the_next(settings_for, embedder):
    from newsdesk.index.stores.milvus_terms import TOTAL

    s = settings_for()
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    (Path(s.corpus) / "flood.txt").write_text(FLOOD)
    args = [str(x) for kv in dict(corpus=s.corpus, data=s.data, store=s.store, milvus_collection=s.milvus_collection,
                                 progress="false", model_cache=ROOT / ".newsdesk" / "models").items() for x in kv]
    proc = subprocess.run([sys.executable, "-c", KILLER, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KILL_AT": "terms_name"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert any("Vistula" in q for q in quotes(eng, FLOOD_Q)), "the document was committed"
    view = eng._refresh(True).snapshot
    assert view._read_counts(["vistula"])["vistula"] == 0, "but the killed run did not count its terms"
    assert eng.index(progress=False).added == 0
    counts = eng._refresh(True).snapshot._read_counts(["vistula", "tarnow"])
    assert counts == {"vistula": 1, "tarnow": 1, TOTAL: eng.status().chunks}, "the next run recounted"


def test_parity_with_the_embedded_store_on_the_sample_questions(settings_for, embedder, tmp_path):
    on_milvus = Engine(settings_for(), embedder=embedder)
    embedded = Engine(settings_for("embedded", store="embedded"), embedder=embedder)
    on_milvus.index(progress=False)
    embedded.index(progress=False)
    for q in SAMPLE:
        a, b = on_milvus.ask(q, k=3), embedded.ask(q, k=3)
        assert a.abstained == b.abstained, q
        assert [r.quote for r in a.results[:1]] == [r.quote for r in b.results[:1]], q


def test_term_counts_equal_the_embedded_stores_through_changes_deletes_and_a_recount(settings_for, embedder):
    """The answer builder's document frequencies (`df`/`idf`) read from the writer's term counts equal the
    embedded store's for every term of the corpus, after a change and a delete too, and a recount (what a run
    after a killed one does) finds the same counts."""
    from newsdesk.index.lexical import terms
    from newsdesk.index.stores import milvus_terms

    s_m, s_e = settings_for(), settings_for("embedded", store="embedded")
    on_milvus, embedded = Engine(s_m, embedder=embedder), Engine(s_e, embedder=embedder)

    def compare() -> None:
        on_milvus.index(progress=False)
        embedded.index(progress=False)
        vocab = sorted({t for f in Path(s_e.corpus).rglob("*") if f.is_file() for t in terms(f.read_text())}
                       | {"vistula", "dunajec", "zzzunseen"})
        mv, ev = on_milvus._refresh(True).snapshot, embedded._refresh(True).snapshot
        got = mv._read_counts(vocab)
        assert {t: got[t] for t in vocab} == {t: ev.df(t) for t in vocab}
        assert got[milvus_terms.TOTAL] == embedded.status().chunks
        for t in ("libya", "vistula", "zzzunseen"):
            assert mv.idf(t) == pytest.approx(ev.idf(t))
        return got

    for folder in (s_m.corpus, s_e.corpus):
        (Path(folder) / "flood.txt").write_text(FLOOD)
    assert compare()["vistula"] == 1
    for folder in (s_m.corpus, s_e.corpus):
        (Path(folder) / "flood.txt").write_text(FLOOD.replace("Vistula", "Dunajec"))
        sorted(p for p in Path(folder).iterdir() if p.name != "flood.txt")[0].unlink()
    got = compare()
    assert got["vistula"] == 0 and got["dunajec"] == 1
    milvus_terms.apply(on_milvus.store, Counter({"dunajec": 3, "libya": -1}), Counter())  # two origins' drift
    assert on_milvus._refresh(True).snapshot._read_counts(["dunajec"])["dunajec"] == 4
    on_milvus.recount_terms()  # newsdesk index --recount-terms
    assert on_milvus._refresh(True).snapshot._read_counts(list(got)) == got
    with pytest.raises(ValueError, match="--recount-terms is for a Milvus store"):
        embedded.recount_terms()


# News questions (as of a time, speakers, pinned days, bylines) on Milvus: the crafted dated archive of
# tests/test_news_questions.py plus an article with a byline, in Milvus and in the embedded store.
BYLINE = ("ferry.md", "2023-06-02", "Night ferry timetable changes", "Jane Doe",
          "The night ferry will leave Port Alder an hour later from July, the operator said on Friday.\n")
NEWS_ASKED = dt.date(2023, 6, 10)
NEWS_QUESTIONS = ["What did Lena White say on Monday?", "What did Mike Ferris say about the bridge?",
                  "What did Lena White say about the summer festival?", "What did Lena White say on May 1?",
                  "What did Lena White say about interest rates?", "What did China's foreign ministry say?",
                  "Who is the new harbour master of Port Alder?", "What did Marcus Reed say about the parade?",
                  "What did the mayor of Harbourview say about the footbridge?"]


@pytest.fixture(scope="module")
def news_pair(milvus, tmp_path_factory, embedder):
    """(on Milvus, embedded): two engines over the same dated articles, indexed."""
    from tests.test_news_questions import ARTICLES

    root = tmp_path_factory.mktemp("milvus-news")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, date, title, author, body in [(n, d, t, None, b) for n, (d, t, b) in ARTICLES.items()] + [BYLINE]:
        by = f'author: "{author}"\n' if author else ""
        (corpus / name).write_text(f'---\ntitle: "{title}"\ndate: "{date}"\n{by}---\n\n{body}', encoding="utf-8")
    engines = []
    for name, store in (("milvus", milvus.store), ("embedded", "embedded")):
        eng = Engine(Settings(_env_file=None, corpus=corpus, data=root / name, progress=False, store=store,
                              milvus_collection=f"t{uuid.uuid4().hex[:12]}", milvus_timeout=5), embedder=embedder)
        eng.index(progress=False)
        engines.append(eng)
    return tuple(engines)


def test_milvus_never_returns_what_was_published_after_the_question(news_pair):
    on_milvus, _ = news_pair
    for question in ("What did Lena White say about the summer festival?", "Who is the new harbour master?"):
        ans = on_milvus.ask(question, asked_at=NEWS_ASKED)
        assert all(r.date <= "2023-06-10" for r in ans.results + ans.near_misses), question
        assert all(r.path != "later.md" for r in ans.results + ans.near_misses), question
    later = on_milvus.ask("What did Lena White say about the summer festival?", asked_at=dt.date(2023, 6, 21))
    assert "free for every child" in later.results[0].quote
    assert later.results[0].speaker == "Lena White"


def test_milvus_answers_speaker_and_pinned_day_questions_as_the_embedded_store(news_pair):
    on_milvus, embedded = news_pair
    ferris = on_milvus.ask("What did Mike Ferris say about the bridge?", asked_at=NEWS_ASKED)
    assert (ferris.results[0].speaker, ferris.results[0].said_on) == ("Mike Ferris", "2023-06-05")
    assert "bridge will reopen" in ferris.results[0].quote
    monday = on_milvus.ask("What did Lena White say on Monday?", asked_at=dt.date(2023, 6, 7))
    assert "The toll keeps our ferries running" in monday.results[0].quote
    assert (monday.results[0].speaker, monday.results[0].said_on) == ("Lena White", "2023-06-05")
    by_role = on_milvus.ask("What did the mayor of Harbourview say about the footbridge?", asked_at=NEWS_ASKED)
    assert "joins the two halves of our town" in by_role.results[0].quote  # the role is read from Milvus too
    nearest = on_milvus.ask("What did Lena White say on May 1?", asked_at=NEWS_ASKED)
    assert nearest.abstained
    assert nearest.reason.startswith("nothing from Lena White on 2023-05-01; nearest: 2023-06-05")
    for q in NEWS_QUESTIONS:
        a, b = on_milvus.ask(q, asked_at=NEWS_ASKED), embedded.ask(q, asked_at=NEWS_ASKED)
        assert (a.abstained, a.reason) == (b.abstained, b.reason), q
        # the same first answer and the same words of the asked person, in the same order (the context after
        # them is ordered by scores in which each store's own BM25 takes part)
        asked = {r.speaker for r in b.results[:1] if r.speaker}
        assert [(r.quote, r.speaker, r.said_on) for r in a.results[:1]] == \
            [(r.quote, r.speaker, r.said_on) for r in b.results[:1]], q
        assert [(r.quote, r.said_on) for r in a.results if r.speaker in asked] == \
            [(r.quote, r.said_on) for r in b.results if r.speaker in asked], q


def test_milvus_answers_who_wrote_from_the_byline(news_pair):
    on_milvus, _ = news_pair
    ans = on_milvus.ask("Who wrote the night ferry timetable article?")
    assert not ans.abstained and ans.results[0].author == "Jane Doe" and ans.results[0].path == "ferry.md"
    assert "an hour later from July" in ans.results[0].quote


def test_another_bot_answers_a_new_speakers_words_on_their_day(settings_for, embedder):
    """A reader with no local index learns new quotations and days at the next commit (its timeline and speakers
    are read again, for the changed documents only), and forgets a changed document's old ones."""
    def write(folder: Path, name: str, date: str, body: str) -> None:
        (folder / name).write_text(f'---\ntitle: "{name}"\ndate: "{date}"\n---\n\n{body}', encoding="utf-8")

    writer = Engine(settings_for("writer", copy_sample=False), embedder=embedder)
    reader = Engine(settings_for("reader", copy_sample=False), embedder=embedder)
    corpus = Path(writer.settings.corpus)
    write(corpus, "quay.md", "2023-06-05", '"The quay will be rebuilt in stone," Harbour chief Olga Marsh said.\n')
    writer.index(progress=False)
    asked = dt.date(2023, 6, 12)
    before = reader.ask("What did Olga Marsh say on June 8?", asked_at=asked)
    assert before.abstained
    assert before.reason.startswith("nothing from Olga Marsh on 2023-06-08; nearest: 2023-06-05")
    write(corpus, "tide.md", "2023-06-08", '"The spring tide flooded the lower quay," Olga Marsh said on Thursday.\n')
    writer.index(progress=False)
    after = reader.ask("What did Olga Marsh say on June 8?", asked_at=asked)
    assert not after.abstained and "spring tide flooded" in after.results[0].quote
    assert (after.results[0].speaker, after.results[0].said_on) == ("Olga Marsh", "2023-06-08")
    write(corpus, "quay.md", "2023-06-05", '"The quay will be rebuilt in wood," Harbour chief Ivo Dent said.\n')
    writer.index(progress=False)
    dent = reader.ask("What did Ivo Dent say about the quay?", asked_at=asked)
    assert dent.results[0].speaker == "Ivo Dent" and "in wood" in dent.results[0].quote
    marsh = reader.ask("What did Olga Marsh say about the quay?", asked_at=asked)
    assert not any("in stone" in r.quote for r in marsh.results + marsh.near_misses)


def test_a_collection_of_the_previous_format_says_how_to_rebuild(settings_for, embedder, milvus):
    """An index written before the news-question fields (format 1) is refused with the command that rebuilds,
    by a question and by an index run alike, and the rebuild answers again."""
    s = settings_for(copy_sample=False)
    (Path(s.corpus) / "flood.txt").write_text(FLOOD)
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    client = MilvusClient(f"http://127.0.0.1:{milvus.port}")
    client.alter_collection_properties(eng.store.chunks_name, properties={META_PROPERTY: json.dumps(
        {"format": 1, "model": s.model, "dimension": embedder.dim})})
    old = Engine(s, embedder=embedder)
    with pytest.raises(IndexDamaged, match=r"not a newsdesk index of format 2 \(format 1\).*newsdesk index --rebuild"):
        old.ask(FLOOD_Q)
    with pytest.raises(IndexDamaged, match="newsdesk index --rebuild"):
        old.index(progress=False)
    assert old.index(rebuild=True, progress=False).added == 1
    assert any("Vistula" in q for q in quotes(old, FLOOD_Q))


class StopsMilvus:
    """The real embedder, but Milvus is stopped when the index run starts embedding."""

    def __init__(self, embedder, server: MilvusServer) -> None:
        self._embedder, self._server = embedder, server

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def encode_chunks(self, *args, **kwargs):
        self._server.stop()
        return self._embedder.encode_chunks(*args, **kwargs)


def test_milvus_stopped_mid_run_gives_a_clear_error_and_answers_resume(settings_for, embedder, milvus):
    s = settings_for()
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    (Path(s.corpus) / "flood.txt").write_text(FLOOD)
    writer = Engine(s, embedder=StopsMilvus(embedder, milvus))
    try:
        with pytest.raises(StoreUnavailable, match="cannot reach Milvus at http://127.0.0.1:.*is it running"):
            writer.index(progress=False)
        with pytest.raises(StoreUnavailable, match="cannot reach Milvus"):
            eng.ask(POMPEO_Q)
        with pytest.raises(StoreUnavailable):
            eng.status()
    finally:
        milvus.start()
    assert any(p in q for q in quotes(eng, POMPEO_Q) for p in POMPEO), "the same engine answers again"
    assert eng.index(progress=False).added == 1
    assert any("Vistula" in q for q in quotes(eng, FLOOD_Q))


def test_another_model_or_a_foreign_collection_says_how_to_rebuild(settings_for, embedder, milvus):
    s = settings_for()
    eng = Engine(s, embedder=embedder)
    eng.index(progress=False)
    other = Engine(settings_for(model="another-model"), embedder=embedder)
    with pytest.raises(ModelMismatch, match=r"built with model 'all-MiniLM-L6-v2'.*newsdesk index --rebuild"):
        other.ask(POMPEO_Q)
    with pytest.raises(ModelMismatch, match="--rebuild"):
        other.index(progress=False)
    client = MilvusClient(f"http://127.0.0.1:{milvus.port}")
    client.drop_collection(eng.store.chunks_name)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=8)
    client.create_collection(eng.store.chunks_name, schema=schema)
    fresh = Engine(s, embedder=embedder)
    with pytest.raises(IndexDamaged, match="not a newsdesk index.*newsdesk index --rebuild"):
        fresh.ask(POMPEO_Q)
    assert fresh.index(rebuild=True, progress=False).added == 2
    assert any(p in q for q in quotes(fresh, POMPEO_Q) for p in POMPEO)


def test_the_terminal_says_milvus_is_unreachable_without_a_traceback(tmp_path):
    corpus = copy_samples(tmp_path / "corpus")
    env = {**os.environ, "NEWSDESK_STORE": f"milvus://127.0.0.1:{free_port()}", "NEWSDESK_MILVUS_TIMEOUT": "2",
           "NEWSDESK_CORPUS": str(corpus), "NEWSDESK_DATA": str(tmp_path / "data")}
    proc = subprocess.run([str(Path(sys.executable).parent / "newsdesk"), "ask", POMPEO_Q], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert "newsdesk: cannot reach Milvus at http://127.0.0.1:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_default_store_imports_no_milvus_client(tmp_path):
    corpus = copy_samples(tmp_path / "corpus")
    code = textwrap.dedent(f"""
        import sys
        from newsdesk.index.engine import Engine
        from newsdesk.index.settings import Settings
        eng = Engine(Settings(_env_file=None, corpus={str(corpus)!r}, data={str(tmp_path / 'd')!r}))
        eng.status()
        assert type(eng.store).__name__ == "EmbeddedStore"
        assert "pymilvus" not in sys.modules, "the embedded path imported pymilvus"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_discord_says_milvus_is_unreachable_and_keeps_running(tmp_path, embedder, discord_fake,
                                                                    start_discord_bot, caplog):
    """/ask and a mention while Milvus is away: a reply that says so, one log line, no traceback."""
    s = Settings(_env_file=None, corpus=copy_samples(tmp_path / "corpus"), data=tmp_path / "data", progress=False, milvus_timeout=2,
                 store=f"milvus://127.0.0.1:{free_port()}")
    await start_discord_bot(Engine(s, embedder=embedder))
    interaction = await discord_fake.send_slash("ask", {"question": POMPEO_Q})
    await discord_fake.wait_response(interaction)
    assert "Sorry, I can't answer right now: cannot reach Milvus at http://127.0.0.1:" in interaction.text()
    question = await discord_fake.send_message(POMPEO_Q)
    replies = await discord_fake.wait_reply(question)
    assert any("cannot reach Milvus" in (m.get("content") or "") for m in replies)
    assert not any(r.exc_info for r in caplog.records), "no traceback in the bot's log"
    assert any("cannot reach Milvus" in r.getMessage() for r in caplog.records if r.name.startswith("newsdesk"))


def test_warm_and_the_first_questions_together_read_the_milvus_tables_once(settings_for, embedder, monkeypatch,
                                                                           tmp_path):
    """A restarted reader warming up while the first questions arrive: one scan of the days and quotations
    (held open a moment, so that all of them arrive during it), every answer as a question asked alone."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from newsdesk.index.stores.milvus import MilvusStore

    Engine(settings_for(), embedder=embedder).index(progress=False)
    expected = quotes(Engine(settings_for(data=tmp_path / "alone"), embedder=embedder), POMPEO_Q)
    assert any(p in q for q in expected for p in POMPEO), expected
    scans: list[int] = []
    table_rows = MilvusStore.table_rows

    def counted(self: MilvusStore):
        scans.append(1)
        time.sleep(0.3)
        return table_rows(self)

    monkeypatch.setattr(MilvusStore, "table_rows", counted)
    reader = Engine(settings_for(data=tmp_path / "reader"), embedder=embedder)
    with ThreadPoolExecutor(5) as pool:
        warming = pool.submit(reader.warm)
        asked = [pool.submit(quotes, reader, POMPEO_Q) for _ in range(4)]
        assert warming.result().generation > 0
        answers = [a.result() for a in asked]
    assert len(scans) == 1
    assert all(a == expected for a in answers), answers
    assert reader.is_warm()
    view = Engine(settings_for(data=tmp_path / "third"), embedder=embedder).current_view()
    assert view is not None
    with ThreadPoolExecutor(4) as pool:  # the view's two tables come from one scan, whichever is asked for first
        tables = [pool.submit(read) for read in (view.snapshot.timeline, view.snapshot.speakers) * 2]
        assert all(t.result() is not None for t in tables)
    assert len(scans) == 2
