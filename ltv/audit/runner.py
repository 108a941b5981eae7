"""Examine and judge an archive in parallel; results into the one local store.

The parent process walks the inputs, reads each file and hashes it, looks its facts up in the
store, and hands *batches* to workers: the file's bytes when it must be examined, its stored
facts (codec JSON) when they are known. Workers — a process pool (``--jobs``) or a Dask
cluster (``--dask``) running the same :func:`process_batch` — examine (stages 1-3a) when needed,
judge (stages 0, 3-6) with a :class:`~ltv.audit.cache.JudgementCache` kept for the worker's
life, and send back plain rows. The parent commits each batch's rows in one transaction.

- Resumable: a run killed at any moment (SIGKILL) resumes from its committed files — the same
  command finds the unfinished run with the same configuration and skips what it holds.
- Ctrl-C (SIGINT): no new batch is started, the batches in flight finish and are committed,
  the run is marked ``interrupted`` (:class:`Interrupted`); a second Ctrl-C stops at once
  (what is committed stays committed).
- Memory stays flat: at most ``2 x workers`` batches are in flight, the caches are bounded,
  and nothing per document is kept in the parent beyond its path.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ltv.audit.store import FactsRow, FileRow, SignatureRow

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ltv.audit.cache import JudgementCache
    from ltv.audit.store import AuditStore, Run
    from ltv.audit.walk import Entry
    from ltv.evidence.http import Transport
    from ltv.policy import ValidationPolicy
    from ltv.report import Report

__all__ = [
    "AuditConfig",
    "Interrupted",
    "RunResult",
    "WorkItem",
    "process_batch",
    "run_audit",
]

_log = logging.getLogger("ltv.audit")

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
"""Recorded as the content hash of a file that could not be read at all."""

BATCH_COST = 8.0
"""Work per batch, in 'examinations' (a judgement from stored facts costs about 1/20)."""
BATCH_BYTES = 16 * 1024 * 1024
BATCH_ITEMS = 48
"""At most this many files a batch: judgements from stored facts are cheap, and a few large
batches would leave a worker idle at the end of the run."""
JUDGE_COST = 0.05


@dataclass(frozen=True)
class AuditConfig:
    """Everything a worker needs besides the documents (sent with each batch; picklable)."""

    policy: ValidationPolicy
    now: datetime
    at: datetime | None
    connect_to: dict[str, tuple[str, int]] = field(default_factory=dict)
    timeout: float = 10.0
    store: str | None = None
    """The store's path, for workers that can read it: evidence checks and chains of earlier
    runs (None: a Dask cluster, or ``--reexamine``)."""
    made_by: str = ""
    """``ltv.audit.store.producer()``: stored checks are re-used only by the same code."""


@dataclass(frozen=True)
class WorkItem:
    label: str
    sha256: str
    size: int
    data: bytes | None = None
    """The file's bytes, when its facts must be derived (examined)."""
    facts: str | None = None
    """Its stored facts (codec JSON), when known."""
    error: str | None = None
    """Why it cannot be evaluated (stored, or the file could not be read)."""
    store_error: bool = False
    """Whether ``error`` is a fact of the content (to store) rather than of this reading."""


@dataclass
class BatchResult:
    files: list[FileRow]
    facts: list[FactsRow]
    stale: list[str]
    """Labels whose stored facts could not be used (send again with the bytes)."""
    timings: dict[str, float]
    worker: str
    cache: dict[str, dict[str, int]]
    peak_rss: int = 0
    """The worker process's peak RSS so far (bytes)."""
    checks: list[tuple[str, bytes, bytes, bytes, str]] = field(default_factory=list)
    """Evidence checks made for this batch (kind, evidence, cert, issuer digests, outcome)."""
    chains: list[tuple[bytes, bytes, str, str, bool, str, str]] = field(default_factory=list)
    """Chains validated for this batch (leaf, anchors, purpose, path, anchor, window)."""


# -- the worker side ---------------------------------------------------------------------------

_local = threading.local()


def _worker_state(config: AuditConfig | None = None) -> tuple[JudgementCache, dict[str, Any]]:
    """This thread's caches (one per store it judges for) and HTTP clients."""
    states: dict[tuple[str | None, str], tuple[JudgementCache, dict[str, Any]]] | None = getattr(
        _local, "states", None
    )
    if states is None:
        from ltv.audit import speedups
        from ltv.verify import keep_library_logs_off_stderr

        keep_library_logs_off_stderr()
        speedups.install()  # equivalent, faster hex strings (ltv.audit.speedups)
        states = _local.states = {}
    key = (config.store, config.made_by) if config is not None else (None, "")
    state = states.get(key)
    if state is None:
        from ltv.audit.cache import JudgementCache

        backing = None
        if config is not None and config.store is not None:
            from ltv.audit.store import StoreReader

            backing = StoreReader(config.store, config.made_by)
        state = states[key] = (JudgementCache(backing=backing), {})
    return state


def _transport(config: AuditConfig, clients: dict[str, Any]) -> Transport:
    from ltv.evidence.http import HttpClient, NoNetwork, Session
    from ltv.policy import Online

    if config.policy.online is Online.NEVER:
        return NoNetwork()
    key = repr((sorted(config.connect_to.items()), config.timeout))
    client = clients.get(key)
    if client is None:
        client = clients[key] = HttpClient(timeout=config.timeout, connect_to=config.connect_to)
    return Session(client, budget=30.0)


def _internal(err: BaseException) -> str:
    why = " ".join(str(err).split())[:200] or "no message"
    return (
        f"could not be evaluated: internal error {type(err).__name__}: {why} "
        "(please report it, with the file if you can)"
    )


def signature_rows(report: Report) -> tuple[SignatureRow, ...]:
    rows = []
    for i, s in enumerate(report.signatures):
        tsa = s.timestamp.tsa if s.timestamp is not None and s.timestamp.tsa else None
        if tsa is None and s.kind == "document-timestamp" and s.signer is not None:
            tsa = s.signer.subject
        rows.append(
            SignatureRow(
                idx=i,
                field=s.field,
                kind=s.kind,
                indication=s.indication.value,
                subindication=None if s.subindication is None else s.subindication.value,
                level=None if s.level is None else s.level.value,
                ltv_enabled=s.ltv_enabled,
                signer=s.signer.subject if s.signer is not None else None,
                signer_ca=s.signer.issuer
                if s.signer is not None and s.kind == "signature"
                else None,
                tsa=tsa,
                validation_time=_rfc(s.validation_time),
                time_source=s.validation_time_source.value,
                reasons=s.reasons,
            )
        )
    return tuple(rows)


def _rfc(moment: datetime) -> str:
    from ltv.report import rfc3339

    return rfc3339(moment) or ""


def file_row(report: Report, *, examined: bool, tsa_evidence: bool) -> FileRow:
    from ltv.audit.summary import protection_until

    due = protection_until(report, tsa_evidence=tsa_evidence)
    return FileRow(
        path=report.file.path,
        sha256=report.file.sha256,
        size=report.file.bytes,
        indication=report.indication.value,
        error=report.error,
        due=None if due is None else _rfc(due),
        examined=examined,
        report=json.dumps(report.to_dict(), ensure_ascii=False, separators=(",", ":")),
        signatures=signature_rows(report),
    )


async def _process(config: AuditConfig, items: Sequence[WorkItem]) -> BatchResult:
    from ltv._boundary import library_fault  # noqa: F401 - warm import for the pipeline
    from ltv.audit.codec import CodecError, decode_facts, encode_facts
    from ltv.errors import LtvError
    from ltv.pipeline.facts import DocumentFacts
    from ltv.pipeline.run import build_report, examine, judge, unevaluable_report

    cache, clients = _worker_state(config)
    policy = config.policy
    tsa_evidence = policy.tsa_revocation_required
    files: list[FileRow] = []
    facts_rows: list[FactsRow] = []
    stale: list[str] = []
    timings = {"examine": 0.0, "decode": 0.0, "judge": 0.0, "report": 0.0, "encode": 0.0}
    clock = time.perf_counter

    def unevaluable(item: WorkItem, message: str, examined: bool) -> None:
        report = unevaluable_report(
            path=item.label,
            sha256=item.sha256,
            size=item.size,
            policy=policy,
            now=config.now,
            message=message,
        )
        files.append(file_row(report, examined=examined, tsa_evidence=tsa_evidence))

    for item in items:
        if item.error is not None:
            if item.store_error:
                facts_rows.append(FactsRow(item.sha256, item.size, None, item.error))
            unevaluable(item, item.error, item.data is not None)
            continue
        facts: DocumentFacts | None = None
        examined = False
        t0 = clock()
        if item.facts is not None:
            try:
                facts = decode_facts(item.facts, sha256=item.sha256)
            except CodecError as err:
                _log.info("%s: stored facts not used (%s)", item.label, err)
                stale.append(item.label)
                continue
            timings["decode"] += clock() - t0
        elif item.data is not None:
            examined = True
            try:
                facts = examine(item.data)
            except LtvError as err:  # not a readable PDF: a fact of these bytes
                timings["examine"] += clock() - t0
                facts_rows.append(FactsRow(item.sha256, item.size, None, err.message))
                unevaluable(item, err.message, True)
                continue
            except Exception as err:  # an ltv bug met on this file: reported, never stored
                _log.exception("internal error while examining %s", item.label)
                unevaluable(item, _internal(err), True)
                continue
            t1 = clock()
            timings["examine"] += t1 - t0
            facts_rows.append(FactsRow(item.sha256, item.size, encode_facts(facts), None))
            timings["encode"] += clock() - t1
        else:  # pragma: no cover - the parent always sends one of them
            raise ValueError(f"{item.label}: neither facts nor bytes")
        t2 = clock()
        session = _transport(config, clients)
        try:
            signatures = await judge(
                facts,
                policy,
                now=config.now,
                at=config.at,
                transport=session,
                cache=cache,
            )
        except LtvError as err:
            unevaluable(item, err.message, examined)
            continue
        except Exception as err:
            _log.exception("internal error while judging %s", item.label)
            unevaluable(item, _internal(err), examined)
            continue
        t3 = clock()
        timings["judge"] += t3 - t2
        report = build_report(
            path=item.label,
            facts=facts,
            signatures=signatures,
            policy=policy,
            now=config.now,
            urls=[e.url for e in getattr(session, "exchanges", ())],
        )
        files.append(file_row(report, examined=examined, tsa_evidence=tsa_evidence))
        timings["report"] += clock() - t3
    fresh_checks, fresh_chains = cache.take_fresh()
    return BatchResult(
        files=files,
        facts=facts_rows,
        stale=stale,
        timings=timings,
        worker=f"{os.getpid()}/{threading.get_ident()}",
        cache=cache.stats(),
        peak_rss=peak_rss(),
        checks=[(*key, _outcome_json(outcome)) for key, outcome in fresh_checks],
        chains=[
            (
                *key,
                json.dumps([base64.b64encode(d).decode("ascii") for d in chain.path]),
                chain.anchor_included,
                chain.not_before.isoformat(),
                chain.not_after.isoformat(),
            )
            for key, chain in fresh_chains
        ],
    )


def peak_rss() -> int:
    """This process's peak resident set size, bytes. Linux: ``VmHWM`` (reset by exec, unlike
    ``ru_maxrss``, which keeps the high-water mark of the process that forked us)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB here
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _outcome_json(outcome: Any) -> str:
    from dataclasses import replace

    from ltv.audit.codec import encode_value

    return encode_value(replace(outcome, raw=None))  # the evidence itself is in the facts


def process_batch(config: AuditConfig, items: Sequence[WorkItem]) -> BatchResult:
    """Examine (when needed) and judge a batch: what every worker runs (pool or Dask)."""
    return asyncio.run(_process(config, items))


def _watch_parent() -> None:
    """A pool worker whose parent died (SIGKILL) exits instead of lingering: it waits on the
    parent's sentinel, a pipe the parent holds (closed by the kernel when it dies)."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    parent.join()
    os._exit(1)


WORKER_MODULES = ("ltv.pipeline.run", "pyhanko.sign.validation.generic_cms")
"""What every batch needs, imported by each worker as it starts."""


def _pool_worker_init() -> None:
    from ltv._imports import defer_pyhanko_sign_init

    defer_pyhanko_sign_init()  # as the CLI does: path validation without pyHanko's signers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    threading.Thread(target=_watch_parent, daemon=True).start()
    _worker_state()
    # Loaded while the parent walks the archive (the pool starts first), not in the middle of
    # the first batch.
    import importlib
    from multiprocessing import util

    for name in WORKER_MODULES:
        importlib.import_module(name)

    # A worker's last act after the pool tells it to stop: leave without tearing down its heap
    # object by object (~0.1 s the parent would wait for). Its results are sent by then, its
    # store connection is read-only, and it holds no other resource.
    util.Finalize(None, _leave, exitpriority=-1000)


def _leave() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _warm() -> None:
    """A no-op task: submitting one per worker starts them all at once."""


# -- executors ----------------------------------------------------------------------------------


class _Executor:
    """The little both backends share: submit a batch, wait for some to finish."""

    slots: int

    def submit(self, config: AuditConfig, items: list[WorkItem]) -> Any:
        raise NotImplementedError

    def wait(self, pending: set[Any], timeout: float) -> tuple[set[Any], set[Any]]:
        raise NotImplementedError

    def result(self, future: Any) -> BatchResult:
        raise NotImplementedError

    def close(self, *, cancel: bool, wait: bool = True) -> None:
        raise NotImplementedError


class _InlineExecutor(_Executor):
    """``--jobs 1``: the batches run in this process, one after another (no pool to start)."""

    slots = 1

    def submit(self, config: AuditConfig, items: list[WorkItem]) -> Future[BatchResult]:
        from concurrent.futures import Future

        future: Future[BatchResult] = Future()
        try:
            future.set_result(process_batch(config, items))
        except Exception as err:  # an ltv bug: raised again by result(), as from a pool
            future.set_exception(err)
        return future

    def wait(self, pending: set[Any], timeout: float) -> tuple[set[Any], set[Any]]:
        return set(pending), set()

    def result(self, future: Any) -> BatchResult:
        result: BatchResult = future.result()
        return result

    def close(self, *, cancel: bool, wait: bool = True) -> None:
        return None


class _PoolExecutor(_Executor):
    def __init__(self, jobs: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.slots = jobs * 2
        # spawn: never a plain fork of this process (it may hold threads). (A fork server,
        # importing once for both workers, was measured slower: the first worker's start
        # waits for the server's imports, and so does the parent.)
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_pool_worker_init
        )
        for _ in range(jobs):  # start every worker now, not at the first batches
            self.pool.submit(_warm)

    def submit(self, config: AuditConfig, items: list[WorkItem]) -> Future[BatchResult]:
        return self.pool.submit(process_batch, config, items)

    def wait(self, pending: set[Any], timeout: float) -> tuple[set[Any], set[Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, rest = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    def result(self, future: Any) -> BatchResult:
        result: BatchResult = future.result()
        return result

    def close(self, *, cancel: bool, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel)


class _DaskExecutor(_Executor):
    def __init__(self, address: str, timeout: float) -> None:
        from ltv.errors import UsageError

        try:
            import distributed
        except ImportError:
            raise UsageError(
                "--dask needs the 'distributed' package",
                hint="pip install 'ltv[dask]'",
            ) from None
        try:
            dd: Any = distributed  # untyped
            self.client: Any = dd.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise UsageError(
                f"--dask {address}: cannot reach the scheduler ({err})",
                hint="give the address of a running dask scheduler, e.g. tcp://host:8786",
            ) from None
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
        self.slots = threads * 2

    def submit(self, config: AuditConfig, items: list[WorkItem]) -> Any:
        return self.client.submit(process_batch, config, items, pure=False)

    def wait(self, pending: set[Any], timeout: float) -> tuple[set[Any], set[Any]]:
        # (distributed.wait needs a default client; this one is private to the run)
        deadline = time.monotonic() + timeout
        while True:
            done = {f for f in pending if f.done()}
            if done or time.monotonic() >= deadline:
                return done, pending - done
            time.sleep(0.01)

    def result(self, future: Any) -> BatchResult:
        result: BatchResult = future.result()
        return result

    def close(self, *, cancel: bool, wait: bool = True) -> None:
        self.client.close()


# -- the parent ---------------------------------------------------------------------------------


class Interrupted(Exception):
    """The run stopped on Ctrl-C; what was done is committed."""

    def __init__(self, run: Run, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} files")
        self.run = run
        self.done = done
        self.total = total


@dataclass
class RunResult:
    run: Run
    done_now: int
    """Files committed by this invocation."""
    already: int
    """Files the run already held (resumed)."""
    stats: dict[str, Any]


ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``: called after each committed batch."""


@dataclass
class _Stats:
    started: float = field(default_factory=time.perf_counter)
    read: float = 0.0
    lookup: float = 0.0
    commit: float = 0.0
    wait: float = 0.0
    worker: dict[str, float] = field(default_factory=dict)
    caches: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    examined: int = 0
    reused: int = 0
    batches: int = 0
    worker_rss: dict[str, int] = field(default_factory=dict)

    def add(self, result: BatchResult) -> None:
        process = result.worker.split("/")[0]
        self.worker_rss[process] = max(self.worker_rss.get(process, 0), result.peak_rss)
        for key, value in result.timings.items():
            self.worker[key] = self.worker.get(key, 0.0) + value
        self.caches[result.worker] = result.cache
        self.examined += sum(1 for f in result.files if f.examined)
        self.reused += sum(1 for f in result.files if not f.examined)
        self.batches += 1

    def as_dict(self, **extra: Any) -> dict[str, Any]:
        totals: dict[str, dict[str, int]] = {}
        for per_worker in self.caches.values():
            for name, figures in per_worker.items():
                into = totals.setdefault(name, {"hits": 0, "misses": 0, "entries": 0})
                for key, value in figures.items():
                    into[key] = into.get(key, 0) + value
        return {
            "elapsed_s": round(time.perf_counter() - self.started, 3),
            "parent_s": {
                "read_and_hash": round(self.read, 3),
                "facts_lookup": round(self.lookup, 3),
                "commit": round(self.commit, 3),
                "waiting_for_workers": round(self.wait, 3),
            },
            "worker_s": {k: round(v, 3) for k, v in sorted(self.worker.items())},
            "caches": totals,
            "workers": len(self.caches),
            "batches": self.batches,
            "examined": self.examined,
            "reused": self.reused,
            "peak_rss_bytes": {
                "parent": peak_rss(),
                "workers_max": max(self.worker_rss.values(), default=0),
            },
            **extra,
        }


class _SigintFlag:
    """First Ctrl-C: set the flag (finish what is in flight); second: KeyboardInterrupt."""

    def __init__(self) -> None:
        self.set = False
        self._previous: Any = None

    def __enter__(self) -> _SigintFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _items(
    entries: Sequence[Entry],
    store: AuditStore,
    stats: _Stats,
    *,
    reexamine: bool,
    examining: set[str],
    deferred: list[Entry],
) -> Iterator[tuple[WorkItem, float]]:
    """Read and hash each entry, look its facts up: (work item, its cost). A file whose content
    is being examined already in this run (a copy, a renamed file) is ``deferred``: it is
    judged from the stored facts once they are committed, never parsed twice."""
    from ltv.audit.codec import CODEC_VERSION
    from ltv.audit.walk import Unreadable, digest, read_entry
    from ltv.pipeline.facts import FACTS_VERSION

    for entry in entries:
        t0 = time.perf_counter()
        try:
            data = read_entry(entry)
        except Unreadable as err:
            stats.read += time.perf_counter() - t0
            yield WorkItem(entry.label, EMPTY_SHA256, 0, error=str(err)), JUDGE_COST
            continue
        sha256 = digest(data)
        t1 = time.perf_counter()
        stats.read += t1 - t0
        if sha256 in examining:
            deferred.append(entry)
            continue
        stored = None
        if not reexamine:
            stored = store.facts(sha256, codec=CODEC_VERSION, facts_version=FACTS_VERSION)
        stats.lookup += time.perf_counter() - t1
        if stored is not None and stored.error is not None:
            yield WorkItem(entry.label, sha256, len(data), error=stored.error), JUDGE_COST
        elif stored is not None and stored.facts is not None:
            yield WorkItem(entry.label, sha256, len(data), facts=stored.facts), JUDGE_COST
        else:
            examining.add(sha256)
            yield WorkItem(entry.label, sha256, len(data), data=data), 1.0


def _batches(items: Iterator[tuple[WorkItem, float]]) -> Iterator[list[WorkItem]]:
    batch: list[WorkItem] = []
    cost = 0.0
    size = 0
    for item, item_cost in items:
        batch.append(item)
        cost += item_cost
        size += len(item.data or b"") + len(item.facts or "")
        if cost >= BATCH_COST or size >= BATCH_BYTES or len(batch) >= BATCH_ITEMS:
            yield batch
            batch, cost, size = [], 0.0, 0
    if batch:
        yield batch


def start_workers(jobs: int, dask: str | None = None, timeout: float = 10.0) -> _Executor:
    """The workers of a run, started now (``--jobs`` processes importing what they need while
    the caller walks the archive; or the Dask client). Give it to :func:`run_audit`, which
    closes it; :meth:`_Executor.close` it yourself if the run does not start."""
    if dask:
        return _DaskExecutor(dask, timeout)
    if jobs == 1:
        return _InlineExecutor()
    return _PoolExecutor(jobs)


def run_audit(
    entries: Sequence[Entry],
    store: AuditStore,
    run: Run,
    config: AuditConfig,
    *,
    jobs: int,
    dask: str | None = None,
    progress: ProgressFn | None = None,
    reexamine: bool = False,
    extra_stats: dict[str, Any] | None = None,
    workers: _Executor | None = None,
) -> RunResult:
    """Audit ``entries`` into ``run``; :class:`Interrupted` on Ctrl-C (after committing).

    Phases: every file not yet in the run; then the copies of contents that were being
    examined (judged from the facts just stored); then files whose stored facts could not be
    decoded (examined again)."""
    from ltv import __version__

    done_before = store.done_paths(run.id)
    todo = [e for e in entries if e.label not in done_before]
    total = len(entries)
    already = total - len(todo)
    stats = _Stats()
    store.mark_running(run.id)
    by_label = {e.label: e for e in todo}
    examining: set[str] = set()
    deferred: list[Entry] = []
    stale: list[Entry] = []
    done_now = 0
    interrupted = False
    if progress is not None:
        progress(already, total)
    executor = workers if workers is not None else start_workers(jobs, dask, config.timeout)
    hard_stop = False
    try:
        with _SigintFlag() as sigint:
            pending: set[Any] = set()
            sources = _batches(
                _items(
                    todo,
                    store,
                    stats,
                    reexamine=reexamine,
                    examining=examining,
                    deferred=deferred,
                )
            )
            while True:
                while not sigint.set and len(pending) < executor.slots:
                    batch = next(sources, None)
                    if batch is None:
                        break
                    pending.add(executor.submit(config, batch))
                if not pending:
                    if sigint.set:
                        break
                    # the next phase starts when everything before it is committed
                    if deferred:
                        phase, deferred[:] = list(deferred), []
                        examining.clear()
                        sources = _batches(
                            _items(
                                phase,
                                store,
                                stats,
                                reexamine=False,
                                examining=examining,
                                deferred=deferred,
                            )
                        )
                        continue
                    if stale:
                        phase, stale[:] = list(stale), []
                        sources = _batches(
                            _items(
                                phase,
                                store,
                                stats,
                                reexamine=True,
                                examining=examining,
                                deferred=deferred,
                            )
                        )
                        continue
                    break
                t0 = time.perf_counter()
                finished, pending = executor.wait(pending, timeout=0.25)
                stats.wait += time.perf_counter() - t0
                for future in finished:
                    result = executor.result(future)
                    t1 = time.perf_counter()
                    store.commit_batch(
                        run.id,
                        result.facts,
                        result.files,
                        ltv_version=__version__,
                        checks=result.checks,
                        chains=result.chains,
                        made_by=config.made_by,
                    )
                    stats.commit += time.perf_counter() - t1
                    stats.add(result)
                    stale.extend(by_label[label] for label in result.stale)
                    done_now += len(result.files)
                    if progress is not None:
                        progress(already + done_now, total)
            interrupted = sigint.set
    except KeyboardInterrupt:
        hard_stop = True
        raise
    finally:
        with contextlib.suppress(Exception):
            executor.close(cancel=True, wait=not hard_stop)
    final = stats.as_dict(**(extra_stats or {}))
    store.finish_run(run.id, status="interrupted" if interrupted else "complete", stats=final)
    finished_run = store.run(run.id) or run
    if interrupted:
        raise Interrupted(finished_run, already + done_now, total)
    return RunResult(run=finished_run, done_now=done_now, already=already, stats=final)
