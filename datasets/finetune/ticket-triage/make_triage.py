"""Write the ticket-triage fine-tuning set: IT support tickets -> a JSON triage answer.

Run from anywhere: ``python datasets/finetune/ticket-triage/make_triage.py`` (deterministic; seed below);
``--check`` exits 1 when the files are out of date (a test runs it).

Each example is a chat: a fixed system prompt that states the format, a ticket written the way employees
write them (greeting, problem, an urgency cue or none, sign-off; some lower-case, some terse), and the answer
``{"category": "<category>", "priority": "<priority>"}``. The category comes from what the problem is about;
the priority from the urgency cue (none means medium). The held-out split uses problem wordings and urgency
cues that never appear in training, so it measures whether the model learned the task rather than the strings.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20261203
HERE = Path(__file__).resolve().parent
SYSTEM = (
    "You triage IT support tickets. Reply with JSON only: "
    '{"category": "<access|hardware|software|network|email|billing>", "priority": "<high|medium|low>"}'
)

# Per category: problem wordings. The last two of each list are held out (eval only).
PROBLEMS: dict[str, list[str]] = {
    "access": [
        "I can't log in to the {app} since this morning.",
        "my password for {app} expired and the reset link does not work",
        "I need access to the {folder} shared folder for my new project.",
        "The {app} says my account is locked after too many attempts.",
        "could you add me to the {folder} group? I get permission denied",
        "My two-factor codes are rejected when I sign in to {app}.",
        "I was moved to a new team and still cannot open {folder}.",
        "{app} keeps telling me I am not authorised to view this page.",
    ],
    "hardware": [
        "My laptop screen is cracked after it fell off the desk.",
        "the {device} makes a loud clicking noise and then switches off",
        "The docking station no longer charges my {device}.",
        "My keyboard has several keys that stopped working.",
        "the battery of my {device} drains in under an hour",
        "The second monitor stays black when I plug it in.",
        "my {device} overheats and the fan never stops",
        "The webcam on my {device} shows only a grey picture.",
    ],
    "software": [
        "{app} crashes every time I open a large file.",
        "I need {app} installed on my laptop for the new project.",
        "the latest update broke the plugins in {app}",
        "{app} is very slow and freezes for a minute at a time.",
        "Can you upgrade {app} to the version the team uses?",
        "I get an error 'license not found' when starting {app}.",
        "{app} closes itself without any message after the update",
        "The export button in {app} does nothing when I click it.",
    ],
    "network": [
        "The VPN disconnects every few minutes when I work from home.",
        "wifi in the {place} is not working at all",
        "I cannot reach the intranet from the {place}.",
        "Internet is extremely slow on the {place} floor.",
        "the VPN client says the server certificate is invalid",
        "My ethernet port in the {place} gives no connection.",
        "Video calls keep dropping when I'm in the {place}.",
        "The guest wifi in the {place} rejects the daily code.",
    ],
    "email": [
        "My mailbox is full and I can't receive new mail.",
        "emails to external customers bounce back with an error",
        "I am not getting the meeting invites from {person}'s calendar.",
        "Outlook asks for my password again and again.",
        "a shared mailbox disappeared from my mail client",
        "Messages I send to the {folder} list never arrive.",
        "My out-of-office reply is not being sent.",
        "Spam filtering moved all mail from {person} to junk.",
    ],
    "billing": [
        "I was charged twice for my {app} subscription.",
        "my expense report for the trip to {place} was rejected",
        "The invoice from the {app} vendor has the wrong cost centre.",
        "I need a refund for a software licence I no longer use.",
        "the corporate card payment for {app} failed",
        "Reimbursement for my home office chair has not arrived.",
        "We are billed for {app} seats nobody in the team uses.",
        "The purchase order for a new {device} is stuck in approval.",
    ],
}
# Urgency cues by priority; the last two of each are held out.
CUES: dict[str, list[str]] = {
    "high": [
        "This is urgent, I can't work at all.",
        "URGENT: the whole team is blocked.",
        "Customers are affected, please help ASAP.",
        "I have a client demo in an hour and need this fixed now.",
        "Production is down because of this.",
        "Please treat as critical, our release is stuck.",
    ],
    "medium": ["", "", "", "", "", ""],
    "low": [
        "No rush, whenever someone has time.",
        "Not urgent at all.",
        "It can wait until next week.",
        "Low priority, just letting you know.",
        "Whenever convenient, it is only a minor annoyance.",
        "No hurry on this one.",
    ],
}
SLOTS = {
    "app": ["Salesforce", "Jira", "SAP", "Confluence", "Workday", "Excel", "Teams", "Figma", "Tableau", "Zoom"],
    "folder": ["Finance", "Marketing", "Q3-reports", "Legal", "HR", "Design"],
    "device": ["laptop", "MacBook", "ThinkPad", "tablet", "desktop PC"],
    "place": ["Berlin office", "London office", "third floor", "meeting room B", "warehouse", "Lisbon office"],
    "person": ["my manager", "the CFO", "our team lead", "a colleague"],
}
GREETINGS = ["Hi,", "Hello team,", "Hi IT,", "Good morning,", "", "hey"]
SIGNOFFS = ["Thanks!", "Thank you.", "Best, Sam", "Cheers", "", "Regards, J."]


def ticket(rng: random.Random, problem: str, cue: str) -> str:
    """One ticket text from a problem wording and an urgency cue."""
    text = problem.format(**{k: rng.choice(v) for k, v in SLOTS.items()})
    parts = [rng.choice(GREETINGS), text, cue, rng.choice(SIGNOFFS)]
    body = " ".join(p for p in parts if p)
    return body.lower() if rng.random() < 0.15 else body


def examples(split: str, n: int, rng: random.Random) -> list[dict[str, object]]:
    """``n`` examples for ``split`` (train uses all but the last two wordings and cues of each list)."""
    out = []
    for i in range(n):
        category = rng.choice(sorted(PROBLEMS))
        priority = rng.choices(["high", "medium", "low"], weights=[3, 4, 3])[0]
        problems, cues = PROBLEMS[category], CUES[priority]
        problem = rng.choice(problems[:-2] if split == "train" else problems[-2:])
        cue = rng.choice(cues[:-2] if split == "train" else cues[-2:])
        answer = json.dumps({"category": category, "priority": priority})
        out.append({
            "id": f"{split}-{i:04d}",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": ticket(rng, problem, cue)},
                {"role": "assistant", "content": answer},
            ],
            "category": category,
            "priority": priority,
        })  # fmt: skip
    return out


def main(argv: list[str]) -> int:
    """Write ``train.jsonl`` and ``eval.jsonl``; with ``--check``, exit 1 when the files are out of date."""
    rng = random.Random(SEED)
    stale = []
    for split, n in (("train", 360), ("eval", 90)):
        rows = examples(split, n, rng)
        path = HERE / f"{split}.jsonl"
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(rows)} examples)")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python {Path(__file__).name}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
