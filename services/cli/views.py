"""The read models from the command line: `prowd projections digest|rebuild` and `prowd replay`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from services.cli.connect import database, require_every_key, require_master_keys
from services.cli.progress import Progress
from services.settings import Settings
from services.store.database import Database


def cmd_projections(args: argparse.Namespace, settings: Settings) -> int:
    """`prowd projections digest`: catch the views up and print their digests;
    `prowd projections rebuild`: rebuild them blue/green (`--jobs` grantees at once). `--view`
    limits either to one view; an unknown name is refused (exit 2) with the valid ones."""
    from projections.registry import PROJECTIONS
    from services.app.tenancy import Tenancy
    from services.projector import live, rebuilds

    names = [p.name for p in PROJECTIONS]
    if args.view and args.view not in names:
        print(
            f"prowd projections: no view {args.view!r}; the views: {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    with contextlib.ExitStack() as stack:
        url, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        # Personal data is decrypted here: master keys that unwrap nothing refuse it up front.
        require_master_keys(db)
        slugs = (
            [args.grantee] if args.grantee else [g.slug for g in tenancy.grantees(limit=1_000_000)]
        )
        found = {slug: tenancy.grantee(slug) for slug in slugs}
        infos = {slug: info for slug, info in found.items() if info is not None}
        if len(infos) < len(found):
            unknown = next(slug for slug in found if slug not in infos)
            print(f"prowd projections: no grantee {unknown!r}", file=sys.stderr)
            return 2
        if args.action == "rebuild":
            # A rebuild decodes every participant: a key that does not unwrap would stop it
            # half-way, its staging tables left behind. Every key is tried first.
            schemas = {slug: info.schema for slug, info in infos.items()}
            require_every_key(db, schemas, "projections rebuild")
        total = Progress("rebuild of all grantees")
        jobs = int(getattr(args, "jobs", 1) or 1)
        if args.action == "rebuild" and jobs > 1 and len(slugs) > 1:
            return _rebuild_in_parallel(db, url, settings, slugs, args.view, jobs, total)
        for slug in slugs:
            info = infos[slug]
            if args.action == "rebuild":
                bar = Progress(f"{slug}: rebuild")
                try:
                    builds = rebuilds.rebuild_views(
                        db, info.schema, [args.view] if args.view else None, progress=bar
                    )
                except rebuilds.RebuildRunning as e:
                    print(f"prowd projections: {e}", file=sys.stderr)
                    return 1
                bar.finish(bar.done)
                total.add(bar.done)
                switched = ", ".join(f"{view} {build}" for view, build in builds.items())
                print(f"{slug}: switched to builds {switched}", file=sys.stderr)
            else:
                live.drain(db, info.schema)
                for view, digest in live.digests(db, info.schema).items():
                    if not args.view or view == args.view:
                        print(f"{slug}\t{view}\t{digest}")
        if args.action == "rebuild" and len(slugs) > 1:
            total.finish(total.done)
    return 0


def _rebuild_in_parallel(
    db: Database,
    url: str,
    settings: Settings,
    slugs: list[str],
    view: str,
    jobs: int,
    total: Progress,
) -> int:
    """Rebuild `jobs` grantees at a time, each in its own process (own connection, own
    interpreter: the handlers are CPU-bound Python). Progress counts whole grantees."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from psycopg import sql

    from services.projector import rebuilds

    events = 0
    for slug in slugs:
        row = db.fetchone(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.events").format(
                sql.Identifier(f"g_{slug}")
            )
        )
        events += int(row[0]) if row else 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_rebuild_one, url, settings, slug, view) for slug in slugs]
        for future in as_completed(futures):
            try:
                slug, done, seconds, builds = future.result()
            except rebuilds.RebuildRunning as e:
                print(f"prowd projections: {e}", file=sys.stderr)
                return 1
            total.add(done)
            switched = ", ".join(f"{name} {build}" for name, build in builds.items())
            end = "\033[K\n" if total.tty else "\n"
            total.stream.write(
                ("\r" if total.tty else "")
                + f"{slug}: rebuild: {done} events in {seconds:.1f} s; switched to builds"
                + f" {switched}{end}"
            )
            total(total.done, events)
    total.finish(total.done)
    return 0


def _rebuild_one(
    url: str, settings: Settings, slug: str, view: str
) -> tuple[str, int, float, dict[str, int]]:
    from services.projector import rebuilds
    from services.store.schema import grantee_schema

    started = time.monotonic()
    db = Database(url, settings, name="prowd-rebuild").open()
    try:
        done = [0]

        def count(n: int, _: int) -> None:
            done[0] = n

        builds = rebuilds.rebuild_views(
            db, grantee_schema(slug), [view] if view else None, progress=count
        )
        return slug, done[0], time.monotonic() - started, builds
    finally:
        db.close()


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Print every view's digest as of an instant, rebuilt from the log into temporary tables.

    Output: the lines of `prowd projections digest` (grantee, view, digest), then a `#` line
    with the instant, the events replayed and the position replay stopped at.
    """
    from services.app.tenancy import Tenancy
    from services.projector.replay import parse_instant, replay

    try:
        as_of = parse_instant(args.as_of)
    except ValueError as e:
        print(f"prowd replay: --as-of {args.as_of!r}: {e}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        _, db = database(settings, stack)
        tenancy = Tenancy(db)
        tenancy.migrate()
        # Personal data is decrypted here: master keys that unwrap nothing refuse it up front.
        require_master_keys(db)
        info = tenancy.grantee(args.grantee)
        if info is None:
            print(f"prowd replay: no grantee {args.grantee!r}", file=sys.stderr)
            return 2
        require_every_key(db, {info.slug: info.schema}, "replay")
        bar = Progress(f"{args.grantee}: replay")
        result = replay(db, info.schema, as_of, progress=bar)
        bar.finish(result.events)
        for view, digest in result.digests.items():
            print(f"{args.grantee}\t{view}\t{digest}")
        print(
            f"# {args.grantee} as of {as_of.isoformat()}: {result.events} events replayed,"
            f" stopped at position {result.position}"
        )
    return 0
