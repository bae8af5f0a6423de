"""PII detection and redaction: checksummed regexes for formats, a model-plus-rules detector for names.

Each format kind has a candidate regex and, where the format has one, a checksum or structural check that
removes most false positives: Luhn for card numbers (and Canadian SINs), ISO 13616 mod-97 for IBANs, the stdlib
``ipaddress`` parser for IP addresses, the issuing rules of US SSNs and UK NINOs (either case), the check
letter of Spanish DNIs and the Verhoeff digit of Indian Aadhaar numbers. Phones cover international, NANP,
national trunk and French (``06 79 10 52 41``, ``03.93.26.65.36``) formats; a bare nine-digit number counts as
an SSN or TIN only right after a word that says so (``SSN``, ``social``, ``TIN``). These are pure ``re`` work,
a few microseconds per short text.

Names (``person``) are on by default too: :mod:`workbench.guardrails.names` scores words with an offline NER
model, a first-name lexicon, context words and hard-negative rules (about 10 ms per short text with the model).
Names are looked for last, so a name inside an e-mail address is reported as the e-mail. More detectors can be
registered with :func:`register_pii_detector` and named in a policy (``pii.detectors``).

Detection is probabilistic: precision and recall are measured on ``tests/data/pii_labelled.jsonl`` and
``tests/data/pii_names_labelled.jsonl`` by ``bench/guardrails.py``, and a test holds a floor on them. Treat
redaction as a safety net, not a boundary.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from workbench._registry import Registry
from workbench.guardrails.names import find_person_names, might_hold_a_name

#: Every kind :func:`scan_pii` can report.
PII_KINDS: tuple[str, ...] = (
    "email",
    "phone",
    "credit_card",
    "iban",
    "ip_address",
    "national_id",
    "person",
)
#: Kinds the built-in regex detectors find (every kind but ``person``).
REGEX_KINDS: tuple[str, ...] = PII_KINDS[:-1]
#: Kinds :func:`scan_pii` looks for when none are named: all of them, names included.
DEFAULT_KINDS: tuple[str, ...] = PII_KINDS


@dataclass(frozen=True)
class PiiFinding:
    """One piece of PII found in a text.

    Attributes:
        kind: One of :data:`PII_KINDS`.
        start: Offset of the first character in the scanned text.
        end: Offset one past the last character.
        text: The matched text (raw PII: never log or store it).
        detail: Sub-format, e.g. ``"us_ssn"``, ``"uk_nino"``, ``"visa"``, ``"ipv6"``.
    """

    kind: str
    start: int
    end: int
    text: str = field(repr=False)
    detail: str | None = None

    @property
    def placeholder(self) -> str:
        """The token that replaces this finding in redacted text, e.g. ``[EMAIL]``."""
        return f"[{self.kind.upper()}]"


@dataclass(frozen=True)
class RedactionResult:
    """A redacted text and what was removed from it.

    Attributes:
        text: The text with every finding replaced by its placeholder.
        findings: The findings, in text order (offsets refer to the original text).
    """

    text: str
    findings: list[PiiFinding]

    @property
    def kinds(self) -> list[str]:
        """Sorted distinct kinds that were redacted."""
        return sorted({f.kind for f in self.findings})

    @property
    def changed(self) -> bool:
        """Whether anything was redacted."""
        return bool(self.findings)


#: A detector takes a text and returns findings; register extra ones (another NER model, in-house ids) by name.
PiiDetector = Callable[[str], Sequence[PiiFinding]]
PII_DETECTORS: Registry[PiiDetector] = Registry("PII detector", group="workbench.pii_detectors")


def register_pii_detector(name: str, detector: PiiDetector, *, replace: bool = False) -> PiiDetector:
    """Register an extra detector (for example another NER model, or an in-house id format).

    Args:
        name: The name a policy uses in ``pii.detectors``.
        detector: ``detector(text) -> [PiiFinding, ...]``.
        replace: Replace an existing registration of the same name.

    Returns:
        The detector, so this also works as a plain call in a plugin module.
    """
    PII_DETECTORS.register(name, detector, replace=replace)
    return detector


# --------------------------------------------------------------------------------------------------- checksums


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn (mod 10) check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


#: IBAN length per country (ISO 13616 registry, the countries seen in practice).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(iban: str) -> bool:
    """Whether a compact (no spaces) upper-case IBAN has the right length and passes ISO 7064 mod-97."""
    if len(iban) != IBAN_LENGTHS.get(iban[:2], -1) or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def verhoeff_valid(digits: str) -> bool:
    """Whether a digit string passes the Verhoeff check (used by Aadhaar numbers)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][ord(ch) - 48]]
    return c == 0


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

# ---------------------------------------------------------------------------------------------------- patterns

_EMAIL = re.compile(r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")

_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\d-])")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|35|6(?:011|5|4[4-9]|2))")

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}")

_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)(?![\w-])"
)
_IPV6 = re.compile(r"(?<![\w:.])\[?((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3}))\]?(?![\w:])")
_VERSION_CONTEXT = re.compile(r"(?:version|ver\.?|v|release|build|firmware|rev\.?)\s*$", re.IGNORECASE)

_SSN = re.compile(r"(?<![\w+-])(?<!\d[ -])(?!000|666|9\d\d)(\d{3})([- ])(?!00)(\d{2})\2(?!0000)(\d{4})(?![\d-])")
# A bare nine-digit number is an SSN (or a TIN, which may start with 9) only right after a word that says so.
_ID_WORD_GAP = r"(?:\s*(?:is|was|number|no\.?|nr\.?|[:#=-]))*\s*"
_SSN_BARE = re.compile(
    r"\b(?:ssn|social(?: security)?)" + _ID_WORD_GAP + r"(?!000|666|9\d\d)(\d{3}(?!00)\d{2}(?!0000)\d{4})(?!\d)",
    re.IGNORECASE,
)
_TIN_BARE = re.compile(
    r"\b(?:i?tin|tax(?:payer)? id(?:entification)?)" + _ID_WORD_GAP + r"(?!000000000)(\d{9})(?!\d)", re.IGNORECASE
)
_NINO = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SIN = re.compile(r"(?<![\w+-])(?<!\d[ -])([1-79]\d{2})([- ])(\d{3})\2(\d{3})(?![\d-])")
_DNI = re.compile(r"(?<![A-Za-z0-9])(\d{8})-?([A-Z])(?![A-Za-z0-9])")
_AADHAAR = re.compile(r"(?<![\w+-])(?<!\d[ -])([2-9]\d{3})([ -])(\d{4})\2(\d{4})(?![\d-])")

_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w])")
_PHONE_NANP = re.compile(r"(?<![\w.+-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|\.\d)")
_PHONE_TRUNK = re.compile(r"(?<![\w.+-])\(?0\d{1,4}\)?[ -]\d{3,4}[ -]?\d{3,4}(?![\w-]|\.\d)")
# French national numbers: 0 + nine digits in five pairs, one separator throughout ("06 79 10 52 41").
_PHONE_FR = re.compile(r"(?<![\w.+-])0[1-9]([ .-])\d{2}(?:\1\d{2}){3}(?![\w-]|[.-]\d)")
_PHONE_CONTEXT = re.compile(
    r"(?:phone|tel|telephone|mobile|cell|call|fax|ring|whatsapp|sms|text me)(?: (?:me|us|number|no\.?))?(?: (?:at|on))?[:\s]{1,3}(\+?\d[\d ]{8,15}\d)(?![\w-])",
    re.IGNORECASE,
)


def _emails(text: str) -> Iterable[PiiFinding]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        yield PiiFinding("email", m.start(), m.end(), m.group())


def _cards(text: str) -> Iterable[PiiFinding]:
    for m in _CARD.finditer(text):
        raw = m.group()
        seps = {c for c in raw if not c.isdigit()}
        if len(seps) > 1:
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
            yield PiiFinding("credit_card", m.start(), m.end(), raw, _card_brand(digits))


def _card_brand(digits: str) -> str:
    if digits[0] == "4":
        return "visa"
    if digits[:2] in {"34", "37"}:
        return "amex"
    if digits[0] in "25":
        return "mastercard"
    if digits[0] == "6":
        return "discover"
    return "other"


def _ibans(text: str) -> Iterable[PiiFinding]:
    for m in _IBAN.finditer(text):
        country = m.group()[:2]
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        # Walk exactly `length` alphanumerics so a trailing upper-case word is not swallowed.
        raw = m.group()
        taken, end = 0, 0
        for i, ch in enumerate(raw):
            if ch != " ":
                taken += 1
                if taken == length:
                    end = i + 1
                    break
        if not end:
            continue
        nxt = text[m.start() + end : m.start() + end + 1]
        if nxt.isalnum():
            continue
        compact = raw[:end].replace(" ", "")
        if iban_valid(compact):
            yield PiiFinding("iban", m.start(), m.start() + end, raw[:end], country)


def _ips(text: str) -> Iterable[PiiFinding]:
    if "." in text:
        for m in _IPV4.finditer(text):
            if _VERSION_CONTEXT.search(text, max(0, m.start() - 12), m.start()):
                continue
            yield PiiFinding("ip_address", m.start(), m.end(), m.group(), "ipv4")
    if "::" in text or text.count(":") >= 5:
        for m in _IPV6.finditer(text):
            cand = m.group(1)
            if sum(c in "0123456789abcdefABCDEF" for c in cand) < 4:
                continue
            try:
                ipaddress.IPv6Address(cand)
            except ValueError:
                continue
            yield PiiFinding("ip_address", m.start(1), m.end(1), cand, "ipv6")


def _national_ids(text: str) -> Iterable[PiiFinding]:
    for m in _SSN.finditer(text):
        yield PiiFinding("national_id", m.start(), m.end(), m.group(), "us_ssn")
    for m in _SSN_BARE.finditer(text):
        yield PiiFinding("national_id", m.start(1), m.end(1), m.group(1), "us_ssn")
    for m in _TIN_BARE.finditer(text):
        yield PiiFinding("national_id", m.start(1), m.end(1), m.group(1), "us_tin")
    for m in _NINO.finditer(text):
        letters = [c for c in m.group() if c.isalpha()]
        # One case throughout ("ab 12 34 56 c" or "AB 12 34 56 C"), not a mixed-case identifier.
        if all(c.isupper() for c in letters) or all(c.islower() for c in letters):
            yield PiiFinding("national_id", m.start(), m.end(), m.group(), "uk_nino")
    for m in _SIN.finditer(text):
        if luhn_valid(m.group(1) + m.group(3) + m.group(4)):
            yield PiiFinding("national_id", m.start(), m.end(), m.group(), "ca_sin")
    for m in _DNI.finditer(text):
        if _DNI_LETTERS[int(m.group(1)) % 23] == m.group(2):
            yield PiiFinding("national_id", m.start(), m.end(), m.group(), "es_dni")
    for m in _AADHAAR.finditer(text):
        if verhoeff_valid(m.group(1) + m.group(3) + m.group(4)):
            yield PiiFinding("national_id", m.start(), m.end(), m.group(), "in_aadhaar")


def _phones(text: str) -> Iterable[PiiFinding]:
    for rx, detail in ((_PHONE_INTL, "international"), (_PHONE_NANP, "nanp"), (_PHONE_TRUNK, "national"), (_PHONE_FR, "fr")):
        for m in rx.finditer(text):
            raw = m.group().rstrip(" .-")
            while raw.endswith(")") and raw.count(")") > raw.count("("):
                raw = raw[:-1].rstrip(" .-")
            n = sum(c.isdigit() for c in raw)
            if 7 <= n <= 15:
                yield PiiFinding("phone", m.start(), m.start() + len(raw), raw, detail)
    low = text.lower()
    if not any(w in low for w in _PHONE_WORDS):
        return
    for m in _PHONE_CONTEXT.finditer(text):
        n = sum(c.isdigit() for c in m.group(1))
        if 9 <= n <= 15:
            yield PiiFinding("phone", m.start(1), m.end(1), m.group(1), "context")


def _persons(text: str) -> Iterable[PiiFinding]:
    for start, end in find_person_names(text):
        yield PiiFinding("person", start, end, text[start:end])


# Order = priority when two findings overlap (checksummed formats win over loose phone patterns; a name inside an
# e-mail address or an IBAN's bank code is that e-mail or IBAN).
_DETECTORS: dict[str, Callable[[str], Iterable[PiiFinding]]] = {
    "email": _emails,
    "iban": _ibans,
    "credit_card": _cards,
    "national_id": _national_ids,
    "ip_address": _ips,
    "phone": _phones,
    "person": _persons,
}
_PRIORITY = {kind: i for i, kind in enumerate(_DETECTORS)}


_NON_DIGITS = re.compile(r"\D+")
_DIGIT = re.compile(r"\d")
#: Fewest digits a text must hold for a kind to be possible (a cheap gate before any regex runs).
_MIN_DIGITS = {"email": 0, "credit_card": 13, "iban": 8, "national_id": 6, "ip_address": 3, "phone": 7, "person": 0}
_PHONE_WORDS = ("phone", "tel", "mobile", "cell", "call", "fax", "ring", "whatsapp", "sms", "text me")


def scan_pii(
    text: str,
    *,
    kinds: Iterable[str] | None = None,
    detectors: Iterable[str | PiiDetector] = (),
    allow: Iterable[str] = (),
) -> list[PiiFinding]:
    """Find PII in ``text``.

    Args:
        text: The text to scan.
        kinds: Restrict to these kinds (default: every kind, names included).
        detectors: Extra detectors, by registered name or as callables.
        allow: Exact strings that are never reported (e.g. a team's public support address).

    Returns:
        Non-overlapping findings in text order. Where two overlap, the checksummed kind wins, then the longer.
    """
    if not text:
        return []
    wanted = DEFAULT_KINDS if kinds is None else tuple(kinds)
    found: list[PiiFinding] = []
    digits = len(_NON_DIGITS.sub("", text))
    for kind, detect in _DETECTORS.items():
        if kind in wanted and digits >= _MIN_DIGITS[kind]:
            found.extend(detect(text))
    for det in detectors:
        fn = PII_DETECTORS.get(det) if isinstance(det, str) else det
        found.extend(f for f in fn(text) if kinds is None or f.kind in wanted)
    if not found:
        return []
    allowed = {a.lower() for a in allow}
    if allowed:
        found = [f for f in found if f.text.lower() not in allowed]
    return _resolve_overlaps(found)


def _resolve_overlaps(found: list[PiiFinding]) -> list[PiiFinding]:
    if len(found) == 1:
        return found
    ranked = sorted(found, key=lambda f: (_PRIORITY.get(f.kind, 99), -(f.end - f.start), f.start))
    kept: list[PiiFinding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: f.start)
    return kept


def redact(
    text: str,
    *,
    kinds: Iterable[str] | None = None,
    detectors: Iterable[str | PiiDetector] = (),
    allow: Iterable[str] = (),
    findings: Sequence[PiiFinding] | None = None,
) -> RedactionResult:
    """Replace every PII finding in ``text`` with a placeholder such as ``[EMAIL]``.

    Args:
        text: The text to redact.
        kinds: Restrict to these kinds (default: every kind, names included).
        detectors: Extra detectors, as in :func:`scan_pii`.
        allow: Exact strings never redacted.
        findings: Findings from an earlier :func:`scan_pii` of the same text (skips the scan).

    Returns:
        The redacted text and the findings.
    """
    found = list(findings) if findings is not None else scan_pii(text, kinds=kinds, detectors=detectors, allow=allow)
    if not found:
        return RedactionResult(text, [])
    parts: list[str] = []
    pos = 0
    for f in found:
        parts.append(text[pos : f.start])
        parts.append(f.placeholder)
        pos = f.end
    parts.append(text[pos:])
    return RedactionResult("".join(parts), found)


class StreamRedactor:
    """Redacts a text that arrives in chunks (a streamed generation) without showing raw PII.

    While the last ``holdback`` characters hold a digit, it keeps them back (a card, phone, IBAN, id or IP may
    still be growing there); otherwise it keeps back only the last word (an e-mail's local part arrives before
    its ``@``), and any capitalised words right before it (``Sarah`` may still become ``Sarah Whitfield``).
    Everything before is released, redacted; each scan also reads up to ``holdback`` characters of already
    released text, so a name keeps its context (``thanks ben``). The released pieces joined together equal
    ``redact(full_text).text``, as long as no single PII value is longer than ``holdback`` (IBANs, the longest,
    are at most 42 characters with spaces) and the name detector decides the same with the text seen so far.

    Args:
        holdback: Characters kept back until more text (or the end) arrives.
        **scan_kwargs: Passed to :func:`scan_pii` (``kinds``, ``detectors``, ``allow``).
    """

    def __init__(self, holdback: int = 64, **scan_kwargs: object) -> None:
        self.holdback = holdback
        self._scan_kwargs = scan_kwargs
        self._raw = ""
        self._released = 0  # offset in _raw up to which text has been released
        self.findings: list[PiiFinding] = []

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the redacted text that is now safe to show (may be ``""``)."""
        self._raw += chunk
        raw = self._raw
        tail = raw[max(self._released, len(raw) - self.holdback) :]
        # A digit in the window: a card, phone, IBAN, id or IP may still be growing, so keep the window back.
        # No digit: only the last word can still become PII (an e-mail's local part), so keep just that, and
        # the capitalised words before it (a name may still be growing).
        if _DIGIT.search(tail):
            cut = len(raw) - self.holdback
        else:
            cut = max(raw.rfind(" "), raw.rfind("\n")) + 1
            cut = max(_before_capitalised_words(raw, cut, self._released), len(raw) - self.holdback)
        if cut <= self._released:
            return ""
        return self._release(cut)

    def close(self) -> str:
        """Release everything still held back, redacted."""
        return self._release(len(self._raw), final=True)

    @property
    def text(self) -> str:
        """Everything fed so far (raw)."""
        return self._raw

    def _release(self, cut: int, final: bool = False) -> str:
        start = self._released
        # Read some released text too (whole words), so the name detector sees what came before.
        ctx = max(0, start - self.holdback)
        if ctx:
            space = self._raw.find(" ", ctx, start)
            ctx = space + 1 if space >= 0 else start
        kwargs = self._scan_kwargs
        if not might_hold_a_name(self._raw[ctx:cut], start - ctx):
            # Most released pieces are a lower-case word or two: no name can be in them, so skip the model.
            kinds: Iterable[str] = kwargs.get("kinds") or DEFAULT_KINDS  # type: ignore[assignment]
            kwargs = {**kwargs, "kinds": [k for k in kinds if k != "person"]}
        found = scan_pii(self._raw[ctx:], **kwargs)  # type: ignore[arg-type]
        out: list[str] = []
        pos = start
        for f in found:
            fs, fe = f.start + ctx, f.end + ctx
            if fe <= start:
                continue  # released (and redacted) before
            if not final and fe > cut - 1:
                # A finding reaching into the held-back tail may still grow: stop before it.
                cut = min(cut, max(fs, start))
                break
            if fs >= cut:
                break
            out.append(self._raw[pos : max(fs, pos)])
            out.append(f.placeholder)
            self.findings.append(PiiFinding(f.kind, fs, fe, f.text, f.detail))
            pos = fe
        if pos < cut:
            out.append(self._raw[pos:cut])
            pos = cut
        self._released = max(pos, self._released)
        return "".join(out)


def _before_capitalised_words(raw: str, cut: int, floor: int) -> int:
    """Move ``cut`` back over the capitalised words that end right before it (never below ``floor``)."""
    pos = cut
    while pos > floor:
        end = pos
        while end > floor and raw[end - 1].isspace():
            end -= 1
        begin = end
        while begin > floor and not raw[begin - 1].isspace():
            begin -= 1
        word = raw[begin:end].lstrip("\"'([<*_")
        if begin == end or not word[:1].isupper():
            break
        pos = begin
    return pos
