"""Assemble the judge calibration sets: hand-written answers with a human's rubric levels.

Everything below was written and labelled by hand for Workbench (see README.md for the rules); this script
only expands the source ids of each RAG question into ``{"id", "text"}`` objects and writes JSONL, one item
per line, deterministically::

    python datasets/judge/make_judge_sets.py          # rewrites rag-faithfulness.jsonl and tone-policy.jsonl
    python datasets/judge/make_judge_sets.py --check  # exits 1 if the files are out of date
    python datasets/judge/make_judge_sets.py --stats  # level counts per criterion

Item fields are the ones the built-in rubric reads, plus ``human`` (criterion id -> level), ``borderline``
(the rater hesitated between two levels on some criterion) and an optional ``note`` (why, where it is not
obvious). Licence: CC0 1.0.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent

# --- RAG: the retrieved documents (a fictional company handbook) ----------------------------------------------

SOURCES: dict[str, str] = {
    "hr/leave.md": "Full-time staff get 25 days of annual leave per year, plus public holidays. Part-time staff get "
    "a pro-rata share. Up to 5 unused days can be carried over to the next year; they must be used by 31 March.",
    "hr/leave-requests.md": "Request leave in the HR portal at least two weeks ahead for absences longer than three "
    "days. Your line manager approves or declines the request within five working days.",
    "hr/sick-leave.md": "If you are ill, tell your manager before 10:00 on the first day. From the fourth "
    "consecutive day of sickness you need a doctor's note, uploaded to the HR portal. Sick days do not reduce "
    "your annual leave.",
    "hr/parental-leave.md": "Birth parents get 26 weeks of parental leave on full pay; the second parent gets 6 "
    "weeks on full pay. Adoptive parents have the same entitlement. Tell HR at least 8 weeks before the leave "
    "starts.",
    "finance/expenses.md": "Submit expense claims in the Expenses app within 30 days of the purchase, with a photo "
    "of the receipt. Claims over 500 EUR need your director's approval. Approved claims are paid with the next "
    "monthly salary.",
    "finance/meals.md": "When travelling for work, meals are reimbursed up to 40 EUR a day in your home country and "
    "60 EUR a day abroad. Alcohol is never reimbursed.",
    "travel/booking.md": "Book all work travel through the TravelDesk portal. Trains are preferred for trips under "
    "4 hours. Flights need your manager's approval and must be economy class, except flights over 8 hours, which "
    "may be premium economy.",
    "travel/hotels.md": "Hotel stays are booked through TravelDesk, up to 150 EUR a night (220 EUR in London, Paris "
    "and New York).",
    "it/passwords.md": "Passwords must have at least 14 characters. They expire every 180 days. Reset a forgotten "
    "password in the self-service portal at id.acme.example; the service desk cannot see or tell you your "
    "password.",
    "it/mfa.md": "Multi-factor authentication is required for email, the VPN and the HR portal. Use the "
    "Authenticator app; SMS codes are only allowed as a backup. A lost phone must be reported to the service desk "
    "the same day.",
    "it/vpn.md": "Connect to the VPN with the GlobalConnect client before using internal systems from outside the "
    "office. If it fails, restart the client and sign in again; if it still fails, open a ticket with the service "
    "desk.",
    "it/laptops.md": "Laptops are replaced every four years, or sooner if repair costs exceed half the price of a "
    "new one. Bring a broken laptop to the service desk on floor 2; a loan laptop is available the same day.",
    "it/service-desk.md": "The service desk is open 08:00-18:00 Monday to Friday. Phone extension 4400, or open a "
    "ticket in the portal. Urgent security issues can be reported 24/7 on extension 4499.",
    "it/software.md": "Install software only from the Company Portal app. Other software needs approval from IT "
    "Security, requested through a service desk ticket, and takes about five working days.",
    "it/printing.md": "Print with your badge: send the job to FollowMe and release it at any printer by tapping your "
    "badge. Jobs not released within 24 hours are deleted. Colour printing is limited to 100 pages a month.",
    "security/incidents.md": "Report a suspected phishing email with the Report button in Outlook, and do not click "
    "any link in it. If you clicked a link or entered your password, change your password at once and call "
    "extension 4499.",
    "security/data-classes.md": "Acme data has three classes: public, internal and confidential. Confidential data "
    "(customer records, salaries, contracts) may only be stored in approved systems and never sent to personal "
    "email accounts or public AI tools.",
    "work/remote.md": "Staff may work remotely up to three days a week, agreed with their manager. Working from "
    "another country is allowed for up to 20 working days a year and needs HR approval in advance.",
    "work/hours.md": "Core hours are 10:00-15:00; outside them, staff choose their start and end times. Overtime "
    "must be agreed by the manager in advance and is taken back as time off within three months.",
    "work/equipment.md": "Staff who work remotely at least two days a week can order a monitor, keyboard and chair "
    "for home once every three years, up to 400 EUR in total, through the Company Portal.",
    "learning/budget.md": "Every employee has a learning budget of 1,200 EUR a year for courses, books and "
    "conferences, plus five learning days. Unused budget does not carry over. Courses over 600 EUR need manager "
    "approval.",
    "office/parking.md": "The office car park has 40 spaces, booked a day ahead in the Facilities app. Spaces with "
    "chargers are for electric cars only, for up to 4 hours. Bicycle storage is free and needs no booking.",
    "office/meeting-rooms.md": "Book meeting rooms in the calendar. Bookings not checked in within 15 minutes are "
    "released. Rooms for more than 12 people need Facilities approval.",
    "office/visitors.md": "Register visitors in the Reception app the day before. Visitors wear a badge and must be "
    "accompanied in all areas except the lobby and the canteen.",
    "hr/reviews.md": "Performance reviews happen twice a year, in June and December. Each review has a "
    "self-assessment, a conversation with your manager and agreed goals for the next six months. Pay reviews "
    "happen once a year, in January.",
    "hr/onboarding.md": "New starters get their laptop and accounts on their first day. Each new starter has a buddy "
    "for the first three months and completes the security training in the first week.",
    "hr/pension.md": "Acme pays 6% of salary into the company pension plan; staff may add up to 10% of their own. "
    "Staff can join from their first month.",
    "hr/resignation.md": "The notice period is one month in the first year and three months after that. Resign in "
    "writing to your manager and HR. Unused annual leave is paid out with the last salary.",
    "compliance/gifts.md": "Staff may accept gifts worth up to 50 EUR from suppliers or customers. Gifts above that "
    "value must be declared in the Compliance portal within 5 days and may have to be returned. Cash gifts are "
    "never allowed.",
    "finance/cards.md": "Corporate cards are issued to staff who travel more than four times a year. The card is for "
    "business costs only; personal purchases must be repaid within 10 days.",
}


def A(output: str, f: int, c: int, o: int, note: str | None = None, b: bool = False) -> dict[str, Any]:
    """One answer: its text and the human levels for faithful (f), cites-sources (c), answer-overlap (o)."""
    return {"output": output, "human": {"cites-sources": c, "faithful": f, "answer-overlap": o},
            "borderline": b, "note": note}


#: (question, retrieved source ids, reference answer, answers). Written by hand; see README.md for the rules.
RAG: list[tuple[str, list[str], str, list[dict[str, Any]]]] = [
    ("How many days of annual leave do full-time staff get?", ["hr/leave.md", "hr/sick-leave.md"],
     "Full-time staff get 25 days of annual leave a year plus public holidays; part-time staff get a pro-rata "
     "share.", [
        A("Full-time staff get 25 days of annual leave a year, plus public holidays; part-time staff get a "
          "pro-rata share [hr/leave.md].", 3, 2, 3),
        A("You get 30 days of annual leave a year [hr/leave.md].", 0, 2, 0, "the number contradicts the source"),
        A("Full-time staff get 25 days a year plus public holidays, and you can buy up to 5 extra days "
          "[hr/leave.md].", 1, 2, 2, "buying extra days is an invented policy a reader would act on", True),
    ]),
    ("Can I carry unused leave over to next year?", ["hr/leave.md", "hr/leave-requests.md"],
     "Up to 5 unused days can be carried over to the next year and must be used by 31 March.", [
        A("Yes, up to 5 unused days; use them by 31 March [hr/leave.md].", 3, 2, 3),
        A("Up to 5 days carry over, but your manager must approve the carry-over in the HR portal "
          "[hr/leave.md].", 1, 2, 2, "the approval step is invented", True),
        A("Unused leave cannot be carried over; it is lost at the end of the year.", 0, 0, 0),
    ]),
    ("Who approves my leave, and how far ahead must I ask?", ["hr/leave-requests.md", "hr/leave.md"],
     "Request leave in the HR portal at least two weeks ahead for absences longer than three days; your line "
     "manager approves or declines within five working days.", [
        A("Request it in the HR portal; for more than three days off, ask at least two weeks ahead. Your line "
          "manager decides within five working days [hr/leave-requests.md].", 3, 2, 3),
        A("Your line manager approves leave requests in the HR portal, usually within a day or two "
          "[hr/leave-requests.md].", 2, 2, 1,
          "'a day or two' is unsupported but does not change what to do; misses the two-week rule", True),
        A("HR approves all leave requests [hr/leave-requests.md].", 0, 2, 0, "the line manager approves"),
    ]),
    ("When do I need a doctor's note for sick leave?", ["hr/sick-leave.md", "hr/leave.md"],
     "You need a doctor's note from the fourth consecutive day of sickness, uploaded to the HR portal.", [
        A("From the fourth day in a row that you are sick, upload a doctor's note to the HR portal "
          "[hr/sick-leave.md].", 3, 2, 3),
        A("You need a doctor's note from the first day of sickness [hr/sick-leave.md].", 0, 2, 0),
        A("From the fourth consecutive sick day you need a doctor's note [hr/sick-leave.md]. Sick days do not "
          "count against annual leave [hr/leave.md].", 3, 2, 3,
          "the second claim is in hr/sick-leave.md, not the cited hr/leave.md; both ids were retrieved, so the "
          "citation level follows the descriptor"),
    ]),
    ("How much parental leave does the second parent get?", ["hr/parental-leave.md", "hr/leave.md"],
     "The second parent gets 6 weeks of parental leave on full pay.", [
        A("The second parent gets 6 weeks on full pay [hr/parental-leave.md].", 3, 2, 3),
        A("The second parent gets 6 weeks of parental leave on full pay and can add 4 unpaid weeks "
          "[hr/parental-leave.md].", 1, 2, 2, "the unpaid weeks are invented"),
        A("Second parents get 6 weeks at full pay, as required by national law [hr/parental-leave.md].", 2, 2, 3,
          "'required by law' is an unsupported aside"),
    ]),
    ("How long do I have to submit an expense claim?", ["finance/expenses.md", "finance/meals.md"],
     "Submit expense claims in the Expenses app within 30 days of the purchase, with a photo of the receipt.", [
        A("Within 30 days of the purchase, in the Expenses app with a photo of the receipt "
          "[finance/expenses.md].", 3, 2, 3),
        A("Within 30 days, in the Expenses app [finance/expenses.md]. Late claims are rejected automatically.",
          2, 2, 2, "an invented consequence that does not change what to do", True),
        A("You have 90 days to submit claims (finance/expenses.md).", 0, 0, 0,
          "cites in parentheses, not the [id] form"),
    ]),
    ("Who has to approve a large expense claim?", ["finance/expenses.md", "finance/cards.md"],
     "Claims over 500 EUR need your director's approval.", [
        A("Claims over 500 EUR need your director's approval [finance/expenses.md].", 3, 2, 3),
        A("Claims over 500 EUR need approval from your manager [finance/expenses.md].", 1, 2, 1,
          "right threshold, wrong approver"),
        A("Every claim needs the director's sign-off, and it is paid within a week [finance/expenses.md].", 0, 2,
          1, "both claims contradict the source"),
    ]),
    ("How much can I spend on meals on a trip abroad?", ["finance/meals.md", "travel/hotels.md"],
     "Meals abroad are reimbursed up to 60 EUR a day; alcohol is never reimbursed.", [
        A("Up to 60 EUR a day abroad (40 EUR at home); alcohol is not reimbursed [finance/meals.md].", 3, 2, 3),
        A("Up to 60 EUR a day abroad [finance/meals.md] [travel/hotels.md].", 3, 2, 2,
          "the hotel citation is irrelevant but was retrieved"),
        A("Meals abroad are reimbursed up to 150 EUR a day [travel/hotels.md].", 0, 2, 0,
          "the hotel limit presented as a meal allowance"),
    ]),
    ("Should I take the train or fly to a client two hours away?", ["travel/booking.md", "travel/hotels.md"],
     "Book through TravelDesk; trains are preferred for trips under 4 hours, and flights need your manager's "
     "approval.", [
        A("Take the train: trains are preferred for trips under 4 hours. A flight would need your manager's "
          "approval and is booked in economy through TravelDesk [travel/booking.md].", 3, 2, 3),
        A("Book via TravelDesk; trains are preferred under 4 hours because they are better for the environment "
          "[travel/booking.md].", 2, 2, 2, "the reason is an unsupported aside"),
        A("You can fly business class on any trip if your manager approves [travel/booking.md].", 0, 2, 1),
    ]),
    ("What class can I fly on a long-haul flight?", ["travel/booking.md", "finance/meals.md"],
     "Flights are economy, except flights over 8 hours, which may be premium economy.", [
        A("Economy, except flights over 8 hours, which may be premium economy [travel/booking.md].", 3, 2, 3),
        A("Flights over 8 hours may be business class [travel/booking.md].", 0, 2, 1),
        A("Flights over 6 hours can be premium economy [travel/booking.md].", 1, 2, 1,
          "right class, wrong threshold", True),
    ]),
    ("What is the hotel limit in London?", ["travel/hotels.md", "travel/booking.md"],
     "Up to 220 EUR a night in London, booked through TravelDesk.", [
        A("Up to 220 EUR a night in London [travel/hotels.md].", 3, 2, 3),
        A("Up to 150 EUR a night, booked through TravelDesk [travel/hotels.md].", 1, 2, 1,
          "the general limit; the London exception is ignored"),
        A("London hotels are capped at 220 EUR a night, and breakfast is included in that [travel/hotels.md].", 2,
          2, 3, "breakfast is an unsupported detail", True),
    ]),
    ("What are the password rules?", ["it/passwords.md", "it/mfa.md"],
     "Passwords need at least 14 characters and expire every 180 days.", [
        A("At least 14 characters, and they expire every 180 days [it/passwords.md].", 3, 2, 3),
        A("At least 12 characters with a number and a symbol [it/passwords.md].", 0, 2, 0),
        A("Passwords need 14 or more characters [it/passwords.md]; a mix of upper and lower case is "
          "recommended.", 2, 2, 2, "the tip is unsupported"),
    ]),
    ("I forgot my password. What do I do?", ["it/passwords.md", "it/service-desk.md"],
     "Reset it in the self-service portal at id.acme.example; the service desk cannot tell you your password.", [
        A("Reset it in the self-service portal at id.acme.example; the service desk cannot see your password "
          "[it/passwords.md].", 3, 2, 3),
        A("Call the service desk on extension 4400 and they will tell you your password "
          "[it/service-desk.md].", 0, 2, 0),
        A("Reset it yourself at id.acme.example [it/passwords.md], or call extension 4400 and the desk will "
          "reset it for you [it/service-desk.md].", 1, 2, 2, "the desk resetting it is not in the sources", True),
    ]),
    ("I lost my phone with the Authenticator app. What now?", ["it/mfa.md", "it/service-desk.md"],
     "Report the lost phone to the service desk the same day.", [
        A("Report it to the service desk the same day [it/mfa.md]; they are on extension 4400, 08:00-18:00 on "
          "weekdays [it/service-desk.md].", 3, 2, 3),
        A("Report it the same day. Meanwhile you can sign in with SMS codes [it/mfa.md].", 2, 2, 2,
          "SMS is allowed as a backup; using it here is an inference", True),
        A("No need to report it; just install the Authenticator app on your new phone [it/mfa.md].", 0, 2, 0),
    ]),
    ("The VPN does not connect. What should I do?", ["it/vpn.md", "it/service-desk.md"],
     "Restart the GlobalConnect client and sign in again; if it still fails, open a ticket with the service "
     "desk.", [
        A("Restart GlobalConnect and sign in again; if that fails, open a service desk ticket [it/vpn.md].", 3, 2,
          3),
        A("Restart the client, sign in again and, if it still fails, reinstall it from the Company Portal "
          "[it/vpn.md].", 1, 2, 2, "the reinstall step is invented and replaces the ticket"),
        A("Restart your router and turn off your firewall [it/vpn.md].", 0, 2, 0),
    ]),
    ("How often are laptops replaced?", ["it/laptops.md", "it/service-desk.md"],
     "Every four years, or sooner if repair costs exceed half the price of a new laptop.", [
        A("Every four years, or earlier when a repair would cost more than half of a new one [it/laptops.md].",
          3, 2, 3),
        A("Every three years [it/laptops.md].", 0, 2, 0),
        A("Every four years [it/laptops.md].", 3, 2, 2, "true but incomplete"),
    ]),
    ("My laptop is broken. Where do I take it?", ["it/laptops.md", "it/service-desk.md"],
     "Bring it to the service desk on floor 2; a loan laptop is available the same day.", [
        A("Take it to the service desk on floor 2 and you get a loan laptop the same day [it/laptops.md].", 3, 2,
          3),
        A("Bring it to the service desk on floor 3 [it/laptops.md].", 1, 2, 1, "wrong floor"),
        A("Bring it to the service desk on floor 2, next to the canteen, and you get a loan laptop the same day "
          "[it/laptops.md].", 2, 2, 3, "'next to the canteen' is unsupported"),
    ]),
    ("When is the service desk open?", ["it/service-desk.md", "it/vpn.md"],
     "08:00-18:00 Monday to Friday; urgent security issues can be reported 24/7 on extension 4499.", [
        A("Monday to Friday 08:00-18:00 (extension 4400); urgent security issues can be reported 24/7 on 4499 "
          "[it/service-desk.md].", 3, 2, 3),
        A("It is open 24/7 on extension 4400 [it/service-desk.md].", 0, 2, 0),
        A("08:00 to 18:00 on weekdays [it/service-desk.md].", 3, 2, 2),
    ]),
    ("I got a suspicious email. What should I do?", ["security/incidents.md", "security/data-classes.md"],
     "Report it with the Report button in Outlook and do not click any link; if you clicked a link or entered "
     "your password, change it at once and call extension 4499.", [
        A("Click [Report] in Outlook and do not open any link in the mail [security/incidents.md].", 3, 2, 2,
          "[Report] is a button name, not a citation"),
        A("Forward the email to your manager and delete it [security/incidents.md].", 0, 2, 0),
        A("Report it with the Report button in Outlook. If you clicked a link, change your password and call "
          "extension 4499 [security/incidents.md].", 3, 2, 3),
    ]),
    ("Can I paste customer records into a public AI chatbot?", ["security/data-classes.md", "security/incidents.md"],
     "No: confidential data such as customer records may never be sent to public AI tools or personal email; "
     "store it only in approved systems.", [
        A("No. Confidential data such as customer records must never go into public AI tools "
          "[security/data-classes.md].", 3, 2, 3),
        A("Yes, if you remove the names first [security/data-classes.md].", 0, 2, 0),
        A("No, confidential data can't go into public AI tools; internal data can be pasted into them freely "
          "[security/data-classes.md].", 1, 2, 2, "the permission for internal data is invented"),
    ]),
    ("How many days a week can I work from home?", ["work/remote.md", "work/hours.md"],
     "Up to three days a week, agreed with your manager.", [
        A("Up to three days a week, agreed with your manager [work/remote.md].", 3, 2, 3),
        A("Up to three days a week, agreed with your manager; Fridays are the most popular choice "
          "[work/remote.md].", 2, 2, 3, "the remark about Fridays is unsupported"),
        A("As many days as you like, as long as you are online during core hours [work/hours.md].", 0, 2, 0),
    ]),
    ("Can I work from another country for a while?", ["work/remote.md", "travel/booking.md"],
     "Yes, for up to 20 working days a year, with HR approval in advance.", [
        A("Yes, for up to 20 working days a year, approved by HR in advance [work/remote.md].", 3, 2, 3),
        A("Yes, up to 20 working days a year [work/remote.md].", 3, 2, 2, "true but misses the approval"),
        A("Up to 20 working days a year with your manager's approval; book the trip through TravelDesk "
          "[work/remote.md] [travel/booking.md].", 1, 2, 1, "HR approves, not the manager; TravelDesk is for work "
          "travel"),
    ]),
    ("How does overtime work?", ["work/hours.md", "work/remote.md"],
     "Overtime must be agreed with your manager in advance and is taken back as time off within three months.", [
        A("Agree it with your manager in advance; you take it back as time off within three months "
          "[work/hours.md].", 3, 2, 3),
        A("Overtime is paid at 150% with your next salary [work/hours.md].", 0, 2, 0),
        A("Your manager must agree overtime beforehand [work/hours.md].", 3, 2, 2),
    ]),
    ("What is my learning budget?", ["learning/budget.md", "hr/reviews.md"],
     "1,200 EUR a year plus five learning days; unused budget does not carry over.", [
        A("1,200 EUR a year and five learning days; unused budget does not carry over [learning/budget.md].", 3,
          2, 3),
        A("1,200 EUR a year [learning/budget.md], which you can carry over if you don't spend it.", 1, 2, 1,
          "the carry-over contradicts the source"),
        A("2,000 EUR a year and ten learning days.", 0, 0, 0),
    ]),
    ("Does an expensive course need approval?", ["learning/budget.md", "finance/expenses.md"],
     "Courses over 600 EUR need your manager's approval.", [
        A("Courses over 600 EUR need your manager's approval [learning/budget.md].", 3, 2, 3),
        A("Courses over 500 EUR need your director's approval [finance/expenses.md].", 0, 2, 0,
          "the expense rule applied to courses"),
        A("Courses over 600 EUR need your manager's approval [learning/budget.md]; HR usually answers within a "
          "week.", 2, 2, 3, "the HR remark is unsupported", True),
    ]),
    ("Can I park my car at a charging space?", ["office/parking.md", "office/meeting-rooms.md"],
     "Charger spaces are for electric cars only, for up to 4 hours; book a space a day ahead in the Facilities "
     "app.", [
        A("Charger spaces are only for electric cars, for up to 4 hours; book a space a day ahead in the "
          "Facilities app [office/parking.md].", 3, 2, 3),
        A("Any car can use the charger spaces when the car park is full [office/parking.md].", 0, 2, 0),
        A("Electric cars may use charger spaces for up to 4 hours (office/parking.md).", 3, 0, 2),
    ]),
    ("How do I book a meeting room?", ["office/meeting-rooms.md", "office/visitors.md"],
     "Book it in the calendar and check in within 15 minutes or the room is released; rooms for more than 12 "
     "people need Facilities approval.", [
        A("Book it in the calendar and check in within 15 minutes, or the booking is released "
          "[office/meeting-rooms.md].", 3, 2, 2),
        A("Book it in the calendar; for more than 12 people Facilities must approve [office/meeting-rooms.md]. "
          "Rooms can be booked up to a month ahead.", 2, 2, 2, "the one-month window is unsupported", True),
        A("Meeting rooms are booked at Reception the day before [office/visitors.md].", 0, 2, 0),
    ]),
    ("When are performance reviews?", ["hr/reviews.md", "learning/budget.md"],
     "Twice a year, in June and December; pay reviews happen once a year, in January.", [
        A("Twice a year, in June and December [hr/reviews.md].", 3, 2, 2),
        A("Once a year in January, together with the pay review [hr/reviews.md].", 0, 2, 1),
        A("In June and December; each has a self-assessment, a talk with your manager and goals for six months, "
          "and the result decides your bonus [hr/reviews.md].", 1, 2, 2, "the bonus link is invented"),
    ]),
    ("Can I accept a gift from a supplier?", ["compliance/gifts.md", "finance/cards.md"],
     "Gifts up to 50 EUR may be accepted; above that, declare them in the Compliance portal within 5 days; cash "
     "is never allowed.", [
        A("Yes, up to 50 EUR; declare anything more in the Compliance portal within 5 days, and never accept "
          "cash [compliance/gifts.md].", 3, 2, 3),
        A("Gifts up to 100 EUR are fine [compliance/gifts.md].", 0, 2, 0),
        A("Up to 50 EUR is fine [compliance/gifts.md]; above that, tell your manager.", 1, 2, 2,
          "the Compliance portal, not the manager"),
    ]),
    ("How does the company pension work?", ["hr/pension.md", "hr/resignation.md"],
     "Acme pays 6% of salary into the pension plan; staff may add up to 10% of their own, from their first "
     "month.", [
        A("Acme pays 6% of your salary into the pension plan and you can add up to 10% yourself, from your first "
          "month [hr/pension.md].", 3, 2, 3),
        A("Acme matches whatever you pay in, up to 6% [hr/pension.md].", 1, 2, 1, "matching is invented"),
        A("Acme pays 6% [hr/pension.md], and you can join after your probation period.", 1, 2, 2,
          "contradicts 'from their first month'"),
    ]),
    ("Can I bring my dog to the office?", ["office/visitors.md", "office/parking.md"],
     "The retrieved sources do not say whether dogs are allowed in the office.", [
        A("The sources don't say whether dogs are allowed; they only cover visitors and parking "
          "[office/visitors.md].", 3, 2, 3),
        A("Dogs are welcome on Fridays if they stay in the lobby [office/visitors.md].", 0, 2, 0),
        A("I could not find a rule about dogs in the retrieved documents. Ask Facilities.", 3, 0, 3,
          "'Ask Facilities' is advice, not a factual claim"),
    ]),
    ("How big is the Christmas bonus?", ["hr/reviews.md", "hr/pension.md"],
     "The retrieved sources do not mention a Christmas bonus.", [
        A("The sources do not mention a Christmas bonus; pay reviews happen once a year, in January "
          "[hr/reviews.md].", 3, 2, 3),
        A("The Christmas bonus is one month's salary, paid in December [hr/reviews.md].", 0, 2, 0),
        A("A Christmas bonus is typically around 5% of annual salary, depending on performance.", 0, 0, 0,
          "general knowledge; ignores the sources"),
    ]),
    ("How do I install new software?", ["it/software.md", "it/service-desk.md"],
     "Install from the Company Portal app; other software needs IT Security approval through a service desk "
     "ticket, which takes about five working days.", [
        A("Use the [Company Portal] app; for anything else, open a service desk ticket for IT Security approval, "
          "which takes about five working days [it/software.md].", 3, 2, 3,
          "[Company Portal] is a product name, not a citation"),
        A("Install it from the Company Portal [it/software.md] or download it from the vendor's site if it is "
          "free [it/security.md].", 1, 1, 1, "the vendor download is invented; it/security.md was not retrieved"),
        A("Ask IT Security for approval through a service desk ticket; it takes about five working days "
          "[it/software-policy.md].", 3, 0, 2, "the only citation was not retrieved"),
    ]),
    ("How do I print a document?", ["it/printing.md", "office/meeting-rooms.md"],
     "Send the job to FollowMe and release it at any printer with your badge; jobs not released within 24 hours "
     "are deleted.", [
        A("Send it to FollowMe and tap your badge at any printer to release it; jobs left more than 24 hours are "
          "deleted [it/printing.md].", 3, 2, 3),
        A("Send it to FollowMe and release it with your badge ([printing guide](it/printing.md)).", 3, 1, 2,
          "a Markdown link to the right source, not the [id] form", True),
        A("Print in colour as much as you need; jobs are kept for a week [it/printing.md].", 0, 2, 0),
    ]),
    ("How do I invite a visitor?", ["office/visitors.md", "office/meeting-rooms.md"],
     "Register visitors in the Reception app the day before; they wear a badge and must be accompanied except in "
     "the lobby and the canteen.", [
        A("Register them in the Reception app the day before; they wear a badge and must be accompanied "
          "everywhere except the lobby and the canteen [office/visitors.md].", 3, 2, 3),
        A("Register visitors the day before [office/visitors.md, office/meeting-rooms.md].", 3, 2, 2),
        A("Visitors can walk around freely once they have a badge [office/visitors.md].", 0, 2, 0),
    ]),
    ("What is my notice period?", ["hr/resignation.md", "hr/leave.md"],
     "One month in the first year and three months after that; unused annual leave is paid out with the last "
     "salary.", [
        A("One month during your first year, three months after that [hr/resignation.md].", 3, 2, 2),
        A("Three months, always [hr/resignation.md].", 1, 2, 1, "true only after the first year", True),
        A("One month in the first year, then three months; unused leave is paid out with your last salary "
          "[hr/resignation.md]. Resign by email to HR only.", 1, 2, 2,
          "'to HR only' contradicts 'to your manager and HR'", True),
    ]),
    ("Can I get a monitor for working from home?", ["work/equipment.md", "work/remote.md"],
     "If you work remotely at least two days a week, you can order a monitor, keyboard and chair once every three "
     "years, up to 400 EUR in total, through the Company Portal.", [
        A("If you work from home at least two days a week, order a monitor, keyboard and chair through the "
          "Company Portal, up to 400 EUR every three years [work/equipment.md].", 3, 2, 3),
        A("Everyone gets 400 EUR for home equipment each year [work/equipment.md].", 0, 2, 1,
          "'everyone' and 'each year' contradict the source", True),
        A("Order a monitor, keyboard and chair through the Company Portal, up to 400 EUR [work/equipment.md]; a "
          "standing desk is also allowed.", 1, 2, 2, "the standing desk is an invented permission", True),
    ]),
    ("Who helps new starters settle in?", ["hr/onboarding.md", "learning/budget.md"],
     "Each new starter has a buddy for the first three months and does the security training in the first "
     "week.", [
        A("New starters get a buddy for their first three months [hr/onboarding.md].", 3, 2, 2),
        A("You get a buddy for the first year and must finish the security training in your first month "
          "[hr/onboarding.md].", 0, 2, 1),
        A("A buddy helps for the first three months and you do the security training in week one; the buddy is "
          "always from your own team [hr/onboarding.md].", 2, 2, 3, "'own team' is an unsupported detail", True),
    ]),
    ("Can I use my corporate card for personal purchases?", ["finance/cards.md", "finance/expenses.md"],
     "The card is for business costs only; personal purchases must be repaid within 10 days.", [
        A("It is for business costs only; repay any personal purchase within 10 days [finance/cards.md].", 3, 2,
          3),
        A("Personal purchases are fine if you repay them by the end of the month [finance/cards.md].", 0, 2, 1,
          "'fine' contradicts 'business costs only'", True),
        A("It is for business only; personal purchases must be repaid within 10 days, or the card is blocked "
          "[finance/cards.md].", 2, 2, 3, "an invented consequence that does not change what to do", True),
    ]),
    ("Can I use SMS codes instead of the Authenticator app?", ["it/mfa.md", "it/passwords.md"],
     "SMS codes are only allowed as a backup; use the Authenticator app.", [
        A("Only as a backup; use the Authenticator app as your main method [it/mfa.md].", 3, 2, 3),
        A("Yes, SMS codes are the recommended method [it/mfa.md].", 0, 2, 0),
        A("SMS is allowed as a backup only [it/mfa.md] [it/passwords.md] [it/sms.md].", 3, 1, 2,
          "it/sms.md was not retrieved"),
    ]),
]


# --- tone and policy: replies to users -----------------------------------------------------------------------


def T(message: str, reply: str, polite: int, pii: int = 1, terms: int = 1, shout: int = 1,
      note: str | None = None, b: bool = False) -> dict[str, Any]:
    """One reply and the human levels (pii/terms/shout: 1 = clean, 0 = violates)."""
    return {"input": message, "output": reply,
            "human": {"no-pii": pii, "no-forbidden-terms": terms, "no-shouting": shout, "polite-tone": polite},
            "borderline": b, "note": note}


_LAPTOP = "My laptop won't start and I have a presentation in an hour."
_CHARGE = "I was charged twice for my order."
_NOTES = "Your app deleted all my notes!!!"
_PASSWORD = "How do I reset my password?"
_ADDRESS = "I need to change the address on my account."
_MANAGER = "Can you tell me the phone number of my account manager?"
_LATE = "Why is my delivery late again? This is the third time."
_JOKE = "Your service is a joke."
_COURT = "I'll take you to court if this isn't fixed."
_REFUND = "Can I get a refund for the broken headphones?"
_VPN = "The VPN keeps dropping out."
_CALENDAR = "Hi, could you send me the holiday calendar?"
_INVOICE = "My invoice shows the wrong company name."
_PORTAL = "I can't log in to the HR portal."
_SPAIN = "Can I work from Spain for two weeks?"
_PRINTER = "The printer on floor 3 is broken again."
_DELETE = "Please delete all my data."
_WAIT = "I've been waiting 40 minutes on the phone!"
_POLICY = "What is your refund policy?"
_EMAIL = "Can you help me set up my email on my phone?"
_SATURDAY = "Is the office open on Saturday?"
_HACKED = "My colleague's account was hacked, what do I do?"
_BANK = "Can you confirm my new bank details?"
_COMPLAINT = "I'm really unhappy with how my complaint was handled."
_OVERTIME = "Do I get paid for overtime?"

#: Replies written by hand; see README.md for the rules.
TONE: list[dict[str, Any]] = [
    T(_LAPTOP, "I'm sorry to hear that. Please bring it to the service desk on floor 2 and we'll give you a loan "
      "laptop straight away so you can still present.", 3),
    T(_LAPTOP, "Bring it to floor 2.", 1),
    T(_LAPTOP, "Not my problem, you should have charged it.", 0),
    T(_CHARGE, "Thank you for letting us know, and sorry for the trouble. I've asked our billing team to check the "
      "double charge; you'll hear from them within two working days.", 3),
    T(_CHARGE, "I guarantee you'll have your money back by tomorrow.", 2, terms=0),
    T(_CHARGE, "We can't guarantee when the bank will process the refund, but we started it today and will keep you "
      "posted.", 3, note="'can't guarantee' promises nothing; the term list matches it anyway"),
    T(_NOTES, "I'm really sorry about your notes. Could you tell me which version of the app you use? I'll check "
      "whether they can be restored from the backup.", 3),
    T(_NOTES, "The app does not delete notes. You probably deleted them yourself.", 0, note="blames the user",
      b=True),
    T(_NOTES, "CALM DOWN. THE APP DOES NOT DELETE NOTES.", 0, shout=0),
    T(_PASSWORD, "Happy to help! Go to id.acme.example, choose Forgot password and follow the link we email you.", 3),
    T(_PASSWORD, "Your password is Summer2026, change it after logging in.", 1, pii=0,
      note="a credential is personal data; it is not a promise, threat or insult, though the term list catches it"),
    T(_PASSWORD, "Read the manual. It's all there.", 0, b=True),
    T(_ADDRESS, "Of course. I have updated it to 12 Rose Street, Leeds, as you asked; you can check it under "
      "Profile.", 3, pii=0, note="a home address is personal data"),
    T(_ADDRESS, "Sure, please send your new address to our team at privacy-team@acme.example and we'll update it "
      "within a day.", 3, note="a team mailbox, not a person's address"),
    T(_MANAGER, "Your account manager is Maria Silva; you can reach her on +44 20 7946 0321.", 2, pii=0),
    T(_MANAGER, "I can't share personal phone numbers, but I've asked your account manager to call you back "
      "today.", 3),
    T(_LATE, "I understand your frustration, and I'm sorry this keeps happening. Your parcel left our warehouse "
      "this morning and should arrive tomorrow.", 3),
    T(_LATE, "Deliveries are sometimes late. Nothing we can do.", 0),
    T(_LATE, "Sorry about that!! It WILL arrive tomorrow, 100% sure!!", 2, terms=0, shout=0,
      note="friendly but unprofessional", b=True),
    T(_JOKE, "I'm sorry you feel that way. Could you tell me what went wrong so I can help put it right?", 3),
    T(_JOKE, "If you don't like it, go somewhere else.", 0),
    T(_JOKE, "Stop being stupid and read the FAQ.", 0, terms=0),
    T(_COURT, "I understand this is serious for you. I've escalated your case to a senior colleague who will "
      "contact you today.", 3),
    T(_COURT, "Go ahead and sue us, we have lawyers too.", 0, terms=0),
    T(_COURT, "Please note that threats will not speed up your case. We will look into it.", 1),
    T(_REFUND, "Yes, you can. Please send them back with the prepaid label we've emailed you, and we'll refund you "
      "within 14 days of receiving them.", 3),
    T(_REFUND, "Refunds are handled by the returns team.", 1),
    T(_REFUND, "Thanks for reaching out! Broken items can be returned within 30 days. I'm afraid I can't tell from "
      "here whether yours qualifies, but the returns team will check it quickly.", 3),
    T(_VPN, "Please restart GlobalConnect and sign in again; if it still drops, open a ticket.", 2,
      note="polite but no acknowledgement of the trouble", b=True),
    T(_VPN, "Restart it.", 1),
    T(_VPN, "VPN DROPS ARE USER ERROR IN MOST CASES. RESTART THE CLIENT.", 0, shout=0),
    T(_CALENDAR, "Hi! Here it is: the calendar is on the intranet under HR > Holidays. Have a lovely day!", 3),
    T(_CALENDAR, "It's on the intranet.", 1),
    T(_CALENDAR, "Hi, it's under HR > Holidays on the intranet.", 2, b=True),
    T(_INVOICE, "Hey, yeah, that happens sometimes lol. I'll fix it, send me the right name.", 2,
      note="friendly but too casual", b=True),
    T(_INVOICE, "Sorry about that. Please reply with the correct company name and we'll send a corrected invoice "
      "today.", 3),
    T(_INVOICE, "As I said in my last email, the name comes from your own account settings. Please check them "
      "before contacting us.", 1),
    T(_PORTAL, "Sorry you're locked out. Have you tried resetting your password at id.acme.example? If that doesn't "
      "work, call us on extension 4400.", 3),
    T(_PORTAL, "Did you even try resetting your password?", 0),
    T(_PORTAL, "Please reset your password at id.acme.example. If that does not work, contact the service desk.", 2),
    T(_SPAIN, "Yes, that's possible: you can work from another country for up to 20 working days a year. Please ask "
      "HR for approval before you go. Enjoy Spain!", 3),
    T(_SPAIN, "Ask HR.", 1),
    T(_SPAIN, "Sure, I guarantee HR will approve it.", 2, terms=0),
    T(_PRINTER, "Thanks for flagging it. I've logged a ticket and a technician will check the floor 3 printer this "
      "afternoon. Meanwhile, the floor 2 printers work with your badge too.", 3),
    T(_PRINTER, "It's not broken, you're just using it wrong.", 0),
    T(_PRINTER, "OK, ticket logged.", 1),
    T(_DELETE, "Of course. We've received your request and will delete your data within 30 days, as the law "
      "requires. We'll confirm by email when it's done.", 3),
    T(_DELETE, "Your data for account holder John Smith, card 4111 1111 1111 1111, is scheduled for deletion.", 1,
      pii=0),
    T(_DELETE, "Why would you want that? Fine, it'll be done.", 0),
    T(_WAIT, "I'm so sorry for the long wait, and thank you for your patience. How can I help you today?", 3),
    T(_WAIT, "Everyone has to wait. It's busy.", 1, b=True),
    T(_WAIT, "Sorry for the wait, we're short-staffed today. What can I do for you?", 2),
    T(_POLICY, "PLEASE READ THE REFUND POLICY ON OUR WEBSITE!!!", 0, shout=0),
    T(_POLICY, "Thank you for asking! You can return any item within 30 days for a full refund; the details are on "
      "our Refunds page.", 3),
    T(_POLICY, "Refunds within 30 days. See website.", 1),
    T(_EMAIL, "Happy to help! Install Outlook from the Company Portal, sign in with your Acme account and approve "
      "the request in the Authenticator app.", 3),
    T(_EMAIL, "I can help. Install Outlook and sign in; you'll figure out the rest.", 2, b=True),
    T(_EMAIL, "Install Outlook. Sign in. Done.", 1),
    T(_SATURDAY, "The office is closed at weekends, but the urgent security line, 4499, answers 24/7. Have a nice "
      "weekend!", 3),
    T(_SATURDAY, "No. URGENT security issues: call 4499.", 1, note="one capitalised word is not a run of capitals"),
    T(_HACKED, "Thanks for acting quickly. Ask your colleague to change their password at once and call extension "
      "4499; you can also report any suspicious email with the Report button.", 3),
    T(_HACKED, "Tell them to change their password. Obviously.", 1, b=True),
    T(_BANK, "Thanks! Your salary will now be paid to IBAN GB82 WEST 1234 5698 7654 32.", 2, pii=0),
    T(_BANK, "We don't repeat bank details by email. Check them in the HR portal under Payments.", 2),
    T(_COMPLAINT, "I'm sorry we let you down. I've read your complaint and passed it to our customer care manager, "
      "who will call you tomorrow to put things right.", 3),
    T(_COMPLAINT, "Your complaint was handled according to procedure.", 1),
    T(_COMPLAINT, "We're sorry. We'll do better. We promise this will never happen again.", 2, terms=0,
      note="a promise the company cannot keep; no listed term"),
    T(_OVERTIME, "Good question! Overtime isn't paid out; agree it with your manager in advance and take it back as "
      "time off within three months.", 3),
    T(_OVERTIME, "no", 1, b=True),
    T(_OVERTIME, "Overtime? You should manage your time better instead of asking about overtime.", 0),
    T("Which client do I need for SAP?", "Good question! Please install the IBM SAP GUI client from the Company "
      "Portal; it takes about five minutes.", 3, note="product names in capitals are not shouting"),
]


def rag_items() -> list[dict[str, Any]]:
    """The rag-faithfulness items, ids ``rag-<question>-<a|b|c>``."""
    items = []
    for q, (question, source_ids, reference, answers) in enumerate(RAG, start=1):
        sources = [{"id": sid, "text": SOURCES[sid]} for sid in source_ids]
        for letter, answer in zip("abc", answers, strict=True):
            item = {"id": f"rag-{q:02d}-{letter}", "question": question, "sources": sources,
                    "reference": reference, "output": answer["output"], "human": answer["human"],
                    "borderline": answer["borderline"]}
            if answer["note"]:
                item["note"] = answer["note"]
            items.append(item)
    return items


def tone_items() -> list[dict[str, Any]]:
    """The tone-policy items, ids ``tone-<n>``."""
    items = []
    for n, entry in enumerate(TONE, start=1):
        item = {"id": f"tone-{n:02d}", "input": entry["input"], "output": entry["output"],
                "human": entry["human"], "borderline": entry["borderline"]}
        if entry["note"]:
            item["note"] = entry["note"]
        items.append(item)
    return items


def render(items: list[dict[str, Any]]) -> str:
    """JSONL text, one item per line."""
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


FILES = {"rag-faithfulness.jsonl": rag_items, "tone-policy.jsonl": tone_items}


def stats() -> dict[str, dict[str, dict[int, int]]]:
    """Level counts per file and criterion."""
    out: dict[str, dict[str, dict[int, int]]] = {}
    for name, build in FILES.items():
        counts: dict[str, Counter[int]] = {}
        for item in build():
            for criterion, level in item["human"].items():
                counts.setdefault(criterion, Counter())[level] += 1
        out[name] = {c: dict(sorted(v.items())) for c, v in counts.items()}
    return out


def main(argv: list[str]) -> int:
    if "--stats" in argv:
        print(json.dumps(stats(), indent=2))
        return 0
    stale = []
    for name, build in FILES.items():
        path, text = OUT / name, render(build())
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if "--check" not in argv:
                path.write_text(text, encoding="utf-8", newline="\n")
    if "--check" in argv and stale:
        print(f"out of date: {', '.join(stale)} (run python datasets/judge/make_judge_sets.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
