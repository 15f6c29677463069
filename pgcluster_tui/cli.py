"""argv -> Settings -> one command, with exit codes: 0 ok, 1 check failed, 2 error."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from pgcluster_tui import __version__
from pgcluster_tui.core.text import visible
from pgcluster_tui.headless import EXIT_ERROR, CommandError
from pgcluster_tui.keymap import keymap_problem
from pgcluster_tui.pg.errors import conninfo_is_valid
from pgcluster_tui.runtime import LONG_RUNNING, short_run, tune_for_long_runs
from pgcluster_tui.serve.http import DEFAULT_LISTEN, parse_listen
from pgcluster_tui.settings import Settings, SettingsError, env_file_warnings, load_settings

PROG = "pgcluster-tui"
COMMANDS = ("watch", "nodes", "check", "announce", "channel", "census", "doctor", "serve")
NEED_DATABASE = ("nodes", "check", "announce", "census", "doctor")
"""Commands whose answer would mean nothing on a throwaway embedded server."""


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("connection and cluster")
    group.add_argument("--dsn", default=default, help="PostgreSQL URI or conninfo (a secret)")
    group.add_argument("--channel", default=default, help="LISTEN/NOTIFY channel, verbatim")
    group.add_argument("--cookie", default=default, help="Erlang cookie to derive the channel from")
    group.add_argument("--node", default=default, help="our node name (name@host)")
    group.add_argument("--interval", type=float, default=default, help="heartbeat interval, s")
    group.add_argument(
        "--heartbeat",
        action=argparse.BooleanOptionalAction,
        default=default,
        help="send our node name every interval (a full peer)",
    )
    group.add_argument(
        "--reveal-channel",
        action="store_true",
        default=default,
        help="show a channel derived from the cookie (it is the cookie) instead of masking it",
    )
    group.add_argument("--env-file", type=Path, default=default, help="read settings from a file")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: the dashboard by default, or one headless command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Watch and join the PostgreSQL channel libcluster_postgres clusters use.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--demo", type=int, default=0, metavar="N", help="dashboard: add N simulated peers"
    )
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    watch = sub.add_parser("watch", help="print events as lines until Ctrl-C")
    watch.add_argument("--json", action="store_true", help="NDJSON, one event per line")
    watch.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    watch.add_argument(
        "--all",
        action="store_true",
        help="include probes, our beats, queue usage, new nodes confirmed alive",
    )

    nodes = sub.add_parser("nodes", help="listen a while, print the node table")
    nodes.add_argument("--json", action="store_true", help="a JSON array of nodes")
    nodes.add_argument("--wait", type=float, metavar="S", help="listen S s (1.5 intervals)")

    check = sub.add_parser(
        "check",
        help="exit 0 if at least N established nodes are alive, else 1",
        description="Listen a while, then count the nodes heard at least twice from a sender "
        "that is still connected and alive (and, with --max-age, heard recently enough). "
        "Exit codes: 0 enough, 1 not enough, 2 error.",
    )
    check.add_argument(
        "--expect", type=int, required=True, metavar="N", help="how many nodes must count"
    )
    check.add_argument("--max-age", type=float, metavar="S", help="alive means heard within S s")
    check.add_argument("--wait", type=float, metavar="S", help="listen S s (2.2 intervals)")
    check.add_argument("--json", action="store_true", help="one JSON object with every verdict")

    announce = sub.add_parser("announce", help="send one heartbeat (ours or NAME) and exit")
    announce.add_argument("name", nargs="?", help="a node name to announce instead of ours")

    sub.add_parser("channel", help="show the channel derived from --cookie and its statement")

    census = sub.add_parser(
        "census",
        help="who listens and who sends on which channel, in every database of the server",
        description="Read every session's last statement from pg_stat_activity and name what "
        "is provably wrong. Exit codes: 0 no problem, 1 problems, 2 error.",
    )
    census.add_argument("--json", action="store_true", help="one JSON document")

    doctor = sub.add_parser(
        "doctor",
        help="can a peer connect to each node? DNS, EPMD, port, cookie handshake",
        description="Check each NODE (default: the nodes heard on the channel) step by step, "
        "stopping at the first failure: the host resolves, EPMD knows the name, the port "
        "accepts, and with a cookie the handshake completes as a hidden node. "
        "Exit codes: 0 every node passes, 1 some fail, 2 error.",
    )
    doctor.add_argument("nodes", nargs="*", metavar="NODE", help="name@host to check")
    doctor.add_argument("--json", action="store_true", help="one JSON document")
    doctor.add_argument("--timeout", type=float, default=2.0, metavar="S", help="per step (2)")
    doctor.add_argument("--wait", type=float, metavar="S", help="listen S s (1.5 intervals)")

    serve = sub.add_parser(
        "serve",
        help="run unattended: /metrics for Prometheus and /healthz for probes",
        description="Monitor the channel until SIGTERM and serve /metrics (Prometheus text "
        "format) and /healthz (200 when connected and the listener probe is healthy, else 503). "
        "Needs a database; --demo N runs on an embedded server with N simulated peers.",
    )
    serve.add_argument(
        "--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"where ({DEFAULT_LISTEN})"
    )
    serve.add_argument("--expect", type=int, metavar="N", help="nodes expected alive (alerts)")
    serve.add_argument(
        "--demo", type=int, default=argparse.SUPPRESS, metavar="N", help="embedded, N fake peers"
    )

    for name in COMMANDS:
        _common(sub.choices[name], suppress=True)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("dsn", "channel", "cookie", "node", "interval", "heartbeat", "reveal_channel")
    return {key: getattr(args, key, None) for key in keys}


def _fail(message: str, err: TextIO) -> int:
    err.write(f"{PROG}: {message}\n")
    err.flush()
    return EXIT_ERROR


_terminated_by: list[int] = []
_graceful: list[Callable[[], None]] = []


def _on_terminate(signum: int, frame: FrameType | None) -> None:
    # Append first: a second signal can interrupt this handler itself.
    _terminated_by.append(signum)
    if len(_terminated_by) > 1:
        # A second signal while unwinding: leave now (the embedded server dies with us).
        os._exit(128 + _terminated_by[0])
    for stop in _graceful:
        try:
            stop()
        except RuntimeError:  # no event loop running yet (or any more)
            break
        return
    # Unwind like Ctrl-C (asyncio handles it cleanly) so the embedded server stops.
    raise KeyboardInterrupt


def _exit_gracefully(app: Any) -> None:
    """On SIGTERM or SIGHUP, ask the dashboard to quit as `q` would, from its own loop."""

    def stop() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon_threadsafe(lambda: app.exit(return_code=128 + _terminated_by[0]))

    _graceful.append(stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_terminate)
    # psycopg warns when a statement we abandon on exit is cancelled; our own lines say enough.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    try:
        code = _main(argv, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # `watch | head`: the reader left. Leave quietly, and keep Python's exit-time flush
        # of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    return 128 + _terminated_by[0] if _terminated_by else code


def _main(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(_overrides(args), getattr(args, "env_file", None))
    except SettingsError as exc:
        return _fail(str(exc), err)
    warnings = settings.warnings()
    if getattr(args, "env_file", None) is not None:
        warnings += env_file_warnings(args.env_file)
    for warning in warnings:
        err.write(f"{PROG}: warning: {visible(warning)}\n")
    if settings.dsn is not None and not conninfo_is_valid(settings.dsn.get_secret_value()):
        return _fail(
            "invalid setting dsn (--dsn / PGCLUSTER_DSN): not a valid URI or conninfo", err
        )
    if args.command == "channel":
        from pgcluster_tui.headless import channel

        return channel(settings, out)
    if args.demo < 0:
        return _fail("--demo takes a number of peers >= 0", err)
    if args.command == "check" and args.expect < 0:
        return _fail("--expect takes a number >= 0", err)
    problem = keymap_problem(settings.keys)
    if problem is not None:
        return _fail(problem, err)
    if args.command == "doctor":
        problem = _doctor_problem(args)
        if problem is not None:
            return _fail(problem, err)
        if args.nodes:
            return _offline(settings, args, out, err)
        if not settings.database_configured():
            return _fail(
                "doctor: name the nodes (name@host ...), or give --dsn (or PGCLUSTER_DSN, "
                "DATABASE_URL or libpq PG* variables) to check the nodes heard on the channel",
                err,
            )
    if args.command == "serve":
        problem = _serve_problem(args, settings)
        if problem is not None:
            return _fail(problem, err)
    if args.command in NEED_DATABASE and not settings.database_configured():
        return _fail(
            f"{args.command}: no database configured: give --dsn (or PGCLUSTER_DSN, DATABASE_URL"
            " or libpq PG* variables); only the dashboard and watch start an embedded server",
            err,
        )
    if args.demo and settings.database_configured():
        # Fake peers must never reach a channel real nodes may use.
        demo_channel = f"pgcluster_tui_demo_{secrets.token_hex(4)}"
        settings = settings.with_channel(demo_channel)
        err.write(f"{PROG}: --demo on a database: simulated peers use channel {demo_channel}\n")
    return _with_database(settings, args, out, err)


def _with_database(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    embedded = None
    conninfo = settings.conninfo()
    if not settings.database_configured():
        from pgcluster_tui.pg.embedded import EmbeddedError, EmbeddedServer

        embedded = EmbeddedServer()
        try:
            conninfo = embedded.start()
        except EmbeddedError as exc:
            return _fail(str(exc), err)
        err.write(f"{PROG}: no database configured; started an embedded PostgreSQL.\n")
        err.write(f"{PROG}: join it with: {PROG} --dsn '{conninfo}'   or: psql '{conninfo}'\n")
        err.flush()
    try:
        return _run(settings, args, conninfo, out, err, embedded_dsn=conninfo if embedded else None)
    except CommandError as exc:
        return _fail(str(exc), err)
    finally:
        if embedded is not None:
            embedded.stop()


def _run(
    settings: Settings,
    args: argparse.Namespace,
    conninfo: str,
    out: TextIO,
    err: TextIO,
    *,
    embedded_dsn: str | None,
) -> int:
    from pgcluster_tui import diagnose, headless

    command = args.command
    if command in LONG_RUNNING:
        tune_for_long_runs(starting=command is None)  # the dashboard says when it has settled
    else:
        short_run()
    if command is None:
        from pgcluster_tui.tui.run import run_dashboard

        return run_dashboard(
            settings, conninfo, demo=args.demo, embedded_dsn=embedded_dsn, on_start=_exit_gracefully
        )
    runners: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        "watch": lambda: headless.watch(
            settings,
            conninfo,
            out,
            as_json=args.json,
            duration=args.duration,
            include_all=args.all,
        ),
        "nodes": lambda: headless.nodes(settings, conninfo, out, as_json=args.json, wait=args.wait),
        "check": lambda: headless.check(
            settings,
            conninfo,
            out,
            expect=args.expect,
            max_age=args.max_age,
            wait=args.wait,
            as_json=args.json,
        ),
        "announce": lambda: headless.announce(settings, conninfo, out, args.name),
        "census": lambda: diagnose.census(settings, conninfo, out, as_json=args.json),
        "doctor": lambda: diagnose.doctor(
            settings, conninfo, out, as_json=args.json, timeout=args.timeout, wait=args.wait
        ),
        "serve": lambda: _serve(settings, conninfo, out, args),
    }
    try:
        return asyncio.run(_cancellable(runners[command]()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0 if command == "watch" else 130


def _serve_problem(args: argparse.Namespace, settings: Settings) -> str | None:
    """Why `serve` cannot start as asked, checked before any server or connection."""
    try:
        args.address = parse_listen(args.listen)
    except ValueError as exc:
        return str(exc)
    if args.expect is not None and args.expect < 0:
        return "--expect takes a number >= 0"
    if not args.demo and not settings.database_configured():
        return (
            "serve: no database configured: give --dsn (or PGCLUSTER_DSN, DATABASE_URL or libpq"
            " PG* variables); --demo N runs it on an embedded server with N simulated peers"
        )
    return None


def _serve(
    settings: Settings, conninfo: str, out: TextIO, args: argparse.Namespace
) -> Coroutine[Any, Any, int]:
    """The serve command, imported only when it runs (it loads prometheus_client)."""
    from pgcluster_tui.serve.command import serve

    return serve(settings, conninfo, out, listen=args.address, demo=args.demo, expected=args.expect)


def _doctor_problem(args: argparse.Namespace) -> str | None:
    """Why the doctor's own arguments are wrong, if they are: names are checked before probing."""
    from pgcluster_tui.erlang.steps import split_node

    if not 0 < args.timeout <= 60:
        return "--timeout takes seconds > 0 and <= 60"
    for node in args.nodes:
        try:
            split_node(node)
        except ValueError as exc:
            return f"doctor: refusing to probe {visible(node, 80)}: {exc}"
    return None


def _offline(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`doctor NODE...`: no database needed."""
    from pgcluster_tui import diagnose

    run = diagnose.doctor(
        settings, None, out, nodes=args.nodes, as_json=args.json, timeout=args.timeout
    )
    try:
        return asyncio.run(_cancellable(run))
    except CommandError as exc:
        return _fail(str(exc), err)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


async def _cancellable(command: Coroutine[Any, Any, int]) -> int:
    """Run a command so that SIGTERM or SIGHUP cancels it from its own loop, like Ctrl-C."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()

    def stop() -> None:
        loop.call_soon_threadsafe(task.cancel)

    _graceful.append(stop)
    return await command
