"""Where each outbox message lands, for pacing: the budget it spends and how urgent it is."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config.loading import load_routing
from bot.core.models import OutboundMessage
from bot.core.pacing import SLACK_CHANNEL, SLACK_TIER_3, SLACK_TIER_4, Purpose
from handlers.slack import notices
from handlers.slack.destinations import SlackDestinations
from tests.support.bot_settings import ROUTING_FILE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
slack = SlackDestinations(load_routing(ROUTING_FILE))


def message(method: str, **payload: object) -> OutboundMessage:
    return OutboundMessage(
        dedupe_key=f"slack:{method}", method=method, payload=payload, next_attempt_at=NOW
    )


def test_a_new_card_and_its_thread_spend_the_triage_channel() -> None:
    card = slack.destination(message(notices.CARD, case_id=1, post=True, system="code-helper"))
    reply = slack.destination(message(notices.THREAD, case_id=1, text="hi", system="code-helper"))
    assert card is not None and reply is not None
    assert card.key == reply.key == "slack:channel:C0CODETRIAGE"
    assert (card.pace, card.purpose, reply.purpose) == (
        SLACK_CHANNEL,
        Purpose.first,
        Purpose.follow_up,
    )


def test_a_card_refresh_spends_the_workspace_budget_of_chat_update() -> None:
    refresh = slack.destination(message(notices.CARD, case_id=1, post=False, system="x"))
    assert refresh is not None
    assert (refresh.key, refresh.pace, refresh.purpose) == (
        "slack:method:chat.update",
        SLACK_TIER_3,
        Purpose.follow_up,
    )


def test_an_owner_dm_and_a_reporter_dm_to_the_same_person_share_one_budget() -> None:
    owner = slack.destination(message(notices.DIRECT, case_id=1, person="alice", text="hi"))
    reporter = slack.destination(message(notices.REPORTER, case_id=2, slack_id="U0ALICE"))
    assert owner is not None and reporter is not None
    assert owner.key == reporter.key == "slack:user:U0ALICE"
    assert (owner.purpose, reporter.purpose) == (Purpose.owner, Purpose.first)
    # Someone known only by e-mail is keyed by who they are until Slack says their id.
    bob = slack.destination(message(notices.DIRECT, case_id=1, person="bob", text="hi"))
    assert bob is not None and bob.key == "slack:person:bob"


def test_digests_are_bulk_and_other_calls_are_not_paced() -> None:
    digest = slack.destination(message("chat.postMessage", channel="C0CONDUCT", text="digest"))
    assert digest is not None
    assert (digest.key, digest.purpose) == ("slack:channel:C0CONDUCT", Purpose.bulk)
    assert slack.destination(message("reactions.add", channel="C1", name="eyes")) is None
    teams = message(notices.CARD, case_id=1, post=True).model_copy(update={"platform": "teams"})
    assert slack.destination(teams) is None


def test_a_surge_card_and_its_dm_are_paced_like_a_case_card_and_an_owner_dm() -> None:
    post = slack.destination(
        message(notices.SURGE_CARD, surge_id=1, post=True, system="code-helper")
    )
    update = slack.destination(message(notices.SURGE_CARD, surge_id=1, post=False, system="x"))
    dm = slack.destination(message(notices.SURGE_DIRECT, surge_id=1, person="alice", text="hi"))
    assert post is not None and update is not None and dm is not None
    assert (post.key, post.purpose) == ("slack:channel:C0CODETRIAGE", Purpose.first)
    assert (update.key, update.purpose) == ("slack:method:chat.update", Purpose.follow_up)
    assert (dm.key, dm.purpose) == ("slack:user:U0ALICE", Purpose.owner)


def test_confirmations_in_the_channel_share_the_workspace_budget_of_chat_post_ephemeral() -> None:
    """A crowd flagging one answer gets its confirmations at Tier 4's rate, not 429s."""
    first = slack.destination(message("chat.postEphemeral", channel="C0SUPPORT", user="U1"))
    other = slack.destination(message("chat.postEphemeral", channel="C0OTHER", user="U2"))
    assert first is not None and other is not None
    assert first.key == other.key == "slack:method:chat.postEphemeral"
    assert (first.pace, first.purpose) == (SLACK_TIER_4, Purpose.first)
