"""What the agent did in a conversation, as numbers a model can weigh, each with the exact words
it rests on. A plain module: no Flask, no database, no model.

Every feature follows a descriptor of the built-in rubric (``assessments/rubrics/default.yaml``)
rather than counting words alone: an empathy phrase that is followed by a refusal, blame or a
process-only answer is counted as *hollow*, not as empathy; ownership ("I've raised a refund",
"I'll call you tomorrow") and references to what this customer said count as care; a restatement
counts as a paraphrase only when it shares content with what the customer said *and* puts it in
new words; a question for something the customer already gave counts against listening; a
customer asking the same thing again counts against the agent, more so when the reply does not
change; a refusal counts differently with and without an alternative; turn length is read
against the channel and jargon against the customer's own words.

``FEATURES`` is the registry: name -> function of a ``Conversation``, returning a
``Measure`` (value and evidence). Features that are one phrase family in one speaker's turns
are declared once each as a ``PhraseFeature`` (``PHRASE_FEATURES``); the others are functions
registered with ``@feature``. ``measure_all`` computes every feature once; the model
(``assessments/suggest_model.py``) decides which feature feeds which skill and how much.

Evidence is always ``turn.text[start:end]`` of the original text: matching runs on lower-cased
text only when lower-casing keeps every offset (it does not for a few letters, e.g. "İ"), and
quotes are always cut from the original, never from the lower-cased copy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, TypeVar

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from assessments.transcripts import AGENT, CUSTOMER, Transcript, Turn


@dataclass(frozen=True)
class Evidence:
    turn: int
    start: int
    end: int
    text: str
    note: str
    supports: bool = True  # False: evidence against a higher level


@dataclass
class Measure:
    value: float
    evidence: list[Evidence] = field(default_factory=list)


def _pattern(*phrases: str) -> re.Pattern[str]:
    """Phrases as one pattern, matched against lower-cased text (faster than IGNORECASE)."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


# -- phrase families -------------------------------------------------------------------------
# "I can see" alone is not empathy: "I can see the duplicate payment" reads the account. Only
# "I can see how/why/that/what…" acknowledges the person.
ACKNOWLEDGE = _pattern(
    r"i'?m (?:so |really |very |truly |terribly )?sorry",
    r"i apologi[sz]e",
    r"(?:so |really )?sorry (?:to hear|about|for)",
    r"(?:i|we) (?:completely |totally |fully |do |can )?(?:understand|appreciate)",
    r"i (?:totally |completely )?get (?:how|why|that|it)",
    r"i can (?:see|imagine|hear|understand) (?:how|why|that|what|you)",
    r"that must (?:be|have been|feel)",
    r"that sounds",
    r"i(?:'d| would) (?:be|feel) (?:\w+ )?(?:the same|too|upset|worried|frustrated|panicking)",
    r"would (?:worry|upset|frustrate|annoy) (?:me|anyone)",
    r"no wonder",
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
    r"panick?\w*",
    r"difficult time",
    r"hard time",
    r"unsettling",
    r"awful",
    r"grief",
    r"heartbreaking",
    r"nerv\w+",
    r"overwhelm\w*",
    r"let down",
    # The feeling named in other words than the stock ones: how the situation feels to them.
    r"miserable",
    r"horrible",
    r"horrid",
    r"dreadful",
    r"rotten",
    r"furious",
    r"livid",
    r"humiliat\w*",
    r"embarrass\w*",
    r"mortif\w*",
    r"maddening",
    r"galling",
    r"infuriating",
    r"torn",
    r"gutt(?:ed|ing)",
    r"devastat\w*",
    r"heartbroken",
    r"shock(?:ed|ing)?",
    r"frighten\w*",
    r"scary",
    r"terrif\w*",
    r"afraid",
    r"fright",
    r"lonely",
    r"isolat\w*",
    r"exhaust\w*",
    r"draining",
    r"unfair",
    r"not fair",
    r"nightmare",
    r"the last thing you need",
    r"a lot to (?:carry|deal with|take in|cope with|handle)",
    r"(?:is|was|must be|that'?s|it'?s|so|really) (?:hard|tough|rough)",
    r"(?:hard|tough|bad|awful|difficult|sad) news",
    r"(?:that'?s|it'?s|what) a (?:worry|blow|shock|relief)",
    r"not surprised you'?re",
    r"(?:means|matters) (?:so much|a lot|a great deal)",
    r"how much (?:\w+ ){0,3}(?:means|matters)",
    r"relie(?:f|ved)",
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
    r"useless",
    r"disgusted",
    r"scared",
    r"panic\w*",
    r"passed away",
    r"died",
    r"in pieces",
    r"unbelievable",
    r"second time",
    r"third time",
    r"again",
)
REFUSAL = _pattern(
    r"can'?t",
    r"cannot",
    r"unable",
    r"not (?:possible|able|allowed|permitted|something we)",
    r"won'?t be able",
    r"impossible",
    r"no way",
    r"policy",
    r"nothing (?:i|we) can",
    r"there'?s nothing",
    r"we don'?t (?:do|offer|give|provide|allow|normally)",
    r"(?:is|are)n'?t (?:available|possible|included|eligible)",
    r"not (?:available|eligible)",
    r"(?:have|has) to be declined",
    r"declined",
    r"denied",
    r"refuse\w*",
    r"will not be",
    r"did not meet",
    r"(?:the )?decision is final",
)
BLAME = _pattern(
    r"your fault",
    r"you should(?: have|'ve)(?! had to)",
    r"you (?:failed|forgot|didn'?t|must have)",
    r"not my (?:problem|job|fault)",
    r"not (?:our|my) responsibility",
    r"you were supposed to",
    r"if you had",
    r"you need to (?:read|understand|listen)",
    r"as (?:it )?states? (?:clearly|in)",
)
# An answer that only points at a process: the system, a form, the website, a department.
PROCESS = _pattern(
    r"the (?:way the )?system (?:works|says|shows|won'?t|doesn'?t|has)",
    r"the system",
    r"that'?s (?:just )?(?:how|the way) (?:it|things|the system) (?:works?|is)",
    r"the way (?:it|things) works?",
    r"(?:our |the )?(?:procedure|process) (?:is|says)",
    r"(?:that'?s|this is|it'?s) (?:just |simply )?(?:how|the way) (?:\w+ ){0,3}works?",
    r"in accordance with",
    r"set out in",
    r"clause \d",
    r"section \d",
    r"criteria",
    r"must be followed",
    r"procedures",
    r"(?:a|our|the) (?:set|standard|normal|usual) (?:process|procedure)",
    r"(?:scheduled|allocated|handled|decided|set|processed|assessed|applied) (?:by|through) "
    r"(?:the|our)",
    r"(?:go|goes|going) through (?:our|the|a) (?:\w+ )?"
    r"(?:process|procedure|team|department|system)",
    r"applied automatically",
    r"(?:ticket |booking |our )?conditions are",
    r"(?:the|our) rules",
    r"nothing (?:i|we) can do",
    r"out of (?:my|our) hands",
    r"not (?:up to|down to) (?:me|us)",
    r"terms and conditions",
    r"(?:fill (?:in|out)|submit|complete) (?:a|the|our) (?:\w+ )?form",
    r"(?:visit|go to|check) (?:our|the) (?:website|faq|help centre|help center|returns centre)",
    r"(?:put it|write) in writing",
    r"relevant department",
    r"as previously advised",
    r"(?:contact|call|email) (?:another|the other|a different) (?:team|department)",
)
ALTERNATIVE = _pattern(
    r"what (?:i|we) can do",
    r"instead",
    r"but (?:i|we) can",
    r"however,? (?:i|we) can",
    r"alternatively",
    r"an? (?:other |alternative )?option",
    r"options",
    r"the good news",
    r"what i'?ll do",
    r"here'?s what",
    r"i can (?:offer|arrange|book|send|give|set|put|add|"
    r"move|switch|refund|credit|waive|chase|escalate|call|ring|email|text|post|courier|try)",
    r"we can (?:offer|arrange|book|send|give|set|courier|try)",
    r"the (?:best|quickest) (?:way|route)",
    r"(?:what|one thing) you can do",
    r"you (?:can|could) (?:also |still )?(?:use|try|get|ask|"
    r"pick|collect|tap|switch|connect)",
    r"in the meantime",
    r"for (?:today|now),",
)
# Accountability and reassurance without stock phrases: the agent owns the fault or tells the
# customer they did nothing wrong ("That's our failure", "You did exactly the right thing").
ACCOUNTABLE = _pattern(
    r"(?:our|my) (?:mistake|error|fault|failure|side)",
    r"on our (?:side|end)",
    r"(?:we|i) should(?: have|'ve|n'?t have)",
    r"that'?s on (?:us|me)",
    r"you(?: haven'?t|'ve not| have not) done anything wrong",
    r"not silly",
    r"not (?:anything|something) you(?:'ve)? (?:did|done|changed|caused)",
    r"you did (?:exactly |just )?the right thing",
    r"(?:isn'?t|not) your fault",
    r"you(?:'ve| have) had (?:a|such a) \w+",
    r"(?:is|are) exactly the (?:situation|kind)",
    r"that'?s (?:a|such a|so|really) (?:shock|worry|blow|pain|lot to)",
    r"you handled it well",
    r"shouldn'?t (?:be|have to)",
)
# Ownership: the agent names an action they take (or took) themselves.
OWNERSHIP = re.compile(
    r"\b(?:i'?ll|i will|i'?ve|i have|let me|i'?m going to|i am going to|i'?ve just|i just)\s+"
    r"(?:\w+\s+){0,2}?(?:raise|raised|book|booked|send|sent|arrange|arranged|refund|refunded|"
    r"credit|credited|call|ring|chase|chased|escalate|escalated|set|switched|switch|put|add|"
    r"added|cancel|cancelled|canceled|fix|fixed|sort|sorted|email|text|post|order|ordered|"
    r"apply|applied|waive|waived|update|updated|note|noted|log|logged|personally|make sure|"
    r"look into|follow|flag|flagged|reissue|reissued|replace|replaced|request|requested|"
    r"reset|unlock|unlocked|transfer|transferred|courier|keep|stay|check|checked|take|stop|"
    r"stopped|remove|removed|ring you|doing)\b"
    r"|\bi'?m (?:now |just )?(?:adding|booking|sending|arranging|raising|refunding|crediting|"
    r"calling|ringing|putting|setting|re-running|running|doing|changing|moving|cancelling|"
    r"escalating|chasing|logging|noting|flagging|fixing|sorting|switching|taking)\b"
)
TIMED = _pattern(
    r"today",
    r"tonight",
    r"tomorrow",
    r"right now",
    r"now",
    r"right away",
    r"straight away",
    r"immediately",
    r"this (?:morning|afternoon|evening|week)",
    r"by (?:monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|the end|end of|\d+|noon|midday|tomorrow)",
    r"within (?:the )?(?:\d+|an?|one|two|three|24|48) ",
    r"in the next",
    r"before (?:you|friday|"
    r"the|your|sunday|monday)",
    r"\d+ (?:working |business )?(?:days|hours|minutes)",
    r"(?:one|two|three|five|ten) (?:working |business )?(?:days|hours|minutes)",
    r"on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
)
RESTATE = _pattern(
    r"so (?:what )?(?:you(?:'re| are| have|'ve| need| want| were| had| can'?t)|the|your|it)",
    r"if i(?:'ve| have)? understood",
    r"if i understand",
    r"just to (?:confirm|check|make sure|be clear|"
    r"recap|clarify)",
    r"to make sure i",
    r"you mentioned",
    r"you said",
    r"what you'?re saying",
    r"let me (?:check|make sure) i(?:'ve| have)",
    r"(?:sounds|it sounds) like",
    r"in short",
    r"if i(?:'ve| have) got (?:this|that|it) right",
    r"quick recap",
    r"to recap",
    r"so that'?s",
)
CONFIRM = _pattern(
    r"is that right",
    r"is that correct",
    r"have i got that right",
    r"did i get that right",
    r"does that (?:help|make sense|sound|work|answer|cover)",
    r"has that (?:helped|sorted|solved|fixed)",
    r"did that (?:work|help)",
    r"anything else",
    r"is there anything",
    r"have i answered",
    r"is that (?:ok|okay|all right|alright)",
    r"are you (?:ok|okay|all right|happy|comfortable)",
    r"how does that sound",
    r"would that (?:help|work|suit)",
    r"is that what you",
)
CLARIFY = re.compile(
    r"\b(?:could you|can you|would you|when did|which|what (?:exactly|happens|error|did|time|"
    r"date|colour|color|does it)|how (?:long|often|many)|do you (?:know|remember|have|see)|"
    r"is it|are you|did you|have you)\b[^?]{0,120}\?",
    re.IGNORECASE,
)
CUSTOMER_REPEATS = _pattern(
    r"as i (?:said|told you|mentioned|already|explained|wrote|stated)",
    r"like i said",
    r"i (?:already|just) (?:told|said|gave|explained|mentioned)",
    r"i'?ve (?:already|just|literally just) (?:told|said|given|explained|mentioned|sent)",
    r"i have already (?:told|said|given|explained|returned|sent)",
    r"(?:asked|told you) (?:that )?already",
    r"you'?re not listening",
    r"are you (?:even )?listening",
    r"read my (?:message|email)",
    r"(?:as|like) my email (?:clearly )?(?:said|stated)",
    r"i'?m asking (?:again|for the)",
    r"for the (?:second|third) time",
    r"(?:i )?(?:still )?haven'?t answered",
    r"that'?s not what i asked",
    r"you (?:didn'?t|haven'?t) answer",
)
# The customer saying the agent answered something else or got the facts wrong.
CUSTOMER_CORRECTS = _pattern(
    r"no,? (?:i|it'?s|that'?s|not|the)",
    r"that'?s not (?:what|it|the|my|right|true|correct)",
    r"i didn'?t (?:ask|say|mean|want)",
    r"i asked (?:about|for|if|whether|why|when|how)",
    r"not (?:the|my) (?:question|problem|issue|point)",
    r"i don'?t (?:use|have|own|do) (?:a |an |the |any |online|internet|smartphone|email)",
    r"different (?:one|problem|issue|thing|question|order|account|leak|fault)",
    r"(?:that'?s|you'?ve got it) wrong",
    r"you'?re not (?:listening|getting it|reading)",
    r"(?:i|it) (?:wasn'?t|isn'?t) (?:about|asking)",
    r"what about (?:my|the)",
    r"you (?:haven'?t|didn'?t) (?:answered|said anything about|mention)",
)

IMPATIENT = _pattern(
    r"as i (?:already )?(?:said|explained|told you)",
    r"like i said",
    r"as (?:previously|already) "
    r"(?:advised|stated|explained|mentioned)",
    r"i(?:'ve| have) already (?:said|explained|told)",
    r"calm down",
    r"obviously",
    r"i don'?t have time",
    r"hurry",
    r"as stated",
    r"listen,",
    r"you (?:need|have) to understand",
    r"for the (?:second|third|last) time",
    r"let me finish",
    r"can i finish",
    r"please stop",
    r"i'?ve got other",
    r"so do you want",
    r"yes or no",
    r"anything else\?$",
    r"is that it",
    r"we'?re going round",
    # Hurrying the customer along or cutting them short.
    r"i did (?:explain|say|mention|tell you)",
    r"moving on",
    r"(?:need|have|want|going) to (?:stop you|move on|move this along|wrap (?:this|things) up|"
    r"keep this (?:short|brief)|be quick)",
    r"stop you there",
    r"i (?:have|need|'?ve got) to go",
    r"other (?:calls|customers|people) (?:waiting|in the queue|to)",
    r"i'?ve already answered",
    r"keep it (?:short|brief)",
    r"(?:let'?s|can we) (?:be quick|speed this up|move on)",
    r"as i(?:'ve)? (?:just )?(?:said|explained|mentioned)",
)
PATIENT = _pattern(
    r"take your time",
    r"no rush",
    r"no hurry",
    r"no problem at all",
    r"there'?s no rush",
    r"happy to (?:explain|go through|walk you|help|wait|go over)",
    r"not to worry",
    r"let me explain (?:that )?(?:again|another way|differently)",
    r"in other words",
    r"step by step",
    r"one (?:step|thing) at a time",
    r"don'?t worry",
    r"no worries",
    r"whenever you'?re ready",
    r"i'?ll (?:wait|hold on|stay on the line|keep count)",
    r"let'?s go through",
    r"put (?:it|that) another way",
    r"that'?s (?:completely |totally )?fine",
    r"good question",
    r"you'?re doing (?:perfectly |really )?(?:well|great|fine)",
    r"no stress",
    r"we'?ll get there",
    r"(?:is|are) you (?:all right|ok|okay|comfortable) to",
    # Slowing down and checking the customer is all right.
    r"(?:are|is) (?:you|that|everyone) (?:all right|ok|okay|comfortable|happy) with",
    r"how are you (?:doing|holding up|feeling)",
    r"take a (?:deep )?breath",
    r"(?:let'?s|we'?ll|we can) (?:take|go through) (?:this|it|things) (?:slowly|gently)",
    r"(?:don'?t|no need to) apologi[sz]e",
    r"i'?m (?:still )?here",
    r"i'?m not going anywhere",
    r"in your own time",
    r"(?:there'?s )?plenty of time",
    r"i'?m listening",
    r"(?:tell|walk) me (?:more|what happened)",
)
CUT_OFF = _pattern(
    r"let me finish",
    r"you (?:cut|interrupt)\w* me",
    r"stop interrupting",
    r"you'?re rushing",
    r"slow down",
    r"hang on",
    r"wait,? (?:i|let)",
    r"i wasn'?t finished",
    r"can i (?:just )?finish",
)
INTERRUPTED_END = re.compile(r"(?:\u2014|--|-)\s*$")  # a customer turn broken off mid-sentence
CONFUSED = _pattern(
    r"don'?t understand",
    r"what does (?:that|this) mean",
    r"confus\w*",
    r"not (?:very )?good with",
    r"no idea",
    r"lost me",
    r"what'?s (?:a|an|that)",
    r"i'?m not (?:technical|techy|sure)",
    r"pardon",
    r"sorry,? what",
    r"come again",
    r"not sure what",
    r"idk",
    r"what\?+$",
    r"i'?ve forgotten",
    r"which one",
    r"i don'?t know what",
)
JARGON = _pattern(
    r"dns",
    r"sla",
    r"ont",
    r"mac address",
    r"firmware",
    r"provisioning",
    r"tier \d",
    r"ticket (?:id|number)",
    r"authentication token",
    r"ip address",
    r"bandwidth",
    r"latency",
    r"packet loss",
    r"backend",
    r"back end",
    r"cache",
    r"chargeback",
    r"pro rata",
    r"api",
    r"cookies",
    r"2fa",
    r"mfa",
    r"sso",
    r"otp",
    r"kyc",
    r"aml",
    r"bacs",
    r"iban",
    r"bic",
    r"escalation queue",
    r"fulfil?ment centre",
    r"carrier",
    r"manifest\w*",
    r"rma",
    r"sku",
    r"reconcil\w+",
    r"ledger",
    r"accru\w+",
    r"proration",
    r"arrears",
    r"remittance",
    r"dd mandate",
    r"direct debit mandate",
    r"ticket",
    r"case reference",
    r"node",
    r"router firmware",
    r"port",
    r"ssid",
    r"dhcp",
    r"vpn",
    r"browser cache",
    r"server",
    r"payload",
    r"config\w*",
    r"l2",
    r"l1",
    r"t&cs",
    r"ts&cs",
    r"eta",
    r"asap",
    r"fyi",
    r"fcr",
)
ADAPT = _pattern(
    r"call you back",
    r"ring you",
    r"send you (?:a|the) (?:link|guide|photo|picture|video)",
    r"(?:text|email|post) (?:you|it|them|those)",
    r"would you (?:prefer|like me to|rather)",
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
    r"would it help if",
    r"large print",
    r"in (?:simple|everyday) terms",
    r"think of it (?:as|like)",
    r"(?:it'?s|that'?s) (?:basically|just) (?:the|a|what)",
    r"which (?:would|do) you prefer",
    r"if you'?d (?:rather|prefer)",
    r"when you'?re home",
    r"at a time that suits",
    r"video call",
    r"i can (?:call|ring|text|email) you",
    # Another medium or a helper when words on this channel are not working.
    r"interpret\w*",
    r"translat\w*",
    r"call-?back",
    r"screen ?shar\w*",
    r"(?:a|the|this) (?:picture|diagram|photo|map|link)",
    r"in (?:person|branch|store|the shop)",
    r"home visit",
    r"easy read",
    r"braille",
    r"(?:the )?short version",
    r"(?:more )?simply",
    r"plain (?:english|words|terms)",
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
    r"yeah",
    r"yep",
    r"nah",
    r"ta",
    r"idk",
    r"tbh",
    r"haha",
    r"btw",
    r"im",
    r"dont",
    r"cant",
    r"thats",
    r"whats",
    r"its",
    r"def",
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
    r"please note that",
    r"we would like to inform",
    r"at this time",
    r"in accordance with",
    r"kindly",
    r"do not hesitate",
)
SCRIPT = _pattern(
    r"thank you for (?:contacting|getting in touch with|calling|your (?:email|message|enquiry))",
    r"sorry for any inconvenience(?: caused)?",
    r"we apologi[sz]e for any inconvenience",
    r"is there anything else (?:i|we) can (?:help|assist)",
    r"have a (?:great|nice|good) day",
    r"your call is important",
    r"we value your (?:custom|business|feedback)",
    r"as per (?:our|the)",
    r"please (?:be advised|note)",
    r"kind regards",
)
INFO_REQUESTS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # requested thing -> (how the agent asks for it, how the customer gives it)
    "reference": (
        re.compile(
            r"\b(?:order|account|reference|booking|ticket|policy|case|tracking|membership|"
            r"customer|invoice|claim|serial)\s*(?:number|no\.?|id|ref)\b"
        ),
        re.compile(r"(?:\b[a-z]{0,4}[-/]?\d[\d -]{3,}\d\b|\b\d{4,}\b|\b[a-z]{1,4}-\d{3,}\b)"),
    ),
    "email": (re.compile(r"\be-?mail(?: address)?\b"), re.compile(r"[\w.+-]+@[\w-]+\.")),
    "address": (
        re.compile(r"\b(?:address|postcode|post code|zip code)\b"),
        re.compile(
            r"\b\d+\s+\w+\s+(?:road|street|avenue|lane|close|drive|way|court|place)\b"
            r"|\b[a-z]{1,2}\d{1,2}[a-z]?\s*\d[a-z]{2}\b"
        ),
    ),
    "phone": (
        re.compile(r"\b(?:phone|mobile|contact|telephone) number\b"),
        re.compile(r"(?:\+?\d[\d ]{8,}\d)"),
    ),
}
ASKING = re.compile(
    r"(?:\?|\bplease (?:reply|provide|send|confirm|give|tell|state)\b|\bcan i (?:take|have|get)\b"
    r"|\bcould i (?:take|have|get)\b|\bwhat(?:'s| is) (?:your|the)\b|\bagain\b)"
)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
WORD = re.compile(r"[a-z0-9][a-z0-9']*")
TONE_WORD = re.compile(r"[a-z][a-z']*")
STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i i'm
    if in is it it's its just me my no not of on or our so that the their them then there they
    this to up us was we were what when which who will with would you your yes hi hello thanks
    thank please okay ok get got im ive dont can't cant i'll i've i'd you're you've that's
    there's we'll we've we're let's let me him her he she his hers one two all any some very
    really just also about into over than too more most much many yeah yep sorry right well
    now then here see know like want need make sure would should could might may just still
    again back going go gone went come came done doing does did say said tell told ask asked
    time day today way thing things something anything everything nothing lot bit""".split()  # noqa: SIM905 -- a word list reads better as text
)
# How long an agent's turn usually is on each channel, in words (the labelled sets' medians
# of turns graders called right for the channel); a turn over twice this reads as a wall of
# text in a chat or a monologue on a call.
CHANNEL_WORDS = {"chat": 22, "call": 38, "email": 110}


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, float]:
    """VADER's valence lexicon (shipped with the package; nothing is downloaded)."""
    return SentimentIntensityAnalyzer().lexicon


NEGATIONS = frozenset(
    (
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "cannot",
        "can't",
        "won't",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "shouldn't",
        "wouldn't",
        "couldn't",
        "hasn't",
        "haven't",
        "hadn't",
    )
)
FEELING_STEMS = (
    "frustrat",
    "annoy",
    "upset",
    "worr",
    "stress",
    "disappoint",
    "angry",
    "anger",
    "infuriat",
    "confus",
    "anxious",
    "scared",
    "distress",
    "exasperat",
    "inconvenien",
    "awful",
    "terrible",
    "horrible",
    "loss",
    "grief",
    "sad",
    "sorry",
    "hate",
    "panic",
)


def tone(text: str) -> float:
    """Sentiment of a turn from VADER's lexicon: the mean valence of its sentiment words, a
    word's valence flipped (and damped, as VADER does) within three words after a negation,
    normalised to -1..1 the way VADER normalises. The full VADER rule engine costs about
    0.4 ms per long turn; this keeps its lexicon and its most important rule."""
    lexicon = _lexicon()
    total, since_negation = 0.0, 99
    for word in TONE_WORD.findall(text.lower()):
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


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem, enough to see "payment" in "payments" and "charge" in "charged"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


# -- the conversation, read once -------------------------------------------------------------


@dataclass
class Line:
    """One turn with what every feature needs from it, computed once."""

    index: int
    turn: Turn
    lower: str  # lower-cased text when offsets survive, else the original (matched IGNORECASE)
    exact_lower: bool
    # Keyed by the pattern's id: hashing a compiled pattern hashes its whole program (about
    # 3 us for a long family, more than the search itself on a short turn).
    cache: dict[int, tuple[re.Pattern[str], list[tuple[int, int]]]] = field(default_factory=dict)
    sentence_content: dict[tuple[int, int], frozenset[str]] = field(default_factory=dict)

    @cached_property
    def words(self) -> int:
        return len(self.turn.text.split())

    @cached_property
    def tokens(self) -> list[str]:
        """The turn's words, lower-cased (tokenised once, whatever the features ask)."""
        return WORD.findall(self.turn.text.lower())

    @cached_property
    def content(self) -> frozenset[str]:
        return frozenset(stem(w) for w in self.tokens if len(w) > 2 and w not in STOPWORDS)

    @cached_property
    def abbreviations(self) -> list[re.Match[str]]:
        return list(ABBREVIATION.finditer(self.turn.text))

    @cached_property
    def tone(self) -> float:
        return tone(self.turn.text)

    def spans(self, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
        """Every span of ``pattern``, in the original text's offsets (searched once per turn:
        features ask for the same phrase family many times)."""
        cached = self.cache.get(id(pattern))
        if cached is not None and cached[0] is pattern:
            return cached[1]
        if self.exact_lower:
            found = [m.span() for m in pattern.finditer(self.lower)]
        else:
            ignoring = re.compile(pattern.pattern, re.IGNORECASE)
            found = [m.span() for m in ignoring.finditer(self.turn.text)]
        self.cache[id(pattern)] = (pattern, found)
        return found

    def find(self, pattern: re.Pattern[str], start: int = 0) -> Iterator[tuple[int, int]]:
        return (span for span in self.spans(pattern) if span[0] >= start)

    def first(self, pattern: re.Pattern[str], start: int = 0) -> tuple[int, int] | None:
        return next(self.find(pattern, start), None)

    def evidence(self, span: tuple[int, int], note: str, supports: bool = True) -> Evidence:
        start, end = span
        return Evidence(self.index, start, end, self.turn.text[start:end], note, supports)

    @cached_property
    def sentences(self) -> list[tuple[int, int]]:
        """Sentence spans, without their surrounding spaces."""
        text, out = self.turn.text, []
        for m in SENTENCE.finditer(text):
            start, end = m.span()
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                out.append((start, end))
        return out

    @cached_property
    def questions(self) -> list[tuple[int, int]]:
        return [(a, b) for a, b in self.sentences if self.turn.text[b - 1] == "?"]

    def sentence_at(self, position: int) -> tuple[int, int]:
        """The sentence holding ``position``."""
        for start, end in self.sentences:
            if position < end:
                return start, end
        return 0, len(self.turn.text)


@dataclass
class Conversation:
    transcript: Transcript
    lines: list[Line]
    # Helpers several features share (the empathy turns, the refusals…) run once per
    # conversation: see ``_once``.
    memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, transcript: Transcript) -> Conversation:
        lines = []
        for index, turn in enumerate(transcript.turns):
            lower = turn.text.lower()
            exact = len(lower) == len(turn.text)
            lines.append(Line(index, turn, lower if exact else turn.text, exact))
        return cls(transcript, lines)

    @cached_property
    def agent(self) -> list[Line]:
        return [line for line in self.lines if line.turn.speaker == AGENT]

    @cached_property
    def customer(self) -> list[Line]:
        return [line for line in self.lines if line.turn.speaker == CUSTOMER]

    @property
    def channel(self) -> str:
        return self.transcript.channel

    @cached_property
    def _customer_counts(self) -> list[int]:
        """For each turn index, how many customer turns come before it."""
        out, n = [], 0
        for line in self.lines:
            out.append(n)
            n += line.turn.speaker == CUSTOMER
        return out

    @cached_property
    def _next_agent(self) -> list[Line | None]:
        """For each turn index, the first agent turn after it."""
        out: list[Line | None] = [None] * len(self.lines)
        following = None
        for line in reversed(self.lines):
            out[line.index] = following
            if line.turn.speaker == AGENT:
                following = line
        return out

    def customer_before(self, index: int) -> list[Line]:
        return self.customer[: self._customer_counts[index]]

    def next_agent(self, index: int) -> Line | None:
        return self._next_agent[index]

    def previous_customer(self, index: int) -> Line | None:
        before = self.customer_before(index)
        return before[-1] if before else None

    @cached_property
    def _said(self) -> list[frozenset[str]]:
        """For each turn index, the customer's content words in the turns before it."""
        out, said = [], frozenset[str]()
        for line in self.lines:
            out.append(said)
            if line.turn.speaker == CUSTOMER:
                said = said | line.content
        return out

    def said_before(self, index: int) -> frozenset[str]:
        return self._said[index]


# -- features --------------------------------------------------------------------------------

Feature = Callable[[Conversation], Measure]
FEATURES: dict[str, Feature] = {}
DESCRIPTIONS: dict[str, str] = {}


def feature(name: str, description: str) -> Callable[[Feature], Feature]:
    def register(function: Feature) -> Feature:
        FEATURES[name] = function
        DESCRIPTIONS[name] = description
        return function

    return register


T = TypeVar("T")


def _once(helper: Callable[[Conversation], T]) -> Callable[[Conversation], T]:
    """Run a helper once per conversation, however many features use it."""
    name = helper.__name__

    def wrapper(c: Conversation) -> T:
        if name not in c.memo:
            c.memo[name] = helper(c)
        return c.memo[name]

    return wrapper


def _count(n: int) -> float:
    """Counts on a log scale: the second instance says more than the fifth."""
    return math.log1p(n)


def _matches(
    lines: list[Line], pattern: re.Pattern[str], note: str, supports: bool = True
) -> tuple[set[int], list[Evidence]]:
    turns, evidence = set(), []
    for line in lines:
        for span in line.find(pattern):
            turns.add(line.index)
            evidence.append(line.evidence(span, note, supports))
    return turns, evidence


# -- phrase features: one phrase family, counted over one speaker's turns ----------------------
# Most of what a grader reads first is whether a kind of phrase is there at all: these features
# share one shape (which speaker, which family, what the quote is evidence of, and how the
# matches become a number), so each is declared once below instead of written out as a
# function.


def _turns(turns: set[int], evidence: list[Evidence], c: Conversation) -> float:
    """How many turns have the phrase (log scale)."""
    return _count(len(turns))


def _occurrences(turns: set[int], evidence: list[Evidence], c: Conversation) -> float:
    """How many times the phrase occurs, several in one turn counted apart (log scale)."""
    return _count(len(evidence))


def _share_of_agent_turns(turns: set[int], evidence: list[Evidence], c: Conversation) -> float:
    """The share of the agent's turns with the phrase: "dominated by" rather than "once"."""
    return len(turns) / max(1, len(c.agent))


@dataclass(frozen=True)
class PhraseFeature:
    """A feature that is one phrase family in one speaker's turns."""

    name: str
    description: str
    speaker: str  # AGENT or CUSTOMER
    family: re.Pattern[str]
    note: str  # what each quote is evidence of
    supports: bool = True  # False: the phrase is evidence against a higher level
    value: Callable[[set[int], list[Evidence], Conversation], float] = _turns
    max_evidence: int | None = None

    def __call__(self, c: Conversation) -> Measure:
        lines = c.agent if self.speaker == AGENT else c.customer
        turns, evidence = _matches(lines, self.family, self.note, self.supports)
        return Measure(self.value(turns, evidence, c), evidence[: self.max_evidence])


PHRASE_FEATURES = (
    PhraseFeature(
        "accountable",
        "owns the fault or reassures the customer they did nothing wrong",
        AGENT,
        ACCOUNTABLE,
        "owns the fault or reassures the customer",
    ),
    PhraseFeature(
        "blame", "blames the customer", AGENT, BLAME, "blames the customer", False, _occurrences
    ),
    PhraseFeature(
        "ownership",
        "the agent names an action they take themselves",
        AGENT,
        OWNERSHIP,
        "takes ownership: names what they do",
    ),
    PhraseFeature(
        "customer_upset",
        "the customer shows how they feel",
        CUSTOMER,
        CUSTOMER_FEELING,
        "the customer shows how they feel",
        max_evidence=3,
    ),
    PhraseFeature(
        "restate_marker",
        "restating phrases (so you…, just to confirm, you mentioned)",
        AGENT,
        RESTATE,
        "restates what the customer said",
    ),
    PhraseFeature(
        "confirming",
        "checks understanding or the outcome",
        AGENT,
        CONFIRM,
        "checks understanding or the outcome",
    ),
    PhraseFeature(
        "customer_repeats",
        "the customer says they had to repeat themselves",
        CUSTOMER,
        CUSTOMER_REPEATS,
        "the customer had to repeat themselves",
        False,
    ),
    PhraseFeature(
        "customer_corrects",
        "the customer says the agent answered something else or got it wrong",
        CUSTOMER,
        CUSTOMER_CORRECTS,
        "the customer corrects the agent",
        False,
    ),
    PhraseFeature(
        "alternatives",
        "says what can be done",
        AGENT,
        ALTERNATIVE,
        "says what can be done",
        value=_share_of_agent_turns,
    ),
    PhraseFeature(
        "negative_words",
        "share of agent turns dominated by what cannot be done",
        AGENT,
        REFUSAL,
        "says what cannot be done",
        False,
        _share_of_agent_turns,
    ),
    PhraseFeature(
        "impatient", "impatient or curt phrases", AGENT, IMPATIENT, "sounds impatient", False
    ),
    PhraseFeature(
        "patient_phrases",
        "calm, unhurried reassurance",
        AGENT,
        PATIENT,
        "calm, unhurried reassurance",
    ),
    PhraseFeature(
        "customer_confused",
        "the customer says they are confused or lost",
        CUSTOMER,
        CONFUSED,
        "the customer is confused",
    ),
    PhraseFeature(
        "scripted",
        "stock script phrases",
        AGENT,
        SCRIPT,
        "stock script phrase",
        False,
        _occurrences,
    ),
    PhraseFeature(
        "adapts_method",
        "offers another way (a call-back, a link, steps) when that suits",
        AGENT,
        ADAPT,
        "adapts the method to the customer",
    ),
)
for _phrase in PHRASE_FEATURES:
    feature(_phrase.name, _phrase.description)(_phrase)


@_once
def _empathy_turns(c: Conversation) -> list[tuple[Line, tuple[int, int]]]:
    """Agent turns with an empathy phrase (acknowledgement or a named feeling): the first span."""
    found = []
    for line in c.agent:
        spans = [s for s in (line.first(ACKNOWLEDGE), line.first(FEELING)) if s is not None]
        if spans:
            found.append((line, min(spans)))
    return found


def _dismissal(
    line: Line, start: int, following: Line | None
) -> tuple[tuple[int, int], str] | None:
    """Blame, a process-only answer, or a refusal with no alternative in this turn (from
    ``start``) or the next agent turn."""
    blame = line.first(BLAME, start)
    if blame:
        return blame, "blames the customer"
    process = line.first(PROCESS, start)
    if process:
        return process, "answers with the process only"
    refusal = line.first(REFUSAL, start)
    helped = [(line, start)] + ([(following, 0)] if following is not None else [])
    if refusal and not any(
        t.first(ALTERNATIVE, s) or t.first(OWNERSHIP, s) or t.first(ACCOUNTABLE, s)
        for t, s in helped
    ):
        return refusal, "refuses without an alternative"
    return None


# Words of the empathy phrases themselves: "I understand your frustration" shares
# "frustration" with a customer who said "frustrated" without saying anything about them.
EMPATHY_STEMS = (*FEELING_STEMS, "understand", "appreciat", "imagin", "apologi", "feel", "hear")
# One of the customer's own content words is enough (chosen by cross-validation on the
# development part: one word 0.67, two words 0.58).
TIED_WORDS = 1


def _names_their_situation(c: Conversation, line: Line) -> bool:
    """Whether a sentence that acknowledges or names a feeling in this turn also names what
    this customer said (``TIED_WORDS`` of their content words, beyond the empathy words): care
    about their situation, not a stock phrase, even when a refusal follows."""
    said = c.said_before(line.index)
    for pattern in (ACKNOWLEDGE, FEELING):
        for span in line.find(pattern):
            words = _sentence_content(line, line.sentence_at(span[0]))
            own = {w for w in words & said if not w.startswith(EMPATHY_STEMS)}
            if len(own) >= TIED_WORDS:
                return True
    return False


@_once
def _hollow(c: Conversation) -> tuple[list[Line], list[Evidence]]:
    """Empathy turns whose phrase is followed, in the same or the next agent turn, by a refusal
    without an alternative, blame or a process-only answer: "I understand your frustration…
    it's the way the system works" is dismissal in polite words (rubric level 1)."""
    hollow, evidence = [], []
    for line, span in _empathy_turns(c):
        if _names_their_situation(c, line):
            continue
        following = c.next_agent(line.index)
        found = _dismissal(line, span[1], following)
        if found is None and following is not None and not line.first(OWNERSHIP):
            found_next = _dismissal(following, 0, c.next_agent(following.index))
            if found_next is not None:
                evidence.append(following.evidence(found_next[0], found_next[1], False))
                found = found_next
        elif found is not None:
            evidence.append(line.evidence(found[0], found[1], False))
        if found is not None:
            hollow.append(line)
            evidence.append(line.evidence(span, "empathy phrase, then dismissal", False))
    return hollow, evidence


@feature("empathy_genuine", "empathy phrases not followed by a refusal, blame or process only")
def empathy_genuine(c: Conversation) -> Measure:
    hollow = {line.index for line in _hollow(c)[0]}
    evidence = [
        line.evidence(span, "acknowledges how the customer feels")
        for line, span in _empathy_turns(c)
        if line.index not in hollow
    ]
    return Measure(_count(len(evidence)), evidence)


@feature("empathy_hollow", "empathy phrase followed by refusal, blame or process-only answer")
def empathy_hollow(c: Conversation) -> Measure:
    hollow, evidence = _hollow(c)
    return Measure(_count(len(hollow)), evidence)


@feature("empathy_sustained", "empathy or care in both halves of the conversation")
def empathy_sustained(c: Conversation) -> Measure:
    hollow = {line.index for line in _hollow(c)[0]}
    caring = [line for line, _ in _empathy_turns(c) if line.index not in hollow]
    caring += [line for line in c.agent if line.first(OWNERSHIP) and _specific(c, line)]
    caring += [line for line in c.agent if line.first(ACCOUNTABLE)]
    if not c.agent or not caring:
        return Measure(0.0)
    middle = c.agent[len(c.agent) // 2].index
    halves = {line.index >= middle for line in caring}
    return Measure(len(halves) / 2)


def _specific(c: Conversation, line: Line) -> frozenset[str]:
    """Content the agent's turn shares with what the customer said before it."""
    return line.content & c.said_before(line.index)


@feature("ownership_timed", "ownership with a time: what the agent does and when")
def ownership_timed(c: Conversation) -> Measure:
    evidence = []
    for line in c.agent:
        for span in line.find(OWNERSHIP):
            sentence = line.sentence_at(span[0])
            timed = line.first(TIMED, sentence[0])
            if timed and timed[1] <= sentence[1]:
                evidence.append(line.evidence(sentence, "says what they will do and when"))
                break
    return Measure(_count(len(evidence)), evidence)


@feature("specific_care", "care tied to this customer's situation (their words, their facts)")
def specific_care(c: Conversation) -> Measure:
    evidence = []
    for line in c.agent:
        span = line.first(ACKNOWLEDGE) or line.first(FEELING) or line.first(OWNERSHIP)
        if span and len(_specific(c, line)) >= 2:
            sentence = line.sentence_at(span[0])
            evidence.append(line.evidence(sentence, "care about this customer's own situation"))
    return Measure(_count(len(evidence)), evidence)


def _sentence_content(line: Line, span: tuple[int, int]) -> frozenset[str]:
    found = line.sentence_content.get(span)
    if found is None:
        text = line.lower[span[0] : span[1]]
        found = frozenset(stem(w) for w in WORD.findall(text) if len(w) > 2 and w not in STOPWORDS)
        line.sentence_content[span] = found
    return found


@_once
def _feeling_sentences(c: Conversation) -> tuple[list[Evidence], list[Evidence]]:
    """Sentences that acknowledge, name a feeling or own the fault: (tied to what this customer
    said, at least two of their content words; generic)."""
    hollow = {line.index for line in _hollow(c)[0]}
    tied, generic = [], []
    for line in c.agent:
        if line.index in hollow:
            continue
        said = c.said_before(line.index)
        seen: set[tuple[int, int]] = set()
        for pattern in (ACKNOWLEDGE, FEELING, ACCOUNTABLE):
            for span in line.find(pattern):
                sentence = line.sentence_at(span[0])
                if sentence in seen:
                    continue
                seen.add(sentence)
                if _sentence_content(line, sentence) & said:
                    tied.append(line.evidence(sentence, "names the feeling in their situation"))
                else:
                    generic.append(line.evidence(span, "a general acknowledgement"))
    return tied, generic


@feature("feeling_in_situation", "names the feeling or the fault in this customer's situation")
def feeling_in_situation(c: Conversation) -> Measure:
    tied, _ = _feeling_sentences(c)
    return Measure(_count(len({e.turn for e in tied})), tied)


@feature("generic_acknowledgement", "acknowledges in general words only")
def generic_acknowledgement(c: Conversation) -> Measure:
    tied, generic = _feeling_sentences(c)
    turns = {e.turn for e in generic} - {e.turn for e in tied}
    return Measure(_count(len(turns)), [e for e in generic if e.turn in turns])


@feature("paraphrase", "restates the customer's content in new words")
def paraphrase(c: Conversation) -> Measure:
    """A paraphrase shares at least two content words with what the customer said and adds
    at least two of its own (a parrot repeats; a paraphrase rewords), in a sentence that
    restates ("So…", "Just to confirm…", "You mentioned…") or that is confirmed with a question."""
    evidence = []
    for line in c.agent:
        said = c.said_before(line.index)
        if not said:
            continue
        for m in SENTENCE.finditer(line.lower):
            sentence = m.group()
            words = {stem(w) for w in WORD.findall(sentence) if len(w) > 2 and w not in STOPWORDS}
            shared, new = words & said, words - said
            restating = RESTATE.search(sentence) or (
                sentence.rstrip().endswith("?") and CONFIRM.search(sentence)
            )
            if len(shared) >= 2 and len(new) >= 1 and restating:
                span = line.sentence_at(m.start() + len(sentence) - len(sentence.lstrip()))
                evidence.append(line.evidence(span, "restates the customer's issue in new words"))
    return Measure(_count(len(evidence)), evidence)


@feature("checks_resolution", "checks at the end that the outcome meets the need")
def checks_resolution(c: Conversation) -> Measure:
    turns, evidence = _matches(c.agent[-2:], CONFIRM, "checks the resolution meets the need")
    return Measure(1.0 if turns else 0.0, evidence)


@feature("clarifying", "asks clarifying questions")
def clarifying(c: Conversation) -> Measure:
    evidence = [
        Evidence(line.index, m.start(), m.end(), m.group(), "asks a clarifying question")
        for line in c.agent
        for a, b in line.questions
        for m in [CLARIFY.search(line.turn.text, a, b)]
        if m
    ]
    return Measure(_count(len({e.turn for e in evidence})), evidence)


@feature("picks_up_detail", "brings back a detail the customer gave earlier in passing")
def picks_up_detail(c: Conversation) -> Measure:
    """A word from a customer turn before the one the agent answers (not the latest turn)."""
    evidence = []
    earlier: set[str] = set()  # the customer's words before their latest turn
    latest: Line | None = None
    for line in c.lines:
        if line.turn.speaker == CUSTOMER:
            if latest is not None:
                earlier |= latest.content
            latest = line
            continue
        if line.turn.speaker != AGENT or latest is None or not earlier:
            continue
        recalled = (line.content & earlier) - latest.content
        if len(recalled) >= 2:
            word = max(recalled, key=len)
            span = next(
                (
                    (m.start(), m.end())
                    for m in WORD.finditer(line.lower)
                    if stem(m.group()) == word
                ),
                None,
            )
            if span is not None and line.exact_lower:
                evidence.append(
                    line.evidence(line.sentence_at(span[0]), "picks up an earlier detail")
                )
    return Measure(_count(len(evidence)), evidence)


@feature("asks_again", "asks for information the customer already gave")
def asks_again(c: Conversation) -> Measure:
    evidence = []
    for line in c.agent:
        before = c.customer_before(line.index)
        if not before:
            continue
        for asked, given in INFO_REQUESTS.values():
            span = line.first(asked)
            if span is None:
                continue
            sentence = line.sentence_at(span[0])
            if not ASKING.search(line.lower[sentence[0] : sentence[1] + 1]):
                continue
            if any(turn.first(given) for turn in before):
                evidence.append(
                    line.evidence(sentence, "asks for what the customer already gave", False)
                )
                break
    return Measure(_count(len(evidence)), evidence)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@_once
def _repeated_questions(c: Conversation) -> list[tuple[Line, Line]]:
    """(earlier, later) customer turns asking much the same question."""
    asked: list[tuple[Line, frozenset[str]]] = []
    pairs = []
    for line in c.customer:
        questions = [line.lower[a:b] for a, b in line.questions]
        if not questions:
            continue
        content = frozenset(
            stem(w) for q in questions for w in WORD.findall(q) if len(w) > 2 and w not in STOPWORDS
        )
        if len(content) < 2:
            continue
        for earlier, words in asked:
            if _jaccard(content, words) >= 0.34:
                pairs.append((earlier, line))
                break
        asked.append((line, content))
    return pairs


@feature("repeated_question", "the customer asks the same question again")
def repeated_question(c: Conversation) -> Measure:
    pairs = _repeated_questions(c)
    evidence = [
        later.evidence(later.questions[0], "the customer asks the same question again", False)
        for _, later in pairs
    ]
    return Measure(_count(len(pairs)), evidence)


@feature("same_reply", "the agent's reply to a repeated question does not change")
def same_reply(c: Conversation) -> Measure:
    """A repeated question answered like the first time (most words the same, nothing new)."""
    evidence = []
    for earlier, later in _repeated_questions(c):
        first, second = c.next_agent(earlier.index), c.next_agent(later.index)
        if first is None or second is None or first is second:
            continue
        if (
            _jaccard(first.content, second.content) >= 0.4
            or len(second.content - first.content) < 3
        ):
            evidence.append(
                second.evidence((0, len(second.turn.text)), "same answer to a repeat", False)
            )
    return Measure(_count(len(evidence)), evidence)


@_once
def _refusals(c: Conversation) -> tuple[list[Evidence], list[Evidence]]:
    """Refusals with an alternative (same turn after the refusal, or the next agent turn) and
    refusals without one."""
    offered, bare = [], []
    for line in c.agent:
        for span in line.find(REFUSAL):
            following = c.next_agent(line.index)
            alternative = line.first(ALTERNATIVE) or line.first(OWNERSHIP, span[1])
            if alternative is None and following is not None:
                alternative = following.first(ALTERNATIVE)
            if alternative is not None:
                offered.append(line.evidence(span, "refuses, and offers an alternative"))
            else:
                bare.append(line.evidence(span, "refuses without an alternative", False))
            break  # one refusal per turn is enough to read the turn
    return offered, bare


@feature("refusal_with_alternative", "a refusal turned into an alternative")
def refusal_with_alternative(c: Conversation) -> Measure:
    offered, _ = _refusals(c)
    return Measure(_count(len(offered)), offered)


@feature("refusal_bare", "a refusal with no alternative")
def refusal_bare(c: Conversation) -> Measure:
    _, bare = _refusals(c)
    return Measure(_count(len(bare)), bare)


@feature("tone_mean", "mean VADER tone of the agent's turns")
def tone_mean(c: Conversation) -> Measure:
    return Measure(sum(line.tone for line in c.agent) / max(1, len(c.agent)))


@feature("tone_min", "the agent's most negative turn (VADER)")
def tone_min(c: Conversation) -> Measure:
    worst = min(c.agent, key=lambda line: line.tone, default=None)
    if worst is None or worst.tone >= 0:
        return Measure(0.0)
    return Measure(worst.tone)


@feature("positive_close", "ends on a clear next step in a positive tone")
def positive_close(c: Conversation) -> Measure:
    if not c.agent:
        return Measure(0.0)
    last = c.agent[-2:]
    for line in reversed(last):
        span = line.first(OWNERSHIP) or line.first(ALTERNATIVE) or line.first(TIMED)
        if span and line.tone >= 0:
            return Measure(1.0, [line.evidence(line.sentence_at(span[0]), "ends on a next step")])
    return Measure(0.0)


@feature("customer_end_tone", "how the customer sounds in their last turn")
def customer_end_tone(c: Conversation) -> Measure:
    return Measure(c.customer[-1].tone if c.customer else 0.0)


@feature("cut_off", "the customer is cut off or says they feel rushed")
def cut_off(c: Conversation) -> Measure:
    turns, evidence = _matches(c.customer, CUT_OFF, "the customer feels rushed or cut off", False)
    for line in c.customer:
        span = line.first(INTERRUPTED_END)
        following = c.lines[line.index + 1] if line.index + 1 < len(c.lines) else None
        if span and following is not None and following.turn.speaker == AGENT:
            turns.add(line.index)
            evidence.append(line.evidence(span, "the customer is cut off mid-sentence", False))
    return Measure(_count(len(turns)), evidence)


@feature("clipped", "short, clipped answers (four words or fewer)")
def clipped(c: Conversation) -> Measure:
    evidence = [
        line.evidence((0, len(line.turn.text)), "a clipped answer", False)
        for line in c.agent[1:]
        if line.words <= 4 and not line.first(PATIENT)
    ]
    return Measure(len(evidence) / max(1, len(c.agent)), evidence)


@_once
def _confused(c: Conversation) -> list[Line]:
    return [line for line in c.customer if line.first(CONFUSED)]


@feature("reexplains", "after confusion or a repeat, explains again in other words")
def reexplains(c: Conversation) -> Measure:
    evidence = []
    for line in _confused(c) + [b for _, b in _repeated_questions(c)]:
        reply = c.next_agent(line.index)
        if reply is None or reply.index != line.index + 1:
            continue
        earlier = [a for a in c.agent if a.index < line.index]
        said: set[str] = set()
        for a in earlier:
            said |= a.content
        if reply.words >= 8 and len(reply.content - said) >= 3 and not reply.first(IMPATIENT):
            evidence.append(reply.evidence(reply.sentence_at(0), "explains again in other words"))
    return Measure(_count(len(evidence)), evidence)


@feature("short_to_repeat", "a clipped or irritated answer to a repeated or confused turn")
def short_to_repeat(c: Conversation) -> Measure:
    evidence = []
    repeated = {b.index for _, b in _repeated_questions(c)}
    for line in c.customer:
        if not (line.index in repeated or line.first(CONFUSED) or line.first(CUSTOMER_REPEATS)):
            continue
        reply = c.next_agent(line.index)
        if reply is not None and (reply.words <= 8 or reply.first(IMPATIENT)):
            evidence.append(
                reply.evidence((0, len(reply.turn.text)), "short answer to a repeat", False)
            )
    return Measure(_count(len(evidence)), evidence)


@feature("rushed_reply", "answers a long message within two seconds")
def rushed_reply(c: Conversation) -> Measure:
    evidence = []
    for line in c.agent:
        before = c.lines[line.index - 1] if line.index else None
        if (
            before is not None
            and before.turn.speaker == CUSTOMER
            and line.turn.at is not None
            and before.turn.at is not None
            and before.words > 25
            and 0 <= line.turn.at - before.turn.at <= 2
        ):
            evidence.append(line.evidence(line.sentence_at(0), "answers within two seconds", False))
    return Measure(_count(len(evidence)), evidence)


@feature("length_fit", "agent turn length against the channel's usual length (log ratio)")
def length_fit(c: Conversation) -> Measure:
    if not c.agent:
        return Measure(0.0)
    norm = CHANNEL_WORDS.get(c.channel, CHANNEL_WORDS["chat"])
    mean = sum(line.words for line in c.agent) / len(c.agent)
    return Measure(abs(math.log(max(mean, 1) / norm)))


@feature("walls_of_text", "agent turns over twice the channel's usual length")
def walls_of_text(c: Conversation) -> Measure:
    norm = CHANNEL_WORDS.get(c.channel, CHANNEL_WORDS["chat"])
    evidence = [
        line.evidence(line.sentence_at(0), f"long for {c.channel} ({line.words} words)", False)
        for line in c.agent
        if line.words > 2 * norm
    ]
    return Measure(len(evidence) / max(1, len(c.agent)), evidence)


@feature("jargon", "jargon the customer did not use first")
@_once
def jargon(c: Conversation) -> Measure:
    evidence = []
    for line in c.agent:
        for start, end in line.find(JARGON):
            term = line.lower[start:end]
            if not any(term in before.lower for before in c.customer_before(line.index)):
                evidence.append(
                    line.evidence((start, end), "jargon the customer did not use", False)
                )
    return Measure(_count(len(evidence)), evidence)


@feature("jargon_to_confused", "jargon after the customer said they were confused or lay")
def jargon_to_confused(c: Conversation) -> Measure:
    confused = [line.index for line in _confused(c)]
    if not confused:
        return Measure(0.0)
    evidence = [e for e in jargon(c).evidence if e.turn > confused[0]]
    return Measure(_count(len(evidence)), evidence)


@feature("register_mismatch", "a stiff, formal register with a casual customer, or the reverse")
def register_mismatch(c: Conversation) -> Measure:
    casual = sum(1 for line in c.customer for _ in line.find(INFORMAL))
    formal_customer = sum(1 for line in c.customer for _ in line.find(FORMAL))
    evidence = []
    if casual >= 2 and formal_customer == 0:
        _, evidence = _matches(c.agent, FORMAL, "formal register with a casual customer", False)
    elif formal_customer >= 1 and casual == 0:
        _, evidence = _matches(c.agent, INFORMAL, "casual register with a formal customer", False)
    return Measure(_count(len(evidence)), evidence)


@feature("adapts_after_confusion", "changes approach after the customer is confused")
def adapts_after_confusion(c: Conversation) -> Measure:
    evidence = []
    for line in _confused(c):
        reply = c.next_agent(line.index)
        if reply is None:
            continue
        span = reply.first(ADAPT) or reply.first(PATIENT)
        simpler = not reply.first(JARGON) and reply.words <= 2 * CHANNEL_WORDS.get(c.channel, 22)
        if span and simpler:
            evidence.append(
                reply.evidence(
                    reply.sentence_at(span[0]), "changes approach for a confused customer"
                )
            )
    return Measure(_count(len(evidence)), evidence)


@feature("agent_repeats_itself", "the agent sends much the same turn twice (a script)")
def agent_repeats_itself(c: Conversation) -> Measure:
    evidence = []
    for i, line in enumerate(c.agent):
        if len(line.content) >= 4 and any(
            _jaccard(line.content, other.content) >= 0.6 for other in c.agent[:i]
        ):
            evidence.append(line.evidence(line.sentence_at(0), "repeats an earlier turn", False))
    return Measure(_count(len(evidence)), evidence)


# Trade abbreviations in capitals ("PSR", "DNO", "CoP", "PTS"), read on the original text:
# capitals are the signal. Everyday ones every customer knows are not jargon.
ABBREVIATION = re.compile(r"\b[A-Z][A-Za-z]?[A-Z0-9]{1,4}s?\b")
EVERYDAY_ABBREVIATIONS = frozenset(
    """OK UK US USA EU TV PC ID PIN AM PM GP NHS BBC PDF SMS DVD CD ATM VAT MOT DIY FAQ
    ASAP CEO HR IT I II III IV""".split()  # noqa: SIM905 -- a word list reads better as text
)
LONG_WORD = 10  # letters: "eligibility", "interruption", "compensation"


@feature("abbreviations", "trade abbreviations the customer did not use first")
@_once
def abbreviations(c: Conversation) -> Measure:
    evidence = []
    used: set[str] = set()  # what the customer has written so far
    for line in c.lines:
        if line.turn.speaker == CUSTOMER:
            used.update(m.group().lower() for m in line.abbreviations)
            continue
        if line.turn.speaker != AGENT:
            continue
        for m in line.abbreviations:
            term = m.group()
            if term.rstrip("s") in EVERYDAY_ABBREVIATIONS or term in EVERYDAY_ABBREVIATIONS:
                continue
            if term.lower() in used or not any(ch.isupper() for ch in term[1:]):
                continue
            evidence.append(
                line.evidence(m.span(), "an abbreviation the customer did not use", False)
            )
    return Measure(_count(len(evidence)), evidence)


EXPLAINS = _pattern(
    r"that means",
    r"which means",
    r"meaning",
    r"i\.e\.",
    r"in other words",
    r"in plain",
    r"(?:is|it'?s) (?:just |basically |simply )?(?:the|a|an|what|how|where|when)",
    r"stands for",
    r"basically",
    r"think of it",
)


@_once
def _terms(c: Conversation) -> list[Evidence]:
    """Jargon and abbreviations the customer did not use first."""
    return jargon(c).evidence + abbreviations(c).evidence


@feature("jargon_unexplained", "jargon or abbreviations not explained in the same sentence")
def jargon_unexplained(c: Conversation) -> Measure:
    evidence = []
    for term in _terms(c):
        line = c.lines[term.turn]
        sentence = line.sentence_at(term.start)
        explained = line.first(EXPLAINS, term.end)
        if explained is None or explained[0] >= sentence[1]:
            evidence.append(term)
    return Measure(_count(len(evidence)), evidence)


def _long_share(lines: list[Line]) -> float:
    words = [w for line in lines for w in line.tokens]
    return sum(1 for w in words if len(w) >= LONG_WORD) / max(1, len(words))


@feature("long_words_gap", "long words, beyond the customer's own share of them")
def long_words_gap(c: Conversation) -> Measure:
    return Measure(_long_share(c.agent) - _long_share(c.customer))


def measure_all(transcript: Transcript, names: list[str] | None = None) -> dict[str, Measure]:
    """Every registered feature (or the ``names`` asked for) of one conversation."""
    conversation = Conversation.of(transcript)
    return {name: FEATURES[name](conversation) for name in names or list(FEATURES)}
