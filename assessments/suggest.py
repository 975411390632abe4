"""Suggested rubric levels for an agent's conversation, each with the spans that justify it.

A plain module: no Flask, no database. ``suggest(transcript)`` returns one ``Suggestion`` per
criterion of the built-in rubric (empathy, active listening, patience, positive language,
adaptability): a level 1 to 4, the reasons in words, and the exact spans (turn, start, end) of the
agent's or customer's words behind each reason. Suggestions are explained, never final: a
grader confirms or changes every level.

The signals are deliberately simple and visible: phrase patterns a trainer can read, the
overlap between what the customer said and how the agent restated it, VADER sentiment of the
agent's turns (a lexicon shipped with the package; nothing is downloaded), and the length and
register of turns for the channel. ``docs/benchmarks.md`` reports how often they agree with
human graders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assessments.transcripts import AGENT, CUSTOMER, Transcript, Turn

CRITERIA = ("empathy", "active_listening", "patience", "positive_language", "adaptability")


@dataclass(frozen=True)
class Evidence:
    turn: int
    start: int
    end: int
    text: str
    note: str
    supports: bool = True  # False: evidence against a higher level


@dataclass
class Suggestion:
    criterion: str
    level: int
    reasons: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


def _pattern(*phrases: str) -> re.Pattern[str]:
    """Phrases as one pattern, matched against lower-cased text (faster than IGNORECASE)."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


ACKNOWLEDGE = _pattern(
    r"i'?m (?:so |really |very |truly )?sorry",
    r"i apologi[sz]e",
    r"sorry (?:to hear|about)",
    r"i (?:completely |totally |fully )?understand",
    r"i can (?:see|imagine|hear|understand)",
    r"that must (?:be|have been)",
    r"that sounds",
    r"i appreciate",
    r"i hear you",
    r"thank you for (?:your patience|bearing with|explaining|letting)",
)
FEELING = _pattern(
    r"frustrat\w*",
    r"annoy\w*",
    r"upset\w*",
    r"worr\w*",
    r"stress\w*",
    r"disappoint\w*",
    r"angry",
    r"anger",
    r"infuriat\w*",
    r"confus\w*",
    r"anxious",
    r"scared",
    r"distress\w*",
    r"exasperat\w*",
    r"fed up",
    r"inconvenien\w*",
    r"hassle",
    r"difficult time",
    r"hard time",
    r"unsettling",
    r"awful",
    r"terrible",
    r"loss",
    r"grief",
    r"heartbreaking",
)
CUSTOMER_FEELING = _pattern(
    r"frustrat\w*",
    r"annoy\w*",
    r"upset",
    r"worried",
    r"stressed",
    r"disappointed",
    r"angry",
    r"furious",
    r"ridiculous",
    r"unacceptable",
    r"fed up",
    r"sick of",
    r"confused",
    r"don'?t understand",
    r"useless",
    r"disgusted",
    r"scared",
    r"panic\w*",
    r"passed away",
    r"died",
    r"third time",
    r"again",
    r"still",
)
PARAPHRASE = _pattern(
    r"so (?:what )?you(?:'re| are| have|'ve| need| want| were)",
    r"if i(?:'ve| have)? understand",
    r"just to (?:confirm|check|make sure|clarify)",
    r"to make sure i",
    r"you mentioned",
    r"you said",
    r"what you'?re saying",
    r"let me (?:check|make sure) i(?:'ve| have)",
    r"am i right",
    r"if i(?:'ve| have) got (?:this|that) right",
    r"so the (?:issue|problem) is",
)
CONFIRM = _pattern(
    r"is that right",
    r"is that correct",
    r"does that (?:help|make sense|sound|work|answer)",
    r"has that (?:helped|sorted|solved|fixed)",
    r"did that (?:work|help)",
    r"anything else",
    r"is there anything",
    r"have i answered",
    r"does that cover",
)
CLARIFY = re.compile(
    r"\b(?:could you|can you|would you|when did|which|what (?:exactly|happens|error|did|time|"
    r"date)|how (?:long|often|many)|do you (?:know|remember|have|see))\b[^?]{0,120}\?",
    re.IGNORECASE,
)
REPEATED = _pattern(
    r"as i (?:said|told you|mentioned|already)",
    r"i (?:already|just) (?:told|said|gave|explained)",
    r"i'?ve (?:already|just) (?:told|said|given|explained)",
    r"(?:asked|told you) (?:that )?already",
    r"you'?re not listening",
    r"are you (?:even )?listening",
    r"read my (?:message|email)",
)
IMPATIENT = _pattern(
    r"as i (?:already )?(?:said|explained|told you)",
    r"like i said",
    r"i(?:'ve| have) already (?:said|explained|told)",
    r"calm down",
    r"obviously",
    r"clearly",
    r"i don'?t have time",
    r"hurry",
    r"as stated",
    r"listen",
    r"you (?:need|have) to understand",
    r"for the (?:second|third|last) time",
    r"let me finish",
    r"can i finish",
    r"please stop",
)
PATIENT = _pattern(
    r"take your time",
    r"no rush",
    r"no hurry",
    r"no problem at all",
    r"that'?s (?:ok|okay|fine|alright)",
    r"happy to (?:explain|go through|walk you|help)",
    r"let me explain (?:that )?(?:again|another way|differently)",
    r"in other words",
    r"step by step",
    r"one (?:step|thing) at a time",
    r"don'?t worry",
    r"of course",
    r"whenever you'?re ready",
    r"i'?ll (?:wait|hold on|stay on the line)",
    r"let'?s go through",
    r"put (?:it|that) another way",
)
CUSTOMER_CUT_OFF = _pattern(
    r"let me finish",
    r"you (?:cut|interrupt)\w* me",
    r"stop interrupting",
    r"you'?re rushing",
    r"slow down",
    r"hang on",
    r"wait,? (?:i|let)",
)
NEGATIVE = _pattern(
    r"can'?t",
    r"cannot",
    r"unable",
    r"not (?:possible|able|allowed|permitted)",
    r"won'?t",
    r"impossible",
    r"no way",
    r"policy",
    r"unfortunately",
    r"nothing (?:i|we) can",
    r"your fault",
    r"you should have",
    r"you (?:failed|forgot|didn'?t)",
    r"not my (?:problem|job)",
    r"there'?s nothing",
    r"not (?:our|my) responsibility",
    r"you (?:need|have) to",
    r"that'?s not how",
    r"refuse",
    r"denied",
)
POSITIVE = _pattern(
    r"what i can do",
    r"i can(?! (?:hear|see|imagine|understand))",
    r"i will",
    r"i'?ll",
    r"happy to",
    r"glad to",
    r"pleased to",
    r"let'?s",
    r"the good news",
    r"you can",
    r"an option",
    r"options",
    r"instead",
    r"alternatively",
    r"i'?d be (?:happy|glad)",
    r"right away",
    r"straight away",
    r"here'?s what",
    r"the best way",
    r"i'?ve (?:arranged|sorted|booked|sent|added|applied)",
)
JARGON = _pattern(
    r"dns",
    r"sla",
    r"ont",
    r"mac address",
    r"firmware",
    r"provisioning",
    r"tier \d",
    r"escalat\w+ (?:to|the) (?:tier|level)",
    r"ticket (?:id|number)",
    r"authentication token",
    r"ip address",
    r"bandwidth",
    r"latency",
    r"packet loss",
    r"backend",
    r"sync(?:ing|hronis\w+)?",
    r"cache",
    r"reference code",
    r"chargeback",
    r"pro rata",
    r"api",
    r"cookies",
)
CONFUSED = _pattern(
    r"don'?t understand",
    r"what does (?:that|this) mean",
    r"confus\w*",
    r"not (?:very )?good with",
    r"no idea",
    r"lost me",
    r"what'?s (?:a|an|that)",
    r"i'?m not (?:technical|techy)",
    r"pardon",
    r"sorry,? what",
    r"come again",
    r"not sure what",
)
ADAPT = _pattern(
    r"call you back",
    r"ring you",
    r"send you (?:a|the) link",
    r"(?:text|email) you",
    r"would you (?:prefer|like me to)",
    r"step by step",
    r"in plain",
    r"simply put",
    r"in other words",
    r"let me put",
    r"stay on the line",
    r"walk you through",
    r"screenshot",
    r"shall i",
    r"if it'?s easier",
    r"whatever suits",
)
INFORMAL = _pattern(
    r"hiya",
    r"hey",
    r"lol",
    r"u",
    r"ur",
    r"pls",
    r"plz",
    r"thx",
    r"cheers",
    r"gonna",
    r"wanna",
    r"ya",
    r"mate",
    r"omg",
)
FORMAL = _pattern(
    r"dear",
    r"kind regards",
    r"yours (?:sincerely|faithfully)",
    r"i am writing",
    r"furthermore",
    r"please be advised",
    r"pursuant",
    r"hereby",
    r"aforementioned",
    r"we regret to inform",
)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "i'm",
        "if",
        "in",
        "is",
        "it",
        "it's",
        "its",
        "just",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yes",
        "hi",
        "hello",
        "thanks",
        "thank",
        "please",
        "okay",
        "ok",
        "get",
        "got",
        "im",
        "ive",
        "dont",
        "can't",
        "cant",
    ]
)
WORD = re.compile(r"[a-z']+")


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, float]:
    """VADER's valence lexicon (shipped with the package)."""
    return SentimentIntensityAnalyzer().lexicon


NEGATIONS = frozenset((
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "can't",
    "won't", "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "weren't", "shouldn't",
    "wouldn't", "couldn't", "hasn't", "haven't", "hadn't",
))  # fmt: skip
TONE_WORD = re.compile(r"[a-z][a-z']*")
FEELING_STEMS = (
    "frustrat", "annoy", "upset", "worr", "stress", "disappoint", "angry", "anger", "infuriat",
    "confus", "anxious", "scared", "distress", "exasperat", "inconvenien", "awful", "terrible",
    "horrible", "loss", "grief", "sad", "sorry", "hate",
)  # fmt: skip


def tone(text: str) -> float:
    """Sentiment of a turn from VADER's lexicon: the mean valence of its sentiment words, a
    word's valence flipped (and damped, as VADER does) within three words after a negation,
    normalised to -1..1 the way VADER normalises. The full VADER rule engine costs about
    0.4 ms per long turn, which alone would halve the engine's throughput; this keeps its
    lexicon and its most important rule."""
    lexicon = _lexicon()
    words = TONE_WORD.findall(text.lower())
    total, since_negation = 0.0, 99
    for word in words:
        if word in NEGATIONS:
            since_negation = 0
            continue
        since_negation += 1
        if word.startswith(FEELING_STEMS):
            continue  # naming the customer's feeling is empathy, not a negative tone
        valence = lexicon.get(word)
        if valence is not None:
            total += valence * (-0.74 if since_negation <= 3 else 1.0)
    return total / (total * total + 15) ** 0.5


def _spans(pattern: re.Pattern[str], turns: Iterable[tuple[int, Turn]], note: str,
           supports: bool = True) -> list[Evidence]:  # fmt: skip
    found = []
    for index, turn in turns:
        lower = turn.text.lower()
        target, compiled = lower, pattern
        if len(lower) != len(turn.text):  # rare letters whose lower case is longer
            target, compiled = turn.text, re.compile(pattern.pattern, re.IGNORECASE)
        for m in compiled.finditer(target):
            text = turn.text[m.start() : m.end()]
            found.append(Evidence(index, m.start(), m.end(), text, note, supports))
    return found


def _content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if len(w) > 3 and w not in STOPWORDS}


@dataclass
class _Conversation:
    transcript: Transcript
    agent: list[tuple[int, Turn]]
    customer: list[tuple[int, Turn]]

    @classmethod
    def of(cls, transcript: Transcript) -> _Conversation:
        turns = list(enumerate(transcript.turns))
        return cls(
            transcript,
            [(i, t) for i, t in turns if t.speaker == AGENT],
            [(i, t) for i, t in turns if t.speaker == CUSTOMER],
        )

    def previous_customer(self, index: int) -> tuple[int, Turn] | None:
        for i in range(index - 1, -1, -1):
            if self.transcript.turns[i].speaker == CUSTOMER:
                return i, self.transcript.turns[i]
        return None


def _clamp(level: float) -> int:
    return max(1, min(4, round(level)))


def _empathy(c: _Conversation) -> Suggestion:
    s = Suggestion("empathy", 1)
    acknowledgements = _spans(ACKNOWLEDGE, c.agent, "acknowledges the customer")
    feelings = _spans(FEELING, c.agent, "names the customer's feeling or its cause")
    upset = _spans(CUSTOMER_FEELING, c.customer, "the customer shows how they feel", supports=False)
    feeling_turns = {e.turn for e in feelings}
    ack_turns = {e.turn for e in acknowledgements}
    s.evidence = acknowledgements + feelings + upset[:3]
    if feeling_turns and (ack_turns or len(feeling_turns) > 1):
        s.level = 4 if len(feeling_turns | ack_turns) >= 3 and len(feeling_turns) >= 2 else 3
        s.reasons.append(
            f"Names how the customer feels in {len(feeling_turns)} turn(s)"
            + (" and keeps acknowledging it." if s.level == 4 else ".")
        )
    elif ack_turns or feeling_turns:
        s.level = 2
        s.reasons.append("Acknowledges the situation, but does not name how the customer feels.")
    else:
        s.reasons.append(
            "Never acknowledges the customer's situation or feelings"
            + (", although the customer shows them." if upset else ".")
        )
    return s


def _active_listening(c: _Conversation) -> Suggestion:
    s = Suggestion("active_listening", 1)
    paraphrases = _spans(PARAPHRASE, c.agent, "restates what the customer said")
    echoes: list[Evidence] = []
    for index, turn in c.agent:
        previous = c.previous_customer(index)
        if previous is None:
            continue
        shared = _content_words(turn.text) & _content_words(previous[1].text)
        if len(shared) >= 3:
            word = sorted(shared, key=len)[-1]
            start = turn.text.lower().find(word)
            echoes.append(
                Evidence(
                    index,
                    start,
                    start + len(word),
                    word,
                    f"uses the customer's own words ({', '.join(sorted(shared)[:4])})",
                )
            )
    clarifying = [
        Evidence(i, m.start(), m.end(), m.group(), "asks a clarifying question")
        for i, t in c.agent for m in CLARIFY.finditer(t.text)
    ]  # fmt: skip
    confirming = _spans(CONFIRM, c.agent, "checks understanding or the outcome")
    repeated = _spans(REPEATED, c.customer, "the customer had to repeat themselves", supports=False)
    s.evidence = paraphrases + echoes[:3] + clarifying[:3] + confirming + repeated
    level = 1.0
    if paraphrases or len(echoes) >= 2:
        level += 1
        s.reasons.append("Restates the customer's issue in their words.")
    elif echoes:
        level += 0.5
        s.reasons.append("Picks up some of the customer's words.")
    if clarifying:
        level += 0.75
        s.reasons.append("Asks clarifying questions before acting.")
    if confirming:
        level += 0.75
        s.reasons.append("Confirms understanding or checks the outcome meets the need.")
    if repeated:
        level -= 1
        s.reasons.append("The customer had to repeat information or say they were not heard.")
    if not s.reasons:
        s.reasons.append("No sign of restating, clarifying or confirming what the customer said.")
    s.level = _clamp(level)
    return s


def _patience(c: _Conversation) -> Suggestion:
    s = Suggestion("patience", 3)
    impatient = _spans(IMPATIENT, c.agent, "sounds impatient", supports=False)
    cut_off = _spans(
        CUSTOMER_CUT_OFF, c.customer, "the customer feels rushed or cut off", supports=False
    )
    patient = _spans(PATIENT, c.agent, "calm, unhurried reassurance")
    rushed: list[Evidence] = []
    turns = c.transcript.turns
    for index, turn in c.agent:
        if index and turns[index - 1].speaker == CUSTOMER and turn.at is not None:
            before = turns[index - 1]
            if (
                before.at is not None
                and len(before.text.split()) > 25
                and 0 <= turn.at - before.at <= 2
            ):
                rushed.append(
                    Evidence(
                        index,
                        0,
                        min(len(turn.text), 40),
                        turn.text[:40],
                        "answers a long message within two seconds",
                        False,
                    )
                )
    short_to_repeats = [
        Evidence(i, 0, len(t.text), t.text, "a clipped answer to a repeated question", False)
        for i, t in c.agent
        if len(t.text.split()) <= 4 and (prev := c.previous_customer(i)) is not None
        and (REPEATED.search(prev[1].text.lower()) or CONFUSED.search(prev[1].text.lower()))
    ]  # fmt: skip
    s.evidence = impatient + cut_off + rushed + short_to_repeats + patient
    against = len(impatient) + len(cut_off) + len(rushed) + len(short_to_repeats)
    if against >= 2 or cut_off:
        s.level = 1
        s.reasons.append(
            "Rushes or shows irritation: "
            + "; ".join(e.text for e in s.evidence if not e.supports)[:120]
        )
    elif against == 1:
        s.level = 2
        s.reasons.append("Mostly polite, but one impatient moment.")
    elif len({e.turn for e in patient}) >= 2:
        s.level = 4
        s.reasons.append("Stays calm and reassuring, and explains again without hurrying.")
    else:
        s.reasons.append(
            "Lets the customer finish; no sign of rushing."
            if patient
            else "No sign of rushing or irritation."
        )
    return s


def _positive_language(c: _Conversation) -> Suggestion:
    s = Suggestion("positive_language", 2)
    negative = _spans(NEGATIVE, c.agent, "says what cannot be done", supports=False)
    positive = _spans(POSITIVE, c.agent, "says what can be done")
    scores = [tone(t.text) for _, t in c.agent]
    mean_tone = sum(scores) / len(scores) if scores else 0.0
    s.evidence = positive + negative
    share = len(positive) / (len(positive) + len(negative)) if positive or negative else 0.5
    level = 1 + 2.5 * share + (0.5 if mean_tone > 0.3 else -0.5 if mean_tone < -0.1 else 0)
    s.level = _clamp(level)
    mood = "positive" if mean_tone > 0.3 else "negative" if mean_tone < -0.1 else "neutral"
    s.reasons.append(
        f"{len(positive)} phrase(s) about what can be done, {len(negative)} about what cannot; "
        f"the agent's tone is {mood} (VADER lexicon {mean_tone:+.2f})."
    )
    return s


def _adaptability(c: _Conversation) -> Suggestion:
    s = Suggestion("adaptability", 2)
    channel = c.transcript.channel
    lengths = [len(t.text.split()) for _, t in c.agent]
    mean = sum(lengths) / len(lengths) if lengths else 0
    longest = max(lengths, default=0)
    level = 2.0
    if channel == "chat":
        fits = mean <= 45 and longest <= 90
        s.reasons.append("Turn length fits chat." if fits else "Long blocks of text for a chat.")
    elif channel == "call":
        fits = mean <= 60
        s.reasons.append(
            "Spoken turns are of a manageable length." if fits else "Long spoken explanations."
        )
    else:
        fits = any(re.search(r"\b(?:hi|hello|dear)\b", t.text, re.I) for _, t in c.agent)
        s.reasons.append(
            "Greets and structures the email." if fits else "The email lacks a greeting."
        )
    level += 0.75 if fits else -0.5
    adapt = _spans(ADAPT, c.agent, "adapts the method to the customer")
    confused = _spans(CONFUSED, c.customer, "the customer is confused", supports=False)
    jargon = _spans(JARGON, c.agent, "jargon", supports=False)
    informal_customer = sum(
        1 for _ in (m for _, t in c.customer for m in INFORMAL.finditer(t.text.lower()))
    )
    formal_agent = _spans(FORMAL, c.agent, "formal register", supports=False)
    s.evidence = adapt + confused + jargon + formal_agent
    if adapt:
        level += 1
        s.reasons.append("Offers a different way when that suits the customer better.")
    if confused and jargon:
        level -= 1
        s.reasons.append("Uses jargon with a customer who is confused.")
    elif confused and not adapt:
        level -= 0.5
        s.reasons.append("Does not change approach when the customer is confused.")
    if informal_customer >= 2 and formal_agent and channel == "chat":
        level -= 0.5
        s.reasons.append("Answers a casual chat in a stiff, formal register.")
    s.level = _clamp(level)
    return s


def suggest(transcript: Transcript) -> list[Suggestion]:
    """Suggested levels for the five criteria of the built-in rubric."""
    conversation = _Conversation.of(transcript)
    return [
        _empathy(conversation),
        _active_listening(conversation),
        _patience(conversation),
        _positive_language(conversation),
        _adaptability(conversation),
    ]
