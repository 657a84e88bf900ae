"""The `dealerflow` command."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from dealerflow.core.config import ConfigError, Settings

log = logging.getLogger("dealerflow")


def settings_from_env() -> Settings:
    """Settings from the environment; without DATABASE_URL/TEMPORAL_ADDRESS, attach to the servers
    that a running `dealerflow dev` recorded in the data directory."""
    settings = Settings.from_env()
    runtime = settings.data_dir / "runtime.json"
    if (settings.database_url is None or settings.temporal_address is None) and runtime.exists():
        recorded = json.loads(runtime.read_text())
        settings = settings.with_(database_url=settings.database_url or recorded["database_url"],
                                  temporal_address=settings.temporal_address or recorded["temporal_address"])
    missing = [name for name, value in (("DATABASE_URL", settings.database_url),
                                        ("TEMPORAL_ADDRESS", settings.temporal_address)) if not value]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} not set: point them at your servers, "
                          f"or run `dealerflow dev` to start the embedded ones")
    return settings


def cmd_dev(args) -> int:
    from .dev import run_dev
    return run_dev(Settings.from_env(), reset=args.reset, seed=not args.no_seed, dealers=args.dealers)


def cmd_api(args) -> int:
    import uvicorn

    settings = settings_from_env()
    os.environ["DATABASE_URL"], os.environ["TEMPORAL_ADDRESS"] = settings.database_url, settings.temporal_address
    uvicorn.run("api.app:serve", factory=True, host=args.host or settings.api_host,
                port=args.port or settings.api_port, workers=args.workers, log_level="warning")
    return 0


def cmd_worker(args) -> int:
    from dealerflow.core.db import make_engine, make_sessionmaker
    from dealerflow.core.process import settle_heap
    from dealerflow.core.temporal import connect, ensure_search_attributes

    from activities.inventory import start_advisers

    from .worker import run_worker

    settings = settings_from_env()

    async def main() -> None:
        client = await connect(settings)
        await ensure_search_attributes(client)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        engine = make_engine(settings.database_url)
        start_advisers(engine.url.render_as_string(hide_password=False))  # as the activities name it
        print(f"worker polling task queue {settings.task_queue!r} on {settings.temporal_address}", flush=True)
        settle_heap()
        try:
            await run_worker(client, make_sessionmaker(engine), settings, stop)
        finally:
            engine.dispose()

    asyncio.run(main())
    return 0


def cmd_migrate(args) -> int:
    from dealerflow.core.migrate import upgrade

    settings = settings_from_env()
    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_seed(args) -> int:
    from dealerflow.core.db import make_engine, make_sessionmaker
    from launcher.demo import DemoDataError, seed_demo

    settings = settings_from_env()
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            summary = seed_demo(session, dealers=args.dealers, seed=args.seed)
    except DemoDataError as e:
        print(f"dealerflow seed: {e}", file=sys.stderr)
        return 1
    print(f"demo dataset loaded: {summary}")
    return 0


def _rule_files(paths: list[str]) -> list[Path]:
    if not paths:
        paths = [str(Settings.from_env().rules_dir)]
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    return files


def cmd_rules(args) -> int:
    from policies_dsl import RuleFileError, load_rule_file, run_rule_tests, write_json_schema

    if args.action == "replay":
        return cmd_replay(args)
    if args.action in ("propose", "proposals", "approve", "reject", "versions"):
        from launcher import governance_cli
        return governance_cli.run(args, settings_from_env())
    if args.action == "schema":
        write_json_schema(Path(args.paths[0]) if args.paths else Path("schemas/rule-file.schema.json"))
        return 0
    from dealerflow.shared.rulebook import display_name

    rules_dir = Settings.from_env().rules_dir
    files = _rule_files(args.paths)
    failed = 0
    loaded = []
    for path in files:
        name = display_name(path, rules_dir)
        try:
            rule_file = load_rule_file(name, path.read_text(encoding="utf-8"))
        except RuleFileError as e:
            print(e, file=sys.stderr)
            failed += 1
            continue
        except OSError as e:
            print(f"{path}: {e.strerror}", file=sys.stderr)
            failed += 1
            continue
        loaded.append((path, name, rule_file))
        if args.action == "validate":
            print(f"{name}: ok ({rule_file.name}, {len(rule_file.rules)} rules, {len(rule_file.tests)} tests)")
        if args.action in ("test", "deploy"):
            for r in run_rule_tests(rule_file):
                print(f"{name}:{r.line} {'PASS' if r.passed else 'FAIL'} {r.name}"
                      + ("" if r.passed else f": {r.message}"))
                failed += not r.passed
    if args.action == "test":
        total = sum(len(rule_file.tests) for _, _, rule_file in loaded)
        print(f"rule examples: {total - failed} of {total} pass")
    from dealerflow.core.errors import DomainError
    from dealerflow.shared import rulebook

    if args.action == "deploy":
        for path, name, rule_file in loaded:  # a file is named after its ruleset
            try:
                rulebook.check_name(name, rule_file)
            except DomainError as e:
                print(f"{name}: {e}", file=sys.stderr)
                failed += 1
    if failed or args.action != "deploy":
        return 1 if failed else 0
    from dealerflow.core.db import make_engine, make_sessionmaker

    settings = settings_from_env()
    done = []
    try:  # all or nothing: a ruleset of another kind refuses every file
        with make_sessionmaker(make_engine(settings.database_url)).begin() as session:
            for path, name, _ in loaded:
                try:
                    d = rulebook.deploy(session, filename=name, text=path.read_text(encoding="utf-8"),
                                        actor=os.environ.get("USER") or "cli")
                except DomainError as e:
                    raise DomainError(f"{name}: {e}") from e
                if d.changed:  # the operator's path around proposals: on the audit trail
                    from dealerflow.governance import audit
                    audit.record(session, ruleset=d.ruleset, action="deployed", actor=os.environ.get("USER") or "cli",
                                 version=d.version, sha256=d.sha256, note="dealerflow rules deploy")
                done.append(f"{name}: {d.ruleset} v{d.version} " + ("deployed" if d.changed else "unchanged"))
    except DomainError as e:
        print(f"{e}; nothing deployed", file=sys.stderr)
        return 1
    print("\n".join(done))
    return 0


def _day(text: str | None):
    from datetime import date
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"dealerflow rules replay: {text!r} is not a date: write it like 2026-07-01") from None


def cmd_replay(args) -> int:
    """Replay a candidate rule file over stored decisions; exit 3 when more decisions flip than
    --max-flips allows (a gate for a company's own rule repository), 1 on bad input."""
    from policies_dsl import RuleFileError
    from dealerflow.core.db import make_engine, make_sessionmaker
    from dealerflow.core.errors import DomainError
    from dealerflow.governance import impact
    from dealerflow.governance.replay import Window
    from dealerflow.shared.rulebook import display_name

    if len(args.paths) != 1:
        print("dealerflow rules replay: name one rule file", file=sys.stderr)
        return 1
    path = Path(args.paths[0])
    name = display_name(path, Settings.from_env().rules_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        print(f"{path}: {e.strerror}", file=sys.stderr)
        return 1
    settings = settings_from_env()
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            report = impact.replay(session, filename=name, text=text, actor=os.environ.get("USER") or "cli",
                                   window=Window.of_days(_day(args.since), _day(args.until)), samples=args.samples)
            totals, breakdown, samples = report.totals, report.breakdown, report.samples
            report_id, digest = report.id, report.content_hash
    except RuleFileError as e:
        print(e, file=sys.stderr)
        return 1
    except DomainError as e:
        print(f"dealerflow rules replay: {e}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"id": str(report_id), "content_hash": digest, "totals": totals, "breakdown": breakdown,
                          "samples": samples}, indent=2, ensure_ascii=False, default=str))
    else:
        print(f"replay {report_id} (sha256 {digest[:12]}): " + ", ".join(f"{k} {v}" for k, v in totals.items()
                                                                         if not isinstance(v, dict)))
        for b in breakdown:
            print(f"  {b['group']:<10} {str(b.get('key', '')):<12} {b.get('from', '')} → {b.get('to', '')}: "
                  f"{b['count']}" + (f" ({b['amount']})" if b.get("amount") else ""))
    if args.max_flips is not None and totals.get("changed", 0) > args.max_flips:
        print(f"{totals['changed']} changed decisions: more than the {args.max_flips} allowed", file=sys.stderr)
        return 3
    return 0


def cmd_policy(args) -> int:
    """Preview, publish (or amend with the newest deployed version) and watch a policy."""
    from api.policies.temporal import publish_policy
    from dealerflow.core.errors import DomainError
    from dealerflow.policies import rollout as policies
    from dealerflow.core.db import make_engine, make_sessionmaker
    from dealerflow.models import Policy
    from dealerflow.policies.figures import policy_figures
    from dealerflow.core.temporal import connect

    settings = settings_from_env()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    try:
        if args.action == "publish":
            async def publish():
                client = await connect(settings)
                return await publish_policy(client=client, task_queue=settings.task_queue, sessions=sessions,
                                            policy_id=args.policy_id, actor=os.environ.get("USER") or "cli")
            result = asyncio.run(publish())
            print(f"{result.policy_id} v{result.version}: {result.action} (workflow {result.workflow_id})")
            return 0
        with sessions() as session:
            if args.action == "preview":
                out = policies.preview(session, args.policy_id)
            else:
                policy = session.get(Policy, args.policy_id)
                if policy is None:
                    raise policies.PolicyNotFound(f"policy {args.policy_id!r} has not been published")
                out = policy_figures(session, policy, policies.spec_of(session, policy.id, policy.version))
        print(json.dumps(out, indent=2, default=str, ensure_ascii=False))
        return 0
    except DomainError as e:
        print(f"dealerflow policy: {e}", file=sys.stderr)
        return 1


def cmd_masterdata(args) -> int:
    """Import (dry run unless --apply) or export dealers, products or users as CSV or XLSX."""
    from dealerflow.core.db import make_engine, make_sessionmaker
    from dealerflow.core.errors import DomainError
    from dealerflow.masterdata import exports, imports
    from dealerflow.shared.uploads import BatchError

    settings = settings_from_env()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    path = Path(args.file)
    with sessions() as session:
        if args.action == "export":
            fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
            path.write_bytes(exports.export(session, args.kind, fmt))
            print(f"{args.kind} exported to {path}")
            return 0
        try:
            result = imports.run(session, kind=args.kind, data=path.read_bytes(), actor=os.environ.get("USER") or "cli",
                                 dry_run=not args.apply, encoding=args.encoding, via="import")
        except BatchError as e:
            for p in e.problems:
                print(f"{path}:{p.row or ''}: {p.field or ''}: {p.message}", file=sys.stderr)
            return 1
        except DomainError as e:
            print(f"dealerflow masterdata: {e}", file=sys.stderr)
            return 1
        session.commit() if args.apply else session.rollback()
    print(f"{'imported' if args.apply else 'dry run (nothing written; --apply to import)'}: {result.rows} rows, "
          f"{result.created} new, {result.updated} changed, {result.unchanged} unchanged")
    for change in result.changes:
        if change.action != "unchanged":
            print(f"  line {change.line}: {change.key} {change.action} {', '.join(change.fields)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dealerflow", description="Dealer channel management platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("dev", help="start PostgreSQL, Temporal, a worker and the API with a demo dataset")
    p.add_argument("--reset", action="store_true", help="delete the data directory first")
    p.add_argument("--no-seed", action="store_true", help="do not load the demo dataset")
    p.add_argument("--dealers", type=int, default=600, help="demo dealers to create on first run")
    p.set_defaults(func=cmd_dev)
    p = sub.add_parser("api", help="serve the API and console")
    p.add_argument("--host"), p.add_argument("--port", type=int), p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_api)
    sub.add_parser("worker", help="run a Temporal worker").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed", help="load the demo dataset into an empty database")
    p.add_argument("--dealers", type=int, default=600), p.add_argument("--seed", type=int, default=20261122)
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("rules", help="validate, test, replay, deploy and propose rule files; approve proposals")
    p.add_argument("action", choices=["validate", "test", "deploy", "schema", "replay", "propose", "proposals",
                                      "approve", "reject", "versions"])
    p.add_argument("paths", nargs="*", help="rule files or directories (default: rules/); approve and reject: "
                                            "the proposal's id; versions: the ruleset")
    p.add_argument("--effective-from", help="propose: when it takes effect, Beijing time (default: on approval)")
    p.add_argument("--effective-until", help="propose: when it stops applying, Beijing time")
    p.add_argument("--note", help="propose: a comment for the approver; approve: a comment")
    p.add_argument("--reason", help="reject: why (required)")
    p.add_argument("--status", choices=["open", "approved", "rejected", "withdrawn", "stale"],
                   help="proposals: only these")
    p.add_argument("--as", dest="as_user", help="the platform user acting (default: $DEALERFLOW_USER, then $USER)")
    p.add_argument("--since", help="replay: first business day, e.g. 2026-07-01")
    p.add_argument("--until", help="replay: last business day (included)")
    p.add_argument("--max-flips", type=int, help="replay: exit 3 when more decisions change than this")
    p.add_argument("--samples", type=int, default=20, help="replay: sample rows kept in the report")
    p.add_argument("--json", action="store_true", help="replay: print the report as JSON")
    p.set_defaults(func=cmd_rules)
    p = sub.add_parser("policy", help="preview, publish and follow a policy rollout")
    p.add_argument("action", choices=["preview", "publish", "status"])
    p.add_argument("policy_id", help="the policy's ruleset name, e.g. spring_window_display")
    p.set_defaults(func=cmd_policy)
    p = sub.add_parser("masterdata", help="import (a dry run unless --apply) or export dealers, products or users")
    p.add_argument("action", choices=["import", "export"])
    p.add_argument("kind", choices=["dealers", "products", "users"])
    p.add_argument("file", help="a .csv or .xlsx file")
    p.add_argument("--apply", action="store_true", help="write the import (default: report what would change)")
    p.add_argument("--encoding", choices=["utf-8", "gb18030"], default="utf-8", help="of a CSV file")
    p.set_defaults(func=cmd_masterdata)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as e:
        print(f"dealerflow: configuration error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
