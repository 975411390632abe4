"""The glossary: every lesson links to the plain-English meanings of the words it uses."""

from __future__ import annotations

from courses.glossary import glossary, terms_in
from tests.courses.flow import get, join, start, text


def test_every_term_has_a_meaning_and_a_unique_anchor():
    terms = glossary()
    assert len(terms) >= 40
    anchors = [t.anchor for t in terms]
    assert len(set(anchors)) == len(anchors)
    assert all(t.means.strip() for t in terms)


def test_a_lesson_finds_its_words_whole_and_in_any_case():
    found = {t.term for t in terms_in("<p>Our <em>nps</em> rose; the Detractors fell.</p>")}
    assert {"NPS", "detractor"} <= found
    assert "SLA" not in {t.term for t in terms_in("<p>Translation is hard.</p>")}  # not in a word


def test_a_lesson_links_to_the_glossary_entries_of_its_words(app, lti, packs):
    lti.launch_and_follow("learner")
    join(lti)
    start(lti, "basics")
    lesson = get(lti, "/courses/basics/m/nps/formula")
    assert "Words in this lesson" in text(lesson)
    assert 'href="/courses/glossary#g-nps"' in lesson.text
    page = get(lti, "/courses/glossary")
    assert page.status_code == 200
    assert 'id="g-nps"' in page.text and "Net Promoter Score" in text(page)
