"""Guardrails: PII redaction, allow/deny lists, injection heuristics, output checks, limits and an audit log.

::

    from workbench.guardrails import Guard, redact, scan_pii, check_injection

    redact("mail ana@example.com").text            # 'mail [EMAIL]'
    guard = Guard()                                  # the built-in default policy
    decision = guard.check_prompt("my card is 4111 1111 1111 1111")
    decision.action, decision.text                   # ('redact', 'my card is [CREDIT_CARD]')

Every decision goes to an append-only, hash-chained audit log (``<data_dir>/guardrails/audit.jsonl``);
rate limits and token budgets persist in ``<data_dir>/guardrails/usage.db``. The policy is YAML
(:func:`load_policy`); the built-in default is ``workbench/guardrails/default_policy.yaml``.
"""

from __future__ import annotations

from workbench.guardrails.audit import AuditLog, AuditVerification, verify_audit
from workbench.guardrails.guard import Decision, Guard, Preflight, resolve_learner
from workbench.guardrails.injection import InjectionResult, check_injection
from workbench.guardrails.limits import Reservation, UsageLimiter
from workbench.guardrails.pii import (
    DEFAULT_KINDS,
    PII_DETECTORS,
    PII_KINDS,
    REGEX_KINDS,
    PiiFinding,
    RedactionResult,
    StreamRedactor,
    iban_valid,
    luhn_valid,
    redact,
    register_pii_detector,
    scan_pii,
)
from workbench.guardrails.policy import DEFAULT_POLICY_PATH, Policy, default_policy, load_policy

__all__ = [
    "DEFAULT_KINDS",
    "DEFAULT_POLICY_PATH",
    "PII_DETECTORS",
    "PII_KINDS",
    "REGEX_KINDS",
    "AuditLog",
    "AuditVerification",
    "Decision",
    "Guard",
    "InjectionResult",
    "PiiFinding",
    "Policy",
    "Preflight",
    "RedactionResult",
    "Reservation",
    "StreamRedactor",
    "UsageLimiter",
    "check_injection",
    "default_policy",
    "iban_valid",
    "load_policy",
    "luhn_valid",
    "redact",
    "register_pii_detector",
    "resolve_learner",
    "scan_pii",
    "verify_audit",
]
