"""How many requests one portal session may have in flight, learned from its 429s.

The portal answers 429 when a session has more requests in flight than it allows, and
does not say how many that is. Sending CONCURRENT_REQUESTS anyway turns every burst into
429s that all retry after the same Retry-After, together, and some run out of retries.
So the limit drops below what was in flight at each 429 and grows back by one after as
many answers without a 429 as the limit itself (additive increase, multiplicative-ish
decrease, as TCP does), never above `ceiling`.
"""

from __future__ import annotations

import asyncio


class InFlightLimit:
    def __init__(self, ceiling: int):
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self._good = 0
        self._changed = asyncio.Condition()

    async def enter(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def leave(self, too_many: bool) -> None:
        async with self._changed:
            if too_many:
                # `in_flight` still counts the request that was refused.
                self.limit = max(1, min(self.limit, self.in_flight - 1))
                self._good = 0
            else:
                self._good += 1
                if self._good >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._good = 0
            self.in_flight -= 1
            self._changed.notify_all()
