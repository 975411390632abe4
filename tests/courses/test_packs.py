"""Content packs: the built-in curriculum is complete and correct; a malformed pack is refused
with file, line and reason."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from courses.exercises import rubric_problems
from courses.pack import (
    PackInvalid,
    files_from_directory,
    files_from_zip,
    item_report,
    load_directory,
    load_pack,
    option_length_problem,
    pack_directories,
)

CONTENT = Path(__file__).parents[2] / "courses" / "content"
BASICS = Path(__file__).parents[1] / "data" / "packs" / "basics"
CURRICULUM = {
    "net-promoter-score": "numeric",
    "csat-ces-qci": "numeric",
    "six-sigma-dmaic": "review",
    "pdca-continuous-improvement": "review",
    "customer-journey-mapping": "experience-map",
    "skills-of-great-service": "review",
    "complaint-handling": "review",
    "running-a-quality-programme": "review",
}


@pytest.mark.parametrize("slug", sorted(CURRICULUM))
def test_the_built_in_courses_are_complete(slug):
    pack = load_directory(CONTENT / slug)
    modules = pack.document["modules"]
    assert 3 <= len(modules) <= 6
    for module in modules:
        assert module["lessons"], module["slug"]
        assert all(len(lesson["html"]) > 800 for lesson in module["lessons"]), module["slug"]
        assert len(module["example"]["html"]) > 400
        questions = module["check"]["questions"]
        assert len(questions) >= 3
        assert all(q["explanation_html"] for q in questions)
    assert pack.document["exercise"]["kind"] == CURRICULUM[slug]
    assert {p.name for p in pack_directories(CONTENT)} >= set(CURRICULUM)


def _first_table(markdown: str) -> list[list[str]]:
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    return [[cell.strip() for cell in ln.strip("|").split("|")] for ln in lines if "---" not in ln]


def test_the_nps_exercise_answers_follow_from_its_data():
    """Recompute the exercise from the counts in its brief, independently of the pack's key."""
    root = CONTENT / "net-promoter-score"
    header, counts = _first_table((root / "exercise.md").read_text())
    by_score = {int(s): int(n) for s, n in zip(header[1:], counts[1:], strict=True)}
    total = sum(by_score.values())
    promoters = sum(n for s, n in by_score.items() if s >= 9)
    passives = sum(n for s, n in by_score.items() if s in (7, 8))
    detractors = total - promoters - passives
    moved = int(re.search(r"\*\*(\d+) of the passives\*\*", (root / "exercise.md").read_text())[1])
    expected = {
        "promoters_pct": 100 * promoters / total,
        "passives_pct": 100 * passives / total,
        "detractors_pct": 100 * detractors / total,
        "nps": 100 * (promoters - detractors) / total,
        "nps_after": 100 * (promoters + moved - detractors) / total,
    }
    fields = {f["id"]: f for f in load_directory(root).document["exercise"]["fields"]}
    for field_id, value in expected.items():
        assert abs(fields[field_id]["answer"] - value) <= fields[field_id].get("tolerance", 0), (
            field_id
        )


def _problems(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(PackInvalid) as caught:
        load_pack(files, "broken")
    return [str(p) for p in caught.value.problems]


def _basics() -> dict[str, bytes]:
    return files_from_directory(BASICS)


def test_a_missing_file_is_named_with_the_line_that_references_it():
    files = _basics()
    del files["m1/groups.md"]
    assert _problems(files) == ["course.yaml:23: file 'm1/groups.md' is not in the pack"]


def test_broken_yaml_reports_its_line():
    files = _basics()
    files["m1/check.yaml"] = b"questions:\n  - id: q1\n    type: [single\n"
    (problem,) = _problems(files)
    assert problem.startswith("m1/check.yaml:4: not valid YAML")


def test_schema_errors_point_at_the_offending_key():
    files = _basics()
    text = files["course.yaml"].decode()
    text = text.replace("pass_mark: 70", "pass_mark: 170\ncolour: blue")
    files["course.yaml"] = text.encode()
    problems = _problems(files)
    assert problems == [
        "course.yaml:14: colour: unknown key",
        "course.yaml:13: pass_mark: 170 is greater than the maximum of 100",
    ]


def test_answer_keys_that_make_no_sense_are_refused():
    files = _basics()
    files["m1/check.yaml"] = files["m1/check.yaml"].replace(
        b'      - text: "7"\n      - text: "5"',
        b'      - text: "7"\n        correct: true\n      - text: "5"',
    )
    assert _problems(files) == [
        "m1/check.yaml:6: a single-choice question needs exactly one correct option, found 2"
    ]


def test_images_need_alt_text_and_no_script():
    files = _basics()
    files["m1/scales.md"] = files["m1/scales.md"].replace(b"![The scale coloured by group]", b"![]")
    files["m1/scale.svg"] = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    problems = _problems(files)
    assert "m1/scales.md:5: image 'scale.svg' needs alt text for screen readers" in problems
    assert "m1/scales.md:5: image 'm1/scale.svg' contains script or external references" in problems


def test_every_problem_is_reported_at_once():
    files = _basics()
    del files["m1/groups.md"]
    del files["m2/formula.md"]
    assert len(_problems(files)) == 2


def _zip(entries: dict[str, bytes], *, compress=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_with_a_top_folder_loads():
    files = _basics()
    pack = load_pack(files_from_zip(_zip({f"basics/{k}": v for k, v in files.items()})))
    assert pack.slug == "basics" and "m1/scale.svg" in pack.assets


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ({"../evil.md": b"x"}, "unsafe path in the zip"),
        ({"/etc/passwd": b"x"}, "unsafe path in the zip"),
        ({"course.yaml": b"a" * 5_000_000}, "compresses suspiciously well"),
    ],
)
def test_hostile_zips_are_refused_before_unpacking(entries, reason):
    with pytest.raises(PackInvalid) as caught:
        files_from_zip(_zip(entries))
    assert reason in str(caught.value)


def test_not_a_zip():
    with pytest.raises(PackInvalid, match="this is not a zip file"):
        files_from_zip(b"PK but not really")


# -- item-writing rules ----------------------------------------------------------------------


def _single(right: str, *wrong: str) -> dict:
    return {
        "type": "single",
        "options": [{"text": right, "correct": True}, *({"text": w} for w in wrong)],
    }


def test_a_right_option_much_longer_than_the_distractors_is_a_problem():
    uneven = _single("A" * 90, "B" * 50, "C" * 50)  # allowed: 50 * 1.5 = 75
    assert "90 characters, the wrong ones 50 on average (at most 75" in option_length_problem(
        uneven
    )
    assert option_length_problem(_single("A" * 75, "B" * 50, "C" * 50)) is None
    # Short options may differ by a few characters: "9 or 10" against "7 or 8" is fine.
    assert option_length_problem(_single("9 or 10", "7 or 8", "0 to 6")) is None
    multiple = {
        "type": "multiple",
        "options": [
            {"text": "A" * 60, "correct": True},
            {"text": "B" * 20, "correct": True},
            {"text": "C" * 30},
        ],
    }
    assert option_length_problem(multiple) is None  # right options average 40 ≤ 45
    assert option_length_problem({"type": "numeric", "answer": 3}) is None


def test_the_report_counts_longest_right_options_and_their_positions():
    questions = [
        _single("longest of all", "short", "tiny"),
        {"type": "single", "options": [{"text": "same"}, {"text": "size", "correct": True}]},
        _single("mid", "longer one", "x"),
        {"type": "numeric", "answer": 1},
    ]
    report = item_report(questions)
    assert (report.single, report.longest_right, report.too_long) == (3, 1, 0)
    assert report.positions == (2, 1) and report.allowed == 1 and report.passes
    assert round(report.share, 3) == 0.333
    both = report + item_report([_single("x" * 40, "y")])
    assert (both.single, both.longest_right, both.too_long, both.positions) == (4, 2, 1, (3, 1))
    assert not both.passes


def test_a_pack_whose_right_options_are_too_often_the_longest_is_refused():
    files = _basics()
    files["m1/check.yaml"] = b"questions:\n" + b"".join(
        f"  - id: q{i}\n    type: single\n    prompt: Question {i}?\n    options:\n"
        f"      - text: the right and longer answer\n        correct: true\n"
        f"      - text: a wrong answer here\n"
        f"    explanation: Because it is so.\n".encode()
        for i in range(5)
    )
    problems = _problems(files)
    assert problems == [
        "course.yaml: the right option is the longest in 6 of 6 single-choice questions "
        "(100%); at most 2 (40%) may be, or length gives the answer away"
    ]


def test_uneven_options_are_reported_with_their_line():
    files = _basics()
    files["m1/check.yaml"] = files["m1/check.yaml"].replace(
        b'      - text: "9"\n', b'      - text: "9, the only score that makes a promoter here"\n'
    )
    problems = _problems(files)
    assert problems[0].startswith("m1/check.yaml:6: options differ too much in length")
    assert problems[1].startswith("course.yaml: the right option is the longest in 2 of 2")


def test_the_curriculum_passes_the_item_writing_rules():
    total = None
    for slug in CURRICULUM:
        report = load_directory(CONTENT / slug).items
        assert report.passes, (slug, report.summary())
        total = report if total is None else total + report
    assert total.too_long == 0 and total.share <= 0.4, total.summary()


def test_every_trainer_graded_exercise_has_level_descriptors():
    for slug, kind in CURRICULUM.items():
        exercise = load_directory(CONTENT / slug).document["exercise"]
        for criterion in exercise.get("rubric", []) if kind != "numeric" else []:
            levels = [level["points"] for level in criterion.get("levels", [])]
            assert levels[0] == criterion["points"] and levels[-1] == 0, (slug, criterion["id"])


def test_level_descriptors_must_run_from_the_points_down_to_zero():
    spec = {
        "rubric": [
            {"id": "a", "label": "A", "points": 4, "levels": [{"points": 4}, {"points": 0}]},
            {"id": "b", "label": "B", "points": 4, "levels": [{"points": 3}, {"points": 0}]},
            {"id": "c", "label": "C", "points": 2, "levels": [{"points": 0}, {"points": 2}]},
        ]
    }
    assert rubric_problems(spec) == [
        (["rubric", 1, "levels"], "levels must run from 4 points down to 0"),
        (["rubric", 2, "levels"], "levels must be listed highest first, each points value once"),
    ]
