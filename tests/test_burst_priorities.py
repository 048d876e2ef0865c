"""Under a burst: acks first, then filing, then delivery; nothing waits past its patience.

Time here is a `ManualTimer` that moves only when a test advances it, so every wait below is
exact and no test depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio

from bot.core.burst_priorities import BurstPriorities, Patience, WriterTurns
from bot.core.drain_loop import DrainLoop

PATIENCE = Patience(settle=0.01, filing=1.0, delivery=2.0, burst=3)


class ManualTimer:
    """Monotonic time that moves only when `advance` says so."""

    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, done))
        await done

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        if event.is_set() or seconds <= 0:
            return
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    async def advance(self, seconds: float) -> None:
        await let_tasks_run()  # what is runnable reaches its wait before time moves
        self._now += seconds
        for deadline, done in self._sleepers:
            if deadline <= self._now and not done.done():
                done.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]
        await let_tasks_run()


async def let_tasks_run() -> None:
    """Let every task that can go on do so (no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


def priorities() -> tuple[BurstPriorities, ManualTimer]:
    timer = ManualTimer()
    return BurstPriorities(timer=timer, patience=PATIENCE), timer


async def test_filing_and_delivery_go_at_once_when_no_burst_is_on() -> None:
    scheme, _timer = priorities()
    filing, delivery = scheme.filing_gives_way(), scheme.delivery_gives_way()
    with scheme.acks.arriving(), scheme.acks.arriving():  # two acks at once: not a burst
        rounds = asyncio.gather(filing(), delivery())
        await let_tasks_run()
        assert rounds.done()


async def test_a_burst_of_acks_holds_filing_and_delivery_until_its_last_ack() -> None:
    scheme, _timer = priorities()
    filing, delivery = scheme.filing_gives_way(), scheme.delivery_gives_way()
    with scheme.acks.arriving():
        with scheme.acks.arriving(), scheme.acks.arriving():  # three at once: a burst
            waiting = asyncio.gather(filing(), delivery())
            await let_tasks_run()
        await let_tasks_run()
        assert not waiting.done()  # two answered, the burst's last one is not
    await let_tasks_run()
    assert waiting.done()


async def test_a_backlog_of_flags_holds_delivery_but_not_filing() -> None:
    scheme, _timer = priorities()
    scheme.filing_backlog.behind()
    filing = asyncio.ensure_future(scheme.filing_gives_way()())
    delivery = asyncio.ensure_future(scheme.delivery_gives_way()())
    await let_tasks_run()
    assert filing.done()
    assert not delivery.done()

    scheme.filing_backlog.caught_up()
    await let_tasks_run()
    assert delivery.done()


async def test_filing_waits_at_most_its_patience_then_takes_a_turn() -> None:
    scheme, timer = priorities()
    filing = scheme.filing_gives_way()
    with scheme.acks.arriving(), scheme.acks.arriving(), scheme.acks.arriving():  # never ends
        waiting = asyncio.ensure_future(filing())
        await timer.advance(PATIENCE.filing - 0.1)
        assert not waiting.done()
        await timer.advance(0.1)
        assert waiting.done()

        # Its turn, a quarter of its patience long: rounds go without waiting.
        turn = asyncio.ensure_future(filing())
        await let_tasks_run()
        assert turn.done()
        await timer.advance(PATIENCE.filing / 4)
        after_turn = asyncio.ensure_future(filing())  # the burst goes on: it waits again
        await let_tasks_run()
        assert not after_turn.done()
        await timer.advance(PATIENCE.filing)
        assert after_turn.done()


async def test_delivery_waits_for_acks_and_backlog_within_one_patience() -> None:
    scheme, timer = priorities()
    scheme.filing_backlog.behind()
    with scheme.acks.arriving(), scheme.acks.arriving(), scheme.acks.arriving():
        waiting = asyncio.ensure_future(scheme.delivery_gives_way()())
        await timer.advance(PATIENCE.delivery - 0.5)
        assert not waiting.done()
        await timer.advance(0.5)  # both still busy: the one patience is spent, so it goes
        assert waiting.done()


async def test_an_ack_takes_the_writer_before_background_writers_waiting() -> None:
    turns = WriterTurns()
    order: list[str] = []

    async def write(name: str, *, urgent: bool = False) -> None:
        async with turns.hold(urgent=urgent):
            order.append(name)

    async with turns.hold():  # a background transaction holds the writer
        waiting = [
            asyncio.create_task(write("delivery")),
            asyncio.create_task(write("filing")),
            asyncio.create_task(write("ack", urgent=True)),
        ]
        await let_tasks_run()
        assert turns.urgent_waiting
    await asyncio.gather(*waiting)

    assert order[0] == "ack"
    assert not turns.urgent_waiting


async def test_a_long_write_steps_aside_for_a_waiting_ack_then_goes_on() -> None:
    turns = WriterTurns()
    order: list[str] = []

    async def ack() -> None:
        async with turns.hold(urgent=True):
            order.append("ack")

    async with turns.hold():
        order.append("filing, part 1")
        waiting = asyncio.create_task(ack())
        await let_tasks_run()
        assert turns.urgent_waiting  # what the store's batch policy asks between two items
        await turns.step_aside()
        order.append("filing, part 2")
    await waiting

    assert order == ["filing, part 1", "ack", "filing, part 2"]


class _Counting(DrainLoop):
    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    async def drain(self) -> int:
        self.rounds += 1
        return 0


async def test_a_loop_woken_while_busy_lets_work_gather_first() -> None:
    _scheme, timer = priorities()
    loop = _Counting()
    running = asyncio.create_task(loop.run(idle=60, settle=PATIENCE.settle, timer=timer))
    try:
        loop.wake()
        await let_tasks_run()
        assert loop.rounds == 1  # quiet: at once

        loop.wake()  # busy (a round just ended): it waits `settle` first
        await let_tasks_run()
        assert loop.rounds == 1
        await timer.advance(PATIENCE.settle)
        assert loop.rounds == 2

        await timer.advance(60)  # nobody wakes it: it drains on its own after `idle`
        assert loop.rounds == 3
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
