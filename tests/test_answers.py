"""Answer quality mechanisms: quote choice and its limit, speakers, dates, comments, duplicates, the
verbatim guarantee. Real model, real index."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from newsdesk.index.quotes import MAX_QUOTE_WORDS, PASSAGE_WORDS, clip_quote, passage_around
from newsdesk.index.lexical import terms
from newsdesk.index.questions import analyze
from newsdesk.index.records import Span
from tests.samples import FIXTURES, copy_samples



def test_long_sentence_is_cut_to_the_verbatim_clause_that_answers():
    words = ", ".join(f"clause number {i} talks about nothing in particular" for i in range(12))
    text = words + ", and the harbour toll was raised to 40 dollars by the council, which surprised many."
    assert len(text.split()) > MAX_QUOTE_WORDS
    q = {t: 1.0 for t in terms("How much was the harbour toll raised to?")}
    span = clip_quote(text, Span(0, len(text)), q)
    quote = text[span.start : span.end]
    assert len(quote.split()) <= MAX_QUOTE_WORDS
    assert "harbour toll was raised to 40 dollars" in quote
    assert text.find(quote) == span.start


def test_question_analysis():
    info = analyze("what did Pompeo say on April 7?", dt.date(2019, 4, 20))
    assert info.asks_said and "Pompeo" in info.names
    assert [(d.start, d.end) for d in info.dates] == [(dt.date(2019, 4, 7), dt.date(2019, 4, 7))]
    assert analyze("When did the Broncos win?").kind == "when"
    assert analyze("How many points did they score?").kind == "number"
    assert analyze("Who met Trump on April 9?").kind == "who"


def test_a_question_opening_with_context_is_read_from_its_asking_sentence():
    from newsdesk.index.answer_type import asked_type

    # "said" in the context sentence: a number is asked for, not Brady's words
    info = analyze("Tom Brady said he is 'retiring for good' this week. How many seasons did he play in the NFL?",
                   dt.date(2023, 2, 3))
    assert info.kind == "number" and not info.asks_said and not info.wants_words and not info.speakers
    assert "Tom Brady" in info.names and info.dates  # names and "this week" still come from the whole question
    info = analyze("Sen. Dianne Feinstein said this week she will not run for reelection. What year was she first "
                   "elected?")
    assert info.kind == "when" and not info.asks_said and asked_type(info).kind == "year"
    # a say-verb tells the event when a time, a name or a place is asked for; "what did X announce" wants words
    assert not analyze("Jacinda Ardern has announced her resignation after serving as New Zealand's prime "
                       "minister since when?").asks_said
    assert not analyze("Vladimir Putin has announced plans to station nuclear weapons in which country?").asks_said
    assert analyze("What did Pompeo announce on Tuesday?").asks_said
    # abbreviations do not split a question: it is still asking for the governor's words
    info = analyze("What did Gov. John Carney say about Hunter Biden's plea deal?")
    assert info.asks_said and len(info.speakers) == 1 and info.speakers[0].endswith("John Carney")


def test_pompeo_quote_comes_first_attributed_to_him(sample_engine):
    ans = sample_engine.ask("what did Pompeo say on April 7?", asked_at=dt.date(2019, 4, 20))
    first = ans.results[0]
    assert first.speaker == "Mike Pompeo"
    assert "We have made clear that we oppose the military offensive" in first.quote or \
        "There is no military solution to the Libya conflict" in first.quote
    # both of his statements come before the sentences that only report that he made one
    assert [r.speaker for r in ans.results[:2]] == ["Mike Pompeo", "Mike Pompeo"]


def test_spokesman_tweet_attributed_to_garrett_marquis(sample_engine):
    ans = sample_engine.ask("What did the National Security Council spokesman say on Twitter?")
    hit = next(r for r in ans.results if "are inaccurate" in r.quote)
    assert hit.speaker == "Garrett Marquis"


def test_reader_comment_is_marked(sample_engine):
    ans = sample_engine.ask("Does The American Conservative consider the US lily-white?")
    hit = next(r for r in ans.results if "lily-white" in r.quote)
    assert hit.is_comment
    assert not any(r.is_comment for r in sample_engine.ask("what did Pompeo say on April 7?").results)


def test_syndicated_copy_collapses_into_one_result_with_both_sources(tmp_path, engine_over):
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    text = (FIXTURES / "004_563c2adb94c7b42a.txt").read_text(encoding="utf-8")
    (corpus / "syndicated-copy.txt").write_text("Syndicated: " + text, encoding="utf-8")
    eng = engine_over(corpus)
    eng.index(progress=False)
    ans = eng.ask("Which militant group could exploit Libya's power vacuum?")
    hits = [r for r in ans.results if "Islamic State militants" in r.quote]
    assert len(hits) == 1
    paths = {hits[0].path} | {o.path for o in hits[0].also_in}
    assert paths == {"004_563c2adb94c7b42a.txt", "syndicated-copy.txt"}


def test_tampered_index_text_is_never_quoted(tmp_path, engine_over):
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    eng = engine_over(corpus)
    eng.index(progress=False)
    assert any("Islamic State" in r.quote for r in eng.ask("Which militant group could exploit Libya's power vacuum?").results)
    with sqlite3.connect(tmp_path / "data" / "newsdesk.sqlite") as db:
        db.execute("UPDATE documents SET text = replace(text, 'Islamic State militants', 'Islamic Steak militants')")
    fresh = engine_over(corpus)
    ans = fresh.ask("Which militant group could exploit Libya's power vacuum?")
    assert not any("Steak" in r.quote or "Steak" in r.passage for r in ans.results + ans.near_misses)


def test_cross_encoder_setting_reorders_quotes(tmp_path, engine_over, monkeypatch):
    """NEWSDESK_RERANKER takes a CrossEncoder path; here one built from the bundled MiniLM folder, whose
    scores we also compute directly: the answer's order must follow them."""
    import numpy as np
    from sentence_transformers import CrossEncoder

    from newsdesk.index.models import resolve_model

    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    ce_path = tmp_path / "ce"
    CrossEncoder(resolve_model("all-MiniLM-L6-v2"), num_labels=1).save(str(ce_path))
    eng = engine_over(corpus, reranker=str(ce_path))
    eng.index(progress=False)
    q = "Which militant group could exploit Libya's power vacuum?"
    ans = eng.ask(q)
    assert not ans.abstained and len(ans.results) >= 3
    scores = eng.cross_encoder.predict([(q, r.quote) for r in ans.results[:3]])
    assert list(np.argsort(-np.asarray(scores))) == [0, 1, 2]


def test_quote_cut_from_a_long_sentence_is_marked_clipped(tmp_path, engine_over):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = ", ".join(f"the committee reviewed item {i} of the agenda without comment" for i in range(9))
    (corpus / "long.txt").write_text(
        "Harbour council meeting\n\nAt the long meeting " + filler
        + ", and the harbour toll was raised to 40 dollars by the council, which surprised the fishermen.\n\n"
        "The meeting ended at noon.\n", encoding="utf-8")
    eng = engine_over(corpus)
    eng.index(progress=False)
    ans = eng.ask("How much was the harbour toll raised to?")
    hit = next(r for r in ans.results + ans.near_misses if "40 dollars" in r.quote)
    assert hit.clipped, (hit.quote, hit.start, hit.end)
    assert len(hit.quote.split()) <= MAX_QUOTE_WORDS
    noon = eng.ask("When did the meeting end?")
    short = next(r for r in noon.results + noon.near_misses if "noon" in r.quote)
    assert not short.clipped


def test_a_passage_one_retriever_ranks_first_is_always_scored():
    """Rank fusion can bury the one passage BM25 ranks first (no dense support) below many passages both
    retrievers rank half-way: it is scored anyway."""
    from newsdesk.index.answers import SURE_RANK, AnswerBuilder
    from newsdesk.index.retrieval import Candidate

    both = [Candidate(i, 2 / (61 + 10 + i), 0.5, 5.0, 10 + i, 10 + i) for i in range(20)]
    bm25_only = Candidate(99, 1 / 61, 0.0, 30.0, None, 0)
    dense_only = Candidate(98, 1 / 62, 0.7, 0.0, 1, None)
    deep = Candidate(97, 1 / 70, 0.0, 1.0, None, SURE_RANK + 5)
    cands = sorted(both + [bm25_only, dense_only, deep], key=lambda c: -c.score)
    builder = AnswerBuilder.__new__(AnswerBuilder)
    builder.passages = 12
    pool = [c.chunk_id for c in builder.pool(cands)]
    assert pool[:12] == [c.chunk_id for c in cands[:12]]
    assert 99 in pool and 98 in pool and 97 not in pool


def test_the_passage_around_a_quote_keeps_to_its_paragraph_first(monkeypatch):
    import newsdesk.index.quotes as quotes

    other = "An unrelated paragraph about the weather talks of rain. " * 3
    para = ("The council met on Monday. It voted to raise the kelp tax. "
            "The mayor, Ann Kovacs, said the vote was a mistake. She will appeal.")
    text = other.strip() + "\n\n" + para + "\n\n" + other.strip()
    quote = Span(text.index("The council"), text.index("on Monday.") + len("on Monday."))
    # room for the paragraph and a little more: the sentence just before the quote, across the paragraph
    # break, waits until the paragraph is whole
    monkeypatch.setattr(quotes, "PASSAGE_WORDS", len(para.split()) + 3)
    span = quotes.passage_around(text, quote)
    assert text[span.start : span.end] == para
    monkeypatch.setattr(quotes, "PASSAGE_WORDS", len(para.split()) + 9)  # then it crosses the break
    span = quotes.passage_around(text, quote)
    assert text[span.start : span.end] == "An unrelated paragraph about the weather talks of rain.\n\n" + para


def test_a_person_no_article_mentions_is_abstained_and_named(sample_engine):
    from newsdesk.bot.terminal import render_answer

    ans = sample_engine.ask("What did Angela Merkel say about Libya?")
    assert ans.abstained and ans.results == [] and ans.unknown_names == ["Angela Merkel"]
    assert "none of them mentions Angela Merkel" in render_answer(ans)
    assert ans.near_misses  # the closest passages are still shown, marked as not an answer
    assert sample_engine.ask("What did Putin say about the offensive?").unknown_names == ["Putin"]
    # acronyms are spelled too many ways to conclude anything from their absence
    assert sample_engine.ask("What did the UNSMIL TFG envoy say?").unknown_names == []
    # people the articles do mention are answered, whichever of their names is used
    for q in ("What did Mike Pompeo say?", "What did Khalifa Haftar's forces do?", "What did Garrett Marquis say?"):
        ans = sample_engine.ask(q)
        assert not ans.abstained and not ans.unknown_names, q


def test_when_question_counts_a_month_day_without_a_year_as_a_date(sample_engine):
    """The Business Insider sample has no publication date, so "April 15" in it resolves to no date; it is
    still a time expression, which a "when" question wants."""
    ans = sample_engine.ask("When did Trump speak with Haftar?", asked_at=dt.date(2019, 4, 22))
    assert any("During a phone call on April 15" in r.quote for r in ans.results[:3])


def test_quote_weight_reorders_the_same_quotes(tmp_path, engine_over):
    """NEWSDESK_QUOTE_WEIGHT re-orders the returned quotes by their own similarity to the question; 0 keeps
    the reranker's order. Same quotes either way, scores descending. (A weight of 8, well above the default
    2, so that the test does not hang on how close this question's scores happen to be under the fitted
    weights in index/reranker_weights.json.)"""
    copy_samples(tmp_path / "corpus")
    q, asked = "Who endorsed the attack on Tripoli?", dt.date(2019, 4, 22)
    got = {}
    for w in (0.0, 8.0):
        eng = engine_over(tmp_path / "corpus", quote_weight=w)
        eng.index(progress=False)
        ans = eng.ask(q, asked_at=asked)
        assert [r.score for r in ans.results] == sorted((r.score for r in ans.results), reverse=True)
        got[w] = [r.quote for r in ans.results]
    assert sorted(got[0.0]) == sorted(got[8.0]) and got[0.0] != got[8.0]


def test_passage_of_a_sentence_less_text_keeps_the_quote_near_either_end() -> None:
    """A text without sentence ends is one "sentence" longer than a passage: the passage is a word window around
    the quote, also when the quote sits a few words from the start or the end (it once indexed past the words
    before the quote and crashed the answer)."""

    words = [f"w{i}" for i in range(3 * PASSAGE_WORDS)]
    text = " ".join(words)
    for at in (1, len(words) // 2, len(words) - 2):
        start = len(" ".join(words[:at])) + 1
        quote = Span(start, start + len(words[at]))
        span = passage_around(text, quote)
        assert span.start <= quote.start and quote.end <= span.end
        assert PASSAGE_WORDS // 2 <= len(text[span.start:span.end].split()) <= PASSAGE_WORDS


def test_passage_around_a_quote_near_the_start_of_a_run_on_text() -> None:
    """A quote a few words into a sentence longer than a passage (no sentence ends: a list, a table flattened
    to text) gets a window of PASSAGE_WORDS words around it, fewer words before it than half the window."""
    text = "Results for the day " + " ".join(f"team{i} won" for i in range(300)) + "."
    start = text.index("team0")
    quote = Span(start, text.index("team2"))
    span = passage_around(text, quote)
    assert span.start == 0 and span.end > quote.end
    assert len(text[span.start : span.end].split()) == PASSAGE_WORDS


def test_a_quote_that_names_its_subject_only_before_it_brings_that_sentence():
    from newsdesk.index.quotes import quote_span

    text = ("Jalen Hurts is feeling the love in the City of Brotherly Love.\n\n"
            "Hurts and the Philadelphia Eagles have agreed on a five-year, $255 million deal.\n\n"
            "You may have to pay extra to get a good seat at AMC Theatres.\n\n"
            "The country's largest movie theater chain announced Monday plans to price tickets by seat.\n\n"
            "Photo: AMC Theatres\n\n"
            "The chain said prices would rise.\n\n"
            "Ticket sales rose in March. Sales fell in April.")

    def quote(sentence: str, **kw) -> str:
        s = text.index(sentence)
        span = quote_span(text, Span(s, s + len(sentence)), {}, lambda _: False, **kw)
        return text[span.start : span.end]

    # a surname after the full name, a description of the company named before: the name comes along
    assert quote("Hurts and the Philadelphia Eagles have agreed on a five-year, $255 million deal.").startswith(
        "Jalen Hurts is feeling the love")
    assert quote("The country's largest movie theater chain announced Monday plans to price tickets by seat.") \
        .startswith("You may have to pay extra to get a good seat at AMC Theatres.")
    # a caption is not a sentence to bring; a sentence naming its own subject stands alone
    assert quote("The chain said prices would rise.") == "The chain said prices would rise."
    assert quote("Sales fell in April.") == "Sales fell in April."
    # the next sentence joins when it holds the answer, but never a teaser line (a quiz's listed option)
    listed = "Which town hosts the final this year?\n\nPort Avalon\n\nGull Point"
    span = quote_span(listed, Span(0, listed.index("?") + 1), {}, lambda _: False, answer_after=True)
    assert listed[span.start : span.end] == "Which town hosts the final this year?"
    told = "The final has a host town.\n\nOrganizers chose Port Avalon on Monday.\n\nGull Point lost."
    span = quote_span(told, Span(0, told.index(".") + 1), {}, lambda _: False, answer_after=True)
    assert told[span.start : span.end] == "The final has a host town.\n\nOrganizers chose Port Avalon on Monday."
    # without context (the sentence before is already shown): the sentence alone
    assert quote("Hurts and the Philadelphia Eagles have agreed on a five-year, $255 million deal.",
                 context=False).startswith("Hurts and")


_THEATERS = ("You may have to pay extra to get a good seat at AMC Theatres.",
             "The country's largest movie theater chain announced Monday plans to price tickets based on seat "
             "location within the auditorium.",
             "Seats in the middle of the auditorium will be priced at a slight premium.")
_HALFTIME = ("The kelp festival of Port Avalon has its halftime performer.",
             "Organizers announced on Sunday that Dorothea Quillfeather will perform at halftime of the festival final.",
             "Tickets for the kelp festival final went on sale in March.")


@pytest.mark.parametrize("paragraphs, question, answer", [
    # the answer is named only in the sentence before the one that matches the question
    (_THEATERS, "Which movie theater chain announced plans to price tickets based on seat location?", "AMC Theatres"),
    # the sentence that matches the question only announces the answer, which the next sentence gives
    (_HALFTIME, "Which singer will be the halftime performer at the kelp festival of Port Avalon?", "Quillfeather"),
])
def test_a_quiz_quote_brings_the_neighbouring_sentence_that_holds_the_answer(tmp_path, engine_over, paragraphs,
                                                                             question, answer):
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    (corpus / "quiz.md").write_text("# News\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    eng = engine_over(corpus)
    eng.index(progress=False)
    ans = eng.ask(question)
    assert not ans.abstained
    assert ans.results[0].quote == "\n\n".join(paragraphs[:2])
    # one result covers both sentences: neither is shown again on its own
    assert sum(answer in r.quote for r in ans.results if r.path == "quiz.md") == 1
    # a question that asks for no particular kind of answer gets the matching sentence alone
    if paragraphs is _HALFTIME:
        plain = eng.ask("Does the kelp festival of Port Avalon have a halftime performer?")
        assert paragraphs[0] in [r.quote for r in plain.results]


def test_a_quiz_page_asking_the_same_question_is_not_an_answer(tmp_path, engine_over):
    corpus = tmp_path / "corpus"
    copy_samples(corpus)
    (corpus / "quiz-of-the-week.md").write_text(
        "# Quiz of the week\n\n1. Which harbour town hosts the kelp festival final this year?\n\nSeaview\n\n"
        "Port Avalon\n\nGull Point\n\n2. How many boats sailed in the kelp regatta?\n\n12\n\n40\n", encoding="utf-8")
    (corpus / "kelp.md").write_text(
        "# Kelp festival\n\nThe kelp festival final will be held in Port Avalon this year, organizers said on "
        "Monday.\n", encoding="utf-8")
    eng = engine_over(corpus)
    eng.index(progress=False)
    ans = eng.ask("Which harbour town hosts the kelp festival final this year?")
    assert not ans.abstained and ans.results[0].path == "kelp.md"
    quotes = [r.quote for r in ans.results]
    assert not any("Which harbour town hosts" in q for q in quotes)  # the question itself (with an option after it)
    assert not any(q.strip() in {"1.", "2."} for q in quotes)  # a number split off a numbered line
