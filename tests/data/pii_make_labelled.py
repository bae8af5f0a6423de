"""Regenerate ``pii_labelled.jsonl``: labelled strings for measuring PII detection (``bench/guardrails.py``).

Run: ``python tests/data/pii_make_labelled.py``. Deterministic (seeded). Every record is
``{"id", "text", "entities": [{"kind", "value"}], "group"}``; ``value`` is the exact substring that a
detector should report. Valid identifiers are synthetic: card numbers are issuer test numbers or random numbers
with a correct Luhn digit, IBANs are random account numbers with correct mod-97 check digits, SSNs/NINOs follow
the issuing rules, phone numbers use reserved fiction ranges (555-01xx, Ofcom drama ranges) where they exist.

Negatives are realistic copilot inputs without PII, and tricky look-alikes: order and invoice numbers, dates,
times, versions, ISBNs, hashes, UUIDs, MAC addresses, Luhn-invalid card numbers, IBANs with wrong check digits,
SSNs with never-issued area numbers, prices, coordinates and code.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("pii_labelled.jsonl")
rng = random.Random(20261123)

FIRST = ["ana", "ben", "chloe", "dev", "emma", "farid", "grace", "hiro", "ines", "jon", "kemi", "lars", "mei",
         "noah", "olga", "priya", "quinn", "rosa", "sam", "tomas", "uma", "victor", "wen", "yusuf", "zoe"]  # fmt: skip
LAST = ["smith", "okafor", "garcia", "nguyen", "muller", "rossi", "kowalski", "tanaka", "silva", "oconnor",
        "haddad", "larsen", "patel", "dubois", "schmidt", "brown", "ivanova", "kim", "lopez", "evans"]  # fmt: skip
DOMAINS = ["example.com", "example.org", "acme-corp.co.uk", "mail.example.net", "globex.io", "initech.de",
           "contoso.com", "fabrikam.fr", "umbrella.example", "northwind.com.au"]  # fmt: skip


def email() -> str:
    f, last, d = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    style = rng.randrange(6)
    local = [f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}{rng.randrange(10, 99)}", f"{f}+billing", f"{last}.{f}",
             f"{f.capitalize()}.{last.capitalize()}"][style]  # fmt: skip
    return f"{local}@{d}"


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card() -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(["4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881", "3782 822463 10005",
                           "6011 1111 1111 1117", "5105-1051-0510-5100", "4242424242424242"])  # fmt: skip
    prefix = rng.choice(["4", "51", "52", "53", "54", "55", "2221", "6011", "65"])
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(15 - len(prefix)))
    digits = body + luhn_digit(body)
    sep = rng.choice([" ", "-", ""])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def bad_card() -> str:
    prefix = rng.choice(["4", "5", "6011"])
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(15 - len(prefix)))
    good = luhn_digit(body)
    bad = str((int(good) + rng.randrange(1, 10)) % 10)
    digits = body + bad
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


IBAN_FORMATS = {"GB": "AAAA" + "9" * 14, "DE": "9" * 18, "FR": "9" * 23, "NL": "AAAA" + "9" * 10,
                "ES": "9" * 20, "IT": "A" + "9" * 22, "BE": "9" * 12, "CH": "9" * 17, "IE": "AAAA" + "9" * 14}  # fmt: skip


def iban(valid: bool = True) -> str:
    country = rng.choice(list(IBAN_FORMATS))
    bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") if c == "A" else str(rng.randrange(10))
                   for c in IBAN_FORMATS[country])  # fmt: skip
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + rng.randrange(1, 90)) % 100
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def phone() -> str:
    return rng.choice([
        lambda: f"(415) 555-01{rng.randrange(10, 99)}",
        lambda: f"415-555-01{rng.randrange(10, 99)}",
        lambda: f"212.555.01{rng.randrange(10, 99)}",
        lambda: f"+1 646 555 01{rng.randrange(10, 99)}",
        lambda: f"1-800-555-01{rng.randrange(10, 99)}",
        lambda: f"+44 20 7946 0{rng.randrange(100, 999)}",
        lambda: f"020 7946 0{rng.randrange(100, 999)}",
        lambda: f"07700 900{rng.randrange(100, 999)}",
        lambda: f"+44 7700 900{rng.randrange(100, 999)}",
        lambda: f"+49 30 {rng.randrange(1000000, 9999999)}",
        lambda: f"+49 (0)89 {rng.randrange(100000, 999999)}",
        lambda: f"+33 1 {rng.randrange(10, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)}",
        lambda: f"+91 98{rng.randrange(100, 999)} {rng.randrange(10000, 99999)}",
        lambda: f"+61 2 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
        lambda: f"0161 496 0{rng.randrange(100, 999)}",
    ])()  # fmt: skip


def ipv4() -> str:
    return rng.choice([
        lambda: f"192.168.{rng.randrange(0, 255)}.{rng.randrange(1, 254)}",
        lambda: f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 254)}",
        lambda: f"172.{rng.randrange(16, 31)}.{rng.randrange(0, 255)}.{rng.randrange(1, 254)}",
        lambda: f"{rng.randrange(11, 223)}.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 254)}",
        lambda: f"203.0.113.{rng.randrange(1, 254)}",
    ])()  # fmt: skip


def ipv6() -> str:
    return rng.choice([
        lambda: f"2001:db8::{rng.randrange(1, 0xFFFF):x}",
        lambda: "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        lambda: f"fe80::{rng.randrange(0x1000, 0xFFFF):x}:{rng.randrange(0x1000, 0xFFFF):x}:fe{rng.randrange(0x10, 0xFF):x}:{rng.randrange(0x1000, 0xFFFF):x}",
        lambda: f"2a02:{rng.randrange(0x1000, 0xFFFF):x}:{rng.randrange(0x10, 0xFFFF):x}::{rng.randrange(1, 0xFF):x}",
    ])()  # fmt: skip


def ssn() -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    sep = rng.choice(["-", "-", " "])
    return f"{area:03d}{sep}{rng.randrange(1, 99):02d}{sep}{rng.randrange(1, 9999):04d}"


def nino() -> str:
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
        first, second = "A", "B"
    n = f"{rng.randrange(0, 99):02d}{rng.randrange(0, 99):02d}{rng.randrange(0, 99):02d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{first}{second} {n[:2]} {n[2:4]} {n[4:]} {suffix}"
    return f"{first}{second}{n}{suffix}"


def sin() -> str:
    while True:
        body = str(rng.randrange(1, 8)) + "".join(str(rng.randrange(10)) for _ in range(7))
        d = body + luhn_digit(body)
        return f"{d[:3]} {d[3:6]} {d[6:]}" if rng.random() < 0.5 else f"{d[:3]}-{d[3:6]}-{d[6:]}"


def dni() -> str:
    n = rng.randrange(10_000_000, 99_999_999)
    return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


_D = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
      (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
      (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
      (9, 8, 7, 6, 5, 4, 3, 2, 1, 0))  # fmt: skip
_P = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
      (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
      (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8))  # fmt: skip
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def aadhaar() -> str:
    body = str(rng.randrange(2, 10)) + "".join(str(rng.randrange(10)) for _ in range(10))
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    d = body + str(_INV[c])
    return f"{d[:4]} {d[4:8]} {d[8:]}"


def national_id() -> str:
    return rng.choice([ssn, ssn, ssn, nino, nino, sin, dni, aadhaar])()


SENTENCES = {
    "email": [
        "Please send the revised contract to {v} by Friday.",
        "Customer wrote from {v} asking why the export keeps failing.",
        "cc: {v}",
        "Reply-To: <{v}>",
        "My work address is {v}, the old one bounces.",
        "Escalate to the account owner ({v}) if the refund is over 500 EUR.",
        "Can you draft a reply to {v} apologising for the delay?",
        "Login fails for user {v} since the SSO migration.",
    ],
    "phone": [
        "Call me back on {v} after 3pm.",
        "Her mobile is {v} if the ticket needs a follow-up.",
        "Support line: {v} (Mon-Fri).",
        "The customer left a voicemail from {v} about the outage.",
        "Phone: {v}",
        "Reach the on-site engineer at {v} before the maintenance window.",
        "Please update my number to {v} in the CRM.",
    ],
    "credit_card": [
        "I was charged twice on card {v}, please refund one payment.",
        "Card number {v} exp 09/27 was declined at checkout.",
        "Payment failed for {v}.",
        "The customer pasted their full card ({v}) into the chat, redact before logging.",
        "Use {v} for the test transaction.",
    ],
    "iban": [
        "Please pay the invoice to IBAN {v}.",
        "Our bank details changed: {v} (BIC DEUTDEFF).",
        "Refund to {v} within 14 days.",
        "IBAN: {v}",
        "The supplier's account {v} rejected the SEPA transfer.",
    ],
    "ip_address": [
        "The login attempts came from {v}.",
        "Whitelist {v} on the firewall before the demo.",
        "Server {v} stopped answering health checks at 02:14.",
        "curl http://{v}:8080/health returns 503",
        "Blocked IP: {v}",
        "The VPN assigned {v} to the laptop.",
    ],
    "national_id": [
        "My SSN is {v}, please update the payroll record.",
        "Employee national insurance number: {v}",
        "Tax form lists {v} as the identifier.",
        "Verify identity document {v} before opening the account.",
        "ID on file: {v}.",
        "Please remove {v} from the shared spreadsheet.",
    ],
}
MAKERS = {"email": email, "phone": phone, "credit_card": card, "iban": iban, "national_id": national_id}

BENIGN = [
    "Summarise the attached incident report in three bullet points for the leadership update.",
    "Draft a polite reply explaining that refunds take five to seven business days.",
    "Classify this ticket: the dashboard loads slowly on Monday mornings.",
    "Rewrite this paragraph in a friendlier tone for new customers.",
    "Extract the product name, the issue and the urgency as JSON.",
    "What is our policy on remote work for contractors?",
    "Translate 'the meeting is postponed' into French and German.",
    "Explain retrieval-augmented generation to a support analyst in plain words.",
    "List three risks of fine-tuning on customer chat logs.",
    "Generate five test questions about the onboarding handbook.",
    "The customer says the mobile app crashes when uploading large photos.",
    "Please call the team meeting for Thursday; the agenda is in the wiki.",
    "Our phone support hours are nine to five, Monday to Friday.",
    "Email the summary to the whole team once it is approved.",
    "Send an invoice reminder to the customers whose payment is overdue.",
    "The card reader in the London office is broken again.",
    "Our bank changed its name last year; update the footer text.",
    "The IP team reviewed the patent draft and had no comments.",
    "Social security reforms were discussed at the conference.",
    "Write a haiku about quarterly planning.",
    "Compare LoRA and full fine-tuning for a 7B model on one GPU.",
    "How many tokens does a 2,000-word document take, roughly?",
    "What does a temperature of 0.7 change compared with 0?",
    "Turn these notes into a checklist for the release.",
    "Answer using only the provided sources and cite them as [1], [2].",
]

NEGATIVES = [
    "Order #{n} shipped on {d} and should arrive within 3-5 days.",
    "Invoice INV-2024-{n6} is overdue by 12 days.",
    "Upgrade from version {ver} to {ver2} before the freeze.",
    "Python 3.11.7 and numpy 1.26.4 are pinned in the lockfile.",
    "The meeting moved to {d} at 14:30.",
    "Build finished at 10:30:15 with 0 warnings.",
    "ISBN 978-0-13-468599-1 is the second edition.",
    "Commit 3f786850e387550fdab836ed7e6dc881de23001b fixed the regression.",
    "Request id 123e4567-e89b-12d3-a456-426614174000 timed out.",
    "The total is $1,299.99 including VAT of 20%.",
    "The office is at 51.5074, -0.1278 according to the map.",
    "Tracking number 1Z999AA10123456784 shows the parcel in transit.",
    "Ticket {n} was reopened after the 2.3.1 hotfix.",
    "Device MAC 00:1A:2B:3C:4D:5E is not in the inventory.",
    "Use arr[1::2] to take every other element.",
    "std::vector<int> v; reserve 1024 elements first.",
    "Reference {bad_card} is an internal batch id, not a card.",
    "The old IBAN {bad_iban} failed validation, ask for a new one.",
    "Employee number 000-12-3456 is a placeholder in the template.",
    "Form 666-45-6789 was a test record and never issued.",
    "Revenue grew 12.5% to 4,500,000 EUR in Q3 2024.",
    "Page 120-145 covers the retention policy.",
    "The sprint runs from {d} to {d2}.",
    "Zip code 94105 and postcode SW1A 1AA are in the address book.",
    "Room 4.12 on floor 4 has the projector.",
    "The release tag is v{ver}-rc.1.",
    "Firmware build 4.2.0.1 ships next week.",
    "Download numpy@2.1.0 from the internal mirror.",
    "We processed 1 234 567 events yesterday.",
    "Timestamp 1700000000 corresponds to November 2023.",
    "The SKU is AB-1234-XYZ and the batch is 2024/03/15-07.",
    "Account tier PREMIUM2024 includes 5 seats.",
    "Error code 0x80070005 means access denied.",
    "Latency p95 is 250ms and p99 is 1.2s.",
    "Set max_new_tokens=256 and temperature=0.2.",
]


# Hand-written harder cases: formats and contexts the generated sentences above do not cover.
HANDWRITTEN: list[tuple[str, list[tuple[str, str]]]] = [
    ('"Ana Okafor" <ana.okafor@example.com> wrote: the sync is broken', [("person", "Ana Okafor"), ("email", "ana.okafor@example.com")]),
    ("mailto:support-team@help.contoso.com?subject=Refund", [("email", "support-team@help.contoso.com")]),
    ("Send it to ANA.GARCIA@EXAMPLE.ORG (all caps, sorry).", [("email", "ANA.GARCIA@EXAMPLE.ORG")]),
    ("emails: a.b@example.com,c.d@example.com", [("email", "a.b@example.com"), ("email", "c.d@example.com")]),
    ("Call 415-555-0100 ext. 204 for billing.", [("phone", "415-555-0100")]),
    ("Tel.: +44 (0)20 7946 0321", [("phone", "+44 (0)20 7946 0321")]),
    ("call me on 4155550173 tomorrow", [("phone", "4155550173")]),
    ("WhatsApp +34 612 345 678 for the delivery slot.", [("phone", "+34 612 345 678")]),
    ("Numbers: +1-202-555-0147 / +1-202-555-0188", [("phone", "+1-202-555-0147"), ("phone", "+1-202-555-0188")]),
    ("The VPN endpoint is 10.0.0.5:8443 behind the proxy.", [("ip_address", "10.0.0.5")]),
    ("Browse to http://[2001:db8::8a2e:370:7334]:8080/ to see it.", [("ip_address", "2001:db8::8a2e:370:7334")]),
    ("X-Forwarded-For: 198.51.100.23, 10.1.2.3", [("ip_address", "198.51.100.23"), ("ip_address", "10.1.2.3")]),
    ("Amex 3714 496353 98431 was used for the booking.", [("credit_card", "3714 496353 98431")]),
    ("card no:4000056655665556 cvv 123", [("credit_card", "4000056655665556")]),
    ("IBAN DE89370400440532013000 (Commerzbank)", [("iban", "DE89370400440532013000")]),
    ("Pay NL91 ABNA 0417 1643 00 before the 5th.", [("iban", "NL91 ABNA 0417 1643 00")]),
    ("SSN: 078051120 (from the scanned form)", [("national_id", "078051120")]),
    ("NI number QQ 12 34 56 C is the HMRC sample, but JG 10 37 60 A is real-looking.", [("national_id", "JG 10 37 60 A")]),
    ("DNI 12345678Z del cliente.", [("national_id", "12345678Z")]),
    ("Order 2024-000123 for ana@example.com shipped to 10.20.30.40", [("email", "ana@example.com"), ("ip_address", "10.20.30.40")]),
    ("Version 10.0.0.1 of the agent fixes the leak.", []),
    ("OID 1.3.6.1.4.1.311 identifies the vendor.", []),
    ("Benchmark: 4111 requests in 1111 ms, 1111 errors, 1111 retries.", []),
    ("Account id 5555-5555-5555-4443 is a Luhn-invalid fixture.", []),
    ("Flight BA 2490 departs 07:45 from gate 12.", []),
    ("See RFC 3339 and ISO 8601 for the timestamp format 2024-05-01T10:30:00Z.", []),
    ("The 12 34 56 78 90 sequence in the test is not a phone number.", []),
    ("Call the function at 0x7ffd5c3b:0x10 in the dump.", []),
    ("Send an email to the user whose address is in the CRM.", []),
]


def date() -> str:
    return rng.choice([f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                       f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2025", "March 3, 2025"])  # fmt: skip


def version() -> str:
    return f"{rng.randrange(0, 12)}.{rng.randrange(0, 30)}.{rng.randrange(0, 20)}"


def negative(template: str) -> str:
    return template.format(
        n=rng.randrange(100000, 99999999),
        n6=f"{rng.randrange(0, 999999):06d}",
        d=date(),
        d2=date(),
        ver=version(),
        ver2=version(),
        bad_card=bad_card(),
        bad_iban=iban(valid=False),
    )


def main() -> None:
    records: list[dict[str, object]] = []

    def add(text: str, entities: list[tuple[str, str]], group: str) -> None:
        for _, value in entities:
            assert value in text, (value, text)
        records.append({"id": len(records) + 1, "text": text, "entities": [{"kind": k, "value": v} for k, v in entities],
                        "group": group})  # fmt: skip

    for kind, templates in SENTENCES.items():
        for i in range(36):
            value = (ipv6() if i % 3 == 2 else ipv4()) if kind == "ip_address" else MAKERS[kind]()
            template = templates[i % len(templates)]
            if kind == "ip_address" and "curl" in template and ":" in value:
                template = templates[0]
            add(template.format(v=value), [(kind, value)], kind)
    # Several kinds in one text (a pasted support thread).
    for _ in range(30):
        e, p, c = email(), phone(), card()
        add(
            rng.choice([
                f"From: {e}\nHi, I was billed twice on {c}. Please call me on {p}.",
                f"Customer {e} (tel {p}) disputes the charge on card {c}.",
                f"Contact: {e} / {p}. Card used: {c}.",
            ]),
            [("email", e), ("phone", p), ("credit_card", c)],
            "mixed",
        )  # fmt: skip
    for _ in range(12):
        i, n, ip = iban(), national_id(), ipv4()
        add(f"New hire form: ID {n}, salary account {i}, VPN address {ip}.", [("national_id", n), ("iban", i), ("ip_address", ip)], "mixed")
    for text, ents in HANDWRITTEN:
        add(text, ents, "handwritten")
    for text in BENIGN:
        add(text, [], "benign")
    for template in NEGATIVES:
        for _ in range(2 if "{" in template else 1):
            add(negative(template), [], "tricky_negative")
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(f"wrote {len(records)} records to {OUT}")


if __name__ == "__main__":
    main()
