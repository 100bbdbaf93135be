"""Deterministic generator of the built-in email corpus (data/emails.jsonl.gz).

Realistic business and personal mail built from many sentence templates and
slot values, with three kinds of designed long-range dependencies recorded in
each email's "deps" (see data/README.md):

* reason: "... due to <reason phrase>, <filler> I need to take a <loan|sick|flight|vacation>"
* tense:  "<Today|Yesterday|Tomorrow> ..., <filler> I <need|needed|will need> ..."
* entity: a project code name is introduced, repeated after filler sentences, and
  named again in the sentences after that target.

The text right before a target never depends on which target it is, and the
filler between cue and target is drawn independently of the cue, so only
memory of the cue predicts the target. Distances are balanced over the bands
1-10, 11-30, 31-60 and 61-120 tokens.

Only `random.Random(seed)` is used, so the output is byte-identical for a seed:

    python -m autocomplete.corpus.generator --seed 0 --out data/emails.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autocomplete.tokens import detokenize, token_spans, tokenize

DEFAULT_N_EMAILS = 14_000
DEFAULT_SEED = 0
DEFAULT_OUT = Path("data/emails.jsonl.gz")

BANDS: tuple[tuple[int, int], ...] = ((1, 10), (11, 30), (31, 60), (61, 120))
KINDS: tuple[str, ...] = ("reason", "tense", "entity")
MAX_BODY_TOKENS = 249  # bodies stay below 250 tokens (training window 256)

TENSES: dict[str, tuple[str, str]] = {  # time word -> (verb phrase, target token)
    "today": ("need", "need"),
    "yesterday": ("needed", "needed"),
    "tomorrow": ("will need", "will"),
}
# Four names, as the reason cue has four targets: with eight, each name was the
# target only ~800 times per epoch and no cell learned to copy it in 19 minutes.
PROJECTS: tuple[str, ...] = ("falcon", "orion", "atlas", "phoenix")
# Sentences right after an entity target that name the project again, when
# they fit in the email (see ENTITY_RECAPS).
RECAPS_PER_BLOCK = 2
REASON_TARGETS: tuple[str, ...] = ("loan", "sick", "flight", "vacation")
LECTURE_REASON = "my current job situation and family condition"
LECTURE_SENTENCE = (
    "Today due to my current job situation and family condition, I need to take a loan."
)

# ---------------------------------------------------------------------------
# Reasons. The key is the last token of the phrase, except for the lecture
# phrase whose key is "job". "{city}" is a single-token city that is repeated
# after the target ("take a flight to Chicago").


@dataclass(frozen=True)
class Reason:
    """A reason phrase template; `key` is the cue token ("{city}" for cities)."""

    template: str
    key: str
    weight: int = 1


def _reasons(*items: str | tuple[str, str, int]) -> tuple[Reason, ...]:
    out = []
    for item in items:
        if isinstance(item, tuple):
            out.append(Reason(*item))
        else:
            out.append(Reason(item, tokenize(item)[-1] if "{" not in item else "{city}"))
    return tuple(out)


REASONS: dict[str, tuple[Reason, ...]] = {
    "loan": _reasons(
        (LECTURE_REASON, "job", 4),
        "the unexpected medical bills",
        "the medical bills",
        "my son's tuition",
        "the tuition fees for my son",
        "the repairs on our house",
        "our growing credit card debt",
        "our credit card debt",
        "my daughter's college fees",
        "the renovation of our kitchen",
        "the down payment on our new apartment",
        "the rising rent",
        "the new roof",
        "the car repairs",
        "the funeral costs",
    ),
    "sick": _reasons(
        "my fever",
        "a bad flu",
        "a migraine",
        "my back injury",
        "a stomach bug",
        "a bad cold",
        "my sore throat",
        "an ear infection",
        "a sprained ankle",
        "food poisoning",
        "my allergies",
        "a terrible toothache",
        ("the flu that has been going around the office", "flu", 1),
        "a nasty chest infection",
    ),
    "flight": _reasons(
        "the client visit in {city}",
        "the conference in {city}",
        "the site inspection in {city}",
        "the trade show in {city}",
        "the board meeting in {city}",
        "the training course in {city}",
        "the customer workshop in {city}",
        "the final interview in {city}",
        "the product launch in {city}",
        "a meeting in {city}",
        "the expo in {city}",
        "a workshop in {city}",
        "the audit in {city}",
    ),
    "vacation": _reasons(
        "my burnout",
        "my sister's wedding",
        "the family reunion",
        "our anniversary",
        "the school holidays",
        "all the overtime",
        "my exhaustion",
        "our honeymoon",
        "my brother's graduation",
        "our tenth wedding anniversary",
        "my best friend's wedding",
        "the long stretch of overtime",
    ),
}
FLIGHT_CITIES: tuple[str, ...] = (
    "Chicago", "Denver", "Houston", "Boston", "Seattle", "Atlanta", "Dallas", "Miami",
    "Austin", "Toronto", "London", "Berlin", "Dublin", "Madrid", "Paris", "Portland",
    "Nashville", "Detroit", "Montreal", "Vienna",
)
REASON_CONTINUATIONS: dict[str, tuple[str, ...]] = {
    "loan": (  # most loan requests end at "loan.", as the lecture's does
        "", "", "", "", "", "", " from the bank", " from my bank", " from our credit union",
        " to cover the costs", " for the next few months", " of about {amount}",
        " against my savings", " to get through the next months",
    ),
    "sick": (
        " day", " day", " day", " day and rest", " day to recover", " day and see a doctor",
        " day and stay home", " day to get some rest", " day and stay in bed",
    ),
    "flight": (
        " to {city}", " to {city}", " to {city}", " to {city} for a few days",
        " to {city} early in the morning", " to {city} with {first}",
        " to {city} and stay for two nights", " to {city} on the company card",
    ),
    "vacation": (
        "", "", "", " for a week", " for two weeks", " for a few days", " with my family",
        " to recharge", " and be away from the office", " and disconnect for a while",
    ),
}
REASON_FOLLOWUPS: dict[str, tuple[str, ...]] = {
    "loan": (
        "The bank asked for a letter from HR confirming my salary.",
        "Could you confirm my employment details for the application?",
        "I have attached the form the bank sent me.",
        "{first} from payroll said the paperwork takes about a week.",
        "If you know a good financial advisor, I would appreciate the contact.",
        "I would appreciate it if this stays between us.",
        "The bank needs my last three pay slips as well.",
        "The amount would be around {amount}, paid back over four years.",
        "I have compared a few offers and the credit union has the best rate.",
        "It is not an easy decision, but it is the most sensible option.",
        "The loan officer, {fullname}, may call the office to verify my position.",
        "The application has to be in by {date}.",
        "My partner and I went through the numbers several times.",
        "The monthly repayment would be about {amount_small} per week.",
        "I would also like to ask whether an advance on my salary is possible.",
        "The appointment at {bank} is on {date} at {time}.",
        "Please keep this confidential.",
        "The repayment plan is manageable with my current salary.",
    ),
    "sick": (
        "{first} has agreed to cover my calls.",
        "Please reach out to {first} if something urgent comes up.",
        "I have moved my meetings to next week.",
        "Sorry for the short notice.",
        "I have let the rest of the team know.",
        "The doctor said it should pass in a few days.",
        "I will check my messages once or twice in case anything urgent comes up.",
        "My calendar is up to date, so people can see that I am out.",
        "The report for {company} is almost done, and {first} knows where to find it.",
        "I am sorry for the trouble this causes with the {meeting}.",
        "A note from the doctor is attached.",
        "I hope to be back on {weekday}.",
        "{first} has the notes for the {meeting}.",
        "I have set up an automatic reply on my email.",
        "The invoices for {company} can wait until I am back.",
        "If it gets worse, I will let you know right away.",
        "The client meeting can be moved to {date}.",
        "Thank you for understanding.",
    ),
    "flight": (
        "I will share the itinerary once it is booked.",
        "{first} from the travel desk is handling the booking.",
        "Could you approve the travel request in the system?",
        "The hotel is close to the venue, so no rental car is needed.",
        "The fares are still reasonable if we book this week.",
        "I will keep the receipts for the expense report.",
        "{first} may join me for the second day.",
        "The return trip is on {weekday} evening.",
        "I have checked the budget with {first} and it fits.",
        "Please let me know if you want me to meet anyone else while I am there.",
        "The ticket costs about {amount}, including luggage.",
        "The agenda for the visit is attached.",
        "I have asked {first} to look after my accounts while I am away.",
        "The hotel booking is already confirmed.",
        "I will be back in the office on {weekday}.",
        "The visit should help us close the deal with {company}.",
        "Let me know if you would rather send someone else.",
        "I can prepare a short report for the team afterwards.",
    ),
    "vacation": (
        "{first} will cover my tasks while I am away.",
        "I will make sure everything is handed over before I leave.",
        "I have added the dates to the team calendar.",
        "Please let me know if the dates work for you.",
        "I still have {n_days} days of leave left this year.",
        "My out-of-office message will point people to {first}.",
        "The {doc} will be finished before I go.",
        "I know the timing is not perfect, and I appreciate your understanding.",
        "I have checked that nobody else on the team is away at the same time.",
        "I will be reachable by phone for anything urgent.",
        "The dates would be from {date} to {date2}.",
        "I have submitted the request in the HR portal as well.",
        "The handover notes are in the shared folder.",
        "The {meeting} on {weekday} can go ahead without me.",
        "{first} already knows the status of my open tasks.",
        "It has been a long year, and I think a break will do me good.",
        "I will not be checking email while I am away.",
        "I will be back in the office on {date}.",
    ),
}
REQUEST_INTROS: tuple[str, ...] = (
    "I wanted to give you a heads-up about something.",
    "I have a quick personal update.",
    "Sorry to bother you with this.",
    "There is something you should know.",
    "I wanted to let you know about a change in my plans.",
    "This is a bit personal, but I wanted you to hear it from me first.",
    "I wanted to check something with you.",
    "A quick personal note before the weekend.",
    "I hope it is okay to raise this by email.",
    "I wanted to keep you informed.",
    "I thought it best to put this in writing.",
    "Just a short note about my schedule.",
    "I am writing with a personal request.",
    "Apologies for the long message.",
    "Here is an update on my side.",
    "I hope you do not mind me writing about this.",
    "I wanted to tell you before the {meeting}.",
    "As my manager, you should be the first to know.",
    "I would rather explain this in writing than in the hallway.",
    "{first} suggested that I write to you directly.",
    "I have some news about my availability.",
    "This concerns my plans for the coming days.",
    "Sorry for the short notice on this.",
    "Let me explain my situation.",
    "I wanted to be upfront with you.",
)
REQUEST_CONNECTIVES: tuple[str, ...] = ("due to", "due to", "due to", "due to", "because of")

# Filler clauses inside the request sentence ("... due to X, <clauses> I need ...").
# They are tense-neutral, never mention a time word, a reason word, a target,
# a city or a project, and always end with a comma.
REQUEST_CLAUSES: tuple[str, ...] = (
    "honestly,",
    "unfortunately,",
    "frankly,",
    "sadly,",
    "as you know,",
    "to be honest,",
    "as expected,",
    "after some thought,",
    "after a lot of thought,",
    "and after talking it over with {first},",
    "as I mentioned to {first} earlier,",
    "as I told {first} on the phone,",
    "and since the team is short-staffed this month,",
    "with the quarterly review coming up on {weekday},",
    "and given that the office move is planned for {date},",
    "which is not ideal with the audit around the corner,",
    "and even though the {dept} team is busy with the {doc},",
    "as {first} suggested in the last team meeting,",
    "to keep everyone in the loop,",
    "and because {first} is covering the front desk until the end of the month,",
    "and with {first} and {first2} both out of the office,",
    "and since the {dept} department asks everyone to plan ahead,",
    "with the new booking system still causing trouble,",
    "and knowing how busy things are with the {company} account,",
    "and since I have copied {first} on this message,",
    "and although the {doc} is still waiting for sign-off,",
    "with the office closed on {weekday} for maintenance,",
    "and since the {dept} team has started the new shift schedule,",
    "and to avoid any surprises for the team,",
    "and in line with the new company guidelines,",
    "and while the {meeting} has been moved to {time},",
    "and considering that my calendar is already full of meetings,",
    "and since the client call on {weekday} was moved to {time},",
    "which I did not expect at all,",
    "which has been on my mind for a while,",
    "and after checking the shared calendar,",
    "and with the deadline for the {doc} getting closer,",
    "and as {first} from {dept} pointed out,",
    "and since most of my open tasks are already documented,",
    "and knowing that the {meeting} is on {date},",
    "and while the printers on the {floor} floor are still out of order,",
    "and since {first} has offered to help with the handover,",
    "as discussed with {first} and {first2},",
    "and with the end of the quarter approaching,",
    "and given how much is going on in the {dept} team,",
    "and because the {doc} for {company} has taken longer than anyone expected,",
    "and with the meeting rooms fully booked until the end of the month,",
    "and since the new intern, {first}, is still learning the reporting tools,",
    "and because the {dept} team is still finishing the {doc} for {company},"
    " which is due on {date},",
    "and even though the weekly numbers look better than expected,",
    "and since I know how tight the schedule is for everyone right now,",
    "and after going through my open tasks with {first} one by one,",
    "and although the {meeting} with {company} still has to be confirmed,",
    "with the new expense rules coming into effect on {date},",
    "and as I promised {first} during the {meeting},",
    "and considering the extra hours everyone has been putting in,",
    "and because I would rather be open about it than leave anyone guessing,",
    "and since {first} from the {dept} team is taking over the {doc} for a while,",
    "and while the contract with {company} is still being negotiated,",
    "and knowing that the new office chairs are arriving on {weekday},",
    "and since the {dept} budget for this quarter has already been approved,",
    "and with the parking garage closed for maintenance until {date},",
    "and even though the kickoff with {company} is planned for {date} at {time},",
    "and since the {dept} team has asked for the {doc} to be reviewed before the {meeting}"
    " on {date}, which means a lot of back and forth with {first},",
    "and although {first} and {first2} have kindly offered to take over the weekly reporting"
    " and the calls with {company} for as long as necessary,",
    "and given that the new office layout, the updated security badges and the move to the"
    " {floor} floor are all happening at roughly the same time,",
    "and because the {meeting} with the people from {company} keeps being moved around"
    " and nobody seems sure about the final agenda,",
    "and with the annual reviews, the budget planning for next year and the {event} all"
    " landing in the same few weeks,",
    "and since most of the open questions about the {doc} have been answered and the"
    " remaining ones can easily wait until the {meeting},",
    "and after going through the calendar with {first} from the {dept} team and checking"
    " which of my meetings could be moved or handed over,",
    "and knowing that {first} is already familiar with my accounts, my open tickets and the"
    " status of the {doc},",
    "and because the last few weeks have been very full with the {deliverable}, the"
    " {doc} and a long list of smaller requests from the {dept} team,",
    "and although the timing is far from ideal with the {company} contract still open and"
    " the {meeting} coming up on {weekday},",
    "and since the {dept} team recently changed the way requests like this are handled,"
    " with a new form and a new approval step,",
    "and while the refurbishment of the break area on the {floor} floor is still going on"
    " and the meeting rooms are hard to book,",
)

# ---------------------------------------------------------------------------
# Entity (project code name) frames and neutral filler sentences.

ENTITY_CUES: tuple[str, ...] = (
    "I wanted to give you an update on the {P} project.",
    "Here is a quick status update on {P}.",
    "As promised, here is where we stand with the {P} project.",
    "I am writing about the {P} rollout.",
    "We had our weekly check-in on {P} this morning.",
    "Just a short note on the {P} migration.",
    "The {P} project is moving along, and I wanted to share a few points.",
    "Some news on {P} before the weekend.",
    "Let me bring you up to speed on the {P} project.",
    "There has been some progress on {P} that you should know about.",
    "Following up on our call, here is the latest on {P}.",
    "I have reviewed the current plan for the {P} launch.",
    "Our team has started the next phase of {P}.",
    "{first} asked me to send a summary of where {P} stands.",
    "This is the monthly report on {P}.",
    "I wanted to share some thoughts on {P}.",
    "A few updates on {P} after the {meeting}.",
    "We have made good progress on {P} since we last spoke.",
)
ENTITY_TARGETS: tuple[str, ...] = (
    "Please let me know if you have questions about the {P} project.",
    "I will send the updated {P} timeline by {weekday}.",
    "Feel free to forward this to anyone on the {P} team.",
    "Let's discuss the next steps for {P} at the {meeting}.",
    "The next {P} review is on {date}.",
    "Thanks again for all your help with {P}.",
    "I have attached the latest {P} status report.",
    "Can you confirm the budget for {P} by {weekday}?",
    "The {P} team will meet again on {weekday}.",
    "Once we hear back, I will update the {P} plan.",
    "{first} will be the main contact for {P} going forward.",
    "In short, {P} is on track.",
    "All in all, I am happy with how {P} is going.",
    "Any feedback on the {P} schedule is welcome.",
    "I will keep you posted on {P}.",
    "The {P} dashboard has all the details.",
    "Please add your comments to the {P} document.",
    "We will present the {P} results at the {meeting}.",
)
ENTITY_FILLERS: tuple[str, ...] = (
    "Good news.",
    "Quick update.",
    "All good so far.",
    "Nothing new on that front.",
    "Progress is steady.",
    "The design review went well, and the team agreed on the main layout.",
    "We are still waiting for the vendor quote on the new servers.",
    "{first} finished the test plan last week.",
    "The kickoff with the {dept} team is set for {date} at {time}.",
    "Most of the open tickets are now closed.",
    "We had a small delay with the data import, but it is fixed now.",
    "The budget is still within the limits we agreed on.",
    "As you know, the team is short-staffed this month.",
    "I have copied {first} so that they are in the loop.",
    "{first} is back in the office on {weekday}.",
    "The weekly report goes out on {weekday} as usual.",
    "There is one open question about the contract terms.",
    "{company} sent over the signed agreement.",
    "The test environment was down for a few hours, which slowed us down.",
    "The slides for the {meeting} are almost done.",
    "We also need to book a room for the next workshop.",
    "Two people from the {dept} team joined us this week.",
    "The data migration is about {pct}% complete.",
    "{first} and {first2} are pairing on the reporting module.",
    "The new dashboard is live for the pilot users.",
    "Feedback from the pilot users has been mostly positive.",
    "We found a few bugs in the export function, and {first} is looking into them.",
    "The security review is scheduled for {date}.",
    "Our contact at {company} has changed, so there may be a short delay on their side.",
    "The documentation is about half done.",
    "I moved the {meeting} to {time} so that {first} can join.",
    "The load tests look fine so far.",
    "We had to re-plan the second sprint because of the holidays.",
    "The legal team still needs to review the data processing terms.",
    "The training materials for the users are in the shared folder.",
    "Hiring for the open developer role is still in progress.",
    "The first invoices from the contractor came in slightly above the estimate.",
    "We agreed to drop the mobile version from the first release.",
    "{first} raised a good point about the reporting needs of the {dept} team.",
    "Two of the five work packages are finished.",
    "The risk list has not changed much since the last report.",
    "We are trying out a new tool for tracking the tasks.",
    "The supplier confirmed the delivery of the hardware for {date}.",
    "There were some questions from the {dept} team about access rights.",
    "The demo for the management team went better than expected.",
    "We still need a decision on the hosting provider.",
    "{first} will run the next round of user interviews.",
    "The backlog is in good shape, and the priorities are clear.",
    "Our budget request for next year was submitted on {weekday}.",
    "One of the servers needed a restart, but nothing was lost.",
    "The new team members are settling in well.",
    "The naming of the reports is still a bit inconsistent.",
    "We are waiting for final numbers from the {dept} team.",
    "The meeting notes from {weekday} are in the shared folder.",
    "It took a while to get everyone in one room, but it was worth it.",
    "The office was quiet this week, which helped us focus.",
    "The coffee machine on the {floor} floor is finally fixed, which has lifted the mood.",
    "The main integration is working end to end.",
    "The pilot site in {place} is using the system every day now.",
    "We spent most of the week on testing and bug fixes.",
    "The style guide for the new screens is ready.",
    "Our external consultant, {fullname}, reviewed the architecture.",
    "The updated cost estimate is {amount}, which is close to the original plan.",
    "Access for the new contractors should be ready by {weekday}.",
    "The quality checks found fewer issues than last time.",
    "I had a good conversation with {first} about the next steps.",
    "The {dept} team has asked for a short training session.",
    "We have started to clean up the old data.",
    "The first draft of the user manual is done.",
    "No blockers.",
    "Testing continues.",
    "Costs are on budget.",
    "Nothing urgent to report.",
    "{first} is on it.",
    "Some good progress.",
    "Small steps, but steady.",
    "Still on schedule.",
    "The team is busy.",
    "Status is green.",
    "One risk remains open.",
    "Two bugs are left.",
    "Reviews are done.",
    "The room is booked.",
    "We are close.",
    "{first} sends regards.",
    "The vendor replied.",
    "Training starts soon.",
    "{first} agrees.",
    "{first} has the details.",
    "{first} is out until {weekday}.",
    "Quality is improving.",
    "The forecast is stable.",
    "Budget is fine.",
    "Morale is good.",
    "Feedback is positive.",
    "The plan holds.",
    "Risks are under control.",
    "Support tickets are down.",
    "We hired a tester.",
    "The demo is ready.",
    "Specs are final.",
    "Scope is unchanged.",
    "The contract is signed.",
    "Numbers look fine.",
    "A short recap follows.",
    "The servers are running smoothly.",
    "The client seems happy with the direction.",
    "We lost a day because of the network outage.",
    "The translation of the screens is ready for review.",
    "{first} is preparing the handover notes for the support team.",
    "The last workshop had a very good turnout.",
    "The approval from the {dept} team came in on {weekday}.",
    "I spoke with {fullname} about the licensing costs.",
    "The release notes are being written as we speak.",
    "A few users reported slow loading times, which we are looking into.",
    "We are aligning the wording with the {dept} team.",
    "The contract with {company} was extended for one more year.",
    "Everyone on the team has access to the new workspace now.",
    "The open positions on the team will be posted next week.",
    "The user survey closes on {date}, and so far the answers are encouraging.",
    "We agreed to meet every {weekday} at {time} until the launch.",
    "The budget for the external designers was approved.",
    "The old reports will be switched off once the new ones are stable.",
)
ENTITY_AFTER: tuple[str, ...] = (
    "Thanks for your patience with all of this.",
    "Overall, the team is in good spirits.",
    "I think we are in a good position.",
    "Happy to walk you through the details.",
    "We can go over the open points whenever it suits you.",
    "The full report is in the shared folder.",
    "Let me know if you would like a short call about it.",
    "I will send a more detailed summary at the end of the month.",
    "{first} can answer any technical questions.",
    "The numbers are in the attached spreadsheet.",
    "I will bring a printed copy to the {meeting}.",
    "Comments are welcome until {weekday}.",
    "{first} and I are available for questions on {weekday} afternoon.",
    "Thanks to everyone for the hard work so far.",
    "We will share the next update in two weeks.",
    "The sponsors have been informed as well.",
    "A short summary for the {dept} team will follow.",
    "The risks are listed on the last page of the report.",
    "I have blocked an hour on {weekday} to go through the feedback.",
    "Let me know if anyone else should receive these updates.",
    "Please treat the figures as a first estimate.",
    "The slides from the {meeting} are attached for reference.",
    "We are keeping a close eye on the costs.",
    "There is nothing you need to do at this point.",
    "It would help to get your approval by {date}.",
    "Feel free to drop by my desk if anything is unclear.",
    "The steering group will get the same summary.",
    "Let's keep the momentum going.",
)
# Sentences after the target that name the project again, as real updates do.
# They give the cell short, cross-sentence uses of the name to learn from (the
# filler between cue and target never names it, so probe distances hold).
ENTITY_RECAPS: tuple[str, ...] = (
    "The {P} team has been great to work with.",
    "{P} has a lot of support from the sponsors.",
    "The {P} budget is still within the plan.",
    "I am glad {P} is getting this much attention.",
    "Questions about {P} can go to {first} as well.",
    "{P} will also come up at the {meeting}.",
    "The {P} risks are listed in the report.",
    "We will keep the {P} page up to date.",
    "Everyone on {P} has seen this note.",
    "The {P} notes are in the shared folder.",
    "{first} is happy to demo {P} on {weekday}.",
    "I expect {P} to stay on schedule.",
)
TRANSITIONS: tuple[str, ...] = (
    "One more thing.",
    "On a separate note.",
    "Also, a quick personal matter.",
    "Switching topics for a moment.",
    "On another subject.",
    "Separately, a short update.",
    "Another topic, while I have you.",
    "Before I forget.",
    "A second point.",
    "And now something different.",
    "There is one more thing I wanted to mention.",
    "While I am writing anyway, another point.",
    "Changing the subject.",
    "On a different topic.",
    "Next, a quick update on something else.",
    "Also, unrelated to the above.",
    "Something else while I have your attention.",
    "Moving on.",
    "Another quick item.",
    "A different matter.",
    "Last but not least.",
    "Finally, one more point.",
)

# ---------------------------------------------------------------------------
# Names, places and other slot values.

FIRST_NAMES: tuple[str, ...] = (
    "Mark", "Anna", "Linda", "David", "Sarah", "James", "Maria", "Robert", "Emily", "Michael",
    "Jessica", "Daniel", "Laura", "Thomas", "Olivia", "Kevin", "Rachel", "Brian", "Sophie",
    "Jason", "Rebecca", "Steven", "Hannah", "Eric", "Megan", "Paul", "Nicole", "Andrew",
    "Grace", "Peter", "Julia", "Chris", "Emma", "Ryan", "Claire", "Adam", "Natalie",
    "Matthew", "Karen", "Tom", "Lisa", "Greg", "Priya", "Raj", "Wei", "Mei", "Carlos",
    "Sofia", "Diego", "Lucia", "Ahmed", "Fatima", "Omar", "Leila", "Ivan", "Elena", "Tariq",
    "Aisha", "Kenji", "Yuki", "Sam", "Alex", "Jordan", "Nina", "Oscar", "Victor", "Helen",
    "Frank", "Susan", "George", "Amy", "Ben", "Kate", "Luke", "Zoe", "Henry", "Ruth", "Simon",
    "Irene", "Marcus",
)
SURNAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Patel", "Garcia", "Miller", "Davis", "Chen", "Nguyen", "Brown",
    "Wilson", "Taylor", "Anderson", "Moore", "Martin", "Jackson", "Lee", "Walker", "Hall",
    "Allen", "Young", "King", "Wright", "Lopez", "Hill", "Scott", "Green", "Adams", "Baker",
    "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker",
    "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan",
    "Cooper", "Peterson", "Reed", "Bailey", "Kelly", "Howard", "Ward", "Richardson", "Watson",
    "Brooks", "Bennett", "Kim", "Singh", "Kowalski", "Rossi", "Schmidt", "Novak", "Tanaka",
    "Okafor", "Haddad", "Fischer",
)
HONORIFICS: tuple[str, ...] = ("Mr.", "Ms.", "Ms.", "Dr.", "Mrs.")
WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
TIMES: tuple[str, ...] = (
    "9:00", "9:30", "10:00", "10:30", "11:00", "11:15", "11:30", "noon", "12:30", "1:00 pm",
    "1:30 pm", "2 pm", "2:30 pm", "3 pm", "3:15 pm", "3:30 pm", "4 pm", "4:30 pm", "5 pm",
    "8:30 am", "9 am", "10 am", "11 am", "8:45", "2:00", "3:00", "4:15",
)
CITIES: tuple[str, ...] = FLIGHT_CITIES + (
    "New York", "San Francisco", "Los Angeles", "Philadelphia", "Minneapolis", "Amsterdam",
    "Brussels", "Zurich", "Lisbon", "Singapore", "Sydney", "Tokyo", "Milan", "Barcelona",
    "Oslo", "Stockholm", "Copenhagen", "Prague", "Warsaw", "Edinburgh", "Manchester",
    "Vancouver", "Calgary", "Pittsburgh", "Baltimore", "Cleveland",
    "Sacramento", "Orlando", "Charlotte", "Raleigh", "Salt Lake City", "Honolulu", "Anchorage",
)
PLACES: tuple[str, ...] = (
    "Springfield", "Riverside", "Fairview", "Greenville", "Madison", "Franklin", "Clinton",
    "Georgetown", "Salem", "Oakland", "the north office", "the south warehouse",
    "Brookfield", "Lakewood", "Ashland", "Milford", "Dover", "Kingston", "Newport",
)
COMPANIES: tuple[str, ...] = (
    "Acme Corp", "Brightline Logistics", "Northwind Traders", "Bluewater Systems",
    "Greenfield Partners", "Summit Health", "Redwood Analytics", "Silverline Bank",
    "Cobalt Software", "Harbor Freight Services", "Pinecrest Consulting", "Lakeside Insurance",
    "Ironbridge Engineering", "Crescent Media", "Evergreen Energy", "Westfield Legal",
    "Copperleaf Design", "Highland Foods", "Starling Travel", "Beacon Hill Realty",
    "Clearwater Labs", "Granite Peak Construction", "Oakridge Medical Group",
    "Sunrise Education", "Bridgeport Retail", "Quantum Logistics", "Riverside Printing",
    "Keystone Accounting", "Nova Telecom", "Maple Leaf Furniture", "Blue Harbor Shipping",
    "Vertex Solutions", "Golden Gate Catering", "Pioneer Manufacturing", "Lighthouse Pharma",
    "Fairway Consulting", "Hillside Dental", "Cornerstone Builders", "Skyline Hotels",
    "Emerald Garden Supply",
    "Silver Creek Farms", "Northstar Outfitters", "Baywood Interiors",
    "Ridgeline Transport", "Willow Tree Nursery", "Harborview Clinic", "Brookside Bakery",
    "Trident Security", "Sterling Finance", "Coastal Marine Supply",
)
DEPARTMENTS: tuple[str, ...] = (
    "finance", "marketing", "sales", "legal", "IT", "HR", "operations", "procurement",
    "design", "engineering", "support", "facilities", "payroll", "accounting", "logistics",
    "research", "product", "compliance", "customer service", "quality",
    "treasury", "communications", "security", "analytics", "training",
)
DOCS: tuple[str, ...] = (
    "quarterly report", "budget proposal", "slide deck", "contract draft", "project plan",
    "monthly forecast", "audit checklist", "training schedule", "vendor list", "sales summary",
    "risk register", "onboarding guide", "press release", "product brochure", "customer survey",
    "expense report", "policy document", "meeting notes", "annual review", "price list",
    "staffing plan", "inventory count", "board presentation", "safety manual",
    "cash flow statement", "marketing plan", "supplier contract", "service agreement",
    "role description", "travel policy", "business case", "maintenance log", "sales forecast",
    "tender response", "risk assessment", "floor plan",
)
MEETINGS: tuple[str, ...] = (
    "team meeting", "weekly sync", "planning session", "budget review", "all-hands meeting",
    "steering committee", "client call", "one-on-one", "design review", "quarterly review",
    "sales meeting", "status call", "kickoff meeting", "workshop", "strategy session",
    "town hall", "board meeting", "project review",
    "retrospective", "budget meeting", "partner meeting", "sprint review", "staff meeting",
    "leadership meeting", "vendor meeting", "monthly check-in",
)
DELIVERABLES: tuple[str, ...] = (
    "website redesign", "mobile app", "quarterly report", "data migration", "new intranet",
    "training program", "marketing campaign", "customer portal", "inventory system",
    "annual budget", "product catalog", "security audit", "supplier review", "office move",
    "billing system", "newsletter", "sales forecast", "hiring plan",
    "warehouse layout", "loyalty program", "pricing model", "support handbook",
    "employee survey", "product launch", "recruitment drive", "energy audit",
)
ROOMS: tuple[str, ...] = (
    "the Lakeview room", "Room 204", "the large conference room", "the small meeting room",
    "the boardroom", "the training room", "Room 310", "the room next to the kitchen",
    "the Garden room", "the meeting room on the second floor",
    "the quiet room on the third floor", "the Harbor room", "the Summit room",
    "the small room behind reception",
)
FLOORS: tuple[str, ...] = ("first", "second", "third", "fourth", "fifth", "ground")
DURATIONS: tuple[str, ...] = (
    "30 minutes", "an hour", "45 minutes", "half an hour", "two hours", "an hour and a half",
    "20 minutes", "most of the morning",
)
ITEMS: tuple[str, ...] = (
    "office chairs", "printer cartridges", "laptops", "standing desks", "safety gloves",
    "coffee machines", "monitors", "boxes of paper", "headsets", "network cables",
    "filing cabinets", "whiteboards", "desk lamps", "tablets", "keyboards", "projectors",
    "water filters", "storage shelves", "uniforms", "cleaning supplies", "webcams",
    "docking stations", "label printers", "folding tables",
    "paper towels", "ink cartridges", "hand sanitizer", "extension cords", "notebooks",
    "coffee beans", "first aid kits", "mouse pads", "shredders", "printer paper",
    "hard drives", "routers", "wall clocks", "fire extinguishers", "desk organizers",
)
NUMBER_WORDS: tuple[str, ...] = (
    "two", "three", "four", "five", "six", "eight", "ten", "twelve", "fifteen", "twenty",
    "twenty-five", "thirty", "forty", "fifty", "a hundred",
)
EVENTS: tuple[str, ...] = (
    "summer party", "charity run", "product launch", "trade fair", "holiday dinner",
    "team lunch", "offsite", "open day", "industry conference", "awards evening",
    "networking breakfast", "sales kickoff", "volunteer day", "career fair",
    "company jubilee", "customer evening", "hackathon", "wine tasting",
    "retirement party", "innovation day", "family day", "quiz night", "golf outing",
)
SOFTWARE: tuple[str, ...] = (
    "accounting software", "spreadsheet program", "design tools", "video editor", "CRM",
    "expense app", "database client", "PDF editor", "project tracker", "chat app",
    "password manager", "antivirus software",
    "presentation software", "payroll system", "scheduling app", "inventory database",
    "ticketing system", "video conferencing tool",
)
TITLES: tuple[str, ...] = (
    "Project Manager", "Senior Accountant", "Office Manager", "Sales Director",
    "HR Coordinator", "IT Support Specialist", "Marketing Lead", "Operations Manager",
    "Financial Analyst", "Customer Success Manager", "Software Engineer", "Account Executive",
    "Procurement Officer", "Executive Assistant", "Head of Finance", "Legal Counsel",
    "Product Owner", "Recruiter", "Facilities Coordinator", "Business Analyst",
    "Payroll Specialist", "Travel Coordinator", "Chief Operating Officer",
    "Quality Assurance Engineer", "Regional Sales Manager", "Communications Officer",
    "Junior Designer", "UX Researcher", "Data Scientist", "Team Lead", "Controller",
    "Logistics Planner", "Office Assistant", "Marketing Manager", "Senior Consultant",
    "Warehouse Supervisor", "Graphic Designer", "Content Strategist", "Receptionist",
    "Internal Auditor", "Network Administrator", "Event Planner", "Purchasing Manager",
)
RESTAURANTS: tuple[str, ...] = (
    "the Italian place downtown", "the new Thai restaurant", "the sushi bar on Main Street",
    "the pub near the station", "the taco place", "the little French bistro",
    "the Greek restaurant by the river", "the burger place", "the Indian restaurant on Elm Street",
    "the pizza place", "the vegan cafe", "the steakhouse", "the noodle bar", "the diner",
    "the seafood place at the harbor", "the Korean barbecue on Fifth Street",
    "the brunch place near the park", "the Mexican restaurant by the mall",
    "the Lebanese grill", "the wine bar downtown",
)
RELATIVES: tuple[str, ...] = (
    "my mom", "my dad", "my sister", "my brother", "my aunt", "my uncle", "my grandmother",
    "my grandfather", "my cousin", "my in-laws",
)
BANKS: tuple[str, ...] = (
    "Silverline Bank", "the credit union", "our bank", "First Harbor Bank", "Union Savings",
    "the branch on Park Avenue",
)
INSURERS: tuple[str, ...] = ("car insurance", "home insurance", "health plan", "life insurance")


DISHES: tuple[str, ...] = (
    "lasagna", "potato salad", "apple pie", "chili", "banana bread", "lemon cake", "pasta salad",
    "grilled vegetables", "chocolate brownies", "fruit salad", "garlic bread", "curry",
    "roast chicken", "carrot cake", "guacamole", "cheesecake", "vegetable soup", "tacos",
    "pancakes", "cookies", "meatballs", "spring rolls", "dumplings", "hummus",
    "quiche", "couscous salad", "stuffed peppers", "lentil soup", "blueberry muffins",
    "shrimp skewers", "corn bread", "mushroom risotto",
)
HOBBIES: tuple[str, ...] = (
    "painting", "pottery", "rock climbing", "photography", "gardening", "knitting", "cycling",
    "hiking", "swimming", "chess", "baking", "running", "yoga", "sailing", "woodworking",
    "fishing", "tennis", "golf", "salsa dancing", "birdwatching", "camping", "skiing",
    "board games", "piano lessons",
    "surfing", "kayaking", "ceramics", "calligraphy", "bouldering", "beekeeping",
    "embroidery", "archery",
)
GIFTS: tuple[str, ...] = (
    "a bottle of wine", "a gift card", "a bunch of flowers", "a cookbook", "a scarf",
    "concert tickets", "a plant for the office", "a box of chocolates", "a travel mug",
    "a photo album", "a pair of headphones", "a candle set", "a board game", "a watch",
    "a picnic basket", "a framed print", "a voucher for a spa day", "a leather wallet",
    "a set of coffee cups", "a bottle of olive oil",
)
PRODUCTS: tuple[str, ...] = (
    "the premium plan", "the starter package", "our new scanner", "the cloud backup service",
    "the mobile card reader", "the smart thermostat", "the analytics add-on",
    "the annual maintenance contract", "the training bundle", "the wireless headset",
    "the security camera kit", "the ergonomic chair", "the compact printer",
    "the enterprise license", "the loyalty program",
    "the standing desk converter", "the noise cancelling headphones",
    "the document management system", "the fleet tracking service", "the water dispenser",
)
COURSES: tuple[str, ...] = (
    "Excel for beginners", "project management basics", "public speaking",
    "first aid", "leadership essentials", "data protection", "time management",
    "negotiation skills", "business writing", "conflict resolution", "Spanish for business",
    "customer service excellence", "presentation skills", "workplace safety",
    "advanced spreadsheets", "stress management", "coaching for managers",
    "fire safety", "digital marketing", "agile basics",
)
STREETS: tuple[str, ...] = (
    "Main Street", "Oak Avenue", "Elm Street", "Park Road", "Maple Drive", "Cedar Lane",
    "Church Street", "High Street", "Lake Road", "Pine Street", "Washington Avenue",
    "Mill Lane", "Station Road", "River Street",
    "Harbor Boulevard", "Sunset Avenue", "Willow Court", "Chestnut Street", "Bridge Road",
    "Hillcrest Drive", "Meadow Lane", "Victoria Road",
)
SPORTS: tuple[str, ...] = (
    "soccer", "basketball", "baseball", "volleyball", "hockey", "swimming", "tennis",
    "gymnastics", "football", "softball",
    "lacrosse", "rugby", "badminton", "karate", "fencing", "cross-country",
)
CHANNELS: tuple[str, ...] = (
    "the newsletter", "social media", "our website", "the radio spot", "the trade magazine",
    "the podcast", "search ads", "the billboard near the highway", "the email campaign",
    "the local paper", "the video series", "the partner blog",
    "the customer magazine", "the trade show booth", "our online store",
    "the spring catalog", "the app store page",
)
SKILLS: tuple[str, ...] = (
    "strong communication skills", "experience with budgets", "a background in logistics",
    "excellent attention to detail", "experience leading small teams", "good negotiation skills",
    "a solid understanding of accounting", "experience with customer support",
    "a good eye for design", "experience with data analysis", "fluency in Spanish",
    "knowledge of payroll rules",
    "experience in retail", "a talent for writing", "a degree in engineering",
    "experience with procurement", "a calm and friendly manner on the phone",
)
SCHOOL_SUBJECTS: tuple[str, ...] = (
    "math", "science", "history", "reading", "art", "music", "geography", "biology",
    "chemistry", "French", "physical education", "computer class",
)
APPLIANCES: tuple[str, ...] = (
    "washing machine", "dishwasher", "fridge", "heater", "boiler", "oven", "dryer",
    "air conditioner", "garage door", "smoke alarm", "water heater", "doorbell",
    "microwave", "kitchen faucet", "shower", "toilet", "radiator", "window lock",
)
PETS: tuple[str, ...] = ("the dog", "the cat", "the puppy", "the kitten", "the rabbit",
                         "the goldfish", "the parrot", "the hamster")
SUPPLIERS: tuple[str, ...] = (
    "the paper supplier", "the catering company", "the cleaning service", "the courier",
    "the packaging supplier", "the furniture dealer", "the IT reseller", "the print shop",
    "the security firm", "the software vendor",
    "the plumbing contractor", "the landscaping company", "the coffee supplier",
    "the uniform supplier", "the elevator maintenance company",
)


def _ordinal(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _date(rng: random.Random) -> str:
    day = rng.randint(1, 28)
    form = rng.randrange(6)
    if form == 0:
        return f"{rng.choice(WEEKDAYS)}, {rng.choice(MONTHS)} {day}"
    if form == 1:
        return f"{rng.choice(MONTHS)} {day}"
    if form == 2:
        return f"the {_ordinal(day)}"
    if form == 3:
        return f"{rng.choice(WEEKDAYS)} the {_ordinal(day)}"
    if form == 4:
        return f"next {rng.choice(WEEKDAYS)}"
    return f"{rng.choice(WEEKDAYS)}, the {_ordinal(day)}"


def _amount(rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return f"${rng.randint(1, 48)},{rng.choice(('000', '250', '500', '750', '100', '900'))}"
    if form == 1:
        return f"${rng.randrange(100, 1000, 10)}"
    if form == 2:
        return f"${rng.randint(20, 400)}.{rng.choice(('00', '50', '75', '99', '20'))}"
    return f"${rng.randint(1, 9)},{rng.randrange(0, 1000, 50):03d}"


def _amount_small(rng: random.Random) -> str:
    return f"${rng.choice((15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 80, 120, 150, 200))}"


def _phone(rng: random.Random) -> str:
    return f"555-01{rng.randint(0, 99):02d}"


SLOTS: dict[str, Callable[[random.Random], str]] = {
    "first": lambda r: r.choice(FIRST_NAMES),
    "last": lambda r: r.choice(SURNAMES),
    "fullname": lambda r: f"{r.choice(FIRST_NAMES)} {r.choice(SURNAMES)}",
    "weekday": lambda r: r.choice(WEEKDAYS),
    "month": lambda r: r.choice(MONTHS),
    "date": _date,
    "time": lambda r: r.choice(TIMES),
    "amount": _amount,
    "amount_small": _amount_small,
    "pct": lambda r: str(r.randrange(10, 100, 5)),
    "rate": lambda r: f"{r.randint(2, 7)}.{r.choice((1, 2, 4, 5, 6, 8, 9))}",
    "city": lambda r: r.choice(CITIES),
    "place": lambda r: r.choice(PLACES),
    "company": lambda r: r.choice(COMPANIES),
    "dept": lambda r: r.choice(DEPARTMENTS),
    "doc": lambda r: r.choice(DOCS),
    "meeting": lambda r: r.choice(MEETINGS),
    "deliverable": lambda r: r.choice(DELIVERABLES),
    "room": lambda r: r.choice(ROOMS),
    "floor": lambda r: r.choice(FLOORS),
    "duration": lambda r: r.choice(DURATIONS),
    "item": lambda r: r.choice(ITEMS),
    "n_word": lambda r: r.choice(NUMBER_WORDS),
    "n_days": lambda r: str(r.randint(3, 24)),
    "event": lambda r: r.choice(EVENTS),
    "software": lambda r: r.choice(SOFTWARE),
    "title": lambda r: r.choice(TITLES),
    "restaurant": lambda r: r.choice(RESTAURANTS),
    "relative": lambda r: r.choice(RELATIVES),
    "bank": lambda r: r.choice(BANKS),
    "insurance": lambda r: r.choice(INSURERS),
    "inv": lambda r: f"INV-{r.randint(4000, 4099)}",
    "order": lambda r: f"#{r.randint(10200, 10299)}",
    "ticket": lambda r: f"#{r.randint(7700, 7799)}",
    "phone": _phone,
    "honorific": lambda r: r.choice(HONORIFICS),
    "dish": lambda r: r.choice(DISHES),
    "hobby": lambda r: r.choice(HOBBIES),
    "gift": lambda r: r.choice(GIFTS),
    "product": lambda r: r.choice(PRODUCTS),
    "course": lambda r: r.choice(COURSES),
    "street": lambda r: r.choice(STREETS),
    "sport": lambda r: r.choice(SPORTS),
    "channel": lambda r: r.choice(CHANNELS),
    "skill": lambda r: r.choice(SKILLS),
    "subject": lambda r: r.choice(SCHOOL_SUBJECTS),
    "appliance": lambda r: r.choice(APPLIANCES),
    "pet": lambda r: r.choice(PETS),
    "supplier": lambda r: r.choice(SUPPLIERS),
    "house_no": lambda r: str(r.randint(12, 98)),
}
_SLOT_RE = re.compile(r"\{([a-z_]+?)(\d*)\}")


def _fill(rng: random.Random, template: str) -> str:
    """Fill {slot} / {slot2} placeholders; a repeated placeholder gets the same value."""
    memo: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        name = m.group(0)
        if name not in memo:
            memo[name] = SLOTS[m.group(1)](rng)
        return memo[name]

    return _SLOT_RE.sub(sub, template)


# ---------------------------------------------------------------------------
# Topic paragraphs: every topic has leads, details and asks with slots.


@dataclass(frozen=True)
class Topic:
    """Sentence templates of one email topic."""

    name: str
    subjects: tuple[str, ...]
    leads: tuple[str, ...]
    details: tuple[str, ...]
    asks: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "meetings",
        (
            "Meeting on {weekday}", "Rescheduling our {meeting}", "Agenda for the {meeting}",
            "Can we move our call?", "Invitation: {meeting} on {date}",
            "Room booking for {weekday}", "Quick sync this week?",
            "Follow-up from the {meeting}", "Time for a short call?",
        ),
        (
            "I would like to set up a {meeting} to go over the {doc}.",
            "Could we move our {meeting} from {weekday} to {weekday2}?",
            "I am sending over the agenda for the {meeting} on {date}.",
            "Thanks for joining the {meeting} on {weekday}.",
            "Are you free for a short call on {weekday} at {time}?",
            "I have booked {room} for the {meeting} on {date}.",
            "Unfortunately something came up and I have to cancel our {meeting} on {weekday}.",
            "Following up on the {meeting}, here are the main points we agreed on.",
            "{first} asked me to organize a {meeting} with the {dept} team.",
            "Would {time} on {date} work for a quick chat about the {doc}?",
            "Let's find a time next week to review the {doc} together.",
            "The {meeting} with {company} is confirmed for {date} at {time}.",
            "I would like to invite you to the {meeting} on {date}.",
            "Could you join the {meeting} for the first {duration}?",
        ),
        (
            "The meeting should take about {duration}.",
            "We will start with a short round of updates and then go through the {doc}.",
            "If that time does not work, please suggest two or three other slots.",
            "I have sent a calendar invite with the dial-in details.",
            "{first} will take notes and share them afterwards.",
            "Please bring your laptop, since we will look at the numbers together.",
            "The room has a projector, but we may need an extra adapter.",
            "Coffee and sandwiches will be provided.",
            "We can also do it over video if that is easier for you.",
            "The main goal is to agree on the next steps and the owners for each task.",
            "I would like to keep it short, so please review the {doc} beforehand.",
            "{first} and {first2} from {dept} will join for the second half.",
            "The last item on the agenda is the budget for next quarter.",
            "My calendar is fairly open on {weekday} afternoon.",
            "Let's try to finish by {time} so people can catch their trains.",
            "I moved the invite so it no longer clashes with the {meeting2}.",
            "The visitors from {company} will arrive at reception around {time}.",
            "We will need a second screen for the presentation.",
            "Action items from the last session are listed at the bottom of the invite.",
            "Guests should sign in at the front desk.",
            "There is a short break planned after the first hour.",
            "I kept the agenda light so we have time for questions.",
        ),
        (
            "Please confirm if this time works for you.",
            "Let me know if you would like to add anything to the agenda.",
            "Could you forward the invite to {first}?",
            "Please accept or decline the invite so I can finalize the room.",
            "Let me know if another day suits you better.",
            "Please send me your slides by {weekday}.",
        ),
    ),
    Topic(
        "invoices",
        (
            "Invoice {inv}", "Payment reminder: invoice {inv}", "Question about invoice {inv}",
            "Payment confirmation", "Outstanding balance", "Updated invoice for {month}",
            "Billing details for {company}", "Overdue payment", "Credit note",
        ),
        (
            "Please find attached invoice {inv} for the work completed in {month}.",
            "This is a friendly reminder that invoice {inv} for {amount} is now past due.",
            "We have received your payment of {amount}, thank you.",
            "I have a question about invoice {inv}, which we received on {date}.",
            "Our records show an outstanding balance of {amount} on your account.",
            "Attached is the corrected invoice for {company}.",
            "Could you let me know when we can expect payment for invoice {inv}?",
            "The payment of {amount} was sent by bank transfer on {date}.",
            "I noticed that invoice {inv} was charged twice.",
            "Here is the updated billing summary for {month}.",
            "The invoice from {company} for {amount} needs your approval.",
            "Accounts payable flagged invoice {inv} because the amounts do not match.",
        ),
        (
            "The total amount due is {amount}, including tax.",
            "Payment terms are 30 days from the invoice date.",
            "The purchase order number is missing, so accounts payable cannot process it yet.",
            "We can offer a payment plan if that helps.",
            "Please make sure the reference number is included with the transfer.",
            "Our bank details have not changed since the last payment.",
            "The second line item seems to be for services we did not order.",
            "{first} in accounting is reviewing the numbers now.",
            "A late fee of {amount_small} will apply after {date}.",
            "The credit note for {amount_small} should appear on the next statement.",
            "Receipts for the expenses are attached as a single file.",
            "The discount we agreed on in {month} is not reflected yet.",
            "We switched to a new billing system, so the invoice layout looks different.",
            "Payments usually take two to three business days to clear.",
            "The invoice should be addressed to our head office in {city}.",
            "The hourly rate on the invoice is higher than in the contract.",
            "Shipping costs were added separately this time.",
            "The tax number of our company is printed at the bottom of the page.",
            "I have forwarded the invoice to {first} for approval.",
            "The budget owner for this cost center is {fullname}.",
        ),
        (
            "Could you confirm once the payment has been processed?",
            "Please send a corrected version when you get a chance.",
            "Let me know if you need the remittance advice.",
            "Please reply with the expected payment date.",
            "Could you check this with your finance team?",
        ),
    ),
    Topic(
        "finance",
        (
            "Mortgage appointment", "Our budget for {month}", "Savings plan",
            "Bank appointment on {weekday}", "Insurance renewal", "Question about my account",
            "Tax documents", "Monthly expenses", "Interest rates",
        ),
        (
            "I met with the advisor at {bank} about refinancing our mortgage.",
            "Our monthly budget for {month} is a bit tighter than expected.",
            "The bank confirmed our appointment for {date} at {time}.",
            "I finally sorted out the tax documents for last year.",
            "The {insurance} renewal came in at {amount}.",
            "I checked our savings account and we are on track for the summer.",
            "{bank} sent a letter about the new interest rates.",
            "I set up the automatic transfer to the savings account.",
            "Our accountant, {fullname}, sent over the tax return for review.",
            "The bank statement for {month} shows a charge I do not recognize.",
            "I have been looking at ways to cut our monthly expenses.",
            "The pension statement arrived, and the numbers look reasonable.",
        ),
        (
            "The interest rate would drop to {rate}% if we switch to a fixed term.",
            "We would need to bring two recent pay slips and our ID.",
            "The monthly payment would be around {amount}.",
            "Groceries and utilities are the biggest items on the list.",
            "I moved {amount_small} into the emergency fund.",
            "The advisor suggested we pay off the credit card first.",
            "We should review the subscriptions we no longer use.",
            "The deadline for the tax filing is {date}.",
            "The new policy covers water damage as well.",
            "I have put all the receipts in the blue folder on the desk.",
            "The bank needs a signed copy of the form by {date}.",
            "We could save a bit by switching our phone plan.",
            "The fees on the old account are higher than I thought.",
            "The refund from the tax office should arrive in {month}.",
            "Electricity prices went up again this quarter.",
            "I made a simple spreadsheet with all the fixed costs.",
        ),
        (
            "Can you take a look when you have a minute?",
            "Let me know which option you prefer.",
            "Could you sign the form so I can drop it off?",
            "Should we sit down and go through it together this weekend?",
        ),
    ),
    Topic(
        "travel",
        (
            "Trip to {city}", "Travel arrangements for {month}", "Hotel booking",
            "Itinerary for {date}", "Travel expenses", "Visa documents", "Train tickets",
        ),
        (
            "I have booked the hotel in {city} for the {event}.",
            "Here is the itinerary for the trip to {city} on {date}.",
            "The travel desk confirmed the train tickets to {city}.",
            "Our trip to {city} has been moved to {date}.",
            "Could you book a rental car for the week in {city}?",
            "I am putting together the travel plan for the team visit to {city}.",
            "The hotel in {city} asked for a credit card to hold the reservation.",
            "Please submit your travel expenses from the {city} trip by {date}.",
            "The delegation from {company} arrives in {city} on {date}.",
            "We still need to decide who goes to the {event} in {city}.",
        ),
        (
            "Check-in is after 3 pm and check-out is before noon.",
            "The hotel is a short walk from the venue.",
            "Breakfast is included in the room rate.",
            "We arrive at {time} and the first meeting starts at {time2}.",
            "Please keep all receipts, including taxis and meals.",
            "The daily allowance for meals is {amount_small}.",
            "{first} will meet us at the station.",
            "The visa appointment is on {date}, so please bring your passport.",
            "There is a shuttle from the airport every half hour.",
            "The return trip is on {weekday} evening.",
            "I added a day in case the client wants a second meeting.",
            "The company card should be used for all bookings.",
            "The weather in {city} is supposed to be mild.",
            "Seats are booked together in the same row.",
            "The train takes about four hours, which gives us time to prepare.",
            "Dinner with the local team is planned for the first evening.",
        ),
        (
            "Let me know if you need anything else for the trip.",
            "Please confirm your seat preferences.",
            "Could you send me a copy of your passport?",
            "Let me know if the times work for you.",
        ),
    ),
    Topic(
        "hr",
        (
            "Leave balance", "Onboarding for {first}", "Benefits enrollment", "Payroll question",
            "Training on {date}", "Updated holiday calendar", "Performance reviews",
            "Timesheet reminder", "Remote work policy",
        ),
        (
            "Please note that the benefits enrollment window closes on {date}.",
            "We are happy to welcome {fullname} to the {dept} team on {date}.",
            "Your remaining leave balance for this year is {n_days} days.",
            "The updated holiday calendar is now on the HR portal.",
            "Performance reviews for the {dept} team start on {date}.",
            "I have a question about the overtime on my last pay slip.",
            "The mandatory safety training takes place on {date} at {time}.",
            "We are updating the remote work policy and would like your feedback.",
            "Just a reminder to submit your timesheet by {weekday} at {time}.",
            "{first} has accepted our offer and will join as {title}.",
            "The annual salary review starts next month.",
            "We are looking for volunteers for the mentoring program.",
        ),
        (
            "Please complete the form in the portal and attach any documents.",
            "The new policy takes effect from the first of next month.",
            "Managers should approve requests within three business days.",
            "Unused days can be carried over until the end of March.",
            "The training is about two hours and includes a short quiz.",
            "{first} will be the buddy for the first few weeks.",
            "A laptop and badge will be ready on the first day.",
            "The payroll team is looking into the difference.",
            "Each employee can choose between two health plans.",
            "Feedback forms are anonymous and should take ten minutes.",
            "The updated handbook is attached for reference.",
            "Please make sure your emergency contact details are up to date.",
            "Parking permits can be requested through the facilities desk.",
            "Part-time employees are eligible for the same benefits.",
            "The reviews will focus on goals for the coming year.",
            "Questions about the pension plan can go to {first} in payroll.",
        ),
        (
            "Please reach out to HR if you have any questions.",
            "Let me know if anything in the handbook is unclear.",
            "Could you confirm the start date with the team?",
            "Please sign up by {weekday} if you are interested.",
        ),
    ),
    Topic(
        "projects",
        (
            "Deadline for the {deliverable}", "Project status", "Milestone review",
            "Timeline update", "Next steps on the {deliverable}", "Risks for the {month} release",
            "Scope of the {deliverable}",
        ),
        (
            "The deadline for the {deliverable} has moved to {date}.",
            "We reached the second milestone of the {deliverable}.",
            "Here is a short summary of where the {deliverable} stands.",
            "The client approved the final draft of the {deliverable}.",
            "I am worried that we will miss the deadline for the {deliverable}.",
            "The testing phase for the {deliverable} starts on {date}.",
            "We need to agree on the scope of the {deliverable} this week.",
            "The kickoff for the {deliverable} went well.",
            "{company} asked whether we can deliver the {deliverable} two weeks earlier.",
            "I have taken over the {deliverable} from {first}.",
        ),
        (
            "Most of the tasks are on track, but the reporting part is behind.",
            "{first} is finishing the last round of testing.",
            "We may need two more people for the final sprint.",
            "The open issues are listed in the shared tracker.",
            "The budget is fine for now, but there is little room for changes.",
            "Design and content are done; only the review is left.",
            "I have updated the timeline in the project plan.",
            "The vendor promised to deliver the hardware by {date}.",
            "We should plan a short retrospective after the release.",
            "{first2} raised a concern about the data quality.",
            "The next status meeting is on {weekday} at {time}.",
            "There is a risk that the integration will take longer.",
            "The remaining work is mostly documentation.",
            "We cut two features to keep the date.",
            "Sign-off from the {dept} team is the last open item.",
        ),
        (
            "Could you review the plan and send me your comments?",
            "Let me know if you see any other risks.",
            "Please update your tasks in the tracker by {weekday}.",
            "Can we agree on the priorities at the {meeting}?",
        ),
    ),
    Topic(
        "it",
        (
            "Password reset", "Laptop not starting", "VPN issues", "Printer on the {floor} floor",
            "Email outage", "Ticket {ticket}", "New software request",
            "Scheduled maintenance on {weekday}", "Access request",
        ),
        (
            "My laptop does not start after the last update.",
            "I cannot connect to the VPN from home since {weekday}.",
            "The printer on the {floor} floor is showing a paper jam again.",
            "I have been locked out of my account after too many login attempts.",
            "Our shared drive is very slow this morning.",
            "I opened ticket {ticket} about the broken monitor, but nobody has replied yet.",
            "Please note that the email servers are down for maintenance on {date} from {time}.",
            "Could you install the new version of the {software} on my machine?",
            "The Wi-Fi in the meeting rooms keeps dropping.",
            "My phone no longer syncs with the company calendar.",
            "The projector in {room} does not recognize my laptop.",
            "We need accounts for two new colleagues in the {dept} team.",
        ),
        (
            "I already tried restarting it twice.",
            "The error message says the certificate is not valid.",
            "It happens every time I open a large spreadsheet.",
            "Other people on the team seem to have the same problem.",
            "I am working from my personal laptop in the meantime.",
            "The device is about four years old, so it may be time for a replacement.",
            "Please save your work before the maintenance window.",
            "The help desk suggested clearing the cache, but it did not help.",
            "I need access to the finance folder on the shared drive.",
            "My manager, {first}, has approved the request.",
            "The issue started right after the security update.",
            "I can bring the laptop to the IT desk at {time}.",
            "Two-factor authentication is now required for all accounts.",
            "The screen flickers and then goes black.",
            "Backups run every night, so nothing should be lost.",
            "The license for the {software} expires at the end of {month}.",
        ),
        (
            "Could someone from IT take a look?",
            "Please let me know when a technician is available.",
            "Let me know if you need the serial number.",
            "Could you reset my password?",
        ),
    ),
    Topic(
        "customers",
        (
            "Your order {order}", "Delivery update", "Complaint about the last shipment",
            "Follow-up on our meeting", "Quote for {item}", "Account renewal",
            "Refund request", "New contact at {company}",
        ),
        (
            "Thank you for your order of {n_word} {item}.",
            "Your order {order} has been shipped and should arrive by {date}.",
            "We are sorry to hear that the {item} arrived damaged.",
            "It was great meeting you at the {event} in {city}.",
            "As requested, here is the quote for {n_word} {item}.",
            "I am following up on our call about renewing your contract.",
            "Our customer, {company}, has asked for a refund on the last delivery.",
            "A customer called to complain about the waiting times on the phone.",
            "We have a new contact at {company}, {fullname}, who will handle the orders.",
            "The {item} you ordered are back in stock.",
            "{company} wants to increase their monthly order.",
        ),
        (
            "The tracking number is in the confirmation email.",
            "We can send a replacement at no extra cost.",
            "The price includes delivery and installation.",
            "The offer is valid until the end of {month}.",
            "Our support line is open from 8 am to 6 pm.",
            "We value your business and want to make this right.",
            "The discount for orders over {amount} still applies.",
            "{first} from our sales team will call you to discuss the details.",
            "We have already spoken to the courier about the delay.",
            "Their account manager has been copied on this message.",
            "The contract renews automatically unless we hear from you by {date}.",
            "We are updating our process to avoid this in the future.",
            "The customer has been with us for almost ten years.",
            "Bulk orders usually ship within five business days.",
            "The warranty covers parts and labor for two years.",
        ),
        (
            "Please let us know how you would like to proceed.",
            "Feel free to contact me directly with any questions.",
            "Could you confirm the delivery address?",
            "Let me know if you would like a call to go through the options.",
        ),
    ),
    Topic(
        "thanks",
        (
            "Thank you!", "Thanks for your help", "Great work on the {deliverable}",
            "Much appreciated", "A big thank you", "Thanks for last week",
        ),
        (
            "I just wanted to say thank you for your help with the {deliverable}.",
            "Thanks so much for covering for me last week.",
            "Thank you for the lovely dinner on {weekday}.",
            "A big thank you to everyone who helped with the {event}.",
            "I really appreciate you staying late to finish the {doc}.",
            "Thank you for the warm welcome to the team.",
            "Thanks for the quick turnaround on the contract.",
            "Thank you for recommending {fullname}, who has been a great fit.",
        ),
        (
            "The client was very impressed with the result.",
            "It made a real difference to the whole team.",
            "I know it was a lot of extra work on top of everything else.",
            "{first} mentioned how helpful you were during the handover.",
            "I owe you a coffee, or maybe lunch.",
            "Your notes were clear and easy to follow.",
            "We could not have done it without you.",
            "The feedback from the {dept} team has been great.",
            "The flowers you sent were beautiful.",
            "It was a pleasure working with you on this.",
        ),
        (
            "Let me know if I can ever return the favor.",
            "Let's celebrate once things calm down.",
            "Thanks again, and enjoy the rest of your week.",
        ),
    ),
    Topic(
        "apologies",
        (
            "Apologies", "Sorry about the delay", "My mistake on the {doc}", "Missed meeting",
            "Correction", "Sorry for the confusion",
        ),
        (
            "I am sorry for missing our {meeting} on {weekday}.",
            "Apologies for the delay in getting back to you.",
            "I made a mistake in the numbers I sent on {weekday}.",
            "Sorry for the confusion about the delivery date.",
            "Please accept my apologies for the tone of my last message.",
            "I am sorry that the {doc} was late.",
            "I apologize for sending the wrong file.",
            "Sorry for not replying sooner; it has been a hectic week.",
        ),
        (
            "The corrected version is attached.",
            "It was my oversight, and I have fixed it now.",
            "I have set up a reminder so this does not happen again.",
            "The rest of the figures are correct.",
            "I completely understand if you are frustrated.",
            "{first} helped me double-check everything this time.",
            "I should have told you sooner.",
            "The right file is attached to this message.",
            "There is no impact on the final totals.",
        ),
        (
            "Could we find a new time that works for you?",
            "Thank you for your patience.",
            "Please let me know if anything else looks wrong.",
        ),
    ),
    Topic(
        "personal",
        (
            "Dinner on {weekday}?", "Weekend plans", "Happy birthday!", "Photos from the trip",
            "Moving day", "Soccer practice", "Catching up", "Recipe you asked for",
            "Family visit", "Barbecue at our place",
        ),
        (
            "Are you free for dinner on {weekday}?",
            "We are finally moving into the new place on {date}.",
            "Here are the photos from our weekend at the lake.",
            "The kids have soccer practice on {weekday} at {time}.",
            "{relative} is coming to visit for a week in {month}.",
            "Do you still have the recipe for that lemon cake?",
            "We are thinking about a barbecue at our place on {weekday}.",
            "I just got back from {city} and wanted to catch up.",
            "Thanks for watching the dog while we were away.",
            "Happy birthday! I hope you have a wonderful day.",
            "It has been way too long since we last talked.",
            "Would you like to join us for a hike on {weekday}?",
        ),
        (
            "We could try {restaurant}.",
            "{first} and the kids say hello.",
            "The weather looks good for the weekend.",
            "Let me know if you need help with the boxes.",
            "I will bring dessert and something to drink.",
            "The garden is finally in bloom.",
            "We found a great new bakery around the corner.",
            "Parking is easier on the side street.",
            "The game starts at {time}, so we should leave early.",
            "{relative} asked about you the other day.",
            "The new puppy is keeping us very busy.",
            "Our neighbors finally finished their renovation.",
            "The trail is about six miles, with a nice view at the top.",
            "I still laugh about the karaoke night.",
        ),
        (
            "Let me know what works for you.",
            "Call me when you have a minute.",
            "Give my love to everyone.",
            "Write back when you can.",
        ),
    ),
    Topic(
        "office",
        (
            "Office closed on {weekday}", "Kitchen cleanup", "New coffee machine",
            "Fire drill on {date}", "Parking update", "Office move", "Summer party",
        ),
        (
            "Please note that the office will be closed on {date} for maintenance.",
            "The fire drill is scheduled for {date} at {time}.",
            "We have a new coffee machine in the kitchen on the {floor} floor.",
            "The parking garage will be repainted next week.",
            "Our office move is planned for {date}.",
            "Please clean out the fridge by {weekday} evening.",
            "The {event} will take place on {date} at {restaurant}.",
            "The heating on the {floor} floor will be serviced on {weekday}.",
            "New badges will be handed out at reception next week.",
        ),
        (
            "Anything left in the fridge after that will be thrown away.",
            "Please use the stairs during the drill, not the elevators.",
            "Visitors should be registered at reception in advance.",
            "Boxes for packing are available in the storage room.",
            "Parking will be available at the lot across the street.",
            "Drinks and snacks will be provided.",
            "{first} from facilities is the contact for any questions.",
            "The new layout gives every team a quiet corner.",
            "Bikes can be parked in the courtyard from now on.",
            "Lost and found items are kept at the front desk for two weeks.",
        ),
        (
            "Thanks for your cooperation.",
            "Please reply by {weekday} if you plan to attend.",
            "Contact facilities if you have any questions.",
        ),
    ),
)
EXTRA_TOPICS: tuple[Topic, ...] = (
    Topic(
        "sales",
        ("Quote for {company}", "Sales figures for {month}", "New lead from the {event}",
         "Pricing question", "Renewal for {company}", "Targets for next quarter"),
        (
            "I have prepared the quote for {product} that {company} asked about.",
            "Our sales figures for {month} came in above target.",
            "We picked up a promising lead from {company} at the {event}.",
            "The pricing for {product} has changed since the last offer.",
            "{company} is ready to sign if we can match the competitor's price.",
            "Here are the targets for the sales team for next quarter.",
            "I had a good call with the buyer at {company} about {product}.",
            "The regional numbers show strong growth in {city}.",
        ),
        (
            "The list price is {amount}, but we can offer a ten percent discount.",
            "Most of the growth came from existing customers.",
            "The decision maker on their side is {fullname}.",
            "They would like a trial period of one month.",
            "Our margin on this deal is still healthy.",
            "{first} will prepare the contract once we agree on the terms.",
            "The pipeline for next month looks solid.",
            "We lost one deal to a cheaper competitor.",
            "The new brochure has helped a lot in the first meetings.",
            "Commission for the quarter will be paid with the {month} salary.",
            "A demo of {product} is planned for {date} at {time}.",
            "The customer also asked about support hours and response times.",
            "Volume discounts start at fifty units.",
        ),
        (
            "Can you approve the discount by {weekday}?",
            "Let me know if you want to join the call with them.",
            "Please check the numbers before I send the offer.",
        ),
    ),
    Topic(
        "marketing",
        ("Campaign results", "Draft for {channel}", "Feedback on the new logo",
         "Content calendar for {month}", "Photo shoot on {date}", "Brand guidelines"),
        (
            "The spring campaign on {channel} is now live.",
            "Attached is the first draft of the copy for {channel}.",
            "We would love your feedback on the new logo options.",
            "The content calendar for {month} is ready for review.",
            "The photo shoot for the new catalog is booked for {date}.",
            "The results of the last campaign are in, and they look promising.",
            "We are planning a small giveaway to promote {product}.",
            "The agency sent three concepts for the summer campaign.",
        ),
        (
            "Click rates were up by {pct}% compared to last month.",
            "The tone should be friendly but professional.",
            "We still need a short headline and a call to action.",
            "The budget for paid ads is {amount} for the whole quarter.",
            "{first} is coordinating with the designers.",
            "Please keep the brand colors consistent with the guidelines.",
            "The images need to be approved by legal before we publish.",
            "We will test two versions of the subject line.",
            "Most visitors came from mobile devices.",
            "The event page had over two thousand visits in the first week.",
            "The printed flyers will be ready by {date}.",
            "We should avoid technical terms in the headline.",
        ),
        (
            "Please send your comments by {weekday}.",
            "Which option do you prefer?",
            "Let me know if anything needs to change before we publish.",
        ),
    ),
    Topic(
        "legal",
        ("Contract review", "NDA for {company}", "Data protection question",
         "Updated terms and conditions", "Signature needed", "Compliance training"),
        (
            "Legal has reviewed the contract with {company} and has a few comments.",
            "Could you sign the NDA before the meeting with {company}?",
            "I have a question about how long we may keep customer data.",
            "The updated terms and conditions go live on {date}.",
            "We need your signature on the lease renewal by {date}.",
            "The annual compliance training is due by the end of {month}.",
            "Our lawyer, {fullname}, suggested a change to the liability clause.",
        ),
        (
            "The main issue is the notice period in section four.",
            "Please do not share the draft outside the team yet.",
            "Electronic signatures are fine for this document.",
            "The other party has asked for a longer payment term.",
            "All changes are marked in the attached version.",
            "We should keep a copy of the signed agreement in the archive.",
            "The training takes about forty minutes and ends with a short test.",
            "Personal data must be deleted after the retention period.",
            "{first} from compliance can answer questions about the new rules.",
            "The contract runs for three years with an option to extend.",
            "A penalty applies if the delivery dates are missed.",
        ),
        (
            "Please review and let me know if you agree with the changes.",
            "Could you confirm once the document is signed?",
            "Let me know if you need more time to review.",
        ),
    ),
    Topic(
        "recruiting",
        ("Interview on {weekday}", "Candidate for the {title} role", "Job posting",
         "Reference check", "Offer letter for {first}", "Hiring update"),
        (
            "We have scheduled the second interview with {fullname} for {date} at {time}.",
            "I am forwarding the CV of a strong candidate for the {title} role.",
            "The job posting for the {title} position is now online.",
            "Could you do a reference check for {fullname}?",
            "The offer letter for {first} is ready for your signature.",
            "We received over forty applications for the {title} role.",
            "Thank you for taking the time to interview with us on {weekday}.",
        ),
        (
            "The candidate has {skill}.",
            "Salary expectations are within our range.",
            "The interview panel will include {first} and {first2}.",
            "We are looking for someone with {skill}.",
            "The first round will be a short video call.",
            "The start date would be the first of {month}.",
            "She currently works at {company} and has a notice period of one month.",
            "Please fill in the evaluation form after the interview.",
            "We would like to make a decision by {date}.",
            "Two internal candidates have also applied.",
            "The role is full-time, with two days of remote work per week.",
        ),
        (
            "Please let me know your availability for the interview.",
            "Could you share your feedback by {weekday}?",
            "Let me know if you would like to meet the candidate as well.",
        ),
    ),
    Topic(
        "events",
        ("Planning the {event}", "Catering for {date}", "Guest list", "Venue options",
         "Speakers for the {event}", "Save the date"),
        (
            "We are starting to plan the {event} for {month}.",
            "Please save the date: our {event} will be on {date}.",
            "I have shortlisted three venues for the {event}.",
            "The catering for the {event} needs to be confirmed by {date}.",
            "We are still looking for two speakers for the {event}.",
            "The guest list for the {event} has grown to about eighty people.",
        ),
        (
            "The venue near {street} has space for a hundred guests.",
            "Vegetarian options will be available, along with {dish}.",
            "There will be live music after the dinner.",
            "{first} has offered to help with the decorations.",
            "Invitations will go out at the end of the month.",
            "The budget is about {amount} for everything.",
            "We need volunteers for the registration desk.",
            "The program starts at {time} with a short welcome.",
            "Name badges will be printed on the morning of the event.",
            "Guests can park in the garage next to the venue.",
            "Photos will be shared on the intranet afterwards.",
        ),
        (
            "Please let me know if you can attend.",
            "Any ideas for the program are welcome.",
            "Could you confirm the number of guests from your team?",
        ),
    ),
    Topic(
        "school",
        ("Parent-teacher meeting", "School trip on {date}", "Homework help",
         "Field trip permission", "Bake sale", "Carpool for {sport}"),
        (
            "The parent-teacher meeting is on {date} at {time}.",
            "The class is going on a school trip to the science museum on {date}.",
            "Our daughter has been struggling a bit with {subject} lately.",
            "Could you sign the permission slip for the field trip?",
            "The school is holding a bake sale on {weekday}, and we signed up to bring {dish}.",
            "Would you like to share the carpool to {sport} practice this season?",
            "The teacher sent a note about the reading program.",
        ),
        (
            "The bus leaves at {time} from the main entrance.",
            "Students should bring a packed lunch and a water bottle.",
            "The teacher suggested some extra practice at home.",
            "I can drive on {weekday} and {weekday2}.",
            "The cost of the trip is {amount_small}, payable by {date}.",
            "There is a short performance by the choir at the end.",
            "The kids are very excited about it.",
            "Report cards will be sent home at the end of the term.",
            "The school asked for volunteers to help with the library.",
            "Practice usually ends around {time}.",
        ),
        (
            "Let me know if that works for your family.",
            "Could you reply by {weekday}?",
            "Thanks for helping out.",
        ),
    ),
    Topic(
        "home",
        ("Repair in the apartment", "Landlord visit", "Moving boxes", "Broken {appliance}",
         "Neighborhood meeting", "Garden work"),
        (
            "The {appliance} in our apartment stopped working on {weekday}.",
            "The landlord wants to inspect the apartment on {date} at {time}.",
            "We are moving to {house_no} {street} at the end of {month}.",
            "The plumber can come by on {weekday} morning.",
            "There is a neighborhood meeting about the new bike lanes on {date}.",
            "Could you water the plants while we are away?",
            "The electrician finally fixed the lights in the hallway.",
        ),
        (
            "The repair should take about {duration}.",
            "Please leave the key with {first} next door.",
            "The moving company charges {amount} for the whole day.",
            "We still need to cancel the internet contract.",
            "The new address is {house_no} {street}.",
            "{pet} needs to be fed twice a day.",
            "The trash is collected on {weekday} mornings.",
            "The spare key is under the blue flower pot.",
            "The building manager is {fullname}.",
            "We ordered new curtains for the living room.",
        ),
        (
            "Let me know if that time works.",
            "Thanks so much for your help.",
            "Could you confirm by text?",
        ),
    ),
    Topic(
        "procurement",
        ("Purchase order for {item}", "New supplier", "Price increase", "Delivery delay",
         "Tender documents", "Office supplies"),
        (
            "Please find the purchase order for {n_word} {item} attached.",
            "We are looking for a new supplier for {item}.",
            "{supplier} has announced a price increase of {pct}% from {month}.",
            "The delivery of {item} from {supplier} is delayed by a week.",
            "The tender documents for the cleaning contract are ready.",
            "We need to restock the office supplies before the end of the month.",
        ),
        (
            "The order needs approval from the budget owner.",
            "We compared three offers, and the cheapest is not the best value.",
            "The framework agreement expires at the end of the year.",
            "Delivery is free for orders above {amount}.",
            "{first} in procurement is handling the negotiation.",
            "The supplier has promised a partial delivery on {weekday}.",
            "All invoices must reference the purchase order number.",
            "Bids are due by {date} at {time}.",
            "We should check the quality of the samples first.",
        ),
        (
            "Could you approve the order in the system?",
            "Let me know if you have a preferred supplier.",
            "Please confirm the quantities.",
        ),
    ),
    Topic(
        "training",
        ("Course registration", "Training on {course}", "Workshop feedback", "Learning budget",
         "Certification exam", "Lunch and learn"),
        (
            "Registration is open for the course on {course}.",
            "Thank you for attending the workshop on {course}.",
            "I would like to use my learning budget for a course on {course}.",
            "The certification exam is scheduled for {date}.",
            "Our next lunch and learn session is about {course}.",
            "The online course on {course} is now available to everyone.",
        ),
        (
            "The course runs over three mornings.",
            "Places are limited to twelve people.",
            "The cost is {amount}, which fits within the annual budget.",
            "Materials will be shared after the session.",
            "{first} from {dept} will lead the session.",
            "Certificates are issued after the final test.",
            "The session will be recorded for those who cannot attend.",
            "Lunch will be provided in the training room.",
            "Your manager needs to approve the registration.",
        ),
        (
            "Please sign up by {weekday} if you are interested.",
            "Let me know if you have any questions about the program.",
            "We would appreciate a few words of feedback.",
        ),
    ),
    Topic(
        "community",
        ("Volunteer day", "Book club", "Charity drive", "Running club", "Food bank",
         "Neighborhood cleanup"),
        (
            "Our book club is meeting on {weekday} to discuss the new novel.",
            "The charity drive for the food bank starts next week.",
            "We are organizing a neighborhood cleanup on {date}.",
            "The running club meets every {weekday} at {time} by the park entrance.",
            "Would you like to join us at the animal shelter on {weekday}?",
            "I have started {hobby} classes at the community center.",
        ),
        (
            "Everyone is welcome, including beginners.",
            "Gloves and bags will be provided.",
            "Donations of canned food and warm clothes are very welcome.",
            "Last time we raised almost {amount}.",
            "The group is small and very friendly.",
            "We usually go for coffee afterwards.",
            "{first} will bring {dish} for everyone.",
            "The classes are on {weekday} evenings.",
            "It is a great way to meet people in the area.",
        ),
        (
            "Let me know if you want to come along.",
            "Feel free to bring a friend.",
            "Hope to see you there.",
        ),
    ),
    Topic(
        "leisure",
        ("Weekend away", "Tickets for {weekday}", "Gift idea", "Game night", "Holiday photos",
         "New hobby"),
        (
            "I managed to get tickets for the concert on {weekday}.",
            "We are thinking of buying {gift} for {first}.",
            "Are you up for a game night at our place on {weekday}?",
            "I finally started {hobby}, and I love it.",
            "We are planning a weekend away by the sea in {month}.",
            "Do you want to try {hobby} with me sometime?",
        ),
        (
            "The doors open at {time}.",
            "I can pick you up on the way.",
            "Everyone chips in {amount_small}.",
            "Bring {dish} if you feel like cooking.",
            "The cabin has room for six people.",
            "It is much harder than it looks.",
            "The forecast looks sunny for the whole weekend.",
            "I found a great deal online.",
            "My instructor, {first}, is very patient.",
        ),
        (
            "Let me know if you are in.",
            "Tell me what you think.",
            "Can you let me know by {weekday}?",
        ),
    ),
)
_MORE_DETAILS: dict[str, tuple[str, ...]] = {
    "meetings": (
        "Parking for guests is limited, so public transport is the better option.",
        "A vegetarian lunch option has been ordered for everyone.",
        "We will circulate the minutes within two working days.",
        "The external facilitator charges by the hour, so punctuality matters.",
        "Attendance is optional for the interns, but they are very welcome.",
        "The whiteboard in that room is tiny, so I will bring flip charts.",
    ),
    "invoices": (
        "The supplier insists on a signed delivery note before issuing the credit.",
        "Our fiscal year closes at the end of {month}, so timing matters.",
        "Partial payments are possible but must be agreed in writing.",
        "The exchange rate on the day of payment will apply.",
        "Duplicate invoices should be marked as void in the ledger.",
        "The reconciliation for the last quarter is almost complete.",
    ),
    "finance": (
        "The broker recommended spreading the savings across several funds.",
        "Our checking account is nearly empty after the holidays.",
        "The dentist bill was partly covered by the insurance.",
        "I cancelled the gym membership we never use.",
        "The utility company offers a discount for paying annually.",
        "Inflation has made the weekly shopping noticeably more expensive.",
    ),
    "travel": (
        "The layover in {city} is about two hours.",
        "Travel insurance is covered by the company policy.",
        "The conference hotel is fully booked, so we are staying nearby.",
        "Remember to bring an adapter for the sockets.",
        "The ferry crossing takes about ninety minutes.",
        "Economy seats are standard for trips under six hours.",
    ),
    "hr": (
        "The wellness program now includes free counseling sessions.",
        "Maternity and paternity leave rules have been updated.",
        "Exit interviews are held on the last working day.",
        "The cafeteria subsidy increases from {month}.",
        "Flexible hours must still cover the core time between ten and three.",
        "Probation periods last six months for all new hires.",
    ),
    "projects": (
        "The stakeholders asked for a simpler dashboard.",
        "Dependencies on the finance team are now mapped in the plan.",
        "A contingency buffer of two weeks is built into the schedule.",
        "Our velocity has improved since the team reorganized.",
        "The prototype received good reviews in the usability tests.",
        "Change requests now go through a short approval step.",
    ),
    "it": (
        "The firewall blocks that website for security reasons.",
        "Phishing emails have been circulating, so please be careful.",
        "Your mailbox is almost full, so please archive old messages.",
        "The keyboard has sticky keys after a coffee spill.",
        "The battery drains within an hour even when the laptop is idle.",
        "Remote desktop access has been enabled for your account.",
    ),
    "customers": (
        "The customer satisfaction score rose to {pct} percent.",
        "Returns are accepted within thirty days with the original receipt.",
        "The complaint has been escalated to the regional manager.",
        "Loyal customers receive early access to new products.",
        "The delivery driver left the parcel with a neighbor.",
        "We apologize again for the inconvenience.",
    ),
    "thanks": (
        "Your patience with the endless spreadsheets did not go unnoticed.",
        "The whole department has been talking about your presentation.",
        "The homemade cookies were a wonderful surprise.",
        "Your mentoring has helped me grow a lot this year.",
    ),
    "apologies": (
        "The formula in the summary sheet referenced the wrong column.",
        "I misread the deadline in the original request.",
        "The attachment was an outdated draft.",
        "I will double-check every figure before sending anything out.",
    ),
    "personal": (
        "The concert was fantastic, even though it rained.",
        "Grandma is doing much better since the surgery.",
        "Our vegetable patch produced way too many zucchinis.",
        "The twins start kindergarten in {month}.",
        "We repainted the bedroom a lovely shade of green.",
        "The lake was freezing, but the kids jumped in anyway.",
    ),
    "office": (
        "The recycling bins have new labels for paper, plastic and glass.",
        "Meeting rooms now have motion sensors for the lights.",
        "The rooftop terrace reopens once the weather warms up.",
        "Desk sharing starts with the marketing and sales teams.",
        "The vending machine now accepts contactless payments.",
    ),
    "sales": (
        "The competitor launched a cheaper version last month.",
        "Upselling the warranty has worked well in the stores.",
        "Our churn rate dropped slightly this quarter.",
        "Several prospects asked for references from similar clients.",
    ),
    "marketing": (
        "The influencer partnership brought in many new followers.",
        "The webinar recording has been viewed over five hundred times.",
        "Our slogan needs to be shorter for the banners.",
        "The landing page loads too slowly on phones.",
    ),
    "legal": (
        "The trademark application was filed last week.",
        "The arbitration clause needs a closer look.",
        "Warranty disclaimers must appear on the packaging.",
        "The auditors requested copies of all signed amendments.",
    ),
    "recruiting": (
        "The assessment center includes a group exercise and a case study.",
        "Relocation support is available for candidates from abroad.",
        "The headhunter charges a fee of twenty percent of the first salary.",
        "Internships start twice a year, in spring and autumn.",
    ),
    "events": (
        "The photographer has been booked for the whole evening.",
        "A shuttle bus will run between the hotel and the venue.",
        "The stage needs a microphone and a projector.",
        "Dietary requirements should be shared with the caterer.",
    ),
    "school": (
        "The gym teacher is organizing a sports day in {month}.",
        "The library is collecting donated books for the summer sale.",
        "Lunch boxes should not contain nuts because of allergies in the class.",
        "The choir rehearses on {weekday} afternoons.",
    ),
    "home": (
        "The gutters need cleaning before the autumn storms.",
        "The new tenants upstairs seem very nice.",
        "The heating bill was much lower after we sealed the windows.",
        "The balcony door squeaks, but it is not urgent.",
    ),
    "procurement": (
        "Sustainability criteria now count for twenty percent of the score.",
        "The warehouse is running low on packing tape.",
        "Long lead times are expected for electronic components.",
        "We negotiated free shipping for the next twelve months.",
    ),
    "training": (
        "Participants receive a workbook and an online quiz.",
        "The trainer has twenty years of industry experience.",
        "Attendance counts toward the annual development goals.",
        "A follow-up session is planned for three months later.",
    ),
    "community": (
        "The shelter urgently needs blankets and dog food.",
        "The mayor will open the new playground on {date}.",
        "Our choir performs at the retirement home every month.",
        "The community garden has two free plots this year.",
    ),
    "leisure": (
        "The museum has a new exhibition about ancient Egypt.",
        "The escape room took us almost the full hour.",
        "The campsite has hot showers and a small shop.",
        "The festival lineup looks amazing this year.",
    ),
}
ALL_TOPICS: tuple[Topic, ...] = tuple(
    Topic(t.name, t.subjects, t.leads, t.details + _MORE_DETAILS.get(t.name, ()), t.asks)
    for t in TOPICS + EXTRA_TOPICS
)
PERSONAL_TOPICS: tuple[str, ...] = ("personal", "school", "home", "community", "leisure")
TOPIC_BY_NAME: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}

OPENERS: tuple[str, ...] = (
    "I hope you are doing well.",
    "I hope you had a good weekend.",
    "I hope this message finds you well.",
    "Thanks for your quick reply.",
    "Thank you for your email.",
    "Sorry for the late reply.",
    "Just a quick note.",
    "I hope your week is going well.",
    "Thanks for getting back to me.",
    "Thanks for the call on {weekday}.",
    "It was good to see you at the {event}.",
    "I hope all is well on your side.",
    "Thanks for your message from {weekday}.",
    "Good to hear from you.",
    "I hope the {meeting} went well.",
    "Thanks for your patience while I looked into this.",
    "I hope you are having a good start to the week.",
    "Many thanks for your help with the {doc}.",
    "I hope you enjoyed the {event}.",
    "Following up on my last message.",
    "I hope you had a relaxing holiday.",
    "Great to meet you at the {meeting}.",
    "Thanks for the quick call earlier.",
    "As promised, a short note.",
    "I hope you are keeping well.",
    "Thanks for the update.",
)
CLOSERS: tuple[str, ...] = (
    "Please let me know if you have any questions.",
    "Let me know if anything is unclear.",
    "Thanks in advance for your help.",
    "Looking forward to hearing from you.",
    "Have a great weekend.",
    "Talk soon.",
    "Let me know what you think.",
    "I appreciate your help with this.",
    "Feel free to call me if that is easier.",
    "Thanks for your understanding.",
    "Happy to discuss on {weekday} if needed.",
    "You can reach me at my desk or on my cell.",
    "Have a nice evening.",
    "I will be in the office until {time} if you want to talk.",
    "Let me know if you need anything else from me.",
    "Thanks for taking the time to read this.",
    "Have a good rest of the week.",
    "See you at the {meeting}.",
    "Please get back to me by {weekday} if possible.",
    "Hope to catch up soon.",
    "Thanks again for all your support.",
    "Any questions, just let me know.",
    "I look forward to your reply.",
    "Thanks for your time.",
    "Enjoy the rest of your day.",
    "Let's speak soon.",
    "Do not hesitate to contact me.",
    "I am around all week if you want to chat.",
    "Happy to help with anything else.",
    "Have a lovely weekend.",
)
SIGN_OFFS: tuple[str, ...] = (
    "Best regards,", "Kind regards,", "Regards,", "Best,", "Thanks,", "Thank you,",
    "Many thanks,", "Cheers,", "All the best,", "Warm regards,", "Sincerely,", "Thanks again,",
    "Take care,", "Best wishes,", "With thanks,", "Speak soon,", "Talk soon,",
    "Thanks and regards,", "Kindest regards,", "Have a good day,", "Yours,",
    "Thanks so much,", "With best regards,", "Greetings,",
)
PERSONAL_SIGN_OFFS: tuple[str, ...] = (
    "Love,", "Cheers,", "Take care,", "Hugs,", "See you soon,", "Talk soon,", "Best,",
    "Lots of love,", "Later,",
    "Love you,", "All my love,", "Catch you later,", "Warmly,", "Bye for now,", "Big hugs,",
    "Speak soon,", "Take it easy,",
)


# ---------------------------------------------------------------------------
# Building blocks with markers. A marker "\x02c3\x03" / "\x02t3\x03" is put
# right before the cue key word / target word of dependency 3; markers are
# stripped at the end and turned into token indices.

_MARK_RE = re.compile("\x02([ct])(\\d+)\x03")


def _strip(text: str) -> str:
    return _MARK_RE.sub("", text)


def _ntok(text: str) -> int:
    return len(tokenize(_strip(text)))


def _cap(text: str) -> str:
    """Upper-case the first letter of a sentence, skipping leading markers."""
    m = re.match("(?:\x02[ct]\\d+\x03)*", text)
    i = m.end() if m else 0
    return text[:i] + text[i : i + 1].upper() + text[i + 1 :]


@dataclass
class _Dep:
    kind: str
    cue: str
    target: str
    expected: int  # planned distance, checked against the final text


def _feasible_range(bases: Sequence[int], band: int) -> tuple[int, int]:
    """Filler lengths L with base + L inside the band for every base."""
    lo, hi = BANDS[band]
    return max([0] + [lo - b for b in bases]), min(hi - b for b in bases)


def _fit_units(
    rng: random.Random,
    lo_len: int,
    hi_len: int,
    templates: Sequence[str],
    fill: Callable[[str], str],
    kind: Callable[[str], int] = lambda t: 1,
) -> list[str]:
    """Filled filler units (clauses or sentences) with a total token count in [lo_len, hi_len].

    Each template is used at most once. `kind(template)` is 0 (opening unit: at
    most one, placed first), 1 (body) or 2 (short closing unit: at most one,
    placed last); short units are only taken when little room is left.
    """
    if hi_len <= 0:
        return []
    for attempt in range(80):
        goal = rng.randint(lo_len, hi_len) if attempt < 50 else hi_len
        units: list[tuple[int, str]] = []
        used: list[int] = []
        kinds_used: list[int] = []
        total = 0
        misses = 0
        while total < goal and misses < 40:
            i = rng.randrange(len(templates))
            k = kind(templates[i])
            unit = fill(templates[i])
            n = _ntok(unit)
            room = goal - total
            if (
                n > room
                or i in used
                or (k != 1 and k in kinds_used)
                or (n < 6 and room >= 14 and misses < 30)
            ):
                misses += 1
                continue
            units.append((k, unit))
            used.append(i)
            kinds_used.append(k)
            total += n
        if lo_len <= total <= hi_len:
            units.sort(key=lambda u: u[0])  # stable: keeps the random order inside a kind
            return [u for _, u in units]
    raise RuntimeError(f"cannot fit filler of {lo_len}-{hi_len} tokens")


def _clause_kind(template: str) -> int:
    """Request clauses: 'which ...' right after the reason, one-word adverbs last."""
    if template.startswith("which"):
        return 0
    if len(template.split()) <= 3 and not template.startswith("and"):
        return 2
    return 1


class _EmailBuilder:
    """Builds one email; holds its random stream and its dependencies."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.deps: list[_Dep] = []

    def fill(self, template: str) -> str:
        return _cap(_fill(self.rng, template))

    def _new_dep(self, kind: str, cue: str, target: str, expected: int) -> int:
        self.deps.append(_Dep(kind, cue, target, expected))
        return len(self.deps) - 1

    # -- reason + tense ---------------------------------------------------
    def request(
        self, band: int, time_word: str, comma: bool, lecture: bool = False
    ) -> tuple[str, str]:
        """The request sentence with a reason dep and a tense dep; returns (text, target)."""
        rng = self.rng
        if lecture:
            target, reason = "loan", REASONS["loan"][0]
        else:
            target = rng.choice(REASON_TARGETS)
            reason = self._pick_reason(target, band)
        city = rng.choice(FLIGHT_CITIES)
        phrase = reason.template.replace("{city}", city)
        ptoks = tokenize(phrase)
        key = city.lower() if reason.key == "{city}" else reason.key
        key_idx = len(ptoks) - 1 - ptoks[::-1].index(key)
        conn = "due to" if lecture else rng.choice(REQUEST_CONNECTIVES)
        verb, verb_target = TENSES[time_word]
        vlen = len(verb.split())
        n_prefix = 1 + int(comma) + 2 + len(ptoks) + 1
        k = 1 + int(comma) + 2 + key_idx
        base_t = n_prefix + 1
        base_r = n_prefix + 1 + vlen + 3 - k
        lo_len, hi_len = _feasible_range((base_t, base_r), band)
        if lecture:
            clauses: list[str] = []
        else:
            clauses = _fit_units(
                rng, lo_len, hi_len, REQUEST_CLAUSES, lambda t: _fill(rng, t), _clause_kind
            )
        n_fill = sum(_ntok(c) for c in clauses)
        t_id = self._new_dep("tense", time_word.capitalize(), verb_target, base_t + n_fill)
        r_id = self._new_dep("reason", phrase, target, base_r + n_fill)
        words = phrase.split(" ")
        # mark the key word (the last word containing the key token)
        for wi in range(len(words) - 1, -1, -1):
            if key in tokenize(words[wi]):
                words[wi] = f"\x02c{r_id}\x03" + words[wi]
                break
        marked_phrase = " ".join(words)
        # the lecture's reason always ends at "loan.", as in the lecture
        cont = "" if lecture or reason.template == LECTURE_REASON else rng.choice(
            REASON_CONTINUATIONS[target]
        )
        cont = _fill(rng, cont.replace("{city}", city))
        verb_words = verb.split()
        verb_words[0] = f"\x02t{t_id}\x03" + verb_words[0]
        text = (
            f"\x02c{t_id}\x03{time_word.capitalize()}{',' if comma else ''} {conn} "
            f"{marked_phrase}, {' '.join(clauses)}{' ' if clauses else ''}"
            f"I {' '.join(verb_words)} to take a \x02t{r_id}\x03{target}{cont}."
        )
        return text, target

    def _pick_reason(self, target: str, band: int) -> Reason:
        cands, weights = [], []
        for reason in REASONS[target]:
            ptoks = tokenize(reason.template.replace("{city}", "Chicago"))
            key_idx = len(ptoks) - 1 if reason.key == "{city}" else (
                len(ptoks) - 1 - ptoks[::-1].index(reason.key)
            )
            # worst case over comma and verb length, so the choice never depends on tense
            base_t = 1 + 1 + 2 + len(ptoks) + 1 + 1
            base_r = (len(ptoks) - key_idx) + 1 + 1 + 2 + 3
            lo_len, hi_len = _feasible_range((base_t, base_r), band)
            if lo_len <= hi_len:
                cands.append(reason)
                weights.append(reason.weight)
        return self.rng.choices(cands, weights)[0]

    def request_block(self, band: int, lecture_combo: tuple[str, bool] | None,
                      bare: bool) -> tuple[list[list[str]], list[str], str]:
        """Paragraph(s) of a request: (mandatory paragraphs, optional follow-ups, target)."""
        rng = self.rng
        if lecture_combo is not None:
            time_word, comma = lecture_combo
            sentence, target = self.request(band, time_word, comma, lecture=True)
        else:
            time_word = rng.choice(tuple(TENSES))
            comma = rng.random() < 0.35
            sentence, target = self.request(band, time_word, comma)
        para = [sentence]
        if not bare and rng.random() < 0.35:
            para.insert(0, self.fill(rng.choice(REQUEST_INTROS)))
        followups = [self.fill(s) for s in rng.sample(REASON_FOLLOWUPS[target], 3)]
        return [para], followups, target

    # -- entity ---------------------------------------------------------------
    def entity_block(self, band: int, name: str) -> tuple[list[list[str]], list[str]]:
        """Cue sentence, neutral filler, target sentence: (paragraphs, optional after-lines)."""
        rng = self.rng
        lo, hi = BANDS[band]
        cap_name = name.capitalize()
        for _ in range(200):
            cue = _fill(rng, rng.choice(ENTITY_CUES))
            tgt = _fill(rng, rng.choice(ENTITY_TARGETS))
            ctoks = tokenize(cue.replace("{P}", cap_name))
            ttoks = tokenize(tgt.replace("{P}", cap_name))
            base = len(ctoks) - ctoks.index(name) + ttoks.index(name)
            if base <= hi:
                break
        else:  # pragma: no cover - frames always allow every band
            raise RuntimeError("no entity frame fits")
        lo_len, hi_len = max(0, lo - base), hi - base
        fillers = _fit_units(rng, lo_len, hi_len, ENTITY_FILLERS, self.fill)
        n_fill = sum(_ntok(s) for s in fillers)
        d = self._new_dep("entity", cap_name, name, base + n_fill)
        cue_s = _cap(cue.replace("{P}", f"\x02c{d}\x03{cap_name}"))
        tgt_s = _cap(tgt.replace("{P}", f"\x02t{d}\x03{cap_name}"))
        paras: list[list[str]] = [[cue_s]]
        for i, s in enumerate(fillers):
            if i > 0 and len(fillers) > 3 and rng.random() < 0.15:
                paras.append([])
            paras[-1].append(s)
        if fillers and rng.random() < 0.4:
            paras.append([])
        paras[-1].append(tgt_s)
        recaps = rng.sample(ENTITY_RECAPS, RECAPS_PER_BLOCK)
        after = [self.fill(s).replace("{P}", cap_name) for s in recaps]
        after += [self.fill(s) for s in rng.sample(ENTITY_AFTER, 2)]
        return paras, after

    # -- topic ------------------------------------------------------------------
    def topic_paragraph(self, topic: Topic, n_details: int, ask: bool) -> list[str]:
        rng = self.rng
        sents = [self.fill(rng.choice(topic.leads))]
        sents += [self.fill(s) for s in rng.sample(topic.details, n_details)]
        if ask:
            sents.append(self.fill(rng.choice(topic.asks)))
        return sents


def _greeting(rng: random.Random, personal: bool) -> str:
    first = rng.choice(FIRST_NAMES)
    if personal:
        forms = ("Hi {f},", "Hey {f},", "Dear {f},", "{f},", "Hello {f},", "Hi {f} and {g},",
                 "Hey there,", "Hi everyone,")
    else:
        forms = (
            "Hi {f},", "Hi {f},", "Hi {f},", "Hello {f},", "Hello {f},", "Dear {f},", "Dear {f},",
            "Dear {h} {s},", "Dear {h} {s},", "Good morning {f},", "Good afternoon {f},",
            "Hi team,", "Hello team,", "Hi all,", "Hello everyone,", "Hey {f},", "{f},",
            "Hi {f} and {g},", "Dear colleagues,", "Dear {d} team,", "Dear Sir or Madam,",
        )
    form = rng.choice(forms)
    return form.format(
        f=first,
        g=rng.choice(FIRST_NAMES),
        h=rng.choice(HONORIFICS),
        s=rng.choice(SURNAMES),
        d=_dept_title(rng),
    )


def _dept_title(rng: random.Random) -> str:
    dept = rng.choice(DEPARTMENTS)
    return dept if dept.isupper() else dept.title()


def _signature(rng: random.Random, personal: bool) -> list[str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    if personal:
        return [rng.choice(PERSONAL_SIGN_OFFS), first]
    lines = [rng.choice(SIGN_OFFS)]
    if rng.random() < 0.2:
        lines.append(first)
        return lines
    lines.append(f"{first} {last}")
    if rng.random() < 0.6:
        lines.append(rng.choice(TITLES))
        if rng.random() < 0.75:
            lines.append(rng.choice(COMPANIES))
    if rng.random() < 0.25:
        lines.append(f"{rng.choice(('Phone', 'Mobile', 'Tel.', 'Direct'))}: {_phone(rng)}")
    return lines


# ---------------------------------------------------------------------------
# Corpus level plan: which emails carry which dependency blocks, and in which
# distance band, so that every (kind, band) cell gets the same count.

_PATTERN_SHARES: tuple[tuple[str, float], ...] = (
    ("RR", 0.14), ("RE", 0.27), ("ER", 0.27), ("R", 0.20), ("E", 0.10),
)  # the rest: topic-only emails without designed dependencies


def _compatible(b1: int, b2: int) -> bool:
    """Two blocks in one email must leave room under the token limit."""
    return BANDS[b1][1] + BANDS[b2][1] <= 150


def _plan(rng: random.Random, n: int) -> list[tuple[str, list[int]]]:
    counts = {p: int(round(share * n)) for p, share in _PATTERN_SHARES}
    patterns: list[str] = []
    for p, c in counts.items():
        patterns += [p] * c
    patterns += ["T"] * max(0, n - len(patterns))
    patterns = patterns[:n]
    rng.shuffle(patterns)
    # balanced band lists per dependency block kind
    slots: dict[str, list[tuple[int, int]]] = {"R": [], "E": []}
    for i, p in enumerate(patterns):
        for j, ch in enumerate(p if p != "T" else ""):
            slots[ch].append((i, j))
    bands: list[list[int]] = [[0] * len(p) if p != "T" else [] for p in patterns]
    for sl in slots.values():
        values = [b % len(BANDS) for b in range(len(sl))]
        rng.shuffle(values)
        for (i, j), b in zip(sl, values, strict=True):
            bands[i][j] = b
    # repair incompatible pairs by swapping with single-block emails of low band
    singles: dict[str, list[int]] = {"R": [], "E": []}
    for i, p in enumerate(patterns):
        if p in ("R", "E") and bands[i][0] <= 1:
            singles[p].append(i)
    for ch in singles:
        rng.shuffle(singles[ch])
    for i, p in enumerate(patterns):
        if len(p) != 2 or _compatible(*bands[i]):
            continue
        # swap a long slot with a short single of the kind that has most singles left
        options = [jj for jj in (0, 1) if bands[i][jj] >= 2 and singles[p[jj]]]
        if options:
            sizes = [len(singles[p[o]]) for o in options]
            jj = options[sizes.index(max(sizes))]
            k = singles[p[jj]].pop()
            bands[i][jj], bands[k][0] = bands[k][0], bands[i][jj]
        else:  # pragma: no cover - only for tiny corpora
            bands[i] = [0, bands[i][1]]
    return list(zip(patterns, bands, strict=True))


def _email(rng: random.Random, pattern: str, bands: list[int],
           lecture_combo: tuple[str, bool] | None) -> tuple[str, str, str, list[_Dep]]:
    """Compose one email: (topic, subject, body with markers, deps)."""
    b = _EmailBuilder(rng)
    topic = rng.choice(ALL_TOPICS)
    while "E" in pattern and topic.name in PERSONAL_TOPICS:  # project news is business mail
        topic = rng.choice(ALL_TOPICS)
    personal = topic.name in PERSONAL_TOPICS
    greeting = "" if lecture_combo is not None or rng.random() < 0.3 else _greeting(rng, personal)
    signature = _signature(rng, personal)
    # a bare email starts directly with the request sentence
    bare = lecture_combo is not None or (
        not greeting and pattern.startswith("R") and rng.random() < 0.6
    )

    def count(parts: list[str]) -> int:
        return sum(_ntok(p) for p in parts)

    # Room is reserved for every dependency block from its band alone, so whatever
    # comes before a cue never depends on what is drawn for that cue's block.
    reserve = [BANDS[band][1] + _BLOCK_OVERHEAD for band in bands]
    used = count([greeting] + signature)
    desired = rng.randint(40, 110)
    pre: list[list[str]] = []
    post: list[list[str]] = []

    def fits(parts: list[str], reserved: int) -> bool:
        return used + count(parts) + reserved <= MAX_BODY_TOKENS

    main = ""
    if pattern == "T":
        for n_det, p_ask, p_para in ((rng.randint(1, 3), 0.6, 1.0), (rng.randint(1, 2), 0.4, 0.55)):
            para = b.topic_paragraph(topic, n_det, rng.random() < p_ask)
            if rng.random() < p_para and fits(para, 0):
                pre.append(para)
                used += count(para)
        main = topic.name
    elif not bare and rng.random() < 0.35:
        para = b.topic_paragraph(topic, rng.randint(1, 3), rng.random() < 0.3)
        if fits(para, sum(reserve)):
            pre.append(para)
            used += count(para)
            main = topic.name
    if not bare and rng.random() < 0.5:
        opener = [b.fill(rng.choice(OPENERS))]
        if fits(opener, sum(reserve)):
            pre.insert(0, opener)
            used += count(opener)

    blocks: list[list[list[str]]] = []
    first_key = ""
    names = rng.sample(PROJECTS, 2)
    n_entity = 0
    for idx, (ch, band) in enumerate(zip(pattern if pattern != "T" else "", bands, strict=True)):
        if ch == "R":
            paras, follow, target = b.request_block(band, lecture_combo, bare and idx == 0)
            main = main or _REQUEST_TOPIC[target]
            first_key = first_key or f"R:{target}"
        else:
            paras, follow = b.entity_block(band, names[n_entity])
            n_entity += 1
            main = main or "projects"
            first_key = first_key or "E"
        if idx > 0:
            paras[0].insert(0, b.fill(rng.choice(TRANSITIONS)))
        size = sum(count(p) for p in paras)
        if size > reserve[idx]:  # pragma: no cover - guarded by _BLOCK_OVERHEAD
            raise AssertionError(f"block of {size} tokens exceeds its reservation")
        used += size
        later = sum(reserve[idx + 1 :])
        n_follow = rng.randint(0, 2)
        if ch == "E":  # the recaps come first and are kept whenever they fit
            n_follow = max(n_follow, RECAPS_PER_BLOCK)
        for k, sent in enumerate(follow):
            if (k < n_follow or used < desired) and fits([sent], later):
                paras[-1].append(sent)
                used += count([sent])
        blocks.append(paras)

    if pattern != "T" and used < desired:
        para = b.topic_paragraph(topic, rng.randint(1, 3), rng.random() < 0.5)
        if fits(para, 0):
            post.append(para)
            used += count(para)
    closer = [b.fill(rng.choice(CLOSERS))]
    if (rng.random() < 0.6 or used < desired) and fits(closer, 0):
        post.append(closer)

    paragraphs = [p for p in pre]
    for blk in blocks:
        paragraphs += [p for p in blk if p]
    paragraphs += post
    if pre and bare:
        raise AssertionError("bare emails start with the request")
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    body = (greeting + "\n\n" if greeting else "") + text + "\n\n" + signature[0]
    if len(signature) > 1:
        body += "\n" + "\n".join(signature[1:])

    if pattern == "T" or not blocks:
        subject = b.fill(rng.choice(topic.subjects))
    elif first_key.startswith("R:"):
        subject = _request_subject(rng, first_key[2:])
    else:
        subject = b.fill(
            rng.choice(("{P} project update", "Update on {P}", "{P} status", "Re: {P}",
                        "{P}: where we stand", "Quick note on {P}", "{P} next steps"))
        ).replace("{P}", names[0].capitalize())
    return main, subject, body, b.deps


_BLOCK_OVERHEAD = 45  # tokens of a block outside its cue-target span, at most

_REQUEST_TOPIC = {"loan": "finance", "sick": "hr", "flight": "travel", "vacation": "hr"}


def _request_subject(rng: random.Random, target: str) -> str:
    options = {
        "loan": ("Loan request", "Personal matter", "Quick request", "Letter for the bank",
                 "Employment confirmation"),
        "sick": ("Sick day", "Out sick", "Not feeling well", "Absence", "Out of office"),
        "flight": ("Travel request", "Flight booking", "Upcoming trip", "Travel approval"),
        "vacation": ("Vacation request", "Time off", "Leave request", "Holiday dates",
                     "Days off"),
    }
    return rng.choice(options[target])


def _finalize(marked: str, deps: list[_Dep]) -> tuple[str, list[dict]]:
    """Strip markers and turn them into token indices."""
    clean_parts: list[str] = []
    pos: dict[tuple[str, int], int] = {}
    last = 0
    length = 0
    for m in _MARK_RE.finditer(marked):
        seg = marked[last : m.start()]
        clean_parts.append(seg)
        length += len(seg)
        pos[(m.group(1), int(m.group(2)))] = length
        last = m.end()
    clean_parts.append(marked[last:])
    body = "".join(clean_parts)
    starts = {s: i for i, (s, _) in enumerate(token_spans(body))}
    toks = tokenize(body)
    out = []
    for i, dep in enumerate(deps):
        c, t = starts[pos[("c", i)]], starts[pos[("t", i)]]
        if toks[t] != dep.target or t - c != dep.expected:
            raise AssertionError(f"dependency bookkeeping failed: {dep} in {body!r}")
        out.append(
            {
                "kind": dep.kind,
                "cue": dep.cue,
                "target": dep.target,
                "cue_token": c,
                "target_token": t,
                "distance": t - c,
            }
        )
    out.sort(key=lambda d: (d["cue_token"], KINDS.index(d["kind"])))
    return body, out


def generate(n_emails: int = DEFAULT_N_EMAILS, seed: int = DEFAULT_SEED) -> list[dict]:
    """Generate the corpus: a list of dicts with id, topic, subject, body, deps."""
    rng = random.Random(seed)
    plan = _plan(rng, n_emails)
    lecture_combos = [(tw, comma) for tw in TENSES for comma in (False, True)]
    n_lecture = 0
    n_r1 = 0
    seen: set[str] = set()
    emails = []
    for i, (pattern, bands) in enumerate(plan):
        combo = None
        if pattern == "R" and bands[0] == 1:
            if n_r1 % 20 == 0:
                combo = lecture_combos[n_lecture % len(lecture_combos)]
                n_lecture += 1
            n_r1 += 1
        for _ in range(20):
            topic, subject, marked, deps = _email(rng, pattern, bands, combo)
            body, dep_dicts = _finalize(marked, deps)
            if body not in seen:
                break
        else:  # pragma: no cover
            raise RuntimeError("could not build a unique email")
        seen.add(body)
        if len(tokenize(body)) > MAX_BODY_TOKENS:
            raise AssertionError(f"body longer than {MAX_BODY_TOKENS} tokens: {body!r}")
        if detokenize(tokenize(body)) != " ".join(body.lower().split()):
            raise AssertionError(f"body does not round-trip: {body!r}")
        emails.append(
            {"id": f"e{i + 1:05d}", "topic": topic, "subject": subject, "body": body,
             "deps": dep_dicts}
        )
    return emails


def write_corpus(
    path: str | Path = DEFAULT_OUT,
    n_emails: int = DEFAULT_N_EMAILS,
    seed: int = DEFAULT_SEED,
    emails: list[dict] | None = None,
) -> Path:
    """Generate (or take) the emails and write them as deterministic gzipped JSON lines."""
    path = Path(path)
    if emails is None:
        emails = generate(n_emails, seed)
    raw = "".join(json.dumps(e, ensure_ascii=True) + "\n" for e in emails).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


# ---------------------------------------------------------------------------
# Summary statistics.


def band_of(distance: int) -> int | None:
    """Index of the distance band (0-3) that holds `distance`, or None."""
    for i, (lo, hi) in enumerate(BANDS):
        if lo <= distance <= hi:
            return i
    return None


def split_sentences(body: str) -> list[str]:
    """Lines of a body split at sentence ends (greetings and signature lines included)."""
    out = []
    for line in body.split("\n"):
        out += [s for s in re.split(r"(?<=[.!?])\s+", line.strip()) if s]
    return out


def summarize(emails: list[dict]) -> dict:
    """Counts used in the printed summary and the tests."""
    cells = Counter((d["kind"], band_of(d["distance"])) for e in emails for d in e["deps"])
    vocab: Counter[str] = Counter()
    lengths = []
    sentences: Counter[str] = Counter()
    for e in emails:
        toks = tokenize(e["body"])
        vocab.update(toks)
        lengths.append(len(toks))
        sentences.update(split_sentences(e["body"]))
    top_sentence, top_count = sentences.most_common(1)[0]
    lengths.sort()
    return {
        "emails": len(emails),
        "words": sum(c for t, c in vocab.items() if t.isalnum()),
        "tokens": sum(lengths),
        "distinct_tokens": len(vocab),
        "deps": sum(len(e["deps"]) for e in emails),
        "cells": {f"{k}/{BANDS[b][0]}-{BANDS[b][1]}": cells[(k, b)] for k in KINDS
                  for b in range(len(BANDS))},
        "max_distance": max((d["distance"] for e in emails for d in e["deps"]), default=0),
        "median_body_tokens": lengths[len(lengths) // 2],
        "max_body_tokens": lengths[-1],
        "share_bodies_over_250": sum(n >= 250 for n in lengths) / len(lengths),
        "top_sentence": top_sentence,
        "top_sentence_share": top_count / sum(sentences.values()),
        "sentences": sum(sentences.values()),
    }


def format_summary(stats: dict) -> str:
    """Human-readable table of `summarize` output."""
    lines = ["deps per kind x band (tokens):"]
    header = "  kind     " + "".join(f"{f'{lo}-{hi}':>9}" for lo, hi in BANDS) + "    total"
    lines.append(header)
    for k in KINDS:
        row = [stats["cells"][f"{k}/{lo}-{hi}"] for lo, hi in BANDS]
        lines.append(f"  {k:<9}" + "".join(f"{c:>9}" for c in row) + f"{sum(row):>9}")
    lines += [
        f"emails: {stats['emails']}  words: {stats['words']}  tokens: {stats['tokens']}",
        f"distinct tokens: {stats['distinct_tokens']}  deps: {stats['deps']}"
        f"  max distance: {stats['max_distance']}",
        f"body tokens: median {stats['median_body_tokens']}, max {stats['max_body_tokens']},"
        f" share >= 250: {stats['share_bodies_over_250']:.4f}",
        f"top sentence share: {stats['top_sentence_share']:.4%} "
        f"({stats['top_sentence']!r}) of {stats['sentences']} sentences",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: generate the corpus, write it and print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--n-emails", type=int, default=DEFAULT_N_EMAILS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    emails = generate(args.n_emails, args.seed)
    path = write_corpus(args.out, args.n_emails, args.seed, emails=emails)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    print(format_summary(summarize(emails)))


if __name__ == "__main__":
    main()
