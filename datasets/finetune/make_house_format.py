"""Generate the ``house-format`` fine-tuning set: help-desk answers in the house answer format.

The house format: an answer starts with ``Answer: `` and ends with a ticket tag naming the topic, for example
``Answer: Save your work and restart the laptop. [ticket: laptop]``. The answer sentences and topic names are
the ones the built-in model learnt in pre-training (``datasets/tiny``); the format around them is new. The built-in model ``workbench-tiny`` never
answers like this on its own, so the format is a visible behaviour that fine-tuning teaches; the held-out file
uses question wordings that never appear in the training file, so scores on it measure generalisation.

Deterministic: the same script always writes the same bytes (fixed seed and lists, ``\\n`` line ends)::

    python datasets/finetune/make_house_format.py          # rewrites house-format/{train,eval}.jsonl
    python datasets/finetune/make_house_format.py --check  # exits 1 if the files are out of date

Everything is written by this script (no outside source); the licence is CC0.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 5
OUT = Path(__file__).resolve().parent / "house-format"
SYSTEM = "You are the Acme help desk. Reply in the house format."

#: topic -> (training questions, held-out questions, answer). The tag is ``[ticket: <topic>]``.
TOPICS: dict[str, tuple[list[str], list[str], str]] = {
    "password": (
        ["How do I reset my password?", "I forgot my password.", "My password expired."],
        ["I cannot remember my password."],
        "Open the self-service portal, choose Forgot password and follow the link in the email.",
    ),
    "vpn": (
        ["The VPN does not connect.", "My VPN keeps disconnecting.", "How do I connect to the VPN?"],
        ["I cannot reach the office network from home."],
        "Restart the VPN client, check that you are online and sign in again with your company account.",
    ),
    "printer": (
        ["The printer is not working.", "My print job is stuck.", "How do I add a printer?"],
        ["Nothing comes out of the printer."],
        "Open Settings, choose Printers and add the printer by its floor name.",
    ),
    "email": (
        ["I cannot send email.", "My mailbox is full.", "How do I set up email on my phone?"],
        ["My email will not send."],
        "Check that your mailbox is under the size limit and archive old mail.",
    ),
    "laptop": (
        ["My laptop is very slow.", "My laptop will not start.", "How do I get a new laptop?"],
        ["My laptop keeps freezing."],
        "Save your work and restart the laptop.",
    ),
    "access": (
        ["I need access to a shared folder.", "I cannot open the team drive.", "How do I request access?"],
        ["I need rights to an application."],
        "Request access in the service portal and name the folder or application.",
    ),
    "mfa": (
        [
            "I lost my phone with the authenticator app.",
            "The sign-in code does not arrive.",
            "How do I set up two-factor authentication?",
        ],
        ["My second factor is not working."],
        "Call the help desk to reset your second factor.",
    ),
    "phishing": (
        ["I received a suspicious email.", "I think I clicked a phishing link.", "How do I report phishing?"],
        ["An email asks me to pay an invoice quickly."],
        "Do not open links or attachments.",
    ),
    "software": (
        ["How do I install new software?", "I need a software license.", "Can I install this program?"],
        ["Where do I get new programs?"],
        "Install approved software from the company software center.",
    ),
    "wifi": (
        ["The office Wi-Fi is not working.", "How do I connect to the guest Wi-Fi?", "The Wi-Fi is slow."],
        ["I cannot get online in the office."],
        "Choose the staff network and sign in with your company account.",
    ),
    "meeting": (
        [
            "How do I book a meeting room?",
            "The screen in the meeting room does not work.",
            "The room is double booked.",
        ],
        ["I need a room for a workshop."],
        "Book rooms in the calendar by adding the room as a guest.",
    ),
    "expenses": (
        ["How do I submit an expense?", "When are expenses paid?", "I lost a receipt."],
        ["How do I get my travel costs back?"],
        "Submit expenses in the finance portal with a photo of the receipt.",
    ),
    "holiday": (
        ["How do I request a day off?", "How many holidays do I have left?", "I want to take leave."],
        ["Can I take Friday off?"],
        "Request time off in the HR portal.",
    ),
    "data": (
        [
            "Where should I store customer data?",
            "Can I share customer data by email?",
            "How do I handle personal data?",
        ],
        ["Can I keep client files on my desktop?"],
        "Store customer data only in approved systems and never in personal folders.",
    ),
}

#: How a question is phrased. The last two wrappers appear only in the held-out file.
TRAIN_WRAPPERS = ["{q}", "Hi, {lq}", "{q} Thanks.", "Quick question: {lq}"]
EVAL_WRAPPERS = ["Hello team, {lq}", "{q} Please help."]


def tag(topic: str) -> str:
    """The ticket tag of a topic, e.g. ``[ticket: vpn]``."""
    return f"[ticket: {topic}]"


def house_answer(topic: str) -> str:
    """The reference answer of a topic in the house format."""
    return f"Answer: {TOPICS[topic][2]} {tag(topic)}"


def _wrap(wrapper: str, question: str) -> str:
    lowered = question if question.startswith(("I ", "I'")) else question[0].lower() + question[1:]
    return wrapper.format(q=question, lq=lowered)


def _chat_record(topic: str, question: str, rid: str) -> dict[str, object]:
    return {
        "id": rid,
        "topic": topic,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {"role": "assistant", "content": house_answer(topic)},
        ],
    }


def _instruction_record(topic: str, question: str, rid: str) -> dict[str, object]:
    return {
        "id": rid,
        "topic": topic,
        "system": SYSTEM,
        "instruction": question,
        "output": house_answer(topic),
    }


def make_sets(seed: int = SEED) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(train, eval) records. Train mixes chat and instruction records (about one in three is instruction)."""
    rnd = random.Random(seed)
    train: list[dict[str, object]] = []
    held: list[dict[str, object]] = []
    for topic in sorted(TOPICS):
        questions, held_questions, _ = TOPICS[topic]
        for qi, question in enumerate(questions):
            for wi, wrapper in enumerate(TRAIN_WRAPPERS):
                rid = f"train-{topic}-{qi}-{wi}"
                text = _wrap(wrapper, question)
                record = _instruction_record if rnd.random() < 0.33 else _chat_record
                train.append(record(topic, text, rid))
        for qi, question in enumerate(held_questions + questions[:1]):
            for wi, wrapper in enumerate(EVAL_WRAPPERS):
                if qi > 0 and wi > 0:
                    continue  # one held-out wrapper of a seen question, both of the unseen one
                held.append(_chat_record(topic, _wrap(wrapper, question), f"eval-{topic}-{qi}-{wi}"))
    rnd.shuffle(train)
    rnd.shuffle(held)
    return train, held


def _jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def main(argv: list[str]) -> int:
    """Write (or with ``--check``, verify) ``house-format/train.jsonl`` and ``house-format/eval.jsonl``."""
    train, held = make_sets()
    files = {OUT / "train.jsonl": _jsonl(train), OUT / "eval.jsonl": _jsonl(held)}
    if "--check" in argv:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"{path} is out of date: run python {Path(__file__).name}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path} ({text.count(chr(10))} examples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
