"""Prompt-injection heuristics for user prompts and retrieved text.

A weighted set of regex signals (instruction overrides, role hijacks, system-prompt extraction, fake chat
markup, hidden characters, encoded payloads...). The score combines the weights of the signals that fire as
``1 - prod(1 - w)``, so one strong signal or several weak ones cross the threshold. Retrieved text (documents
pulled into a prompt by RAG) gets extra signals, since a document has no business addressing the assistant.

These are heuristics with a measured operating point (``bench/guardrails.py`` on
``tests/data/prompt_injection_labelled.jsonl``), not a security boundary: classifier-based detectors reach
~95% accuracy on broad sets and still miss jailbreaks (see the research notes, C6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Source = Literal["user", "retrieved"]

_I = re.IGNORECASE

#: (name, weight, pattern, sources it applies to)
_SIGNALS: list[tuple[str, float, re.Pattern[str], tuple[str, ...]]] = [
    (
        "override_instructions",
        0.85,
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\b[\w\s,'-]{0,30}?\b(?:previous|prior|above|earlier|preceding|all|any|your|the|system|original|initial)\b[\w\s,'-]{0,20}?\b(?:instructions?|prompts?|rules?|guidelines?|directions?|context|constraints?|guardrails?|polic(?:y|ies)|programming)\b",
            _I,
        ),
        ("user", "retrieved"),
    ),
    (
        "new_instructions",
        0.5,
        re.compile(r"\b(?:new|updated|real|actual|revised)\s+(?:instructions?|system prompt)\s*(?::|are|is)", _I),
        ("user", "retrieved"),
    ),
    (
        "role_hijack",
        0.6,
        re.compile(
            r"\b(?:you are now|from now on,? you(?:'re| are| will)|pretend (?:to be|you are|you're|that you)[^.]{0,40}\b(?:no|without|unrestricted|unfiltered|uncensored|evil)\b|act as (?:an? )?(?:unfiltered|unrestricted|evil|jailbroken|different)|roleplay as|you have no (?:restrictions|rules|limits|filters))",
            _I,
        ),
        ("user", "retrieved"),
    ),
    (
        "jailbreak_persona",
        0.85,
        re.compile(
            r"\b(?i:do anything now|developer mode|jailbreak(?:ed)?|god mode|AIM mode|evil confidant)\b"
            r"|\b(?i:you are|you're|act as|become|now)\s+(?:now\s+)?(?:DAN|STAN)\b"
        ),
        ("user", "retrieved"),
    ),
    (
        "prompt_extraction",
        0.75,
        re.compile(
            r"\b(?:reveal|print|show|repeat|output|tell me|display|leak|dump|quote)\b[\w\s,']{0,25}?\b(?:(?:your|the) system prompt|what your system prompt|system message|initial (?:prompt|instructions)|hidden (?:prompt|instructions)|your (?:instructions|prompt|rules|guidelines)|instructions above|text above)",
            _I,
        ),
        ("user", "retrieved"),
    ),
    (
        "disable_safety",
        0.7,
        re.compile(
            r"\b(?:disable|turn off|remove|deactivate|ignore|without)\b[\w\s]{0,15}?\b(?:safety|content|moderation|ethical|guard ?rails?|filters?|censorship|restrictions)\b",
            _I,
        ),
        ("user", "retrieved"),
    ),
    (
        "fake_chat_markup",
        0.7,
        re.compile(
            r"(?:<\|im_start\|>|<\|im_end\|>|<\|system\|>|<\|assistant\|>|\[/?INST\]|<<SYS>>|<</SYS>>|^\s*#{2,}\s*(?:system|assistant)\s*:?|^\s*(?:system|assistant)\s*:\s)",
            _I | re.MULTILINE,
        ),
        ("user", "retrieved"),
    ),
    (
        "exfiltration",
        0.6,
        re.compile(
            r"\b(?:send|post|upload|forward|exfiltrate|email|transmit)\b[\w\s,]{0,30}?\b(?:(?:api|secret|private)? ?keys?|passwords?|credentials|tokens?|conversation|chat history|user data|the data)\b[\w\s,]{0,20}?\b(?:to|at)\b\s+(?:https?://|[\w.-]+@|the (?:url|address|server))",
            _I,
        ),
        ("user", "retrieved"),
    ),
    ("markdown_image_exfil", 0.6, re.compile(r"!\[[^\]]*\]\(https?://[^)]*[?&][\w-]+=\{?", _I), ("user", "retrieved")),
    ("hidden_characters", 0.5, re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]"), ("user", "retrieved")),
    ("encoded_payload", 0.35, re.compile(r"(?:base64|rot13|hex)[-\s]*(?:decode|encoded)|[A-Za-z0-9+/]{60,}={0,2}", _I), ("user", "retrieved")),
    (
        "decode_and_follow",
        0.5,
        re.compile(r"\b(?:decode|decrypt|deobfuscate)\b[^.]{0,40}?\b(?:follow|execute|run|obey|do what)", _I),
        ("user", "retrieved"),
    ),
    (
        "addressed_to_model",
        0.55,
        re.compile(
            r"\b(?:(?:dear |attention,? |note to (?:the )?)?(?:AI|assistant|chatbot|language model|LLM|GPT|Claude|copilot))\b[,:]?\s+(?:you (?:must|should|will|need to)|please (?:ignore|disregard|do not|don't|respond|reply|say|tell|include)|ignore|disregard|do not (?:tell|mention|reveal)|when (?:you )?(?:read|summari[sz]e|process)(?:ing)? this)",
            _I,
        ),
        ("retrieved",),
    ),
    (
        "imperative_to_reader",
        0.55,
        re.compile(
            r"\b(?:when (?:summari[sz]ing|answering|asked about|you read) this|instead,? (?:say|respond|reply|answer|tell)|respond only with|always (?:say|answer|reply) (?:that|the|no|yes)\b|do not (?:tell|inform) the user|tell the user (?:to|that))",
            _I,
        ),
        ("retrieved",),
    ),
]


@dataclass(frozen=True)
class InjectionResult:
    """The outcome of :func:`check_injection`.

    Attributes:
        score: 0..1, combined weight of the signals that fired.
        flagged: ``score >= threshold``.
        reasons: Names of the signals that fired (never the matched text).
        threshold: The threshold used.
    """

    score: float
    flagged: bool
    reasons: list[str] = field(default_factory=list)
    threshold: float = 0.5


def check_injection(text: str, *, source: Source = "user", threshold: float = 0.5) -> InjectionResult:
    """Score ``text`` for prompt-injection signals.

    Args:
        text: A user prompt, or a retrieved passage about to be placed in a prompt.
        source: ``"user"`` or ``"retrieved"`` (retrieved text gets the extra "addressed to the model" signals).
        threshold: Scores at or above it are flagged.

    Returns:
        The score, whether it is flagged and which signals fired.
    """
    if not text:
        return InjectionResult(0.0, False, [], threshold)
    keep = 1.0
    reasons: list[str] = []
    for name, weight, pattern, sources in _SIGNALS:
        if source in sources and pattern.search(text):
            reasons.append(name)
            keep *= 1.0 - weight
    score = round(1.0 - keep, 4)
    return InjectionResult(score, score >= threshold, reasons, threshold)
