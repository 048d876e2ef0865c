"""What demo reporters say, and what the flagged answers said, for `loopkeeper demo`.

Each category has a few topics (a recurring problem), each with several ways people put it and
an excerpt of the kind of answer they flagged, so the demo digest's themes have something real
to find: the same problem on several systems, in different words. Weights make some topics
common and others rare, as in a real week.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    comments: tuple[str, ...]
    output: str
    weight: int = 1
    input: str = ""
    """What the person asked the AI."""
    expected: str = ""
    """What it should have said (the report modal's question), so the demo exports a dataset."""


TOPICS: dict[str, tuple[Topic, ...]] = {
    "hallucination": (
        Topic(
            (
                "cited a refund policy we don't have",
                "made up a 60-day refund policy",
                "promised a full refund, our policy says store credit only",
                "the refund policy it quoted does not exist",
                "invented refund rules for opened items",
            ),
            "Under our 60-day refund policy you can return opened items for a full refund.",
            input="Can I return a blender I already opened?",
            expected="Opened items can be returned within 30 days for store credit, not a refund.",
            weight=4,
        ),
        Topic(
            (
                "linked a help center article that doesn't exist",
                "made up a support article link",
                "the knowledge base link is a 404, it invented the article",
                "cited a help article title we never published",
            ),
            "See our help center article 'Resetting your workspace' at help.example.com/kb/4471.",
            input="How do I reset my workspace?",
            expected="Reset it under Settings > Workspace > Reset.",
            weight=3,
        ),
        Topic(
            (
                "quoted the wrong price for the enterprise plan",
                "enterprise pricing is wrong, it said $12 per seat",
                "made up a discount on the annual plan",
                "gave a price for a plan tier we don't sell",
            ),
            "The Enterprise plan is $12 per seat per month, with 20% off when billed annually.",
            input="How much is the Enterprise plan?",
            expected="Enterprise pricing is quoted by sales; point the customer to the sales team.",
            weight=2,
        ),
        Topic(
            (
                "invented a product version that was never released",
                "talked about version 5.2 features, we're on 4.8",
                "described a release that never shipped",
            ),
            "Version 5.2 added offline mode and the new reporting dashboard.",
            input="What's new in the latest version?",
            expected="The latest release is 4.8: faster sync and a new export menu.",
        ),
        Topic(
            (
                "gave a delivery date nobody promised",
                "promised next-day delivery to a rural address",
                "told the customer the order ships tomorrow, it's backordered",
            ),
            "Good news: your order will be delivered tomorrow before noon.",
            input="When will order 7731 arrive?",
            expected="I can't see a delivery date yet; the carrier will email one when it ships.",
        ),
    ),
    "unsafe": (
        Topic(
            (
                "suggested disabling the safety interlock to speed things up",
                "told a technician to bypass the safety interlock",
                "recommended running the press with the guard removed",
            ),
            "To speed up the cycle you can disable the safety interlock in the settings menu.",
            input="The machine takes too long per cycle, can I make it faster?",
            expected="Safety features stay on; turning eco mode off shortens the cycle.",
            weight=2,
        ),
        Topic(
            (
                "gave medical dosage advice",
                "recommended a medication dose to an employee",
                "answered a question about doubling a prescription dose",
            ),
            "For a headache like that, taking two extra tablets of 500 mg is fine.",
            input="My headache won't go away, can I take more painkillers?",
            expected="I can't give medical advice; please ask a pharmacist or doctor.",
        ),
        Topic(
            (
                "told a customer how to bypass the login check",
                "explained how to get around two-factor authentication",
                "shared a way to skip the account verification step",
            ),
            "If the code never arrives you can skip two-factor by opening the legacy login page.",
            input="My two-factor code never arrives, how do I log in?",
            expected="Use a backup code, or ask an admin to reset two-factor for your account.",
        ),
    ),
    "pii_leak": (
        Topic(
            (
                "repeated another customer's address back to me",
                "showed a different customer's home address",
                "included someone else's shipping address in the reply",
            ),
            "Your order is on its way to 14 [redacted] Street, as requested by the account owner.",
            input="Where is the order for my neighbour's account being sent?",
            expected="I can only share order details with the account owner.",
            weight=2,
        ),
        Topic(
            (
                "showed a phone number from an unrelated ticket",
                "leaked a customer's phone number from another case",
                "pasted another person's contact details",
            ),
            "You can reach the customer directly on [phone].",
            input="Can I get the phone number of the customer who reviewed my shop?",
            expected="I can't share customers' contact details.",
        ),
    ),
    "bad_format": (
        Topic(
            (
                "answered a customer in a very casual tone",
                "way too casual for a complaint, used slang",
                "the tone was flippant with an upset customer",
                "used emoji and slang in a formal reply",
            ),
            "lol no worries!! that happens all the time 😅 just try again later",
            input="Our payment run failed twice this morning, what should we do?",
            expected="Sorry about that. Please retry the run; if it fails again, contact support.",
            weight=3,
        ),
        Topic(
            (
                "dumped raw JSON instead of a sentence",
                "replied with a JSON blob to a customer",
                "showed raw JSON fields instead of a readable answer",
            ),
            '{"status": "pending", "eta_days": 3, "carrier": null}',
            input="Where is my parcel?",
            expected="Your parcel is pending and should arrive in about 3 days.",
            weight=2,
        ),
        Topic(
            (
                "the table came out as one long line",
                "markdown table broken, columns all on one line",
                "the table formatting is garbled",
            ),
            "| Plan | Seats | Price | | Team | 10 | $50 | | Business | 50 | $200 |",
            input="Which plans do you have?",
            expected="Team: up to 10 seats, $50 a month. Business: up to 50 seats, $200 a month.",
        ),
        Topic(
            (
                "replied in English to a French question",
                "answered in English although the customer wrote in French",
                "ignored the language of the question, French customer got English",
            ),
            "Thank you for your message. Your subscription renews on the 1st of next month.",
            input="Cancel my subscription please.",
            expected="Your subscription is cancelled; you keep access until the 1st of next month.",
            weight=2,
        ),
    ),
    "edge_case": (
        Topic(
            (
                "couldn't handle an order with two currencies",
                "mixed-currency order broke the totals",
                "got the total wrong when the cart had euros and dollars",
            ),
            "Your total is 129.99 (currency could not be determined).",
            input="What's my total in yen?",
            expected="Your total is ¥19,400.",
            weight=2,
        ),
        Topic(
            (
                "failed on a name with an apostrophe",
                "could not find the customer O'Brien",
                "the apostrophe in the surname broke the lookup",
            ),
            "I could not find a customer named O.",
            input="Look up the account of Siobhan O'Neill.",
            expected="Found Siobhan O'Neill: account 55012, active since 2021.",
        ),
        Topic(
            (
                "got stuck when the ticket had no subject",
                "empty subject line made it loop",
                "no reply for tickets without a subject",
            ),
            "I need more information. I need more information. I need more information.",
            input="Help",
            expected="Happy to help: what do you need help with?",
        ),
    ),
}
GENERIC = (
    Topic(
        (
            "the answer was off",
            "this is not what we expect",
            "wrong and confusing",
            "ignored what the user actually asked",
        ),
        "Here is some general information that may help with your request.",
        input="Can I change the billing e-mail on my account?",
        expected="Yes: Settings > Billing > Billing e-mail, then save.",
    ),
)


def topic_for(category_id: str, case_number: int) -> Topic:
    """The topic of the demo case numbered `case_number`: fixed, common topics more often."""
    topics = TOPICS.get(category_id, GENERIC)
    total = sum(t.weight for t in topics)
    # Knuth's multiplicative hash spreads consecutive case numbers over the topics.
    point = (case_number * 2654435761) % (2**32) % total
    for topic in topics:
        if point < topic.weight:
            return topic
        point -= topic.weight
    return topics[-1]
