"""APScheduler jobs: reconcile at the configured frequency, and soon after every SCIM write.

Durable truth lives in the database (generations and the sync ledger), never in APScheduler's
job store: jobs are declared in code at start on the memory store, so a restarted process
simply finds the work that is still due.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connectors.delivery.alert_webhook import AlertWebhook
from reconcile.runner import RunReport
from scheduler import alerts, entra, renewal
from scheduler.composition import Runtime
from scheduler.wakeups import ChangeListener

log = logging.getLogger(__name__)

RECONCILE_JOB = "reconcile"
FULL_RECONCILE_JOB = "full-reconcile"


class Jobs:
    def __init__(
        self, runtime: Runtime, *, debounce_seconds: float = 0.2, listen: bool = False
    ) -> None:
        self._runtime = runtime
        self._debounce = timedelta(seconds=debounce_seconds)
        self._dirty = threading.Event()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone="UTC",
        )
        self.last_report: RunReport | None = None
        self._listener = ChangeListener(runtime.database_engine, self.nudge) if listen else None
        self._troubles = 0
        # while a target or the database is down: no run before this, nudged or not
        self._quiet_until: datetime | None = None
        self._lock = runtime.job_lock
        self._database = runtime.services.database

    def start(self) -> None:
        self._runtime.prepare_worker()
        interval = self.register_reconcile_jobs()
        self._runtime.signals.work_waiting.connect(self.nudge)
        self._runtime.signals.interval_changed.connect(self.set_interval)
        renewal.register(self._scheduler, self._runtime)
        self.register_entra_jobs()
        self._scheduler.start()
        if self._listener is not None:
            self._listener.start()
        log.info("scheduler started", extra={"reconcile_interval_seconds": interval})

    def register_reconcile_jobs(self) -> float:
        """The reconcile job (due at once) and the full reconcile; the interval in seconds."""
        interval = self._runtime.live_settings.reconcile_interval(
            self._runtime.settings.reconcile_interval.total_seconds()
        )
        self._scheduler.add_job(
            self.reconcile,
            IntervalTrigger(seconds=interval),
            id=RECONCILE_JOB,
            replace_existing=True,
            next_run_time=self._now(),  # catch up at once on whatever a previous run left
        )
        self._scheduler.add_job(
            self.full_reconcile,
            CronTrigger.from_crontab(self._runtime.settings.full_reconcile_cron, timezone="UTC"),
            id=FULL_RECONCILE_JOB,
            replace_existing=True,
        )
        return interval

    def register_entra_jobs(self) -> None:
        """The Entra watch (with the Graph settings) and the alert webhook (when configured)."""
        if self._runtime.entra_watch is not None:
            entra.register(
                self._scheduler,
                self._runtime.entra_watch,
                self._lock,
                interval=self._runtime.settings.entra_health_interval,
                first_run=self._now(),
            )
        settings = self._runtime.settings
        if settings.alert_webhook:
            webhook = AlertWebhook(
                settings.alert_webhook,
                settings.alert_webhook_secret.encode(),
                clock=self._runtime.services.clock,
            )
            watch = alerts.AlertWatch(self._runtime, webhook, unavailable=self.unavailable_targets)
            alerts.register(self._scheduler, watch, self._lock, self._now())

    def unavailable_targets(self) -> set[str]:
        """Targets the last reconcile run found unreachable."""
        report = self.last_report
        return {t.target for t in report.targets if t.unavailable} if report else set()

    def shutdown(self) -> None:
        self._runtime.signals.work_waiting.disconnect(self.nudge)
        self._runtime.signals.interval_changed.disconnect(self.set_interval)
        if self._listener is not None:
            self._listener.stop()
        self._scheduler.shutdown(wait=True)

    def _now(self) -> datetime:
        return self._runtime.services.clock()

    def nudge(self) -> None:
        """A SCIM write happened: run soon, but let a burst of writes share one run."""
        self._dirty.set()
        job = self._scheduler.get_job(RECONCILE_JOB)
        if job is None:
            return
        soon = self._now() + self._debounce
        quiet_until = self._quiet_until
        if quiet_until is not None and quiet_until > soon:
            soon = quiet_until  # the outage's backoff holds: writes keep arriving meanwhile
        if job.next_run_time is None or job.next_run_time > soon:
            job.modify(next_run_time=soon)

    def set_interval(self, seconds: float) -> None:
        """The operator changed the provisioning frequency at run time."""
        self._scheduler.reschedule_job(RECONCILE_JOB, trigger=IntervalTrigger(seconds=seconds))
        log.info("reconcile interval changed", extra={"reconcile_interval_seconds": seconds})

    def reconcile(self) -> None:
        """Run until no write arrived during the run, so no nudge is lost to max_instances;
        then wake up again when the earliest retry is due, not only at the next tick."""
        try:
            for _ in range(100):
                self._dirty.clear()
                self._runtime.ledger.release_dead_claims()
                self.last_report = self._runtime.services.metrics.observe_run(
                    self._runtime.reconciler.run_once
                )
                self._database.succeeded()
                if any(t.unavailable for t in self.last_report.targets):
                    self._back_off()
                    return
                self._troubles = 0
                self._quiet_until = None
                log.info("reconcile finished", extra=self._summary(self.last_report))
                if not self._dirty.is_set():
                    break
            wakeup = self._runtime.ledger.next_wakeup()
        except Exception as exc:  # try again soon, never kill the job
            self._failed("reconcile run failed", exc)
            self._back_off()
            return
        if wakeup is not None:
            self._wake_at(max(wakeup, self._now() + self._debounce))

    def _failed(self, event: str, exc: Exception) -> None:
        """An unreachable database is an outage, said once for the whole process (the web app
        shares the record), a busy one a warning line; anything else is a bug, logged with its
        traceback."""
        if self._database.report(exc, event) is None:
            log.error(event, exc_info=exc)

    @staticmethod
    def _summary(report: RunReport) -> dict[str, int]:
        return {
            "applied": report.applied,
            "retrying": sum(t.retrying for t in report.targets),
            "dead": sum(t.dead for t in report.targets),
            "waiting": sum(t.waiting for t in report.targets),
            "held": sum(t.held for t in report.targets),
        }

    def _trouble_backoff(self) -> timedelta:
        """5 s, 10 s, 20 s … up to 5 minutes while a target or the database is down."""
        self._troubles += 1
        return timedelta(seconds=min(300.0, 5.0 * 2 ** (self._troubles - 1)))

    def _back_off(self) -> None:
        """The next run at the backoff, not before, even if a write nudged the job during
        this run (a nudge would otherwise have it run again within a second)."""
        moment = self._now() + self._trouble_backoff()
        self._quiet_until = moment
        job = self._scheduler.get_job(RECONCILE_JOB)
        if job is not None:
            job.modify(next_run_time=moment)

    def _wake_at(self, moment: datetime) -> None:
        job = self._scheduler.get_job(RECONCILE_JOB)
        if job is not None and (job.next_run_time is None or job.next_run_time > moment):
            job.modify(next_run_time=moment)

    def full_reconcile(self) -> None:
        """Drift repair, once at a time across every worker process."""
        try:
            with self._lock.hold(FULL_RECONCILE_JOB) as mine:
                self._full_reconcile(mine)
        except Exception as exc:  # the lock itself needs the database
            self._failed("full reconcile failed", exc)

    def _full_reconcile(self, mine: bool) -> None:
        if not mine:
            log.info("full reconcile skipped: another worker runs it")
            return
        reports = self._runtime.full.run()  # on failure, retried at the next scheduled time
        self.nudge()
        for report in reports:
            if report.orphans_held:
                log.warning("orphans held by the brake", extra={"target": report.target})

    def describe(self) -> list[dict[str, Any]]:
        """Each job and when it runs next. Before the scheduler starts, a job added without a
        first run time has none yet (APScheduler sets the attribute at start)."""
        described = []
        for job in self._scheduler.get_jobs():
            due = getattr(job, "next_run_time", None)
            described.append({"id": job.id, "next_run_time": due.isoformat() if due else None})
        return described
