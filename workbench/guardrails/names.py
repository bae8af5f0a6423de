"""Person names (``person`` PII): an NER model, a first-name lexicon, context words and hard-negative rules.

No single signal is enough on workplace text, so each word gets a score from several, and a name is a run of
words whose first word scores :data:`ACCEPT` or more (measured on ``tests/data/pii_names_labelled.jsonl``):

- **Model** (:mod:`workbench.guardrails.ner`): the Rampart token classifier's P(name) for the word (+2 at 0.5,
  +3 at 0.85, -1 under 0.1). It finds lower-case chat mentions and names from many languages, but on its own it
  also tags companies (``Morgan Stanley``), products (``Alexa``), handles and code (precision 0.73 alone).
- **Lexicon**: given and family names from the locale data of `Faker <https://pypi.org/project/Faker/>`_
  (MIT, 86 locales, ~31,000 given names), read from the installed package at first use. Chosen over
  ``names-dataset`` (55 MB of pickles from a leaked social-network dump, GBs of memory), ``gender-guesser``
  (GPLv3, incompatible with this Apache-2.0 project) and ``nameparser`` (titles and particles, no given names).
- **Context**: a title before (``Dr.``, ``Ms``), a greeting or address word (``Dear``, ``Hi``, ``thanks``,
  ``cc``, ``my colleague``, ``From:``, ``Regards,``), a capitalised word inside a sentence.
- **Hard negatives** (veto): ``@handles``, words glued to ``_ . / @`` (e-mails, paths, code), all-caps words,
  a run followed by an organisation or place word (``Inc``, ``Bank``, ``office``, ``station``, ``teams``), names
  joined by ``&`` (``Ernst & Young``), eponyms (``Gaussian noise``, ``Markov chain``), and a short gazetteer of
  months, days, languages and well-known companies and products named like people. Lower-case words need the
  model or a context word (``will``, ``mark``, ``grace`` are given names too).

A lone word that is not a known given name needs a title or a context word, so surnames-only company and
product names (``McKinsey``, ``Kubernetes``) stay. Without the model the same rules run on the lexicon and
context alone (``ACCEPT_NO_MODEL``), with lower recall. Errors are still possible (see the benchmark's list):
treat the redaction as a safety net, not a guarantee.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from workbench.guardrails.ner import TokenScore, get_tagger

#: Score at which a word starts a name (with the model / without it).
ACCEPT, ACCEPT_NO_MODEL = 3.0, 2.0

def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_POSSESSIVE = ("'s", "’s")
_SENTENCE_END = set(".!?:;\n\"“”(>•*|[")
_GLUE_BEFORE = set("@#/\\_.-=$%&+~")
_GLUE_AFTER = set("@_/\\=(+")

TITLES = _wordset(
    "dr mr mrs ms miss mx prof professor sir dame lady lord madam madame mme mlle monsieur herr frau señor señora "
    "sr sra srta dott sig rev mister"
)
# Words right before a name: greetings, address, sign-offs, "my colleague".
_CUES = _wordset(
    "dear hi hello hey hiya thanks thank thx ty cheers cc bcc attn regards best sincerely signed named called "
    "colleague colleagues manager boss ask ping tell told met welcome congratulate congrats"
)
# Field labels whose value is a person ("Owner: Dariusz", "From: Ana Okafor").
_LABEL_CUES = _wordset(
    "from to cc name owner reviewer customer contact attendees author assignee requester reporter employee "
    "candidate learner manager signed"
)
# A run followed by one of these is an organisation, a place or a thing named after a person.
_ORG_AFTER = _wordset(
    "inc ltd llc corp corporation co gmbh ag plc sa bv nv group bank partners capital holdings labs lab "
    "technologies technology systems solutions consulting enterprise enterprises foundation institute university "
    "college school hospital clinic airlines airways motors pharma healthineers industries international "
    "station street st road rd avenue ave square airport office offices branch campus centre center building "
    "team teams account accounts data award prize lecture theorem distance filter chain noise optimisation "
    "optimization correlation algorithm process method test index distribution law effect model models "
    "integration fleet contract api"
)
# Capitalised words that are names of people only rarely in workplace text.
_NOT_NAMES = _wordset(
    # months and days
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday christmas easter "
    # languages and nationalities
    "english french german spanish italian japanese chinese dutch polish portuguese russian arabic hindi korean "
    # programming languages and tools
    "python julia ruby rust go java kotlin swift perl scala haskell elixir dart excel word teams outlook "
    "jira confluence slack salesforce tableau kubernetes docker jupyter airflow spark apache "
    # assistants and models
    "alexa siri cortana watson gemini llama claude copilot mistral falcon phi gemma "
    # companies and brands named like people or places
    "morgan stanley wells fargo goldman sachs jpmorgan chase ford dell philips johnson procter gamble hewlett "
    "packard mercedes benz siemens deloitte mckinsey ernst young disney lauren kellogg boeing tesla "
    "acme globex contoso initech fabrikam northwind umbrella "
    # places that are also given names
    "charlotte victoria sydney austin florence georgia jackson lincoln paris london berlin brighton madrid "
    "lyon washington francisco louis virginia savannah adelaide "
    # eponyms
    "gaussian bayesian markov levenshtein pearson kalman turing boolean euclidean fourier poisson "
    # words capitalised in headings and UI
    "please summary action items welcome lessons agenda roadmap submit save export settings"
)


class _Word(NamedTuple):
    start: int
    end: int
    text: str
    lower: str
    cap: bool  # first letter upper, not all caps
    initial: bool  # first word of a sentence, line or field, where capitals say nothing
    glued: bool  # part of a handle, address, path or identifier
    camel: bool  # capitals inside the word ("LoRA", "PowerPoint"), past a name prefix ("McKinsey" is not)


@lru_cache(maxsize=1)
def lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """Lower-cased (given names, family names) from Faker's person providers (every locale)."""
    import faker.providers.person as people

    given: set[str] = set()
    family: set[str] = set()
    for info in pkgutil.iter_modules(people.__path__):
        provider = getattr(importlib.import_module(f"{people.__name__}.{info.name}"), "Provider", None)
        for attr, value in vars(provider).items() if provider is not None else ():
            if not isinstance(value, (dict, list, tuple)):
                continue
            into = given if attr.startswith("first_") else family if attr.startswith("last_") else None
            if into is None:
                continue
            for name in value:
                if isinstance(name, str):
                    into.update(part.lower() for part in name.split() if part.isalpha() or "-" in part)
    return frozenset(given), frozenset(family)


def _words(text: str) -> list[_Word]:
    words: list[_Word] = []
    for m in _WORD.finditer(text):
        start, end, word = m.start(), m.end(), m.group()
        if word.endswith(_POSSESSIVE):
            end -= 2
            word = word[:-2]
        j = start - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        prev = text[j] if j >= 0 else ""
        after = text[end : end + 2]
        glued = (start > 0 and text[start - 1] in _GLUE_BEFORE) or (
            bool(after) and (after[0] in _GLUE_AFTER or (after[0] == "." and len(after) > 1 and after[1].isalnum()))
        )
        camel = not word[1:].islower() and word[0].isupper() and _camel(word)
        cap = word[0].isupper() and not (len(word) > 1 and word.isupper()) and not camel
        initial = not prev or prev in _SENTENCE_END
        if initial and prev == "." and words and words[-1].end == j:
            # "Dr. Okonkwo", "A. Whitlock": the full stop closes an abbreviation, not a sentence.
            initial = not (words[-1].lower in TITLES or (len(words[-1].text) == 1 and words[-1].cap))
        words.append(_Word(start, end, word, word.lower(), cap, initial, glued, camel))
    return words


_NAME_PREFIX = re.compile(r"^(?:Mc|Mac|De|Di|Da|La|Le|Van|Von)(?=[A-Z])")


def _camel(word: str) -> bool:
    """``LoRA``, ``PowerPoint``, ``GitHub``: capitals inside a word part, past a name prefix (``McKinsey``)."""
    for part in re.split(r"['’-]", word):
        core = _NAME_PREFIX.sub("", part)
        if any(c.isupper() for c in core[1:]):
            return True
    return False


def find_person_names(text: str) -> list[tuple[int, int]]:
    """Character spans of person names in ``text`` (see the module docs for how they are decided)."""
    # A guarded generation scans the same text more than once (prompt check, telemetry, comparisons).
    with_model = get_tagger() is not None
    return list(_find_cached(text, with_model)) if len(text) <= _CACHE_MAX_CHARS else _find(text, with_model)


_CACHE_MAX_CHARS = 4096


def clear_cache() -> None:
    """Forget the names found per text (benchmarks clear it to time the full scan)."""
    _find_cached.cache_clear()


@lru_cache(maxsize=512)
def _find_cached(text: str, with_model: bool) -> tuple[tuple[int, int], ...]:
    return tuple(_find(text, with_model))


def _find(text: str, with_model: bool) -> list[tuple[int, int]]:
    words = _words(text)
    given, family = lexicon()
    starts = [w.start for w in words if _candidate(w, given)]
    if not starts:
        return []
    tagger = get_tagger() if with_model else None
    # Long texts: the model reads only the windows that hold a candidate word.
    def keep(begin: int, end: int) -> bool:
        k = bisect_left(starts, begin)
        return k < len(starts) and starts[k] < end

    probs = _word_probs(words, tagger.scores(text, keep=keep)) if tagger is not None else None
    accept = ACCEPT if probs is not None else ACCEPT_NO_MODEL
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        w = words[i]
        p = probs[i] if probs is not None else None
        if _vetoed(w, words, i, text) or _score(w, words, i, text, p, given, family) < accept:
            i += 1
            continue
        end_i = _extend(words, i, text, probs)
        if _org_follows(words, end_i, text) or _lone_unknown(words, i, end_i, text, given, p):
            i = end_i + 1
            continue
        start = words[i - 1].start if i and _context(words, i, text) == 2.0 and len(words[i - 1].text) == 1 else words[i].start
        spans.append((start, words[end_i].end))
        i = end_i + 1
    return spans


def might_hold_a_name(text: str, start: int = 0) -> bool:
    """A cheap, generous check: could ``text[start:]`` hold a name?

    True for a capitalised word inside a sentence, a known given name (one of three letters or fewer, which
    are often common words such as ``may``, only after a context word), or a context word. ``text[:start]`` is
    context only (whether a capital opens a sentence). Used by the stream redactor to skip the model for
    released pieces that cannot hold a name.
    """
    given = lexicon()[0]
    words = _words(text)
    for i, w in enumerate(words):
        if w.start < start or w.glued:
            continue
        after_cue = i > 0 and words[i - 1].lower in _CUES
        if (w.cap and (not w.initial or w.lower in given)) or w.lower in _CUES or after_cue:
            return True
        if w.lower in given and len(w.lower) > 3:
            return True
    return False


def _candidate(w: _Word, given: frozenset[str]) -> bool:
    # Cheap gate before the model: a capitalised word inside a sentence, a known given name, a context word.
    return not w.glued and ((w.cap and not w.initial) or w.lower in given or w.lower in _CUES)


def _word_probs(words: Sequence[_Word], scores: Sequence[TokenScore]) -> list[float]:
    probs = [0.0] * len(words)
    j = 0
    for i, w in enumerate(words):
        while j < len(scores) and scores[j].end <= w.start:
            j += 1
        k = j
        best = 0.0
        while k < len(scores) and scores[k].start < w.end:
            best = max(best, scores[k].name)
            k += 1
        probs[i] = best
    return probs


def _prev_word(words: Sequence[_Word], i: int, text: str) -> tuple[_Word | None, str]:
    """The word before ``words[i]`` and the characters between them."""
    if i == 0:
        return None, text[: words[i].start]
    prev = words[i - 1]
    return prev, text[prev.end : words[i].start]


def _context(words: Sequence[_Word], i: int, text: str) -> float:
    prev, gap = _prev_word(words, i, text)
    if prev is None:
        return 0.0
    if prev.lower in TITLES and gap.strip() in ("", "."):
        return 3.0
    if len(prev.text) == 1 and prev.cap and gap == ". ":
        return 2.0  # "A. Whitlock"
    if prev.lower in _LABEL_CUES and gap.strip() == ":":
        return 2.0
    if prev.lower in _CUES and gap.strip() in ("", ",", ":", "-"):
        return 2.0
    if prev.lower == "you" and i > 1 and words[i - 2].lower == "thank":
        return 2.0
    return 0.0


def _score(
    w: _Word, words: Sequence[_Word], i: int, text: str, p: float | None, given: frozenset[str], family: frozenset[str]
) -> float:
    score = _context(words, i, text)
    if w.lower in given:
        score += 1.0
    elif w.lower in family and w.cap:
        score += 0.5
    if w.cap and not w.initial:
        score += 1.0
    if not w.cap:
        score -= 1.0
    if p is not None:
        score += 3.0 if p >= 0.85 else 2.0 if p >= 0.5 else -1.0 if p < 0.1 else 0.0
    elif w.cap and i + 1 < len(words) and words[i + 1].cap and text[w.end : words[i + 1].start] == " ":
        score += 1.0  # "Given Family": two capitalised words in a row
    return score


def _vetoed(w: _Word, words: Sequence[_Word], i: int, text: str) -> bool:
    if w.glued or w.camel or len(w.text) < 2 or (w.text.isupper() and len(w.text) > 1):
        return True
    if w.lower in _NOT_NAMES or w.lower in TITLES or w.lower in _CUES:
        return True
    near = text[max(0, w.start - 3) : w.start] + text[w.end : w.end + 3]
    return "&" in near


_PARTICLES = _wordset("van der den de da di del della dos du la le von al el bin bint ibn ní nic mac ap ter")


def _extend(words: Sequence[_Word], i: int, text: str, probs: Sequence[float] | None) -> int:
    """The index of the last word of the name that starts at ``words[i]``."""
    end = i
    j = i + 1
    while j < len(words):
        gap = text[words[j - 1].end : words[j].start]
        w = words[j]
        if gap not in (" ", "-", ". ") or w.glued or w.lower in _NOT_NAMES or w.lower in _ORG_AFTER:
            break
        if gap == ". " and len(words[j - 1].text) != 1:
            break
        if w.lower in _PARTICLES:
            k = j
            while k < len(words) and words[k].lower in _PARTICLES and text[words[k - 1].end : words[k].start] == " ":
                k += 1
            if k < len(words) and k > j and words[k].cap and text[words[k - 1].end : words[k].start] == " ":
                end = j = k
                j += 1
                continue
            break
        same_case = w.cap == words[i].cap
        likely = w.cap or (probs is not None and probs[j] >= 0.3)
        if not (same_case and likely) or (w.text.isupper() and len(w.text) > 1):
            break
        end = j
        j += 1
    return end


def _org_follows(words: Sequence[_Word], end_i: int, text: str) -> bool:
    # "Hewlett Packard Enterprise", "Victoria station", "Sydney and Austin teams".
    j = end_i + 1
    while j < len(words):
        gap = text[words[j - 1].end : words[j].start]
        if gap.strip() not in ("", ",", "'s", "’s"):
            return False
        w = words[j]
        if w.lower in _ORG_AFTER:
            return True
        if not (w.cap or w.lower == "and"):
            return False
        j += 1
    return False


def _lone_unknown(
    words: Sequence[_Word], i: int, end_i: int, text: str, given: frozenset[str], p: float | None
) -> bool:
    # One word that is not a known given name needs a title or a context word ("Dr. Okonkwo", "named Xochitl").
    w = words[i]
    if end_i != i or w.lower in given or _context(words, i, text) > 0.0:
        return False
    return not (w.cap and p is not None and p >= 0.9)


__all__ = ["ACCEPT", "ACCEPT_NO_MODEL", "TITLES", "clear_cache", "find_person_names", "lexicon", "might_hold_a_name"]
