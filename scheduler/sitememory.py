"""What extraction learnt about each site, kept in the checking process and saved lazily.

Every full extraction may teach the site's memory something; reading, serialising and saving
it around every check cost more than the fast re-check of an unchanged article. Here each
site's memory is read from the store once, handed to extraction as an object (or, for the
process pool, as JSON serialised once per version), and written back only when it changed, at
most every `save_every` seconds and when the process stops. A crash loses at most those few
seconds of learning: the memory is a hint that extraction rebuilds, never history.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from redline.crawler.extract.site import SiteMemory
from redline.storage import StorageError, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Site:
    memory: SiteMemory
    version: int = 0
    text: str | None = None  # JSON of this version, once asked for
    dirty: bool = False


class SiteMemories:
    def __init__(self, store: Store, *, save_every: float = 5.0) -> None:
        self.store = store
        self.save_every = save_every
        self._sites: dict[str, _Site] = {}
        self._loading: dict[str, asyncio.Future[_Site]] = {}
        self._saver: asyncio.Task[None] | None = None

    async def get(self, site: str) -> SiteMemory:
        return (await self._site(site)).memory

    async def for_pool(self, site: str) -> tuple[str, int, str]:
        """(site, version, JSON): what a pool worker needs to reuse its parsed copy."""
        state = await self._site(site)
        if state.text is None:
            state.text = state.memory.to_json()
        return site, state.version, state.text

    def learnt(self, site: str, memory: SiteMemory) -> None:
        """A check's extraction changed the site's memory: keep it, save it soon."""
        state = self._sites.setdefault(site, _Site(SiteMemory()))
        state.memory, state.version, state.text, state.dirty = memory, state.version + 1, None, True
        if self._saver is None or self._saver.done():
            self._saver = asyncio.ensure_future(self._save_later())

    async def close(self) -> None:
        """Save what changed since the last save (at shutdown)."""
        if self._saver is not None and not self._saver.done():
            self._saver.cancel()
        await self.save()

    async def save(self) -> None:
        for site, state in list(self._sites.items()):
            if not state.dirty:
                continue
            state.dirty = False
            text = state.text = state.text or state.memory.to_json()
            try:
                await asyncio.to_thread(self.store.save_site_memory, site, text)
            except StorageError as exc:  # kept in memory: tried again at the next save
                state.dirty = True
                log.warning("could not save what was learnt about %s: %s", site, exc)

    async def _save_later(self) -> None:
        while any(state.dirty for state in self._sites.values()):
            await asyncio.sleep(self.save_every)
            await self.save()

    async def _site(self, site: str) -> _Site:
        if (state := self._sites.get(site)) is not None:
            return state
        if site not in self._loading:  # one read per site, however many checks wait for it
            self._loading[site] = asyncio.ensure_future(self._load(site))
        try:
            return await asyncio.shield(self._loading[site])
        finally:
            self._loading.pop(site, None)

    async def _load(self, site: str) -> _Site:
        text = await asyncio.to_thread(self.store.site_memory, site)
        memory = SiteMemory.from_json(text) if text else SiteMemory()
        return self._sites.setdefault(site, _Site(memory, text=text or None))
