"""The per-session limit of requests in flight, learned from 429s."""

import asyncio

from crawlers.middlewares.vehicles_inflight import InFlightLimit


def test_a_429_lowers_the_limit_and_answers_raise_it_back():
    async def scenario():
        gate = InFlightLimit(7)
        for _ in range(5):
            await gate.enter()
        await gate.leave(too_many=True)  # refused with 5 in flight: 4 at most now
        assert gate.limit == 4
        for _ in range(4):
            await gate.leave(too_many=False)
        assert (gate.limit, gate.in_flight) == (5, 0)
        for _ in range(50):
            await gate.enter()
            await gate.leave(too_many=False)
        assert gate.limit == 7  # never above the ceiling

    asyncio.run(scenario())


def test_requests_beyond_the_limit_wait_for_a_place():
    async def scenario():
        gate = InFlightLimit(2)
        await gate.enter()
        await gate.enter()
        third = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.05)
        assert not third.done()
        await gate.leave(too_many=False)
        await asyncio.wait_for(third, 5)
        assert gate.in_flight == 2

    asyncio.run(scenario())


def test_the_limit_never_drops_below_one():
    async def scenario():
        gate = InFlightLimit(3)
        for _ in range(3):
            await gate.enter()
            await gate.leave(too_many=True)
        assert gate.limit == 1
        await gate.enter()
        await gate.leave(too_many=False)

    asyncio.run(scenario())
