"""Content packs: a course as Markdown and YAML files, validated and turned into one document.

A pack is a folder (or a zip of one) with a ``course.yaml`` at its root; see
``docs/content-packs.md`` for the format. ``load_pack`` either returns a ``Pack`` or raises
``PackInvalid`` listing every problem with its file, line and reason. Nothing here touches the
database or Flask; ``courses.services.import_pack`` stores the result.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from core.questions import question_schema
from core.uploads import zip_refusal
from courses.checks import QUESTION_KINDS, option_ids
from courses.exercises import EXERCISE_KINDS
from courses.markdown import render_markdown

SCHEMA_VERSION = 1
MAX_TEXT_FILE = 200_000
MAX_IMAGE = 1_000_000
MAX_FILES = 400
MAX_PACK_BYTES = 20_000_000
MAX_ZIP_RATIO = 50
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg"}
SLUG = "^[a-z0-9][a-z0-9-]{1,59}$"

_TEXT = {"type": "string", "minLength": 1}
_FILE = {"type": "string", "pattern": r"^[A-Za-z0-9_.\-/]+\.md$"}

COURSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema",
        "slug",
        "version",
        "title",
        "summary",
        "description",
        "modules",
        "exercise",
    ],
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "slug": {"type": "string", "pattern": SLUG},
        "version": {"type": "string", "pattern": r"^\d+\.\d+(\.\d+)?$"},
        "title": {"type": "string", "minLength": 3, "maxLength": 120},
        "summary": {"type": "string", "minLength": 10, "maxLength": 240},
        "description": _TEXT,
        "order": {"type": "integer", "minimum": 0, "maximum": 1000},
        "estimated_minutes": {"type": "integer", "minimum": 5, "maximum": 6000},
        "pass_mark": {"type": "number", "minimum": 0, "maximum": 100},
        "modules": {
            "type": "array",
            "minItems": 1,
            "maxItems": 12,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["slug", "title", "lessons", "example", "check"],
                "properties": {
                    "slug": {"type": "string", "pattern": SLUG},
                    "title": {"type": "string", "minLength": 3, "maxLength": 120},
                    "summary": {"type": "string", "maxLength": 240},
                    "lessons": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 10,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["slug", "title", "file"],
                            "properties": {
                                "slug": {"type": "string", "pattern": SLUG},
                                "title": {"type": "string", "minLength": 3, "maxLength": 120},
                                "file": _FILE,
                            },
                        },
                    },
                    "example": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["title", "file"],
                        "properties": {
                            "title": {"type": "string", "minLength": 3, "maxLength": 120},
                            "file": _FILE,
                        },
                    },
                    "check": {"type": "string", "pattern": r"^[A-Za-z0-9_.\-/]+\.ya?ml$"},
                },
            },
        },
        "exercise": {
            "type": "object",
            "required": ["title", "kind", "file"],
            "properties": {
                "title": {"type": "string", "minLength": 3, "maxLength": 120},
                "kind": {"enum": sorted(EXERCISE_KINDS)},
                "file": _FILE,
                "pass_mark": {"type": "number", "minimum": 0, "maximum": 100},
                "fields": {},
                "rubric": {},
            },
            "additionalProperties": False,
            "allOf": [
                {"if": {"properties": {"kind": {"const": name}}}, "then": kind.schema}
                for name, kind in EXERCISE_KINDS.items()
            ],
        },
    },
}

CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["questions"],
    "properties": {
        "questions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": question_schema(
                id_pattern="^[a-z0-9][a-z0-9_-]{0,39}$",
                explanation_at_least=10,
                more={"points": {"type": "integer", "minimum": 1, "maximum": 10}},
            ),
        }
    },
}


# -- item-writing rules ----------------------------------------------------------------------
#
# Learners who do not know the answer pick the longest or most detailed option, because careless
# item writers make the right answer the one they took most care over. Two measurable rules keep
# options comparable (see docs/content-packs.md, "Item-writing rules"):
#
# * in every choice question, the right options are on average at most RIGHT_OPTION_EXCESS (50%)
#   longer than the wrong ones, in characters; options shorter than SHORT_OPTION_SLACK characters
#   apart always pass, so "9 or 10" against "7 or 8" is fine;
# * in a pack, the right option is strictly the longest in at most LONGEST_RIGHT_SHARE (40%) of
#   single-choice questions (rounded down, but one is always allowed).

RIGHT_OPTION_EXCESS = 0.5
SHORT_OPTION_SLACK = 12
LONGEST_RIGHT_SHARE = 0.4


def option_length_problem(question: Mapping[str, Any]) -> str | None:
    """Why a choice question's right options stand out by length, or None."""
    options = question.get("options") or []
    right = [len(str(o["text"]).strip()) for o in options if o.get("correct")]
    wrong = [len(str(o["text"]).strip()) for o in options if not o.get("correct")]
    if question.get("type") not in ("single", "multiple") or not right or not wrong:
        return None
    mean_right = sum(right) / len(right)
    mean_wrong = sum(wrong) / len(wrong)
    allowed = max(mean_wrong * (1 + RIGHT_OPTION_EXCESS), mean_wrong + SHORT_OPTION_SLACK)
    if mean_right <= allowed:
        return None
    which = "the right option has" if len(right) == 1 else "the right options have on average"
    return (
        f"options differ too much in length: {which} {mean_right:.0f} characters, the wrong "
        f"ones {mean_wrong:.0f} on average (at most {allowed:.0f} allowed); shorten the right "
        "option or make the wrong ones as specific"
    )


def right_is_longest(question: Mapping[str, Any]) -> bool:
    """A single-choice question whose right option is strictly longer than every other."""
    if question.get("type") != "single":
        return False
    right = [len(str(o["text"]).strip()) for o in question["options"] if o.get("correct")]
    wrong = [len(str(o["text"]).strip()) for o in question["options"] if not o.get("correct")]
    return bool(right and wrong) and right[0] > max(wrong)


@dataclass(frozen=True)
class ItemReport:
    """How a set of questions fares against the item-writing rules."""

    single: int = 0
    longest_right: int = 0
    too_long: int = 0
    positions: tuple[int, ...] = ()  # single-choice questions by the right option's position

    @property
    def share(self) -> float:
        return self.longest_right / self.single if self.single else 0.0

    @property
    def allowed(self) -> int:
        return max(1, int(self.single * LONGEST_RIGHT_SHARE + 1e-9))

    @property
    def passes(self) -> bool:
        return self.too_long == 0 and self.longest_right <= self.allowed

    def __add__(self, other: ItemReport) -> ItemReport:
        width = max(len(self.positions), len(other.positions))
        pad = lambda p: p + (0,) * (width - len(p))  # noqa: E731
        return ItemReport(
            self.single + other.single,
            self.longest_right + other.longest_right,
            self.too_long + other.too_long,
            tuple(a + b for a, b in zip(pad(self.positions), pad(other.positions), strict=True)),
        )

    def summary(self) -> str:
        positions = ", ".join(f"{i}: {n}" for i, n in enumerate(self.positions, 1))
        return (
            f"right option longest in {self.longest_right} of {self.single} single-choice "
            f"questions ({self.share:.0%}, at most {LONGEST_RIGHT_SHARE:.0%}); "
            f"{self.too_long} with options of uneven length; "
            f"right option by written position: {positions or 'none'}"
        )


def item_report(questions: Iterable[Mapping[str, Any]]) -> ItemReport:
    """The item-writing report for questions as written in check files (``options`` with
    ``text`` and ``correct``). Pure: no files, no app."""
    single = longest = too_long = 0
    positions: list[int] = []
    for question in questions:
        if question.get("type") not in ("single", "multiple"):
            continue
        too_long += option_length_problem(question) is not None
        if question["type"] != "single":
            continue
        single += 1
        longest += right_is_longest(question)
        index = next((i for i, o in enumerate(question["options"]) if o.get("correct")), None)
        if index is not None:
            positions.extend([0] * (index + 1 - len(positions)))
            positions[index] += 1
    return ItemReport(single, longest, too_long, tuple(positions))


@dataclass(frozen=True)
class PackProblem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.reason}"
            if self.line
            else f"{self.file}: {self.reason}"
        )


class PackInvalid(Exception):
    def __init__(self, origin: str, problems: list[PackProblem]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(
            f"{origin}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems)
        )


@dataclass
class Pack:
    slug: str
    version: str
    title: str
    content_hash: str
    document: dict[str, Any]
    assets: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    origin: str = ""
    items: ItemReport = field(default_factory=ItemReport)


# -- reading files ---------------------------------------------------------------------------


def files_from_directory(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        if path.is_symlink():
            raise PackInvalid(
                str(root), [PackProblem(relative, 0, "symbolic links are not allowed")]
            )
        if path.is_file():
            total += path.stat().st_size
            if len(files) >= MAX_FILES or total > MAX_PACK_BYTES:
                raise PackInvalid(str(root), [PackProblem(relative, 0, "the pack is too large")])
            files[relative] = path.read_bytes()
    return files


def files_from_zip(data: bytes, origin: str = "upload.zip") -> dict[str, bytes]:
    """Read a zipped pack without trusting it: sizes, count, ratio and paths are checked
    before anything is decompressed. A single top folder is stripped."""

    def refuse(reason: str, name: str = "") -> PackInvalid:
        return PackInvalid(origin, [PackProblem(name or origin, 0, reason)])

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise refuse("this is not a zip file") from exc
    refusal = zip_refusal(
        archive, max_files=MAX_FILES, max_bytes=MAX_PACK_BYTES, max_ratio=MAX_ZIP_RATIO
    )
    if refusal:
        raise refuse(*refusal)
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        name = member.filename
        if (
            name.startswith("/")
            or "\\" in name
            or ".." in name.split("/")
            or (member.external_attr >> 16) & 0o170000 == 0o120000
        ):
            raise refuse("unsafe path in the zip", name)
    names = [m.filename for m in members if not m.filename.split("/")[-1].startswith(".")]
    prefix = ""
    if "course.yaml" not in names:
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) == 1 and all("/" in n for n in names):
            prefix = tops.pop() + "/"
    files: dict[str, bytes] = {}
    total = 0
    for member in members:
        name = member.filename
        if not name.startswith(prefix) or name.split("/")[-1].startswith("."):
            continue
        if name.startswith("__MACOSX/"):
            continue
        with archive.open(member) as handle:
            content = handle.read(member.file_size + 1)
        total += len(content)
        if len(content) > member.file_size or total > MAX_PACK_BYTES:
            raise refuse("a file is larger than the zip says", name)
        files[name[len(prefix) :]] = content
    return files


# -- YAML with line numbers ------------------------------------------------------------------


def _line_of(node: yaml.Node | None, path: Iterable[str | int]) -> int:
    """1-based line of the deepest node of ``path`` that exists in the YAML tree."""
    line = node.start_mark.line + 1 if node is not None else 0
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            match = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _path_text(path: Iterable[str | int]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


class _Reader:
    """Collects problems while reading one pack."""

    def __init__(self, files: Mapping[str, bytes], origin: str) -> None:
        self.files = files
        self.origin = origin
        self.problems: list[PackProblem] = []
        self.used: set[str] = set()

    def problem(self, file: str, line: int, reason: str) -> None:
        self.problems.append(PackProblem(file, line, reason))

    def text(self, name: str, referenced_from: str, line: int) -> str | None:
        normal = posixpath.normpath(name)
        if normal.startswith("../") or normal.startswith("/") or normal != name:
            self.problem(referenced_from, line, f"{name!r} must be a plain path inside the pack")
            return None
        data = self.files.get(name)
        if data is None:
            self.problem(referenced_from, line, f"file {name!r} is not in the pack")
            return None
        if len(data) > MAX_TEXT_FILE:
            self.problem(name, 0, f"the file is larger than {MAX_TEXT_FILE:,} bytes")
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_no = data[: exc.start].count(b"\n") + 1
            self.problem(name, line_no, "the file is not UTF-8 text")
            return None
        self.used.add(name)
        return text

    def yaml(self, name: str, referenced_from: str, line: int) -> tuple[Any, yaml.Node | None]:
        text = self.text(name, referenced_from, line)
        if text is None:
            return None, None
        try:
            return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.problem(name, mark.line + 1 if mark else 0, f"not valid YAML: {exc.problem}")
        except yaml.YAMLError as exc:
            self.problem(name, 0, f"not valid YAML: {exc}")
        return None, None

    def validate(
        self, data: Any, node: yaml.Node | None, schema: dict[str, Any], name: str
    ) -> bool:
        errors = sorted(
            Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path)
        )
        for error in errors:
            path = list(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = error.schema.get("properties", {})
                for key in (k for k in error.instance if k not in known):
                    where = _path_text([*path, key])
                    self.problem(name, _line_of(node, [*path, key]), f"{where}: unknown key")
                continue
            where = _path_text(path)
            message = error.message
            self.problem(name, _line_of(node, path), f"{where}: {message}" if where else message)
        return not errors

    def markdown(self, source: str, file: str, line_offset: int = 0) -> str:
        """Render Markdown from ``file`` (a .md file, or text inside a YAML file starting at
        ``line_offset``); images are relative to the file's folder."""
        base = posixpath.dirname(file) if file.endswith(".md") else ""
        rendered = render_markdown(source, line_offset - 1 if line_offset else 0, base)
        for line, reason in rendered.problems:
            self.problem(file, line, reason)
        for path, line in rendered.images:
            self._image(path, file, line)
        return rendered.html

    def _image(self, path: str, file: str, line: int) -> None:
        media = IMAGE_TYPES.get(posixpath.splitext(path)[1].lower())
        data = self.files.get(path)
        if media is None:
            self.problem(file, line, f"image {path!r} must be .svg, .png or .jpg")
        elif data is None:
            self.problem(file, line, f"image {path!r} is not in the pack")
        elif len(data) > MAX_IMAGE:
            self.problem(file, line, f"image {path!r} is larger than {MAX_IMAGE:,} bytes")
        elif media == "image/svg+xml" and re.search(
            rb"<script|\bon[a-z]+\s*=|javascript:|<foreignObject|xlink:href=\"(?!#)|href=\"http",
            data,
            re.IGNORECASE,
        ):
            self.problem(file, line, f"image {path!r} contains script or external references")
        else:
            self.used.add(path)


def load_pack(files: Mapping[str, bytes], origin: str = "pack") -> Pack:
    """Validate a pack and build its document. Raises ``PackInvalid`` with every problem."""
    reader = _Reader(files, origin)
    course, course_node = reader.yaml("course.yaml", origin, 0)
    if course is None:
        if not reader.problems:
            reader.problem("course.yaml", 0, "the file is empty")
        raise PackInvalid(origin, reader.problems)
    if not reader.validate(course, course_node, COURSE_SCHEMA, "course.yaml"):
        raise PackInvalid(origin, reader.problems)

    def at(*path: str | int) -> int:
        return _line_of(course_node, path)

    seen_modules: set[str] = set()
    modules = []
    for m_index, module in enumerate(course["modules"]):
        if module["slug"] in seen_modules:
            reader.problem(
                "course.yaml",
                at("modules", m_index, "slug"),
                f"module slug {module['slug']!r} is used twice",
            )
        seen_modules.add(module["slug"])
        lessons = []
        seen_lessons: set[str] = set()
        for l_index, lesson in enumerate(module["lessons"]):
            where = at("modules", m_index, "lessons", l_index, "file")
            if lesson["slug"] in seen_lessons or lesson["slug"] in ("example", "check"):
                reader.problem(
                    "course.yaml",
                    at("modules", m_index, "lessons", l_index, "slug"),
                    f"lesson slug {lesson['slug']!r} is used twice or reserved",
                )
            seen_lessons.add(lesson["slug"])
            source = reader.text(lesson["file"], "course.yaml", where)
            html = reader.markdown(source, lesson["file"]) if source is not None else ""
            lessons.append({"slug": lesson["slug"], "title": lesson["title"], "html": html})
        example_source = reader.text(
            module["example"]["file"], "course.yaml", at("modules", m_index, "example", "file")
        )
        example = {
            "title": module["example"]["title"],
            "html": reader.markdown(example_source, module["example"]["file"])
            if example_source is not None
            else "",
        }
        check = _load_check(reader, module["check"], at("modules", m_index, "check"))
        modules.append(
            {
                "slug": module["slug"],
                "title": module["title"],
                "summary": module.get("summary", ""),
                "lessons": lessons,
                "example": example,
                "check": check,
            }
        )

    exercise_spec = course["exercise"]
    kind = EXERCISE_KINDS[exercise_spec["kind"]]
    for path, reason in kind.pack_problems(exercise_spec):
        reader.problem("course.yaml", at("exercise", *path), f"exercise: {reason}")
    brief = reader.text(exercise_spec["file"], "course.yaml", at("exercise", "file"))
    exercise = {key: value for key, value in exercise_spec.items() if key not in ("file",)} | {
        "slug": "exercise",
        "brief_html": reader.markdown(brief, exercise_spec["file"]) if brief is not None else "",
        "pass_mark": float(exercise_spec.get("pass_mark", course.get("pass_mark", 70))),
    }
    description_html = reader.markdown(course["description"], "course.yaml", at("description"))
    items = item_report(q for m in modules for q in m["check"]["questions"])
    if items.longest_right > items.allowed:
        reader.problem(
            "course.yaml",
            0,
            f"the right option is the longest in {items.longest_right} of {items.single} "
            f"single-choice questions ({items.share:.0%}); at most {items.allowed} "
            f"({LONGEST_RIGHT_SHARE:.0%}) may be, or length gives the answer away",
        )
    if reader.problems:
        raise PackInvalid(origin, reader.problems)

    digest = hashlib.sha256()
    for name in sorted({"course.yaml", *reader.used}):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    document = {
        "schema": SCHEMA_VERSION,
        "slug": course["slug"],
        "version": course["version"],
        "title": course["title"],
        "summary": course["summary"],
        "description_html": description_html,
        "order": course.get("order", 100),
        "estimated_minutes": course.get("estimated_minutes", 0),
        "pass_mark": float(course.get("pass_mark", 70)),
        "modules": modules,
        "exercise": exercise,
    }
    assets = {
        name: (IMAGE_TYPES[posixpath.splitext(name)[1].lower()], files[name])
        for name in sorted(reader.used)
        if posixpath.splitext(name)[1].lower() in IMAGE_TYPES
    }
    return Pack(
        slug=course["slug"],
        version=course["version"],
        title=course["title"],
        content_hash=digest.hexdigest(),
        document=document,
        assets=assets,
        origin=origin,
        items=items,
    )


def _load_check(reader: _Reader, name: str, line: int) -> dict[str, Any]:
    data, node = reader.yaml(name, "course.yaml", line)
    if data is None:
        if node is None and not any(p.file == name for p in reader.problems):
            reader.problem(name, 0, "the file is empty")
        return {"questions": []}
    if not reader.validate(data, node, CHECK_SCHEMA, name):
        return {"questions": []}
    questions = []
    seen: set[str] = set()
    for index, question in enumerate(data["questions"]):
        if question["id"] in seen:
            reader.problem(
                name,
                _line_of(node, ["questions", index, "id"]),
                f"question id {question['id']!r} is used twice",
            )
        seen.add(question["id"])
        kind = QUESTION_KINDS[question["type"]]
        for path, reason in kind.pack_problems(question):
            reader.problem(name, _line_of(node, ["questions", index, *path]), reason)
        uneven = option_length_problem(question)
        if uneven:
            reader.problem(name, _line_of(node, ["questions", index, "options"]), uneven)
        prompt_line = _line_of(node, ["questions", index, "prompt"])
        entry: dict[str, Any] = {
            "id": question["id"],
            "type": question["type"],
            "points": question.get("points", 1),
            "prompt_html": reader.markdown(question["prompt"], name, prompt_line),
            "explanation_html": reader.markdown(
                question["explanation"], name, _line_of(node, ["questions", index, "explanation"])
            ),
        }
        if "options" in question:
            entry["options"] = [
                {"id": oid, "text": option["text"], "correct": bool(option.get("correct"))}
                for oid, option in zip(option_ids(question), question["options"], strict=True)
            ]
        for key in ("answer", "tolerance", "unit", "items"):
            if key in question:
                entry[key] = question[key]
        questions.append(entry)
    return {"questions": questions}


def load_directory(root: Path) -> Pack:
    return load_pack(files_from_directory(root), origin=root.name)


def pack_directories(content_root: Path) -> list[Path]:
    """Every folder under ``content_root`` that holds a ``course.yaml``."""
    return sorted(p.parent for p in content_root.glob("*/course.yaml"))


if __name__ == "__main__":  # python -m courses.pack FOLDER…: validate packs without the app
    import sys

    failed = False
    for folder in sys.argv[1:]:
        try:
            pack = load_directory(Path(folder))
        except PackInvalid as exc:
            failed = True
            print(exc)
        else:
            modules = len(pack.document["modules"])
            print(f"{folder}: ok ({pack.slug} {pack.version}, {modules} modules)")
            print(f"  item writing: {pack.items.summary()}")
    sys.exit(1 if failed else 0)
