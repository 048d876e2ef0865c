"""The `loopkeeper` command line."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.app.cli_cases import CASE_EXPORT_FIELDS as CASE_EXPORT_FIELDS  # tests import it from here
from bot.app.cli_cases import list_cases
from bot.app.cli_queues import inbox_app, outbox_app
from bot.app.cli_serve import (
    cannot_listen,
    check_port,
    describe_connections,
    environment_help,
    err,
    out,
    refusals,
    refuse,
)
from bot.app.cli_versions import list_versions
from bot.config.routing import Routing, RoutingError, load_routing
from bot.config.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config.routing import Digest
    from digests.model import WeeklyDigest
    from storage.audit import AuditResult

T = TypeVar("T")

app = typer.Typer(
    help="loopkeeper: flag bad AI outputs in chat, route them to their owners, close the loop.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: typer's rich panels print `<bool>` after every flag.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="Audit trail checks.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")
app.add_typer(inbox_app, name="inbox")

EXAMPLE_ROUTING = "routing.example.yaml"


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "settings"
            err.print(f"{where}: {problem['msg']}: fix it in the environment or .env.")
        raise typer.Exit(1) from None


def _show_version(wanted: bool) -> None:
    if not wanted:
        return
    try:
        version = metadata.version("loopkeeper")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown (not installed)"
    typer.echo(f"loopkeeper {version}")
    raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="print the version"),
    ] = False,
) -> None:
    pass


def _example_text() -> str:
    return resources.files("bot.config").joinpath(EXAMPLE_ROUTING).read_text(encoding="utf-8")


def _print_problems(problems: list[str]) -> None:
    for problem in problems:
        err.print(f"[red]✗[/red] {escape(problem)}", highlight=False)


@app.command("check-config")
def check_config(
    path: Annotated[
        Path | None, typer.Argument(help="routing file (default: $LOOPKEEPER_CONFIG)")
    ] = None,
) -> None:
    """Validate a routing file; print every problem with its location; exit 1 on any."""
    target = path or _settings().config_path
    try:
        routing = load_routing(target)
    except RoutingError as error:
        _print_problems(error.problems)
        err.print(f"{len(error.problems)} problem(s) in {target}")
        raise typer.Exit(1) from None
    out.print(
        f"[green]✓[/green] {target}: {len(routing.systems)} system(s), "
        f"{len(routing.categories)} categories, {len(routing.people)} people"
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the example")] = Path("routing.yaml"),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented example routing file to edit."""
    if path.exists() and not force:
        err.print(f"{path} already exists; use --force to overwrite it")
        raise typer.Exit(1)
    path.write_text(_example_text(), encoding="utf-8")
    out.print(f"Wrote {path}. Edit it, then check it with: loopkeeper check-config {path}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (Alembic)."""
    from storage.connect_errors import upgrade_or_refuse
    from storage.database import redact_url

    settings = _settings()
    _start_logging(settings)  # run as a deploy step (a Helm hook): its lines go to the same log
    with refusals():
        upgrade_or_refuse(settings.database_url)
    out.print(f"Database {redact_url(settings.database_url)} is up to date.")


def _load_routing(settings: Settings, notice: Console, *, refusal: str = "") -> Routing:
    """The routing file, or in development the built-in example when there is none; the
    notice saying so goes to `notice` (stderr where stdout carries rendered output)."""
    path = settings.config_path
    if not path.exists():
        if "config_path" in settings.model_fields_set:  # named, not the default: a typo
            refuse(
                f"{refusal}LOOPKEEPER_CONFIG names {path}, which does not exist: fix the path, "
                f"or write the file with `loopkeeper init {path}`."
            )
        if settings.env == "production":
            err.print(f"No routing file at {path}: set LOOPKEEPER_CONFIG or run `loopkeeper init`.")
            raise typer.Exit(1)
        notice.print(
            f"[yellow]No routing file at {path}[/yellow]: running on the built-in example. "
            f"Run `loopkeeper init` to write it to {path} and edit it, or set LOOPKEEPER_CONFIG."
        )
        from bot.config.routing import parse_routing

        return parse_routing(_example_text(), f"<built-in {EXAMPLE_ROUTING}>")
    try:
        return load_routing(path)
    except RoutingError as error:
        _print_problems(error.problems)
        err.print(f"{refusal}{len(error.problems)} problem(s) in {path}")
        raise typer.Exit(1) from None


@app.command(epilog=environment_help())
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            metavar="HOST", help="listen address, instead of LOOPKEEPER_HOST  [default: 127.0.0.1]"
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT", help="listen port, instead of LOOPKEEPER_PORT  [default: 3000]"
        ),
    ] = None,
) -> None:
    """Run the bot: HTTP routes, Slack (HTTP or Socket Mode), the outbox. Migrates first."""
    settings = _settings()
    if host is not None:
        settings = settings.model_copy(update={"host": host})
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    with refusals():
        check_port(settings.port)
    problems = settings.problems()
    for problem in problems:  # one line each, all of them at once
        err.print(f"Refusing to start in {settings.env} mode: {escape(problem)}.", highlight=False)
    if problems:
        raise typer.Exit(1)
    _start_logging(settings)
    routing = _load_routing(settings, out, refusal="Refusing to start: ")
    with refusals(), _only_process(settings.database_url):
        _migrate_and_serve(settings, routing)


@contextlib.contextmanager
def _only_process(url: str) -> Iterator[None]:
    """SQLite: this process alone, for as long as it serves (bot.app.single_process)."""
    from bot.app.single_process import only_process
    from storage.database import sqlite_file

    database = sqlite_file(url)
    if database is None:
        yield
        return
    with only_process(database):
        yield


def _migrate_and_serve(settings: Settings, routing: Routing) -> None:
    from storage.connect_errors import upgrade_or_refuse
    from storage.database import redact_url

    upgrade_or_refuse(settings.database_url)
    out.print(f"Database {redact_url(settings.database_url)} migrated.")
    asyncio.run(_serve(settings, routing))


def _start_logging(settings: Settings) -> None:
    from bot.app.logging_setup import configure_logging, console_to_log

    configure_logging(settings)
    if settings.log_format == "json":  # the start-up lines too: every line one JSON object
        console_to_log(out)


async def _serve(settings: Settings, routing: Routing) -> None:
    from aiohttp import web

    from bot.app.main import build_runtime
    from handlers.request_context import access_log_options

    runtime = await build_runtime(settings, routing)
    runner = web.AppRunner(runtime.web_app, **access_log_options(settings.access_log == "on"))
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        await runtime.close()
        raise cannot_listen(settings.host, settings.port, error) from None
    await runtime.start_background()
    base = f"http://{settings.host}:{settings.port}"
    out.print(f"loopkeeper is listening on {base} ({len(routing.systems)} AI system(s) routed)")
    describe_connections(settings, base)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        out.print("Shutting down…")
        await runner.cleanup()
        await runtime.close()


# --- reading the database: `cases`, `audit verify` ---------------------------------------------


# `cases` lives in bot/app/cli_cases.py; registered here, in its place in --help.
app.command("cases")(list_cases)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain of every case's timeline; exit 1 if any entry was altered."""
    from storage.audit import verify_chain

    result: AuditResult = _on_database(_settings().database_url, verify_chain)
    if result.first_broken is None:
        out.print(
            f"[green]✓[/green] {_plural(result.entries, 'timeline entry', 'timeline entries')} "
            f"in {_plural(result.cases, 'case', 'cases')} verified",
            highlight=False,
            soft_wrap=True,
        )
        return
    out.print(
        f"[red]✗[/red] {escape(result.first_broken.describe())}", highlight=False, soft_wrap=True
    )
    err.print(
        f"{result.broken} of {_plural(result.entries, 'timeline entry', 'timeline entries')} "
        f"in {_plural(result.cases, 'case', 'cases')} failed verification.",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _on_database(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on a migrated database; a missing or outdated one is an error, not a trace."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.connect_errors import explain_failure, url_problem
    from storage.database import create_engine, redact_url, sqlite_file
    from storage.migrate import current_revision, head_revision

    problem = url_problem(url)
    if problem is not None:
        refuse(problem)
    shown = redact_url(url)
    file = sqlite_file(url)
    if file is not None and not file.exists():
        refuse(f"No database at {shown}: check LOOPKEEPER_DATABASE_URL.")

    async def run() -> T:
        engine = create_engine(url)
        try:
            revision = await current_revision(engine)
            if revision != head_revision():
                at = f"is at revision {revision}" if revision else "has no loopkeeper tables"
                err.print(
                    f"Database {escape(shown)} {at}; this loopkeeper needs {head_revision()}. "
                    "Run `loopkeeper db upgrade`."
                )
                raise typer.Exit(1)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, SQLAlchemyError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        refuse(explain_failure(error, url) or f"Cannot read database {shown}: {first}")


# --- the weekly digest: `digest`, `demo` -------------------------------------------------------


class DigestFormat(enum.StrEnum):
    markdown = "markdown"
    json = "json"
    html = "html"


def _chosen_digest(routing: Routing, name: str | None) -> Digest:
    from bot.config.routing import Digest, DigestSchedule

    if name is not None:
        for digest in routing.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in routing.digests) or "none"
        err.print(f"No digest named '{escape(name)}' in the routing file (digests: {known}).")
        raise typer.Exit(1)
    if routing.digests:
        return routing.digests[0]
    err.print("The routing file has no `digests:`; showing all systems, weeks in UTC.")
    return Digest(
        name="weekly",
        schedule=DigestSchedule(day="mon", time="09:00", timezone="UTC"),
        systems="all",
    )


@app.command("digest")
def digest_command(
    week: Annotated[
        str | None,
        typer.Option(
            help="ISO week, e.g. 2026-W07 (default: the last full week in the digest's time zone)"
        ),
    ] = None,
    output_format: Annotated[
        DigestFormat, typer.Option("--format", help="markdown, json or html (with the chart)")
    ] = DigestFormat.markdown,
    name: Annotated[
        str | None, typer.Option("--name", help="which `digests:` entry (default: the first)")
    ] = None,
    post: Annotated[
        bool, typer.Option("--post", help="send it to the digest's channels instead of printing")
    ] = False,
) -> None:
    """Render the weekly digest: what went wrong, what is trending, who responded, what next."""
    from digests.week import IsoWeek

    settings = _settings()
    routing = _load_routing(settings, err)
    digest = _chosen_digest(routing, name)
    now = datetime.now(UTC)
    try:
        zone = digest.schedule.timezone
        chosen = IsoWeek.parse(week) if week else IsoWeek.last_full_week(now, zone)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--week") from None
    teams_connected = settings.teams_enabled and settings.microsoft_app_id
    if post and not (settings.slack_enabled or teams_connected):
        err.print("Cannot post: connect Slack or Teams first (see README → Connect to Slack).")
        raise typer.Exit(1)

    async def work(engine: AsyncEngine) -> str:
        from digests.aggregate import WeekNotStarted, build_digest
        from storage.digest_reads import SqlDigestReads

        try:
            if post:
                from digests.post import post_digest

                return await post_digest(settings, routing, digest, chosen)
            weekly = await build_digest(SqlDigestReads(engine), routing, digest, chosen, now)
        except WeekNotStarted as error:
            err.print(escape(str(error)), highlight=False)
            raise typer.Exit(2) from None
        return _render_digest(weekly, output_format)

    result = _on_database(settings.database_url, work)
    if post:
        out.print(escape(result), highlight=False)
    else:
        typer.echo(result, nl=not result.endswith("\n"))


def _render_digest(weekly: WeeklyDigest, output_format: DigestFormat) -> str:
    if output_format is DigestFormat.json:
        from digests.render_json import render_json

        return render_json(weekly) + "\n"
    if output_format is DigestFormat.html:
        from digests.render_html import render_html

        chart = None
        if not weekly.quiet:
            from digests.chart import render_chart

            chart = render_chart(weekly)
        return render_html(weekly, chart_png=chart)
    from digests.render_markdown import render_markdown

    return render_markdown(weekly)


@app.command()
def demo(
    weeks: Annotated[
        int, typer.Option(min=1, max=52, help="how many full weeks of feedback, up to last week")
    ] = 8,
    yes: Annotated[
        bool, typer.Option("--yes", help="replace the demo data already in the database")
    ] = False,
) -> None:
    """Seed weeks of realistic, clearly marked demo feedback into the local database."""
    from sqlalchemy.exc import SQLAlchemyError

    from digests.demo import DemoSummary, delete_demo, demo_case_count, seed_demo
    from digests.history import ReplayClock
    from storage.connect_errors import upgrade_or_refuse
    from storage.database import create_engine, redact_url
    from storage.demo_data import SqlDemoData
    from storage.repository import SqlCaseStore

    settings = _settings()
    if settings.env == "production":
        err.print("Refusing to seed demo data with LOOPKEEPER_ENV=production.")
        raise typer.Exit(1)
    routing = _load_routing(settings, err)
    timezone = routing.digests[0].schedule.timezone if routing.digests else "UTC"
    shown = redact_url(settings.database_url)
    with refusals():
        upgrade_or_refuse(settings.database_url)

    async def run() -> tuple[int, int, DemoSummary | None]:
        engine = create_engine(settings.database_url)
        clock = ReplayClock()
        store = SqlCaseStore(engine, clock=clock)
        try:
            existing = await demo_case_count(SqlDemoData(engine))
            if existing and not yes:
                return existing, 0, None
            removed = await delete_demo(SqlDemoData(engine)) if existing else 0
            summary = await seed_demo(
                store, clock, routing, now=datetime.now(UTC), tz=timezone, weeks=weeks
            )
            return existing, removed, summary
        finally:
            await store.close()

    try:
        existing, removed, summary = asyncio.run(run())
    except (OSError, SQLAlchemyError) as error:
        err.print(f"Cannot write demo data to {escape(shown)}: {escape(str(error))}")
        raise typer.Exit(1) from None
    if summary is None:
        err.print(
            f"{escape(shown)} already holds {_plural(existing, 'demo case', 'demo cases')}. "
            "Run `loopkeeper demo --yes` to replace them."
        )
        raise typer.Exit(1)
    if removed:
        out.print(f"Removed {_plural(removed, 'earlier demo case', 'earlier demo cases')}.")
    out.print(
        f"Seeded {_plural(summary.cases, 'demo case', 'demo cases')} with "
        f"{_plural(summary.reports, 'report', 'reports')} on "
        f"{_plural(summary.systems, 'AI system', 'AI systems')} over "
        f"{_plural(weeks, 'week', 'weeks')} ({summary.first_week} to {summary.last_week}) "
        f"into {escape(shown)}. Try: loopkeeper digest",
        highlight=False,
    )


app.command("versions")(list_versions)  # bot/app/cli_versions.py

# --- Teams: the app package ---------------------------------------------------------------------


@app.command("teams-package")
def teams_package(
    app_id: Annotated[
        str | None,
        typer.Option("--app-id", help="Microsoft app id of the bot (default: $MICROSOFT_APP_ID)"),
    ] = None,
    out_path: Annotated[
        Path, typer.Option("--out", help="where to write the zip (default: ./loopkeeper-teams.zip)")
    ] = Path("loopkeeper-teams.zip"),
) -> None:
    """Write the Teams app package (manifest.json + icons) with the bot's app id filled in."""
    from handlers.teams.app_package import is_app_id, write_package

    chosen = app_id or _settings().microsoft_app_id
    if not chosen:
        err.print(
            "No app id: pass --app-id or set MICROSOFT_APP_ID to the bot's Microsoft app id "
            "(Azure Bot → Configuration). See deploy/teams/README.md."
        )
        raise typer.Exit(1)
    if not is_app_id(chosen):
        err.print(f"'{escape(chosen)}' is not a Microsoft app id: it must be a GUID.")
        raise typer.Exit(1)
    written = write_package(chosen, out_path)
    out.print(
        f"Wrote {escape(str(written))} for app {chosen}. Upload it in Teams: "
        "Apps → Manage your apps → Upload an app.",
        highlight=False,
    )


def main() -> None:
    app()
