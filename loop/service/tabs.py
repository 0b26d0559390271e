"""The annotators' page tabs: each shows one query, and its next one is ready before the answer comes.

A tab registers once (:meth:`Tabs.open`, with the login name when there is
one) and gets a secret token that names it in every later call. While the
person looks at a query, a background worker prepares the tab's next one: it
is chosen by the newest model (:func:`nudge.loop.service.handing.propose`)
and its picture is drawn as data, but it is not leased, so a tab never holds a
second lease. When the answer comes, the prepared point is claimed
(:func:`nudge.loop.service.handing.claim`); if it was taken meanwhile, or a
newer model was published since it was chosen, a fresh one is chosen then.
When a model is published, the tabs' prepared queries are prepared again.

One name in two tabs gets two different points: each tab claims its own, and
a tab that opens resumes only a query of its annotator that no live tab shows
(a reload takes over its own tab's query).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace

from nudge.loop.errors import SavedBut, SessionError, StoreError, saved_but
from nudge.loop.service.handing import Proposal, claim, propose, release
from nudge.loop.service.service import AnnotationService, Direction, Picture
from nudge.loop.session.answers import who_annotates
from nudge.loop.session.records import Query
from nudge.loop.store.log import Annotation

logger = logging.getLogger(__name__)

LIVE_SECONDS = 30.0  # a tab not heard from for this long no longer holds on to its query
FORGET_SECONDS = 3600.0  # a tab not heard from for this long is forgotten
WATCH_SECONDS = 0.01  # how often the watcher looks for a newly published model
FORGET_CHECK_SECONDS = 1.0  # how often it looks for tabs to forget
PREPARED_WAIT_SECONDS = 10.0  # an answer waits at most this long for a preparation under way
CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Shown:
    """A query on a tab's screen, with the picture it is shown with."""

    query: Query
    picture: Picture


@dataclass(frozen=True)
class Prepared:
    """A tab's next query, chosen and drawn but not leased."""

    annotator: str
    proposal: Proposal
    picture: Picture


@dataclass(frozen=True)
class Outcome:
    """What a tab shows after a call: its query (None: the pool is used up) and a note for the person."""

    shown: Shown | None
    note: str | None = None
    undone: Annotation | None = None


@dataclass
class Tab:
    token: str
    login: str | None
    client: str | None = None  # the address the page was opened from (for the per-address lease limit)
    annotator: str | None = None
    shown: Shown | None = None
    prepared: Future | None = None  # Future[Prepared | None]
    seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Tabs:
    """The tabs of one service; see the module docstring. :meth:`close` stops the worker."""

    def __init__(self, service: AnnotationService, *, workers: int = 2,
                 on_prepared: Callable[[int], None] | None = None) -> None:
        """``on_prepared(point_id)`` is called on the worker for each query prepared (it should not
        wait: e.g. start what showing the query will need, such as its word highlights)."""
        self.service = service
        self.session = service.session
        self.on_prepared = on_prepared
        self._tabs: dict[str, Tab] = {}
        self._lock = threading.Lock()
        self.found = Counter()  # how each next query was found: "prepared" (ready in advance) or "fresh"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare")
        self._stopping = threading.Event()
        self._settled_version: int | None = None  # every live tab's prepared query is by this model
        self._forgot_at = time.monotonic()
        # the watcher holds the tabs weakly, so tabs that are dropped without close() stop it too
        self._watcher = threading.Thread(target=_watch, args=(weakref.ref(self), self._stopping), daemon=True,
                                         name="prepare-watch")
        self._watcher.start()

    def close(self) -> None:
        self._stopping.set()
        self._watcher.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ tabs
    def open(self, login: str | None, client: str | None = None) -> str:
        """Register a tab; its token names it from now on. ``login``: the logged-in user, if any;
        ``client``: the address the page was opened from."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tabs[token] = Tab(token, login or None, client)
        return token

    def _tab(self, token: str) -> Tab:
        with self._lock:
            tab = self._tabs.get(token) if isinstance(token, str) else None
        if tab is None:
            raise SessionError("this page lost its place (the server restarted?): reload the page")
        now = time.monotonic()
        if now - tab.seen >= LIVE_SECONDS:
            self._settled_version = None  # live again: the watcher looks at its prepared query
        tab.seen = now
        return tab

    def requester(self, token: str) -> str | None:
        """Who asks through a tab, for per-client limits: its login, else the address it was opened from."""
        tab = self._tab(token)
        return tab.login or tab.client

    def annotator(self, token: str, name: str) -> str:
        """Who works in a tab: its login, else the name typed there."""
        return who_annotates(self._tab(token).login, name)

    # --------------------------------------------------------------- actions
    def begin(self, token: str, name: str, previous: str | None = None) -> Outcome:
        """The query a tab shows when it opens or its name changes.

        In order: the query the tab shows (handed over to a new name if the name
        changed), the query of the tab it replaces (``previous``: the token of the
        same tab before a reload), a query of the annotator no live tab shows, a new one.
        """
        tab = self._tab(token)
        annotator = self.annotator(token, name)
        with tab.lock:
            if tab.shown is None and previous:
                self._take_over(tab, previous, annotator)
            if tab.shown is not None:
                outcome = self._switch_annotator(tab, annotator)
            else:
                tab.annotator = annotator
                outcome = Outcome(self._resumed(annotator) or self._next(tab, annotator))
            tab.shown = outcome.shown
            self._prepare(tab)
            return outcome

    def answer(self, token: str, name: str, point_id: int, label: int | str,
               directions: list[Direction]) -> Outcome:
        """Record the tab's answer for the point it shows; the tab moves on to its next query."""
        return self._record(token, name, point_id, lambda query, annotator: self.service.submit(
            query.query_id, label, directions, annotator=annotator, query=query))

    def skip(self, token: str, name: str, point_id: int) -> Outcome:
        """Pass on the point the tab shows; the tab moves on to its next query."""
        return self._record(token, name, point_id, lambda query, annotator: self.service.skip(
            query.query_id, annotator=annotator))

    def _record(self, token: str, name: str, point_id: int, store: Callable[[Query, str], object]) -> Outcome:
        """Store an answer or a skip for the tab's point (``store(query, annotator)``), then move on."""
        tab = self._tab(token)
        annotator = self.annotator(token, name)
        with tab.lock:
            blocked, saved_note = self._blocked(tab, annotator, point_id), None
            if blocked is None:
                blocked, saved_note = self._store(tab, annotator, point_id, store)
            if blocked is not None:
                self._prepare(tab)
                return blocked
            moved = self._move_on(tab, annotator)
            return moved if saved_note is None or moved.note is not None else replace(moved, note=saved_note)

    def _store(self, tab: Tab, annotator: str, point_id: int,
               store: Callable[[Query, str], object]) -> tuple[Outcome | None, str | None]:
        """Store the answer for the point the tab holds. Returns (what the tab shows instead when the
        point went to someone else meanwhile, else None; what failed after the answer was saved, if anything)."""
        for attempt in range(2):
            try:
                store(tab.shown.query, annotator)
                return None, None
            except SavedBut as saved:
                return None, str(saved)
            except SessionError:
                if attempt or self._is_open(tab.shown.query.query_id):
                    raise  # the person's mistake
                # released between the check and the write (an undo in another tab): hold it again, once
                blocked = self._blocked(tab, annotator, point_id)
                if blocked is not None:
                    return blocked, None
        return None, None

    def undo(self, token: str, name: str) -> Outcome | None:
        """Undo the annotator's last answer (from any of their tabs): this tab shows its point again.

        None when there is nothing to undo (the tab keeps its query). The
        annotator's other open queries are released by the undo, as in the session.
        """
        tab = self._tab(token)
        annotator = self.annotator(token, name)
        with tab.lock:
            try:
                query = self.service.undo(annotator, client=tab.client)
                if query is None:
                    return None
                tab.annotator = annotator
                tab.shown = Shown(query, self.service.query_picture(query))
            except Exception:
                tab.shown = None  # the undo may be stored: a reload shows the annotator's open query
                raise
            self._prepare(tab)
            return Outcome(tab.shown, undone=query.reopens)

    def seen(self, token: str, name: str) -> str:
        """Note that a tab is still open (its status poll); returns its annotator."""
        return self.annotator(token, name)

    # -------------------------------------------------------------- internals
    def _blocked(self, tab: Tab, annotator: str, point_id: int) -> Outcome | None:
        """Make sure the tab holds the point the person answers, leased under their present name.

        None when it does; else what the tab shows now, with a note saying why the
        answer cannot be stored for that point (it was taken meanwhile, or the page
        showed another point).
        """
        if tab.shown is None:
            raise SessionError("there is no point to answer: reload the page")
        if tab.shown.query.point_id != point_id:
            return Outcome(tab.shown, f"this tab shows point {tab.shown.query.point_id}, not point "
                                      f"{point_id}: nothing was saved; here it is")
        switched = self._switch_annotator(tab, annotator)
        tab.shown = switched.shown
        if switched.note is not None:
            return switched
        if self._is_open(tab.shown.query.query_id):
            return None
        # released meanwhile (an undo in another tab of this annotator): hold the point again if it is free
        plane = tab.shown.picture.plane
        query = claim(self.session, annotator, point_id, client=tab.client, plane=plane.basis_bytes())
        if query is None:
            tab.shown = self._next(tab, annotator)
            return Outcome(tab.shown, f"point {point_id} was answered elsewhere meanwhile, so this answer "
                                      "was not saved; here is the next point")
        self.service.remember_plane(query.query_id, plane, stored=True)
        tab.shown = replace(tab.shown, query=query)
        return None

    def _switch_annotator(self, tab: Tab, annotator: str) -> Outcome:
        """The tab's shown point, leased to ``annotator`` (its name changed: the old lease is given back)."""
        shown = tab.shown
        if tab.annotator == annotator or shown is None:
            tab.annotator = annotator
            return Outcome(shown)
        previous, tab.annotator = tab.annotator, annotator
        try:
            release(self.session, shown.query.query_id, annotator=previous)
        except SessionError:
            pass  # already answered, released or not theirs: nothing to give back
        plane = shown.picture.plane
        query = claim(self.session, annotator, shown.query.point_id, client=tab.client,
                                         plane=plane.basis_bytes())
        if query is None:
            return Outcome(self._next(tab, annotator), f"{annotator} cannot take point {shown.query.point_id} "
                                                        "(already answered or taken): here is another one")
        self.service.remember_plane(query.query_id, plane, stored=True)
        return Outcome(Shown(query, shown.picture))

    def _take_over(self, tab: Tab, previous: str, annotator: str) -> None:
        """Show what the tab ``previous`` (this tab before a reload) showed, if it was the same annotator's."""
        with self._lock:
            old = self._tabs.get(previous) if isinstance(previous, str) else None
            if old is None or old is tab or old.annotator != annotator:
                return
            del self._tabs[previous]
        with old.lock:
            shown = old.shown
        if shown is not None and self._is_open(shown.query.query_id):
            tab.annotator, tab.shown = annotator, shown

    def _resumed(self, annotator: str) -> Shown | None:
        """The annotator's newest open query that no live tab shows (after a restart, or from the API)."""
        now = time.monotonic()
        with self._lock:
            held = {t.shown.query.query_id for t in self._tabs.values()
                    if t.shown is not None and now - t.seen < LIVE_SECONDS}
        mine = [q for q in self.session.leases.held_by(annotator) if q.id not in held]
        if not mine:
            return None
        query = self.session.query(max(mine, key=lambda q: q.issued_at).id)
        return Shown(query, self.service.query_picture(query))

    def _is_open(self, query_id: str) -> bool:
        record = self.session.leases.queries.query(query_id)
        return record is not None and record.status == "open"

    def _move_on(self, tab: Tab, annotator: str) -> Outcome:
        """After an answer or a skip was stored: the tab's next query (an error here loses no answer)."""
        try:
            tab.shown = self._next(tab, annotator)
        except Exception as error:
            known = isinstance(error, (SessionError, StoreError))
            logger.warning("choosing the next query for %r failed after the answer was stored: %s", annotator,
                           error if known else "internal error", exc_info=not known)
            tab.shown = None
            return Outcome(None, saved_but("your answer was saved", "the next point could not be chosen",
                                           error if known else None, "reload the page"))
        self._prepare(tab)
        return Outcome(tab.shown)

    def _next(self, tab: Tab, annotator: str) -> Shown | None:
        """The tab's next query: the prepared one if it is still free and the newest model chose it, else a fresh one."""
        prepared = self._take_prepared(tab)
        if (prepared is not None and prepared.annotator == annotator
                and prepared.proposal.model_version == self.session.model.version):
            shown = self._claim(tab, annotator, prepared.proposal, prepared.picture)
            if shown is not None:
                self.found["prepared"] += 1
                return shown
        for _ in range(CLAIM_ATTEMPTS):
            proposals = propose(self.session, annotator, exclude=self._prepared_points(tab))
            if not proposals:
                proposals = propose(self.session, annotator)
            if not proposals:
                return None
            shown = self._claim(tab, annotator, proposals[0])
            if shown is not None:
                self.found["fresh"] += 1
                return shown
        raise SessionError("every point offered was taken by others at the same moment: press s to try again")

    def _claim(self, tab: Tab, annotator: str, proposal: Proposal, picture: Picture | None = None) -> Shown | None:
        picture = picture or self.service.picture(proposal.point_id)
        query = claim(self.session, annotator, proposal.point_id, score=proposal.score,
                                         model_version=proposal.model_version, client=tab.client,
                                         plane=picture.plane.basis_bytes())
        if query is None:
            return None
        self.service.remember_plane(query.query_id, picture.plane, stored=True)
        return Shown(query, picture)

    def _take_prepared(self, tab: Tab) -> Prepared | None:
        future, tab.prepared = tab.prepared, None
        if future is None:
            return None
        try:
            return future.result(timeout=PREPARED_WAIT_SECONDS)
        except FutureTimeout:
            future.cancel()
            return None
        except (SessionError, StoreError) as error:  # a failed preparation costs only time: chosen fresh
            logger.warning("preparing the next query failed: %s", error)
            return None
        except Exception:
            logger.exception("preparing the next query failed")
            return None

    def _prepare(self, tab: Tab) -> None:
        """Start preparing the tab's next query (the caller holds the tab's lock)."""
        if tab.annotator is None or tab.shown is None or self._stopping.is_set():
            tab.prepared = None
            return
        annotator, exclude = tab.annotator, self._prepared_points(tab)
        tab.prepared = self._pool.submit(self._prepared_for, annotator, exclude)

    def _prepared_for(self, annotator: str, exclude: set[int]) -> Prepared | None:
        proposals = propose(self.session, annotator, exclude=exclude)
        if not proposals:
            return None
        if self.on_prepared is not None:
            self.on_prepared(proposals[0].point_id)
        return Prepared(annotator, proposals[0], self.service.picture(proposals[0].point_id))

    def _prepared_points(self, tab: Tab) -> set[int]:
        """Points prepared for the other tabs (so two tabs do not prepare the same one)."""
        with self._lock:
            futures = [t.prepared for t in self._tabs.values() if t is not tab and t.prepared is not None]
        points = set()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is None and future.result():
                points.add(future.result().proposal.point_id)
        return points

    def _look_after(self) -> None:
        """Prepare again the live tabs whose prepared query an older model chose; forget tabs long gone.

        Cheap while nothing changes: once every live tab was looked at for the current model
        (none busy answering, none still preparing), the next looks only read the model's version.
        """
        now, current = time.monotonic(), self.session.model.version
        if current == self._settled_version and now - self._forgot_at < FORGET_CHECK_SECONDS:
            return
        with self._lock:
            if now - self._forgot_at >= FORGET_CHECK_SECONDS:
                for token in [t for t, tab in self._tabs.items() if now - tab.seen > FORGET_SECONDS]:
                    del self._tabs[token]
                self._forgot_at = now
            tabs = [tab for tab in self._tabs.values() if now - tab.seen < LIVE_SECONDS]
        settled = True
        for tab in tabs:
            if not tab.lock.acquire(blocking=False):
                settled = False  # a tab that is answering: looked at again until it is done
                continue
            try:
                if _outdated(tab.prepared, current):
                    self._prepare(tab)
                settled = settled and (tab.prepared is None or tab.prepared.done())
            finally:
                tab.lock.release()
        self._settled_version = current if settled else None


def _watch(tabs: weakref.ref, stopping: threading.Event) -> None:
    while not stopping.wait(WATCH_SECONDS):
        alive = tabs()
        if alive is None:
            return
        alive._look_after()
        del alive


def _outdated(future: Future | None, version: int) -> bool:
    """A finished preparation whose point an older model than ``version`` chose."""
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return False
    prepared = future.result()
    return prepared is not None and prepared.proposal.model_version < version
