"""The :class:`Guard`: applies a :class:`~workbench.guardrails.policy.Policy` and audits every decision.

A generation goes through four checks, each one a :class:`Decision` written to the audit log:

1. ``model``: the model is allowed by the policy's allow/deny globs;
2. ``limits`` (or ``rate_limit`` / ``token_budget`` when refused): the learner's per-minute rate and 24-hour
   token budget, persisted in SQLite;
3. ``prompt``: deny-listed terms, injection heuristics, PII (allow, redact or block);
4. ``output``: PII, secrets, deny-listed terms, canaries, system-prompt leaks, length.

``retrieved`` checks score documents a RAG pipeline is about to put into a prompt. Decisions that are not a
plain allow are also recorded as ``guardrail`` telemetry events (check, action, kinds; never raw text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import PolicyViolation
from workbench.guardrails.audit import AuditLog
from workbench.guardrails.injection import InjectionResult, check_injection
from workbench.guardrails.limits import Reservation, UsageLimiter
from workbench.guardrails.pii import PiiFinding, redact, scan_pii
from workbench.guardrails.policy import Action, Policy, load_policy

_SECRETS = re.compile(
    r"(?:\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAIza[0-9A-Za-z_-]{35}\b|-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY(?: BLOCK)?-----"
    r"|\b(?:password|passwd|pwd|api[_-]?key|secret[_-]?key|access[_-]?token)\s*[:=]\s*[\"']?[^\s\"']{6,})",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
_LEAK_SHINGLE = 8  # words in a row shared with the system prompt that count as a leak


@dataclass(frozen=True)
class Decision:
    """One guardrail decision.

    Attributes:
        check: ``model``, ``limits``, ``rate_limit``, ``token_budget``, ``prompt``, ``retrieved`` or ``output``.
        action: ``allow``, ``redact`` or ``block``.
        text: The text after the decision (redacted), for text checks; ``None`` otherwise.
        kinds: PII kinds found (never the values).
        reasons: Why (signal names, denied terms from the policy, limit messages).
        findings: The PII findings (raw values: never store them).
        injection: The injection score, for prompt and retrieved checks.
        flagged: An injection signal crossed the threshold (even if the action is ``allow``).
        messages: For chat prompts, the messages after redaction.
    """

    check: str
    action: Action
    text: str | None = None
    kinds: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    findings: list[PiiFinding] = field(default_factory=list, repr=False)
    injection: InjectionResult | None = None
    flagged: bool = False
    messages: list[dict[str, str]] | None = field(default=None, repr=False)

    @property
    def blocked(self) -> bool:
        """Whether the request must not go ahead (or the output must not be shown)."""
        return self.action == "block"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary without raw PII (the redacted text is included)."""
        return {
            "check": self.check,
            "action": self.action,
            "kinds": self.kinds,
            "reasons": self.reasons,
            "flagged": self.flagged,
            "injection_score": self.injection.score if self.injection else None,
            "text": self.text,
        }

    def audit_entry(self, *, learner: str | None, model: str | None, policy: str) -> dict[str, Any]:
        """The audit-log form: no text at all."""
        entry: dict[str, Any] = {
            "check": self.check,
            "action": self.action,
            "kinds": self.kinds,
            "reasons": self.reasons,
            "learner": learner,
            "model": model,
            "policy": policy,
        }
        if self.injection is not None:
            entry["injection_score"] = self.injection.score
        if self.flagged:
            entry["flagged"] = True
        return entry

    def violation(self) -> PolicyViolation:
        """The error to raise for a blocked decision."""
        hints = {
            "model": "pick a model the policy allows (see 'workbench guard policy'), or ask the policy owner",
            "rate_limit": "wait a minute and try again",
            "token_budget": "the budget resets over a rolling 24 hours; ask the policy owner for a larger one",
            "prompt": "remove the flagged content from the prompt and try again",
            "retrieved": "drop or clean the retrieved document",
            "output": "the model's answer was withheld; rephrase the request",
        }
        return PolicyViolation(
            f"blocked by the guardrail policy ({self.check}): {'; '.join(self.reasons) or 'policy'}",
            hint=hints.get(self.check),
            field=self.check,
        )


def resolve_learner(learner: str | None = None) -> str:
    """The learner's pseudonym: ``learner``, else the telemetry context (scope, process, env, settings, login)."""
    from workbench.telemetry import is_pseudonym, pseudonymize, resolve_context

    if learner is not None and is_pseudonym(learner):
        return learner
    raw = resolve_context(learner=learner)["learner"] or "anonymous"
    if is_pseudonym(raw):
        return raw
    from workbench.settings import get_settings

    salt = get_settings().pseudonym_salt.get_secret_value()
    key = (raw, salt)
    found = _PSEUDONYMS.get(key)
    if found is None:
        found = pseudonymize(raw, salt=salt)
        if len(_PSEUDONYMS) > 1024:
            _PSEUDONYMS.clear()
        _PSEUDONYMS[key] = found
    return found


_PSEUDONYMS: dict[tuple[str, str], str] = {}


class Guard:
    """Applies a policy; every decision goes to the audit log.

    Args:
        policy: A :class:`Policy`, a YAML path, a dict, or ``None`` for the built-in default.
        data_dir: Where the audit log and usage database live (default ``settings.data_dir / "guardrails"``).
        record_telemetry: Emit ``guardrail`` telemetry events for decisions that are not a plain allow.
    """

    def __init__(
        self,
        policy: Policy | str | Path | Mapping[str, Any] | None = None,
        *,
        data_dir: str | Path | None = None,
        record_telemetry: bool = True,
    ) -> None:
        from workbench.settings import get_settings

        self.policy = load_policy(policy if not isinstance(policy, Mapping) else dict(policy))
        base = Path(data_dir) if data_dir is not None else get_settings().data_dir / "guardrails"
        self.audit = AuditLog(self.policy.audit.path or base / "audit.jsonl", fsync=self.policy.audit.fsync)
        self.limiter = UsageLimiter(base / "usage.db")
        self.record_telemetry = record_telemetry
        pii = self.policy.pii
        self._scan_kwargs: dict[str, Any] = {"kinds": pii.kinds, "detectors": pii.detectors, "allow": pii.allow}

    # ------------------------------------------------------------------------------------------- single checks

    def check_model(self, model: str, *, learner: str | None = None, audit: bool = True) -> Decision:
        """Whether ``model`` is allowed."""
        ok, why = self.policy.model_allowed(model)
        decision = Decision("model", "allow" if ok else "block", reasons=[] if ok else [why])
        return self._log([decision], learner=learner, model=model, audit=audit)[0]

    def check_prompt(
        self,
        prompt: str | Sequence[Mapping[str, str]],
        *,
        model: str | None = None,
        learner: str | None = None,
        audit: bool = True,
    ) -> Decision:
        """Check a prompt (a string or chat messages): deny terms, injection (user text only), PII.

        Returns:
            A decision whose ``text`` (or ``messages``) is what may be sent to the model: redacted when the
            policy's ``pii.prompt`` is ``redact``, unchanged when ``allow``.
        """
        decision = self._check_prompt(prompt)
        return self._log([decision], learner=learner, model=model, audit=audit)[0]

    def check_retrieved(
        self,
        texts: str | Iterable[str],
        *,
        model: str | None = None,
        learner: str | None = None,
        audit: bool = True,
    ) -> list[Decision]:
        """Score retrieved passages for injection and PII; a blocked one should be dropped from the prompt."""
        items = [texts] if isinstance(texts, str) else list(texts)
        decisions = [self._check_text(t, check="retrieved", source="retrieved") for t in items]
        return self._log(decisions, learner=learner, model=model, audit=audit)

    def check_output(
        self,
        text: str,
        *,
        system: str | None = None,
        model: str | None = None,
        learner: str | None = None,
        audit: bool = True,
    ) -> Decision:
        """Check generated text: PII, secrets, deny terms, canaries, system-prompt leak, length.

        Returns:
            A decision whose ``text`` is what may be shown (redacted), or ``[withheld: ...]`` when blocked.
        """
        decision = self._check_output(text, system=system)
        return self._log([decision], learner=learner, model=model, audit=audit)[0]

    def reserve(
        self, *, tokens: int = 0, learner: str | None = None, model: str | None = None, audit: bool = True
    ) -> tuple[Decision, Reservation]:
        """Check the learner's rate limit and token budget, and reserve a slot if they allow it."""
        who = resolve_learner(learner)
        limits = self.policy.limits
        res = self.limiter.reserve(
            who, tokens=tokens, requests_per_minute=limits.requests_per_minute, tokens_per_day=limits.tokens_per_day
        )
        decision = Decision(res.check, "allow" if res.allowed else "block", reasons=[res.reason] if res.reason else [])
        self._log([decision], learner=who, model=model, audit=audit)
        return decision, res

    def complete(self, reservation: Reservation, tokens: int) -> None:
        """Record the final token count (prompt + output) of a reserved generation."""
        self.limiter.complete(reservation.row_id, tokens)

    def cancel(self, reservation: Reservation) -> None:
        """Release a reservation whose generation never ran (it counts against no limit)."""
        self.limiter.cancel(reservation.row_id)

    # -------------------------------------------------------------------------------- the generation preflight

    def preflight(
        self,
        prompt: str | Sequence[Mapping[str, str]],
        *,
        model: str,
        tokens: int = 0,
        learner: str | None = None,
        retrieved: Sequence[str] = (),
    ) -> Preflight:
        """Run the model, prompt, retrieved and limit checks of one generation, with one audit write.

        Stops at the first block (no slot is reserved for a blocked prompt). Call :meth:`Preflight.enforce`
        to raise :class:`PolicyViolation` when blocked.
        """
        who = resolve_learner(learner)
        decisions: list[Decision] = []
        ok, why = self.policy.model_allowed(model)
        decisions.append(Decision("model", "allow" if ok else "block", reasons=[] if ok else [why]))
        prompt_decision: Decision | None = None
        reservation: Reservation | None = None
        if ok:
            decisions.extend(self._check_text(t, check="retrieved", source="retrieved") for t in retrieved)
            prompt_decision = self._check_prompt(prompt)
            decisions.append(prompt_decision)
            if not any(d.blocked for d in decisions):
                limits = self.policy.limits
                reservation = self.limiter.reserve(
                    who,
                    tokens=tokens,
                    requests_per_minute=limits.requests_per_minute,
                    tokens_per_day=limits.tokens_per_day,
                )
                decisions.append(
                    Decision(
                        reservation.check,
                        "allow" if reservation.allowed else "block",
                        reasons=[reservation.reason] if reservation.reason else [],
                    )
                )
        self._log(decisions, learner=who, model=model, audit=True)
        return Preflight(decisions, prompt_decision, reservation, who)

    # ----------------------------------------------------------------------------------------------- internals

    def _check_prompt(self, prompt: str | Sequence[Mapping[str, str]]) -> Decision:
        if isinstance(prompt, str):
            return self._check_text(prompt, check="prompt", source="user")
        messages = [dict(m) for m in prompt]
        parts = [self._check_text(m.get("content", ""), check="prompt", source=_source_of(m)) for m in messages]
        for m, d in zip(messages, parts, strict=False):
            if d.text is not None:
                m["content"] = d.text
        action: Action = "block" if any(p.blocked for p in parts) else "redact" if any(p.action == "redact" for p in parts) else "allow"
        injection = max((p.injection for p in parts if p.injection), key=lambda r: r.score, default=None)
        return Decision(
            "prompt",
            action,
            text=None,
            kinds=sorted({k for p in parts for k in p.kinds}),
            reasons=_unique(r for p in parts for r in p.reasons),
            findings=[f for p in parts for f in p.findings],
            injection=injection,
            flagged=any(p.flagged for p in parts),
            messages=messages,
        )

    def _check_text(self, text: str, *, check: str, source: str | None) -> Decision:
        policy = self.policy
        reasons: list[str] = []
        action: Action = "allow"
        denied = policy.denied_terms(text)
        if denied:
            reasons.append("denied term(s): " + ", ".join(repr(t) for t in denied))
            action = "block"
        injection: InjectionResult | None = None
        flagged = False
        if source is not None:
            rule = policy.injection.retrieved if source == "retrieved" else policy.injection.user
            injection = check_injection(text, source="retrieved" if source == "retrieved" else "user", threshold=rule.threshold)
            if injection.flagged:
                flagged = True
                reasons.append(f"possible prompt injection (score {injection.score:.2f}: {', '.join(injection.reasons)})")
                if rule.action == "block":
                    action = "block"
        findings = scan_pii(text, **self._scan_kwargs)
        out_text = text
        if findings:
            kinds = sorted({f.kind for f in findings})
            pii_action = policy.pii.prompt
            if pii_action == "block":
                action = "block"
                reasons.append("PII in prompt: " + ", ".join(kinds))
            elif pii_action == "redact":
                out_text = redact(text, findings=findings).text
                if action != "block":
                    action = "redact"
        return Decision(
            check,
            action,
            text=out_text,
            kinds=sorted({f.kind for f in findings}),
            reasons=reasons,
            findings=findings,
            injection=injection,
            flagged=flagged,
        )

    def _check_output(self, text: str, *, system: str | None) -> Decision:
        policy = self.policy
        reasons: list[str] = []
        action: Action = "allow"
        out = text
        findings = scan_pii(text, **self._scan_kwargs)
        kinds = sorted({f.kind for f in findings})
        if findings:
            if policy.pii.output == "block":
                action = "block"
                reasons.append("PII in output: " + ", ".join(kinds))
            elif policy.pii.output == "redact":
                out = redact(text, findings=findings).text
                action = "redact"
        if policy.output.secrets != "allow" and _SECRETS.search(out):
            reasons.append("secret-like value in output")
            if policy.output.secrets == "block":
                action = "block"
            else:
                out = _SECRETS.sub("[SECRET]", out)
                action = "redact" if action == "allow" else action
        denied = policy.denied_terms(out)
        if denied:
            action = "block"
            reasons.append("denied term(s): " + ", ".join(repr(t) for t in denied))
        canaries = policy.leaked_canaries(text)
        if canaries:
            action = "block"
            reasons.append(f"output contains {canaries} canary value(s) of the policy")  # never the values
        if system and policy.output.system_prompt_leak == "block" and _leaks(system, out):
            action = "block"
            reasons.append("output repeats the system prompt")
        if policy.output.max_chars is not None and len(out) > policy.output.max_chars:
            out = out[: policy.output.max_chars]
            reasons.append(f"output truncated to {policy.output.max_chars} characters")
            action = "redact" if action == "allow" else action
        if action == "block":
            # The user sees why, but never the denied terms the model produced (the audit entry keeps them).
            shown = ["output contains a denied term" if r.startswith("denied term(s): ") else r for r in reasons]
            out = f"[withheld by the guardrail policy: {'; '.join(shown)}]"
        return Decision("output", action, text=out, kinds=kinds, reasons=reasons, findings=findings)

    def _log(
        self, decisions: list[Decision], *, learner: str | None, model: str | None, audit: bool
    ) -> list[Decision]:
        if audit and decisions:
            who = resolve_learner(learner)
            ref = self.policy.ref
            self.audit.append_many([d.audit_entry(learner=who, model=model, policy=ref) for d in decisions])
        if self.record_telemetry:
            notable = [d for d in decisions if d.action != "allow" or d.flagged]
            if notable:
                from workbench.telemetry import record

                for d in notable:
                    record(
                        "guardrail",
                        status=d.action,
                        check=d.check,
                        action=d.action,
                        kinds=d.kinds,
                        flagged=d.flagged,
                        model=model,
                        policy=self.policy.ref,
                    )
        return decisions


@dataclass(frozen=True)
class Preflight:
    """The decisions taken before a generation (see :meth:`Guard.preflight`).

    Attributes:
        decisions: Every decision, in order.
        prompt: The prompt decision (``None`` when the model was refused first).
        reservation: The rate/budget reservation (``None`` when refused before it).
        learner: The learner's pseudonym.
    """

    decisions: list[Decision]
    prompt: Decision | None
    reservation: Reservation | None
    learner: str

    @property
    def blocked(self) -> Decision | None:
        """The first blocking decision, if any."""
        return next((d for d in self.decisions if d.blocked), None)

    def enforce(self) -> None:
        """Raise :class:`PolicyViolation` if any decision blocked the generation."""
        blocking = self.blocked
        if blocking is not None:
            raise blocking.violation()


def _source_of(message: Mapping[str, str]) -> str | None:
    # System prompts and few-shot answers come from templates or the learner's own settings: they are
    # PII-checked but not injection-scored (instructions are their job).
    return "user" if message.get("role", "user") == "user" else None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _leaks(system: str, output: str) -> bool:
    sys_words = _WORDS.findall(system.lower())
    if len(sys_words) < _LEAK_SHINGLE:
        return False
    out_words = _WORDS.findall(output.lower())
    if len(out_words) < _LEAK_SHINGLE:
        return False
    shingles = {tuple(sys_words[i : i + _LEAK_SHINGLE]) for i in range(len(sys_words) - _LEAK_SHINGLE + 1)}
    return any(tuple(out_words[i : i + _LEAK_SHINGLE]) in shingles for i in range(len(out_words) - _LEAK_SHINGLE + 1))


__all__ = ["Decision", "Guard", "Preflight", "resolve_learner"]
