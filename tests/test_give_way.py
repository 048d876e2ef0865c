"""Giving way: filing waits for a burst of acks, delivery for both, and neither starves."""

from __future__ import annotations

import asyncio

from bot.core.burst_priorities import Acks, GiveWay

PATIENCE = 0.2  # seconds; the waits below are bounded by it, never fixed delays


async def test_no_burst_no_wait() -> None:
    arrivals = Acks(burst=3)
    give_way = GiveWay(arrivals.calm, patience=60)
    with arrivals.arriving(), arrivals.arriving():  # two acks at once: not a burst
        await asyncio.wait_for(give_way(), 0.05)


async def test_a_burst_is_waited_for_until_its_last_ack() -> None:
    arrivals = Acks(burst=3)
    give_way = GiveWay(arrivals.calm, patience=60)
    with arrivals.arriving():
        with arrivals.arriving(), arrivals.arriving():  # three at once: a burst
            waiting = asyncio.create_task(give_way())
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not waiting.done()  # two answered, the burst's last one is not
    await asyncio.wait_for(waiting, 0.05)


async def test_giving_way_is_bounded_then_takes_a_turn() -> None:
    arrivals = Acks(burst=1)
    give_way = GiveWay(arrivals.calm, patience=PATIENCE)
    loop = asyncio.get_running_loop()
    with arrivals.arriving():  # a burst that never ends
        started = loop.time()
        await give_way()
        assert PATIENCE * 0.9 <= loop.time() - started < PATIENCE + 1
        started = loop.time()
        await give_way()  # its turn: no waiting now
        assert loop.time() - started < PATIENCE / 2


async def test_every_kind_of_urgent_work_shares_one_patience() -> None:
    first, second = Acks(burst=1), Acks(burst=1)
    give_way = GiveWay(first.calm, second.calm, patience=PATIENCE)
    loop = asyncio.get_running_loop()
    with first.arriving(), second.arriving():
        started = loop.time()
        await give_way()
        assert PATIENCE * 0.9 <= loop.time() - started < PATIENCE + 1
