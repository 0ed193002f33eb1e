"""The shared presentation of an answer (index/presentation.py): the lead, what is folded, and the details every
front end shows the same way."""
from __future__ import annotations

from newsdesk.index.presentation import by_article, present
from newsdesk.index.records import Answer, OtherSource, Result


def result(quote: str, path: str = "bi.txt", **kw) -> Result:
    passage = f"Earlier words here. {quote} Later words there."
    fields = dict(quote=quote, passage=passage, path=path, start=100 + 20, end=100 + 20 + len(quote),
                  title=f"Title of {path}", source="Business Insider", date="2019-04-18", score=1.0,
                  passage_start=100, passage_end=100 + len(passage))
    fields.update(kw)
    return Result(**fields)


POMPEO_1 = result('"We have made clear that we oppose the military offensive," Pompeo said at the time.',
                  speaker="Mike Pompeo", when="April 7")
POMPEO_2 = result('"There is no military solution to the Libya conflict," Pompeo added.',
                  speaker="Mike Pompeo", when="April 7")
REPORT_1 = result("The alleged endorsement conflicts with existing policy, and comments the Secretary of State "
                  "Mike Pompeo made on April 7 in which he condemned Haftar's forces.")
REPORT_2 = result("The alleged endorsement conflicts with existing policy and comments the Secretary of State Mike "
                  "Pompeo made on April 7, in which he condemned Haftar's forces.")
OTHER = result("The US State Department denounced the violence and urged the factions to negotiate.", path="ac.txt")


def test_lead_holds_the_speakers_statements_and_reports_of_them_are_folded():
    view = present(Answer("What did Pompeo say on April 7?", False, [POMPEO_1, REPORT_1, REPORT_2, POMPEO_2, OTHER]))
    assert [q.text for q in view.lead] == [POMPEO_1.quote, POMPEO_2.quote]
    assert [q.attribution for q in view.lead] == ["Mike Pompeo, April 7"] * 2
    assert [q.text for q in view.rest] == [OTHER.quote]
    assert {(f.quote.text, f.kind, f.of.rank) for f in view.folded} == {(REPORT_1.quote, "report", 1),
                                                                      (REPORT_2.quote, "report", 1)}
    assert view.pages(3) == [view.lead, (view.rest[0],)]
    assert [a.path for a, _ in by_article(view.lead + view.rest)] == ["bi.txt", "ac.txt"]


def test_a_second_wording_of_a_shown_sentence_is_folded_but_a_different_sentence_is_not():
    view = present(Answer("Who condemned Haftar?", False, [REPORT_1, OTHER, REPORT_2]))
    assert [q.text for q in view.lead] == [REPORT_1.quote]  # no speaker: the top result alone
    assert [q.text for q in view.rest] == [OTHER.quote]
    assert [(f.quote.text, f.kind) for f in view.folded] == [(REPORT_2.quote, "duplicate")]


def test_sentences_that_differ_in_a_number_are_two_facts():
    four = result("Four people were killed and 12 wounded in the attack on the capital on Monday night.")
    five = result("Four people were killed and 15 wounded in the attack on the capital on Monday night.")
    view = present(Answer("How many were wounded?", False, [four, five]))
    assert [q.text for q in view.rest] == [five.quote] and view.folded == ()


def test_a_quote_naming_the_speaker_on_another_subject_is_kept():
    other_news = result("Pompeo flew to Brussels for a NATO meeting.")
    view = present(Answer("What did Pompeo say on April 7?", False, [POMPEO_1, other_news]))
    assert [q.text for q in view.rest] == [other_news.quote]


def test_details_decided_once():
    clipped = result("we oppose the military offensive", clipped=True, is_comment=True,
                     also_in=[OtherSource("copy.txt", None, None, None, None, 5, 37)])
    q = present(Answer("q", False, [clipped])).lead[0]
    assert q.quoted == "\u201c\u2026we oppose the military offensive\u2026\u201d"
    assert q.attribution is None and q.is_comment
    assert [(a.path, a.name) for a in q.also_in] == [("copy.txt", "copy.txt")]
    assert q.location == f"bi.txt:{clipped.start}-{clipped.end}"
    ctx = q.context(6)
    assert (ctx.before, ctx.quote, ctx.after) == ("", "we oppose the military offensive", "Later")
    assert ctx.cut_before and ctx.cut_after


def test_abstention_reason_and_near_misses_are_never_the_answer():
    view = present(Answer("What did Angela Merkel say?", True, [], near_misses=[OTHER],
                          unknown_names=["Angela Merkel"]))
    assert view.reason == "none of them mentions Angela Merkel"
    assert view.lead == () and view.pages(3) == [] and [q.text for q in view.near_misses] == [OTHER.quote]
    assert present(Answer("q", True, [])).reason is None


def test_the_terminal_layout_is_unchanged():
    from newsdesk.bot.terminal import render_answer

    copy = OtherSource("copy.txt", "Syndicated", None, None, None, 0, 10)
    r = result("we oppose the military offensive", speaker="Mike Pompeo", when="April 7", clipped=True,
               url="https://example.com/a", also_in=[copy])
    assert render_answer(Answer("q", False, [r, result("A reader's view.", is_comment=True)])) == (
        "1. Mike Pompeo, April 7: \u201c\u2026we oppose the military offensive\u2026\u201d\n"
        f"   \u2014 Title of bi.txt \u00b7 Business Insider \u00b7 2019-04-18 \u00b7 bi.txt:{r.start}-{r.end}\n"
        "   https://example.com/a\n"
        "   also in: Syndicated (copy.txt)\n\n"
        "2. \u201cA reader's view.\u201d (reader comment)\n"
        "   \u2014 Title of bi.txt \u00b7 Business Insider \u00b7 2019-04-18 \u00b7 bi.txt:120-136")
    assert render_answer(Answer("q", True, [], unknown_names=["Angela Merkel"])) == \
        "The sources don't answer that: none of them mentions Angela Merkel."
