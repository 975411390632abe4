"""Reading a rendered knowledge check or quiz as a browser sees it, and filling it in.

Question pages name nothing after the answer key: every name, value and id is an opaque tag of
that render. A test answers the way a person does, by the words on the page: it finds the
control whose label is an option's text (or an ordering item's text) and sends what that
control would send, with the render's hidden ``attempt`` field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Control:
    tag: str  # input | select
    type: str  # radio | checkbox | text | select
    name: str
    value: str
    id: str
    attrs: dict[str, str]
    options: list[str] = field(default_factory=list)  # a select's option values
    label: str = ""


@dataclass
class ShownQuestion:
    legend: str = ""
    controls: list[Control] = field(default_factory=list)


@dataclass
class ShownForm:
    hidden: dict[str, str] = field(default_factory=dict)
    questions: list[ShownQuestion] = field(default_factory=list)

    @property
    def nonce(self) -> str:
        return self.hidden["attempt"]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = ShownForm()
        self.in_form = False
        self.question: ShownQuestion | None = None
        self.in_legend = False
        self.label_for: str | None = None
        self.labels: dict[str, str] = {}
        self.select: Control | None = None
        self.controls: list[Control] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "check-form" in a.get("class", ""):
            self.in_form = True
        if not self.in_form:
            return
        if tag == "fieldset":
            self.question = ShownQuestion()
            self.form.questions.append(self.question)
        elif tag == "legend":
            self.in_legend = True
        elif tag == "label":
            self.label_for = a.get("for", "")
            self.labels[self.label_for] = ""
        elif tag == "input":
            kind = a.get("type", "text")
            if kind == "hidden":
                self.form.hidden[a["name"]] = a.get("value", "")
            elif self.question is not None:
                control = Control("input", kind, a["name"], a.get("value", ""), a.get("id", ""), a)
                self.question.controls.append(control)
                self.controls.append(control)
        elif tag == "select" and self.question is not None:
            self.select = Control("select", "select", a["name"], "", a.get("id", ""), a)
            self.question.controls.append(self.select)
            self.controls.append(self.select)
        elif tag == "option" and self.select is not None:
            self.select.options.append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "fieldset":
            self.question = None
        elif tag == "legend":
            self.in_legend = False
        elif tag == "label":
            self.label_for = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data: str) -> None:
        if self.in_legend and self.question is not None:
            self.question.legend += data
        if self.label_for is not None:
            self.labels[self.label_for] += data


def read_form(html: str) -> ShownForm:
    """The check or quiz form of a page: its hidden fields and each question's controls with
    their labels, in document order."""
    reader = _Reader()
    reader.feed(html)
    for control in reader.controls:
        control.label = " ".join(reader.labels.get(control.id, "").split())
    for question in reader.form.questions:
        question.legend = " ".join(question.legend.split())
    return reader.form


def _by_label(shown: ShownQuestion, text: str) -> Control:
    wanted = " ".join(text.split())
    found = [c for c in shown.controls if c.label == wanted]
    assert len(found) == 1, f"no single control labelled {wanted!r} in {shown.legend!r}"
    return found[0]


def fill(
    form: ShownForm, questions: Sequence[dict[str, Any]], answers: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The form a person sends who answers ``answers`` (the key's terms: option letters for
    choices, the typed text for numbers, positions of the authored items for orderings).
    Letters no option has are sent as they are, as a crafted form would."""
    assert len(form.questions) == len(questions)
    sent: dict[str, list[str]] = {name: [value] for name, value in form.hidden.items()}
    for question, shown in zip(questions, form.questions, strict=True):
        given = answers.get(question["id"])
        if given is None:
            continue
        if question["type"] in ("single", "multiple"):
            letters = [chr(ord("a") + i) for i in range(len(question["options"]))]
            name = shown.controls[0].name
            for letter in given:
                if letter in letters:
                    option = question["options"][letters.index(letter)]
                    control = _by_label(shown, option["text"])
                    sent.setdefault(control.name, []).append(control.value)
                else:
                    sent.setdefault(name, []).append(letter)
        elif question["type"] == "ordering":
            for item, position in zip(question["items"], given, strict=False):
                sent[_by_label(shown, item).name] = [position]
        else:
            sent[shown.controls[0].name] = list(given)
    return sent


def right_answers(questions: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Every question answered right, in the key's terms."""
    answers = {}
    for question in questions:
        if question["type"] in ("single", "multiple"):
            answers[question["id"]] = [
                chr(ord("a") + i) for i, o in enumerate(question["options"]) if o.get("correct")
            ]
        elif question["type"] == "ordering":
            answers[question["id"]] = [str(i + 1) for i in range(len(question["items"]))]
        else:
            answers[question["id"]] = [f"{question['answer']:g}"]
    return answers
