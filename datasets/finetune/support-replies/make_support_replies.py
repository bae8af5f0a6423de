"""Write the support-replies preference set (train.jsonl, eval.jsonl) deterministically.

Every record is one help-desk ticket with two replies: ``chosen`` follows the Acme reply policy (thank the user,
give concrete next steps, ask for one detail that moves the ticket on, no blame, never ask for a password, no
promises), ``rejected`` breaks it in one named way (``flaw``). The text was written for Workbench; nothing comes
from outside sources. Licence: CC0 1.0.

Run ``python datasets/finetune/support-replies/make_support_replies.py`` to rewrite the files, ``--check`` to
exit 1 when they are out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (ticket, next steps, the one detail to ask for)
TICKETS: list[tuple[str, str, str]] = [
    ("My VPN keeps disconnecting every few minutes.", "Restart the VPN client and sign in again with your company account.", "the time it last dropped"),
    ("I cannot print to the printer on the third floor.", "Check that the printer shows online in the print dialog and select it again.", "the printer's name on its label"),
    ("Outlook says my mailbox is full.", "Archive mail older than a year and empty the Deleted Items folder.", "the size shown under File > Info"),
    ("I forgot my password and I'm locked out.", "Reset your password in the self-service portal from your phone.", "the error the portal shows, if any"),
    ("My laptop is very slow since this morning.", "Restart the laptop and let the pending updates finish.", "whether it is slow in every program"),
    ("I need access to the finance shared drive.", "Request access in the service portal and name the folder you need.", "your manager's approval"),
    ("Teams has no sound in meetings.", "Check the speaker selected under Teams settings > Devices and run a test call.", "your headset model"),
    ("The Wi-Fi in meeting room B does not work.", "Forget the network on your device and join the staff Wi-Fi again.", "the message your device shows"),
    ("My second monitor stays black.", "Unplug the monitor cable at both ends, plug it back in and press Windows+P.", "the cable type you use"),
    ("I clicked a link in a strange e-mail.", "Disconnect from the network now and do not enter any passwords.", "the sender of the e-mail"),
    ("Excel crashes when I open a large file.", "Open Excel in safe mode and open the file again.", "the file size"),
    ("My phone no longer gets work e-mail.", "Remove the work account from the phone and add it again from the company app.", "your phone model"),
    ("I need software installed: a PDF editor.", "Install it from the Software Center, where approved PDF editors are listed.", "the editor you need if it is not listed"),
    ("The shared calendar does not update.", "Remove the shared calendar from your view and add it again.", "the calendar's name"),
    ("My keyboard types the wrong characters.", "Check the input language in the taskbar and switch it back with Windows+Space.", "the language you expect"),
    ("I get a certificate warning on the intranet.", "Close the browser completely and open the intranet again.", "a screenshot of the warning"),
    ("My files on OneDrive are not syncing.", "Pause and resume syncing from the OneDrive icon in the taskbar.", "the error shown next to the icon"),
    ("The webcam is not detected in meetings.", "Check the privacy switch on the laptop and allow camera access in settings.", "the meeting app you use"),
    ("I cannot log in to the HR portal.", "Sign out of all company apps, clear the browser cache and sign in again.", "the exact error text"),
    ("My new starter has no account yet.", "Submit a new starter request in the service portal with the start date.", "the start date"),
    ("The scanner sends nothing to my inbox.", "Check that your e-mail address is saved on the scanner's address book.", "the scanner's location"),
    ("My laptop battery drains in an hour.", "Lower the screen brightness and check battery usage in settings.", "the laptop's age"),
    ("I deleted a folder on the team drive by mistake.", "Open the team drive's recycle bin and restore the folder.", "the folder's name"),
    ("Zoom says my audio device is busy.", "Close other apps that use the microphone and restart Zoom.", "which apps were open"),
    ("I need a new mouse, mine is broken.", "Order a replacement in the service portal under Hardware.", "your desk number"),
    ("My account is locked after too many tries.", "Wait fifteen minutes and sign in again, or unlock it in the self-service portal.", "when it was locked"),
    ("The projector in room 4 shows no signal.", "Select the HDMI input on the projector remote and reconnect the cable.", "your laptop model"),
    ("I cannot open attachments from a supplier.", "Save the attachment first and open it from your Downloads folder.", "the attachment's file type"),
    ("Windows update fails with an error.", "Restart the laptop and run Windows Update again.", "the error code"),
    ("My browser opens pages I did not ask for.", "Remove unknown browser extensions and run a scan with the company antivirus.", "the extension names"),
    ("The docking station does not charge my laptop.", "Unplug the dock's power for a minute and reconnect the laptop.", "the dock model"),
    ("I need to share a large file with a customer.", "Share it from OneDrive with a link that expires, not as an attachment.", "the file size"),
    ("The time on my laptop is wrong.", "Turn on Set time automatically in the date and time settings.", "your time zone"),
    ("I lost my laptop on the train.", "Report it in the service portal now so we can lock the device.", "when you last used it"),
    ("Word keeps changing my formatting.", "Turn off AutoFormat As You Type in Word's proofing options.", "an example of the change"),
    ("My headset microphone is too quiet.", "Raise the input level in sound settings and test it in the meeting app.", "the headset model"),
    ("The sales dashboard shows old numbers.", "Refresh the dashboard and check the last update time at the top.", "the dashboard's name"),
    ("I cannot connect to the guest Wi-Fi for a visitor.", "Create a guest pass in the visitor portal and share the code.", "the visitor's arrival time"),
    ("My screen flickers when I move windows.", "Update the display driver from the Software Center and restart.", "the monitor model"),
    ("I need admin rights to install a driver.", "Request the driver in the service portal and IT will install it for you.", "the device the driver is for"),
    # held out: never trained on (eval.jsonl)
    ("My e-mail signature disappeared.", "Set the signature again under Outlook settings > Signatures.", "whether it is gone on every device"),
    ("The conference phone in room 2 is dead.", "Check that the phone's network cable is plugged in and restart it.", "the room's booking time"),
    ("I cannot find the expense app on my laptop.", "Install the expense app from the Software Center.", "your department"),
    ("My microphone echoes in calls.", "Use a headset or lower the speaker volume and test again.", "the meeting app you use"),
    ("A colleague cannot see my shared spreadsheet.", "Share the spreadsheet again from OneDrive and choose who can edit it.", "your colleague's team"),
    ("My laptop will not turn on.", "Hold the power button for fifteen seconds, plug in the charger and try again.", "whether the charging light comes on"),
    ("The printer jams on every page.", "Open the paper tray, remove the jammed paper and reload fresh paper.", "the printer's name on its label"),
    ("I need a second monitor for my desk.", "Order a monitor in the service portal under Hardware.", "your desk number"),
    ("My calendar invites arrive an hour late.", "Check the time zone in Outlook settings and in Windows.", "an example invite"),
    ("I get a pop-up asking for my password again and again.", "Sign out of Office, restart the laptop and sign in once.", "the app that shows the pop-up"),
    ("The intranet search finds nothing.", "Clear the browser cache and search again with fewer words.", "the words you searched for"),
    ("My USB stick is blocked.", "Use OneDrive instead: company laptops block USB storage for security.", "what you need to transfer"),
]
N_TRAIN = 40

FLAWS = ("dismissive", "password", "blame", "promise", "rambling")


def chosen(steps: str, detail: str) -> str:
    return f"Thanks for reporting this. {steps} If that does not help, reply with {detail} and we will take it from there."


def rejected(flaw: str, ticket: str, steps: str) -> str:
    topic = ticket.rstrip(".").lower()
    if flaw == "dismissive":
        return "That is not an IT problem. Try again later."
    if flaw == "password":
        return "Send me your password and I will log in and fix it for you."
    if flaw == "blame":
        return f"Obviously you changed something you should not have. {steps}"
    if flaw == "promise":
        return "Done, I fixed it on our side and it will never happen again."
    return (f"Well, about '{topic}': there are many possible causes for this kind of thing and it could be the network, "
            "the settings, the hardware, an update or something else entirely, and we see tickets like this quite often, "
            "so it is hard to say what is going on without looking at it in much more detail at some point soon.")


def records() -> list[dict[str, str]]:
    out = []
    for i, (ticket, steps, detail) in enumerate(TICKETS):
        split = "train" if i < N_TRAIN else "eval"
        flaw = FLAWS[i % len(FLAWS)]
        out.append({"id": f"{split}-{i:02d}", "prompt": ticket, "chosen": chosen(steps, detail),
                    "rejected": rejected(flaw, ticket, steps), "flaw": flaw})
    return out


def render() -> dict[str, str]:
    rows = records()
    def lines(prefix: str) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if r["id"].startswith(prefix))
    return {"train.jsonl": lines("train-"), "eval.jsonl": lines("eval-")}


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [name for name, text in files.items() if (HERE / name).read_text(encoding="utf-8") != text]
        if stale:
            print("out of date:", ", ".join(stale), "(run this script without --check)")
        return 1 if stale else 0
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
