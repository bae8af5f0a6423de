"""Generate ``corpus.txt``, the training text of the built-in model ``workbench-tiny``.

Deterministic: the same script always writes the same bytes (fixed seed, fixed lists, ``\\n`` line ends), so
the model's cache key (a hash of the corpus) only changes when this script does. Run it from anywhere::

    python datasets/tiny/make_corpus.py          # rewrites datasets/tiny/corpus.txt
    python datasets/tiny/make_corpus.py --check  # exits 1 if corpus.txt is out of date

The corpus has three kinds of documents, separated by blank lines:

* plain sentences about company IT and support work;
* single-turn chats in the model's chat format (``<|system|>``, ``<|user|>``, ``<|assistant|>``, each turn
  closed by ``<|end|>``), answering support questions;
* chats whose answer is a short JSON object: grades such as ``{"score": 2, "rationale": "..."}`` and ticket
  classifications such as ``{"intent": "vpn", "urgency": "high"}``.

Everything is written by this script (no outside source); the licence is CC0.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SEED = 20261123
OUT = Path(__file__).resolve().parent / "corpus.txt"

# --- support knowledge: intent -> (question paraphrases, answer) --------------------------------------------
INTENTS: dict[str, tuple[list[str], str]] = {
    "password": (
        [
            "How do I reset my password?",
            "I forgot my password.",
            "How can I change my password?",
            "My password expired, what do I do?",
        ],
        "Open the self-service portal, choose Forgot password and follow the link in the email. "
        "The new password must have at least twelve characters.",
    ),
    "vpn": (
        [
            "The VPN does not connect.",
            "How do I connect to the VPN?",
            "I cannot reach the office network from home.",
            "My VPN keeps disconnecting.",
        ],
        "Restart the VPN client, check that you are online and sign in again with your company account. "
        "If it still fails, send the client log to the help desk.",
    ),
    "printer": (
        [
            "The printer is not working.",
            "How do I add a printer?",
            "My print job is stuck.",
        ],
        "Open Settings, choose Printers and add the printer by its floor name. "
        "If a job is stuck, cancel it in the queue and print again.",
    ),
    "email": (
        [
            "I cannot send email.",
            "My mailbox is full.",
            "How do I set up email on my phone?",
        ],
        "Check that your mailbox is under the size limit and archive old mail. "
        "On a phone, install the company mail app and sign in with your account.",
    ),
    "laptop": (
        [
            "My laptop is very slow.",
            "My laptop will not start.",
            "How do I get a new laptop?",
        ],
        "Save your work and restart the laptop. If it is still slow or will not start, "
        "open a ticket and the help desk will lend you a spare laptop.",
    ),
    "access": (
        [
            "I need access to a shared folder.",
            "How do I request access to an application?",
            "I cannot open the team drive.",
        ],
        "Request access in the service portal and name the folder or application. "
        "Your manager approves the request, and access is granted within one business day.",
    ),
    "mfa": (
        [
            "I lost my phone with the authenticator app.",
            "How do I set up two-factor authentication?",
            "The sign-in code does not arrive.",
        ],
        "Call the help desk to reset your second factor. "
        "Then install the authenticator app and scan the code shown on the sign-in page.",
    ),
    "phishing": (
        [
            "I received a suspicious email.",
            "I think I clicked a phishing link.",
            "How do I report phishing?",
        ],
        "Do not open links or attachments. Use the Report phishing button in your mail client. "
        "If you clicked a link, change your password and tell the security team at once.",
    ),
    "software": (
        [
            "How do I install new software?",
            "Can I install this program on my laptop?",
            "I need a software license.",
        ],
        "Install approved software from the company software center. "
        "For anything else, open a request and the team checks the license and security first.",
    ),
    "wifi": (
        [
            "The office Wi-Fi is not working.",
            "How do I connect to the guest Wi-Fi?",
        ],
        "Choose the staff network and sign in with your company account. "
        "Guests use the guest network with the daily code from reception.",
    ),
    "meeting": (
        [
            "How do I book a meeting room?",
            "The screen in the meeting room does not work.",
        ],
        "Book rooms in the calendar by adding the room as a guest. "
        "If the screen does not work, restart it with the wall panel and call facilities.",
    ),
    "data": (
        [
            "Where should I store customer data?",
            "Can I share customer data by email?",
            "How do I handle personal data?",
        ],
        "Store customer data only in approved systems and never in personal folders. "
        "Share it through the secure share link, not as an email attachment.",
    ),
    "expenses": (
        [
            "How do I submit an expense?",
            "When are expenses paid?",
        ],
        "Submit expenses in the finance portal with a photo of the receipt. "
        "Approved expenses are paid with the next monthly salary.",
    ),
    "holiday": (
        [
            "How do I request a day off?",
            "How many holidays do I have left?",
        ],
        "Request time off in the HR portal. Your balance of holidays is shown on the portal home page.",
    ),
    "ticket": (
        [
            "How do I open a ticket?",
            "What is the status of my ticket?",
            "How do I contact the help desk?",
        ],
        "Open a ticket in the service portal or call the help desk. "
        "You can follow the status of every ticket on the portal page My tickets.",
    ),
    "model": (
        [
            "What is a language model?",
            "What does the model do?",
            "What is quantization?",
        ],
        "A language model predicts the next word from the words before it. "
        "Quantization stores its weights in fewer bits, so it needs less memory.",
    ),
}

SYSTEM_PROMPTS = [
    "You are a helpful IT support assistant.",
    "You are the company help desk assistant. Answer briefly.",
    "You help employees with IT and workplace questions.",
]

GRADER_SYSTEM = [
    "You are a strict grader. Reply with JSON only.",
    "Grade the answer from 0 to 3. Reply with JSON only.",
]

CLASSIFIER_SYSTEM = [
    "Classify the ticket. Reply with JSON only.",
    "Read the ticket and reply with a JSON object.",
]

RATIONALES = {
    0: [
        "The answer is off topic and does not help.",
        "The answer is wrong and gives no useful step.",
    ],
    1: [
        "The answer is partly correct but misses the main step.",
        "The answer helps a little but is unclear.",
    ],
    2: [
        "The answer is correct but brief.",
        "The answer is correct and gives the main step.",
    ],
    3: [
        "The answer is correct, complete and clear.",
        "The answer is correct and explains every step.",
    ],
}

OFF_TOPIC = [
    "The weather is nice today.",
    "I like coffee in the morning.",
    "Please ask someone else.",
    "The cat sleeps on the chair.",
]

VAGUE = [
    "Try again later.",
    "Maybe restart something.",
    "Ask a colleague for help.",
]

URGENT_SUFFIXES = [
    "Please help, it is urgent.",
    "I need it fixed today.",
    "The whole team is blocked.",
]

# --- plain sentences ---------------------------------------------------------------------------------------
SUBJECTS = [
    "The help desk",
    "The security team",
    "The support team",
    "Our IT team",
    "The service desk",
    "The network team",
    "Every employee",
    "A new employee",
    "The team lead",
    "The manager",
]
ACTIONS = [
    "answers tickets",
    "resets passwords",
    "checks the VPN logs",
    "updates the laptops",
    "reviews access requests",
    "writes short guides",
    "reports phishing emails",
    "tests new software",
    "backs up the shared drive",
    "closes old tickets",
]
TIMES = [
    "every morning",
    "each week",
    "within one business day",
    "before the release",
    "after every incident",
    "on Monday",
    "with care",
    "as soon as possible",
]
FACTS = [
    "A strong password has at least twelve characters.",
    "Never share your password with anyone, not even the help desk.",
    "The VPN protects company data on public networks.",
    "Lock your screen when you leave your desk.",
    "Updates are installed on laptops every Tuesday night.",
    "Customer data stays in approved systems.",
    "A ticket number starts with INC followed by six digits.",
    "The service portal is open all day and all night.",
    "Backups of the shared drive are kept for thirty days.",
    "Phishing emails often ask you to act quickly.",
    "A language model writes text one token at a time.",
    "A smaller model needs less memory and answers faster.",
    "Four-bit quantization makes a model about eight times smaller than thirty-two-bit weights.",
    "Retrieval finds the documents that answer a question.",
    "A rubric lists the criteria used to score an answer.",
    "Good prompts state the task, the format and an example.",
]


def _chat(system: str, user: str, assistant: str) -> str:
    """One conversation in the model's chat format (identical to its chat template's rendering)."""
    return f"<|system|>\n{system}<|end|>\n<|user|>\n{user}<|end|>\n<|assistant|>\n{assistant}<|end|>"


def _plain(rnd: random.Random) -> str:
    parts = []
    for _ in range(rnd.randint(2, 4)):
        if rnd.random() < 0.5:
            parts.append(rnd.choice(FACTS))
        else:
            parts.append(f"{rnd.choice(SUBJECTS)} {rnd.choice(ACTIONS)} {rnd.choice(TIMES)}.")
    return " ".join(parts)


def _support_chat(rnd: random.Random) -> str:
    intent = rnd.choice(sorted(INTENTS))
    questions, answer = INTENTS[intent]
    return _chat(rnd.choice(SYSTEM_PROMPTS), rnd.choice(questions), answer)


def _answer_of_quality(rnd: random.Random, intent: str, score: int) -> str:
    """A candidate answer that deserves ``score`` (0 off topic, 1 vague, 2 brief, 3 complete)."""
    answer = INTENTS[intent][1]
    if score == 0:
        return rnd.choice(OFF_TOPIC)
    if score == 1:
        return rnd.choice(VAGUE)
    if score == 2:
        return answer.split(". ")[0] + "."
    return answer


def _grading_chat(rnd: random.Random) -> str:
    intent = rnd.choice(sorted(INTENTS))
    score = rnd.randint(0, 3)
    question = rnd.choice(INTENTS[intent][0])
    answer = _answer_of_quality(rnd, intent, score)
    verdict = json.dumps({"score": score, "rationale": rnd.choice(RATIONALES[score])})
    user = f"Question: {question}\nAnswer: {answer}"
    return _chat(rnd.choice(GRADER_SYSTEM), user, verdict)


def _classify_chat(rnd: random.Random) -> str:
    intent = rnd.choice(sorted(INTENTS))
    question = rnd.choice(INTENTS[intent][0])
    urgent = rnd.random() < 0.4
    text = f"{question} {rnd.choice(URGENT_SUFFIXES)}" if urgent else question
    verdict = json.dumps({"intent": intent, "urgency": "high" if urgent else "normal"})
    return _chat(rnd.choice(CLASSIFIER_SYSTEM), text, verdict)


def _json_line(rnd: random.Random) -> str:
    score = rnd.randint(0, 3)
    return json.dumps({"score": score, "rationale": rnd.choice(RATIONALES[score])})


def make_corpus(seed: int = SEED) -> str:
    """The corpus text: documents separated by one blank line, ending with a newline."""
    rnd = random.Random(seed)
    docs: list[str] = []
    docs += [_plain(rnd) for _ in range(400)]
    docs += [_support_chat(rnd) for _ in range(450)]
    docs += [_grading_chat(rnd) for _ in range(220)]
    docs += [_classify_chat(rnd) for _ in range(150)]
    docs += [_json_line(rnd) for _ in range(80)]
    rnd.shuffle(docs)
    return "\n\n".join(docs) + "\n"


def main(argv: list[str]) -> int:
    """Write (or with ``--check``, verify) ``corpus.txt``."""
    text = make_corpus()
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {OUT} ({len(text.encode('utf-8'))} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
