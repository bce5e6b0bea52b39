"""End-to-end HTTP throughput of gee against a hand-written ASGI app and peer frameworks.

Every app (see ``benchmarks/http_apps/``) runs under the same server, uvicorn with one
worker, httptools and uvloop, and no access log, so the numbers differ only by the
framework; ``--servers uvicorn,granian`` runs each app under granian too (one worker,
one runtime thread, uvloop, ASGI), and each app is compared with the bare app on the
same server and on uvicorn. ``wrk`` drives the load. The server is pinned to CPU 0 and wrk to CPU 1 so
that they do not fight over a core, and the runs are interleaved (each round measures
every framework once per route, in a rotated order) so that a noisy spell on the
machine spreads over all frameworks instead of landing on one. The report gives the
median of the rounds with its range, and the ratio to the bare ASGI app, which is the
figure that survives a change of machine.

    .venv/bin/python benchmarks/gee_http.py [--rounds 5] [--duration 5] [--connections 64] [--json out.json]
        [--servers uvicorn,granian] [--frameworks "bare ASGI,gee"]

Needs Linux, two CPUs, ``wrk`` and ``taskset`` on PATH, and the ``bench`` extra installed.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent

# (name shown in the report, module under http_apps/); the bare app comes first and is the baseline.
FRAMEWORKS: list[tuple[str, str]] = [
    ("bare ASGI", "bare_app"),
    ("gee", "gee_app"),
    ("Starlette", "starlette_app"),
    ("Falcon", "falcon_app"),
    ("FastAPI", "fastapi_app"),
    ("BlackSheep", "blacksheep_app"),
    ("Litestar", "litestar_app"),
]
BASELINE = FRAMEWORKS[0][0]
SERVERS = ("uvicorn", "granian")

USER_ID = "42"
ROUTES: dict[str, str] = {"plaintext": "/plaintext", "json": f"/users/{USER_ID}"}

PACKAGES = [
    "gee-stack",
    "uvicorn",
    "granian",
    "uvloop",
    "httptools",
    "starlette",
    "falcon",
    "fastapi",
    "blacksheep",
    "litestar",
]

SERVER_CPU = 0
WRK_CPU = 1
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class BenchmarkError(RuntimeError):
    """A precondition or a check failed; the message says what and how to fix it."""


# ------------------------------------------------------------------ options


@dataclass(frozen=True)
class Options:
    rounds: int
    duration: int
    connections: int
    warmup: int
    json_path: Path | None
    servers: tuple[str, ...] = ("uvicorn",)
    frameworks: tuple[str, ...] = tuple(name for name, _ in FRAMEWORKS)

    def apps(self) -> list[tuple[str, str, str]]:
        """(label, module, server) for every framework and server measured; labels name the server when several
        are."""
        return [
            (name if len(self.servers) == 1 else f"{name} on {server}", module, server)
            for server in self.servers
            for name, module in FRAMEWORKS
            if name in self.frameworks
        ]

    def baseline(self, server: str) -> str:
        return BASELINE if len(self.servers) == 1 else f"{BASELINE} on {server}"


def parse_args(argv: list[str]) -> Options:
    """Read the command line, refusing values that would make a run unbounded or meaningless."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds per app and route (default 2)")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write the raw numbers to this file")
    parser.add_argument("--servers", default="uvicorn", help=f"comma-separated, of {', '.join(SERVERS)}")
    parser.add_argument("--frameworks", help="comma-separated names (default: all); the bare app is always run")
    args = parser.parse_args(argv)
    servers = tuple(args.servers.split(","))
    if not servers or set(servers) - set(SERVERS):
        parser.error(f"--servers takes {', '.join(SERVERS)}, not {args.servers!r}")
    names = [name for name, _ in FRAMEWORKS]
    frameworks = tuple(args.frameworks.split(",")) if args.frameworks else tuple(names)
    if set(frameworks) - set(names):
        parser.error(f"--frameworks takes {', '.join(names)}, not {args.frameworks!r}")
    frameworks = (BASELINE, *(name for name in frameworks if name != BASELINE))
    bounds = {"rounds": (1, 50), "duration": (1, 60), "connections": (1, 1024), "warmup": (0, 60)}
    for name, (low, high) in bounds.items():
        value = getattr(args, name)
        if not low <= value <= high:
            parser.error(f"--{name} must be between {low} and {high}, not {value}")
    return Options(args.rounds, args.duration, args.connections, args.warmup, args.json_path, servers, frameworks)


# -------------------------------------------------------------- environment


def check_tools(options: Options) -> None:
    """Fail early, with the fix, when wrk, taskset, granian (when asked for) or the CPUs to pin to are missing."""
    if shutil.which("wrk") is None:
        raise BenchmarkError(
            "wrk is not installed. Install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) "
            "or `brew install wrk` (macOS), then run this again."
        )
    if shutil.which("taskset") is None:
        raise BenchmarkError("taskset is not installed; it is in util-linux (`sudo apt-get install -y util-linux`).")
    if "granian" in options.servers and not metadata.packages_distributions().get("granian"):
        raise BenchmarkError("granian is not installed; install the bench extra (`make bench-gee`)")
    cpus = os.sched_getaffinity(0)
    if not {SERVER_CPU, WRK_CPU} <= cpus:
        raise BenchmarkError(f"need CPUs {SERVER_CPU} and {WRK_CPU} to pin server and wrk; this process may use {cpus}")
    missing = []
    for _, module in FRAMEWORKS:
        if not (BENCH_DIR / "http_apps" / f"{module}.py").is_file():
            missing.append(module)
    if missing:
        raise BenchmarkError(f"app modules missing from {BENCH_DIR / 'http_apps'}: {', '.join(missing)}")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def wrk_version() -> str:
    """wrk has no clean version flag: ``wrk -v`` prints a banner (and exits non-zero)."""
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    banner = (result.stdout or result.stderr).strip().splitlines()
    return banner[0].split(" Copyright")[0] if banner else "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe_environment(argv: list[str]) -> dict[str, Any]:
    """What a reader needs to judge or reproduce the numbers: command, date, machine, versions."""
    command = shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv])
    return {
        "command": command,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({os.cpu_count()} CPUs; server on CPU {SERVER_CPU}, wrk on CPU {WRK_CPU})",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "wrk": wrk_version(),
        "packages": package_versions(),
    }


# ------------------------------------------------------------------ servers


def free_port() -> int:
    """An ephemeral port that is free now; uvicorn binds it a moment later, and startup is checked."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One server process serving one app, with its log in a file so it can be shown if it fails."""

    name: str
    module: str
    server: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])


def start_server(name: str, module: str, server: str, log: IO[bytes]) -> Server:
    """Start uvicorn or granian pinned to the server CPU, in its own session so a Ctrl-C reaches only this script,
    which then stops the server itself."""
    port = free_port()
    if server == "uvicorn":
        command = [
            sys.executable, "-m", "uvicorn", f"http_apps.{module}:app",
            "--app-dir", str(BENCH_DIR),
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--http", "httptools", "--loop", "uvloop",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    else:
        command = [
            sys.executable, "-m", "granian", f"http_apps.{module}:app",
            "--working-dir", str(BENCH_DIR), "--interface", "asgi",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop", "--no-ws",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    process = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), *command],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(name, module, server, port, process, log)


def stop_server(server: Server) -> None:
    """SIGTERM for uvicorn's graceful shutdown, then SIGKILL if it does not go in time."""
    process = server.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


def fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET over a fresh connection, with headers lower-cased."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        headers = {key.lower(): value for key, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def wait_until_ready(server: Server) -> None:
    """Poll until the server answers, failing with its log if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise BenchmarkError(
                f"{server.name} server exited with code {server.process.returncode} before answering:\n"
                f"{server.log_tail()}"
            )
        try:
            fetch(server.port, ROUTES["plaintext"])
            return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"{server.name} server did not answer within {STARTUP_TIMEOUT_S:.0f}s:\n{server.log_tail()}"
                ) from None
            time.sleep(0.1)


def check_answers(server: Server) -> None:
    """Make sure every app does the same work before timing it: right status, body, type and length.

    A content-length is required so that no app is measured with chunked encoding while
    another is not. JSON is compared parsed, since spacing differs between encoders.
    """
    expected: dict[str, tuple[str, Any]] = {
        "plaintext": ("text/plain", "Hello, World!"),
        "json": ("application/json", {"id": USER_ID, "name": "gee"}),
    }
    for route, path in ROUTES.items():
        media_type, want = expected[route]
        status, headers, body = fetch(server.port, path)
        problems = []
        if status != 200:
            problems.append(f"status {status}, not 200")
        got_type = headers.get("content-type", "")
        if got_type.split(";")[0].strip() != media_type:
            problems.append(f"content-type {got_type!r}, not {media_type}")
        if headers.get("content-length") != str(len(body)):
            problems.append(f"content-length {headers.get('content-length')!r} for a {len(body)}-byte body")
        try:
            got: Any = json.loads(body) if route == "json" else body.decode()
        except ValueError:
            got = body
        if got != want:
            problems.append(f"body {body!r}, expected {want!r}")
        if problems:
            raise BenchmarkError(f"{server.name} answers GET {path} wrongly: {'; '.join(problems)}")


@contextlib.contextmanager
def running_servers(options: Options) -> Iterator[list[Server]]:
    """Start, check and yield one server per framework; stop every one of them on the way out,
    whatever the way out is (success, a failed check, Ctrl-C)."""
    servers: list[Server] = []
    with contextlib.ExitStack() as stack:
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gee-http-bench-")))
        for name, module, kind in options.apps():
            log = stack.enter_context((log_dir / f"{module}-{kind}.log").open("w+b"))
            server = start_server(name, module, kind, log)
            stack.callback(stop_server, server)
            servers.append(server)
        for server in servers:  # they start in parallel; wait for each in turn
            wait_until_ready(server)
            check_answers(server)
        yield servers


# -------------------------------------------------------------------- load


@dataclass
class WrkResult:
    requests_per_s: float
    socket_errors: dict[str, int] = field(default_factory=dict)


_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def run_wrk(url: str, duration: int, connections: int) -> WrkResult:
    """One wrk run pinned to the wrk CPU. Wrong answers abort the benchmark; socket errors are kept."""
    command = [
        "taskset", "-c", str(WRK_CPU),
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", url,
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False, start_new_session=True
    )
    output = result.stdout + result.stderr
    rps = _RPS.search(output)
    if result.returncode != 0 or rps is None:
        raise BenchmarkError(f"wrk failed on {url} (exit {result.returncode}):\n{output}")
    non_2xx = _NON_2XX.search(output)
    if non_2xx:
        raise BenchmarkError(f"{non_2xx.group(1)} non-2xx answers from {url} under load:\n{output}")
    errors = _SOCKET_ERRORS.search(output)
    socket_errors = {}
    if errors:
        kinds = ("connect", "read", "write", "timeout")
        socket_errors = {kind: int(n) for kind, n in zip(kinds, errors.groups(), strict=True) if int(n)}
    return WrkResult(float(rps.group(1)), socket_errors)


def rotated(items: list[Server], by: int) -> list[Server]:
    """The servers in a rotated order, so each framework runs in every position across rounds."""
    by %= len(items)
    return items[by:] + items[:by]


@dataclass
class Measurements:
    """requests/s per framework and route, one entry per round, plus anything odd seen on the way."""

    rps: dict[str, dict[str, list[float]]]
    orders: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def measure(servers: list[Server], options: Options) -> Measurements:
    results = Measurements({s.name: {route: [] for route in ROUTES} for s in servers})
    if options.warmup:
        log(f"warming up ({options.warmup}s per app and route)")
        for server in servers:
            for path in ROUTES.values():
                run_wrk(server.url(path), options.warmup, options.connections)
    for round_index in range(options.rounds):
        order = rotated(servers, round_index)
        results.orders.append([s.name for s in order])
        for route, path in ROUTES.items():
            for server in order:
                outcome = run_wrk(server.url(path), options.duration, options.connections)
                results.rps[server.name][route].append(outcome.requests_per_s)
                if outcome.socket_errors:
                    results.notes.append(
                        f"round {round_index + 1}, {server.name} {route}: socket errors {outcome.socket_errors}"
                    )
                if server.process.poll() is not None:
                    raise BenchmarkError(f"{server.name} server died during round {round_index + 1}")
        log(f"round {round_index + 1}/{options.rounds} done")
    return results


# ------------------------------------------------------------------ report


def markdown_report(environment: dict[str, Any], options: Options, results: Measurements) -> str:
    """The environment and a table ready to paste into docs/benchmarks.md."""
    packages = ", ".join(f"{name} {version}" for name, version in environment["packages"].items())
    reference = options.servers[0]
    lines = [
        f"Command: `{environment['command']}`",
        "",
        f"- Date: {environment['date']}",
        f"- CPU: {environment['cpu']}",
        f"- OS: {environment['os']}",
        f"- Python: {environment['python']}; {environment['wrk']}",
        f"- Packages: {packages}",
        f"- Load: `wrk -t1 -c{options.connections} -d{options.duration}s`, {options.rounds} interleaved rounds "
        f"after {options.warmup}s warm-up; uvicorn: 1 worker, httptools, uvloop, no access log; granian: 1 worker, "
        "1 runtime thread, uvloop, ASGI, no access log",
        "",
        f"| framework | route | median req/s | min | max | vs bare (same server) | vs bare on {reference} |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for route in ROUTES:
        for name, _, server in options.apps():
            runs = results.rps[name][route]
            median = statistics.median(runs)
            same = median / statistics.median(results.rps[options.baseline(server)][route])
            first = median / statistics.median(results.rps[options.baseline(reference)][route])
            lines.append(
                f"| {name} | `GET {ROUTES[route]}` | {median:,.0f} | {min(runs):,.0f} | {max(runs):,.0f} "
                f"| {same:.2f} | {first:.2f} |"
            )
    if results.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in results.notes)]
    return "\n".join(lines)


def write_json(path: Path, environment: dict[str, Any], options: Options, results: Measurements) -> None:
    config = asdict(options) | {"json_path": str(options.json_path), "routes": ROUTES}
    document = {"environment": environment, "config": config, "results": asdict(results)}
    path.write_text(json.dumps(document, indent=2) + "\n")


# -------------------------------------------------------------------- main


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM and SIGHUP into SystemExit, so the cleanup in ``finally`` blocks still stops the servers."""
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGHUP, _exit_on_sigterm)
    started = time.monotonic()
    try:
        check_tools(options)
        environment = describe_environment(argv)
        runs = options.rounds * len(ROUTES) * len(options.apps())
        estimate = runs * options.duration + len(options.apps()) * len(ROUTES) * options.warmup
        log(f"{runs} wrk runs of {options.duration}s plus warm-up: about {estimate / 60:.1f} minutes")
        with running_servers(options) as servers:
            results = measure(servers, options)
    except BenchmarkError as error:
        log(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130
    print(markdown_report(environment, options, results))
    if options.json_path is not None:
        write_json(options.json_path, environment, options, results)
        log(f"raw numbers written to {options.json_path}")
    log(f"took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
