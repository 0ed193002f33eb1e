"""Unit tests of the Discord renderer on synthetic answers: content, citations, and Discord's limits."""
from __future__ import annotations

import pytest

from newsdesk.bot.discord_render import (
    ABSTAIN_TEXT,
    AnswerPage,
    OutgoingMessage,
    Page,
    clip,
    footer_text,
    pack,
    question_from_embeds,
    render_answer,
    render_help,
    render_index_report,
    render_sources,
)
from newsdesk.index.records import Answer, IndexReport, IndexStatus, Result, Skipped, SourceInfo
from tests.discord_fake import validate_message

import discord

STATUS = IndexStatus(documents=2, chunks=11, updated_at="2024-05-01T12:03:00+00:00", model="all-MiniLM-L6-v2")


def make_result(quote: str, passage: str | None = None, **kw) -> Result:
    passage = passage if passage is not None else f"Before the quote. {quote} After the quote."
    start = passage.find(quote)
    fields = dict(quote=quote, passage=passage, path="004_x.txt", start=start, end=start + len(quote),
                  title="Trump appears to contradict his own secretary of state", source="Business Insider",
                  date="2019-04-18", score=0.9, url="https://example.com/a", passage_start=0,
                  passage_end=len(passage))
    fields.update(kw)
    return Result(**fields)


def assert_valid(messages: list[OutgoingMessage]) -> None:
    assert messages, "nothing rendered"
    for m in messages:
        problem = validate_message(m.to_payload())
        assert problem is None, problem


def all_text(messages: list[OutgoingMessage]) -> str:
    out = []
    for m in messages:
        out.append(m.content or "")
        for e in m.embeds:
            out += [e.author.name or "", e.title or "", e.description or "", e.footer.text or ""]
            out += [f"{f.name}\n{f.value}" for f in e.fields]
    return "\n".join(out)


def page_text(shown: AnswerPage) -> str:
    assert_valid([shown.message])
    return all_text([shown.message])


def test_answer_shows_quote_speaker_citation_and_footer():
    quote = "There is no military solution to the Libya conflict,"
    r = make_result(quote, speaker="Mike Pompeo")
    shown = render_answer(Answer("what did Pompeo say on April 7?", False, [r]), STATUS)
    text = page_text(shown)
    assert f"> **Mike Pompeo:** “{quote}”" in text
    assert "[Trump appears to contradict his own secretary of state](https://example.com/a)" in text
    assert "Business Insider" in text and "<t:1555588800:D>" in text  # 2019-04-18, noon UTC
    assert "004_x.txt" not in text  # the link names the source; the file only when there is none
    assert shown.sources == [("Source", "https://example.com/a")]
    assert "index of 2 articles, updated 2024-05-01 12:03 UTC" in text
    assert "(reader comment)" not in text
    assert question_from_embeds(shown.message.embeds) == "what did Pompeo say on April 7?"
    # "Context": the short quote in its passage, bolded
    text = page_text(render_answer(Answer("q", False, [r]), STATUS, Page(context=True)))
    assert "Before the quote. **There is no military solution to the Libya conflict,** After the quote." in text


def test_reader_comment_marker_and_no_url():
    r = make_result("This is what a reader thinks about it all.", is_comment=True, url=None)
    shown = render_answer(Answer("q", False, [r]), STATUS)
    text = page_text(shown)
    assert "(reader comment)" in text and "`004_x.txt`" in text
    assert "<http" not in text and shown.sources == []


def test_markdown_in_quotes_is_escaped():
    r = make_result("prices *rose* by 5_000 `units`")
    text = page_text(render_answer(Answer("q", False, [r]), None))
    assert "\\*rose\\*" in text and "5\\_000" in text


def test_abstention_says_so_and_marks_near_misses():
    near = [make_result("Canberra was mentioned once.")]
    answer = Answer("What is the capital of Australia?", True, [], near_misses=near)
    shown = render_answer(answer, STATUS)
    assert [e.description for e in shown.message.embeds] == [f"{ABSTAIN_TEXT}."]  # one short line
    assert shown.has_near and "Canberra" not in page_text(shown)
    text = page_text(render_answer(answer, STATUS, Page(near=True)))
    assert ABSTAIN_TEXT in text and "Closest passages (not an answer):" in text and "Canberra" in text
    # no near misses: still a plain statement, and nothing behind a button
    shown = render_answer(Answer("What is the capital of Australia?", True, []), STATUS, Page(near=True))
    assert ABSTAIN_TEXT in page_text(shown) and not shown.has_near and not shown.page.near


def test_abstention_names_who_no_article_mentions():
    shown = render_answer(Answer("What did Angela_Merkel say?", True, [], unknown_names=["Angela_Merkel"]), STATUS)
    assert f"{ABSTAIN_TEXT}: none of them mentions Angela\\_Merkel." in page_text(shown)


def test_the_lead_first_then_pages_of_three():
    results = [make_result(f"Quote number {i} is here.", path=f"a{i}.txt") for i in range(9)]
    answer = Answer("q", False, results)
    shown = render_answer(answer, STATUS)
    assert shown.pages == 4 and "Quote number 0" in page_text(shown) and "Quote number 1" not in page_text(shown)
    text = page_text(render_answer(answer, STATUS, Page(number=1)))
    assert all(f"Quote number {i}" in text for i in (1, 2, 3)) and "page 2 of 4" in text
    last = render_answer(answer, STATUS, Page(number=99))  # past the end (the index changed): the last page
    assert last.page.number == 3 and "Quote number 8" in page_text(last)


def long_words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i:03d}" for i in range(n))


def test_long_answer_pages_stay_within_limits_and_never_cut_a_quote():
    # Five results with 60-word quotes inside ~180-word passages, long titles and metadata.
    results = []
    for i in range(5):
        quote = long_words(60, f"q{i}w")
        passage = long_words(60, f"b{i}w") + " " + quote + " " + long_words(60, f"a{i}w")
        results.append(make_result(quote, passage, title="T" * 400, source="S" * 200, path=f"p{i}/" + "x" * 250,
                                   speaker="Someone With A Long Name", url="https://example.com/" + "u" * 300))
    answer = Answer("Q" * 3000, False, results)
    for context in (False, True):
        pages = render_answer(answer, STATUS).pages
        assert pages == 2  # the lead (three quotes of one speaker), then the other two
        shown = [render_answer(answer, STATUS, Page(number=n, context=context)) for n in range(pages)]
        texts = [page_text(s) for s in shown]
        for r in results:  # every quote whole, on exactly one page
            marker = f"“{r.quote}”" if not context else f"**{r.quote}**"
            assert sum(t.count(marker) for t in texts) == 1
        assert all(s.message.embeds[-1].footer.text.endswith("updated 2024-05-01 12:03 UTC") for s in shown)


def test_very_many_results_fill_pages_within_limits():
    results = [make_result(long_words(60, f"r{i}x"), path=f"f{i}.txt") for i in range(40)]
    answer = Answer("q", False, results)
    pages = render_answer(answer, STATUS).pages
    assert pages == 1 + 13
    for n in range(pages):
        assert len(render_answer(answer, STATUS, Page(number=n, context=True)).message.embeds) <= 10


def test_a_quote_longer_than_a_description_gets_embeds_of_its_own():
    quote = long_words(900, "w")  # ~4500 characters: breaks the ≤60-word contract, handled anyway
    r = make_result(quote, quote)
    shown = render_answer(Answer("q", False, [r, make_result("Short one here.")]), STATUS)
    words = page_text(shown)
    assert len(shown.message.embeds) >= 2
    assert all(f"w{i:03d}" in words for i in range(900))


def test_pack_respects_total_and_count():
    embeds = [[discord.Embed(description="x" * 1500)] for _ in range(12)]
    msgs = pack(embeds, footer="footer")
    assert_valid(msgs)
    assert [len(m.embeds) for m in msgs] == [3, 3, 3, 3]


def test_sources_lists_count_newest_and_publishers():
    sources = [SourceInfo(f"a{i}.txt", f"Title {i}", "Pub A" if i % 3 else "Pub B", f"2019-04-{10 + i:02d}", None, 3)
               for i in range(8)]
    status = IndexStatus(documents=8, chunks=24, updated_at="2024-05-01T12:03:00+00:00", model="m", sources=sources)
    msgs = render_sources(status)
    assert_valid(msgs)
    text = all_text(msgs)
    assert "**8** articles" in text
    assert "Newest: *Title 7* — Pub A, 2019-04-17" in text
    assert "Pub A: 5" in text and "Pub B: 3" in text


def test_sources_with_thousands_of_articles_stays_within_limits():
    sources = [SourceInfo(f"dir/{i:05d}-" + "n" * 80 + ".txt", "A title " * 15, f"Publisher {i % 400}",
                          "2020-01-01", None, 3) for i in range(3000)]
    status = IndexStatus(documents=3000, chunks=9000, updated_at=None, model="m", sources=sources)
    msgs = render_sources(status)
    assert_valid(msgs)
    assert "more publishers" in all_text(msgs) and "more articles" in all_text(msgs)


def test_empty_index_sources():
    msgs = render_sources(IndexStatus(documents=0, chunks=0, updated_at=None, model="m"))
    assert_valid(msgs)
    assert "Nothing is indexed yet" in all_text(msgs)


def test_index_report_lists_counts_and_skip_reasons():
    report = IndexReport(documents=3, chunks=20, added=1, updated=2, removed=0, unchanged=4,
                         skipped=[Skipped(f"bad{i}.exe", "unsupported file type .exe") for i in range(500)])
    msgs = render_index_report(report, status=STATUS)
    assert_valid(msgs)
    fields = {f.name: f.value for f in msgs[0].embeds[0].fields}
    assert fields == {"Added": "1", "Updated": "2", "Removed": "0", "Unchanged": "4", "Skipped": "500"}
    text = all_text(msgs)
    assert "`bad0.exe`: unsupported file type .exe" in text and "more skipped" in text


def test_help_and_footer_helpers():
    msg = render_help(channels=[123], admin_role="Editors", cooldown=5)
    assert validate_message(msg.to_payload()) is None
    text = all_text([msg])
    for command in ("/ask", "/sources", "/reindex", "/add", "/help"):
        assert command in text
    assert "<#123>" in text and "Editors" in text
    assert footer_text(None) is None
    assert footer_text(IndexStatus(1, 1, None, "m")) == "index of 1 article, updated never"


@pytest.mark.parametrize("n", [0, 1, 5, 10, 300])
def test_clip(n):
    out = clip("word " * 100, n)
    assert len(out) <= n


def test_context_keeps_the_passages_spacing():
    passage = 'He said so. "There is no military solution," Pompeo added. "This is why we press on," he said.'
    r = make_result('"There is no military solution," Pompeo added.', passage)
    text = page_text(render_answer(Answer("q", False, [r]), None, Page(context=True)))
    assert '**"There is no military solution," Pompeo added.** "This is why' in text
    r = make_result("no military solution", passage)
    text = page_text(render_answer(Answer("q", False, [r]), None, Page(context=True)))
    assert '"There is **no military solution**," Pompeo' in text


def test_speaker_date_and_clipped_quote_are_shown():
    r = make_result("we oppose the military offensive", speaker="Mike Pompeo", when="April 7", clipped=True)
    ans = Answer("what did Pompeo say on April 7?", False, [r])
    text = page_text(render_answer(ans, STATUS))
    assert "> **Mike Pompeo, April 7:** “…we oppose the military offensive…”" in text
