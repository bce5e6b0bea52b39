"""One segserve node: the HTTP API (uvicorn + gee), the TCP endpoint and a geecache peer, in one process.

    segserve --port 8000 --tcp-port 9000                      # one node, bundled model
    GEECACHE_SECRET=... segserve --port 8001 --peer-port 8101 \
        --peers http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103

The cache's peer protocol has a listener of its own (``--peer-host``, loopback by
default, and ``--peer-port``); peers are the nodes' peer URLs, and the public port
serves no peer route. A cluster of several nodes needs the cluster secret
(``--secret-file`` or ``$GEECACHE_SECRET``): every peer request and answer is signed
with it. Every node of a cluster must list the same peers and serve the same model
(results are keyed by the model's hash). Beyond loopback the node refuses to start
without an API token (``--api-token-file`` or ``$SEGSERVE_API_TOKEN``) unless told
``--allow-anonymous``, and warns without TLS.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import ipaddress
import logging
import pathlib
import ssl
from typing import Any

import uvicorn

import gee
from gee.serving import guarded_protocol
from geecache.auth import PeerAuth, load_secret, new_secret
from geecache.node import add_trust_arguments, listen, load_callable, non_negative_int, peer_auth, peer_list
from medimage import Limits, available_cpus
from segserve.cache import Cache
from segserve.errors import ModelError
from segserve.http import build_engine
from segserve.inference import Inference
from segserve.jobs import Jobs
from segserve.model import BUNDLED, PROVIDERS, Model
from segserve.models import Models
from segserve.pool import InferencePool
from segserve.service import Service
from segserve.tcp import TCPServer

log = logging.getLogger("segserve.node")
TOKEN_ENV = "SEGSERVE_API_TOKEN"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="segserve",
        description="Serve a freqseg ONNX segmentation model over HTTP and JSON-over-TCP, "
        "sharing results with other nodes through geecache. " + (__doc__ or "").split("\n\n")[-1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    net = p.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address the public HTTP and TCP endpoints listen on")
    net.add_argument("--port", type=non_negative_int, default=8000, help="HTTP port (0: any free port)")
    net.add_argument("--tcp-port", type=int, default=9000, help="JSON-over-TCP port (0: any free port, -1: off)")
    net.add_argument("--peer-host", default="127.0.0.1", help="address the cache's peer protocol listens on")
    net.add_argument("--peer-port", type=non_negative_int, default=0, help="peer protocol port (0: any free port)")
    net.add_argument(
        "--self", dest="self_url", help="this node's peer URL as --peers lists it (default http://PEER-HOST:PEER-PORT)"
    )
    net.add_argument("--peers", type=peer_list, help="comma-separated peer URLs of all nodes, this one included")
    net.add_argument("--peer-timeout", type=float, default=60.0, help="seconds to wait for a peer (covers inference)")
    security = p.add_argument_group("security")
    add_trust_arguments(security)
    security.add_argument(
        "--api-token-file",
        help=f"file holding the API token (else ${TOKEN_ENV}); required on the API, the page and TCP when given",
    )
    security.add_argument(
        "--allowed-hosts",
        type=host_list,
        help="comma-separated Host names the HTTP endpoint answers (default: loopback names, plus --host)",
    )
    security.add_argument("--tls-cert", help="PEM certificate: serve HTTPS and TLS over TCP (with --tls-key)")
    security.add_argument("--tls-key", help="PEM private key of --tls-cert")
    security.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="listen beyond loopback without an API token (anyone who reaches the port may use the node)",
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--model",
        action="append",
        metavar="[NAME=]PATH",
        help="an ONNX file exported by freqseg, named NAME (default: the file's stem); repeat to serve several, the "
        "first is the default (default: the bundled model in --precision)",
    )
    model.add_argument(
        "--precision",
        choices=sorted(BUNDLED),
        default="fp32",
        help="which bundled model to serve when no --model is given: fp32 or its static INT8 quantization",
    )
    model.add_argument("--provider", default="cpu", help=f"ONNX Runtime execution provider ({', '.join(PROVIDERS)})")
    model.add_argument(
        "--threads",
        type=non_negative_int,
        default=0,
        help="intra-op threads per run (0: the CPUs this process may use, by affinity and cgroup quota, / workers)",
    )
    model.add_argument("--batch-size", type=_positive_int, default=8, help="slices per model run for volumes")
    pool = p.add_argument_group("inference pool")
    pool.add_argument("--workers", type=_positive_int, default=1, help="model runs at once")
    pool.add_argument("--queue", type=non_negative_int, default=16, help="jobs that may wait; beyond: 503")
    pool.add_argument(
        "--batch-window-ms",
        type=float,
        default=0.0,
        help="micro-batching: gather concurrent single slices of one shape for this long (0: off)",
    )
    jobs = p.add_argument_group("jobs (volumes with progress)")
    jobs.add_argument(
        "--job-bytes", type=_positive_int, default=8 << 20, help="inputs larger than this answer /v1/segment with a job"
    )
    jobs.add_argument("--max-jobs", type=_positive_int, default=256, help="jobs kept (finished ones expire first)")
    jobs.add_argument("--max-running-jobs", type=_positive_int, default=4, help="unfinished jobs at once; beyond: 503")
    jobs.add_argument("--job-keep", type=float, default=3600.0, help="seconds a finished job is kept")
    jobs.add_argument(
        "--view-bytes", type=non_negative_int, default=1 << 30, help="bytes of volumes kept for the viewer"
    )
    limits = p.add_argument_group("limits")
    limits.add_argument("--max-body-bytes", type=_positive_int, default=64 << 20, help="HTTP body limit (413)")
    defaults = Limits()
    limits.add_argument("--max-pixels", type=_positive_int, default=defaults.max_pixels, help="pixels per input plane")
    limits.add_argument("--max-voxels", type=_positive_int, default=defaults.max_voxels, help="voxels per input")
    limits.add_argument("--max-files", type=_positive_int, default=defaults.max_files, help="files per DICOM series")
    limits.add_argument(
        "--max-slices", type=_positive_int, default=defaults.max_slices, help="axial planes the model runs on"
    )
    limits.add_argument(
        "--max-grid-pixels",
        type=_positive_int,
        default=defaults.max_grid_pixels,
        help="pixels of one plane on the model's grid (after resampling to the model's spacing)",
    )
    limits.add_argument(
        "--max-run-pixels",
        type=_positive_int,
        default=defaults.max_run_pixels,
        help="pixels of one model run (planes x grid pixels): bounds the model's memory per run",
    )
    tcp = {name: parameter.default for name, parameter in inspect.signature(TCPServer).parameters.items()}
    limits.add_argument("--max-frame-bytes", type=_positive_int, default=tcp["max_frame"], help="TCP frame limit")
    limits.add_argument(
        "--max-connections", type=_positive_int, default=512, help="HTTP connections at once; beyond: 503"
    )
    limits.add_argument(
        "--header-timeout", type=float, default=10.0, help="seconds for a request's headers to arrive (slowloris)"
    )
    limits.add_argument("--body-timeout", type=float, default=60.0, help="seconds for a request's body to arrive")
    limits.add_argument(
        "--max-header-bytes", type=_positive_int, default=64 << 10, help="bytes of a request's target and headers (431)"
    )
    limits.add_argument(
        "--max-buffered-bytes",
        type=_positive_int,
        default=256 << 20,
        help="request-body bytes being received at once over all HTTP connections; beyond: 503",
    )
    limits.add_argument(
        "--idle-timeout", type=float, default=tcp["idle_timeout"], help="seconds before an idle TCP client is dropped"
    )
    limits.add_argument(
        "--tcp-max-connections",
        type=_positive_int,
        default=tcp["max_connections"],
        help="TCP connections open at once; one more gets a busy error frame and is closed",
    )
    limits.add_argument(
        "--tcp-max-buffered-bytes",
        type=_positive_int,
        default=tcp["max_buffered_bytes"],
        help="TCP frame bytes being received at once over all connections; a frame beyond gets busy and its "
        "connection is closed (at least --max-frame-bytes)",
    )
    limits.add_argument(
        "--tcp-frame-timeout",
        type=float,
        default=tcp["frame_timeout"],
        help="seconds to receive one TCP frame's body after its header (default: the smaller of 10 and --idle-timeout)",
    )
    limits.add_argument(
        "--tcp-write-timeout",
        type=float,
        default=tcp["write_timeout"],
        help="seconds a TCP client has to take each answer before its connection is closed",
    )
    limits.add_argument(
        "--tcp-max-pending-bytes",
        type=_positive_int,
        default=tcp["max_pending_bytes"],
        help="unsent bytes of earlier answers a TCP connection may hold when another is ready; beyond, it is closed",
    )
    limits.add_argument(
        "--max-in-flight",
        type=_positive_int,
        default=tcp["max_in_flight"],
        help="requests in flight per TCP connection",
    )
    cache = p.add_argument_group("cache")
    cache.add_argument("--cache-bytes", type=non_negative_int, default=256 << 20, help="bytes for results")
    cache.add_argument("--input-cache-bytes", type=non_negative_int, default=256 << 20, help="bytes for inputs")
    cache.add_argument(
        "--input-ttl", type=float, default=3600.0, help="seconds inputs are kept (for DICOM SEG answers and owners)"
    )
    cache.add_argument("--memo-bytes", type=non_negative_int, default=64 << 20, help="bytes of encoded answers")
    p.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="TITLE=MODULE:FUNCTION",
        help="mount another gee application on this node: FUNCTION(engine) registers its routes and returns its "
        "route group, which the page links to under TITLE (e.g. 'Mario levels=mario.web:register'); repeatable",
    )
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return p


def mount(engine: gee.Engine, spec: str) -> dict[str, str]:
    """``TITLE=MODULE:FUNCTION``: import MODULE, call FUNCTION(engine); a link to its group for the page.

    Imported by name at start-up, so segserve depends on no application it may host (mario, say)."""
    title, _, target = spec.rpartition("=")
    module_name, colon, function_name = target.partition(":")
    if not colon or not module_name or not function_name:
        raise SystemExit(f"segserve: --mount {spec!r}: write TITLE=MODULE:FUNCTION, e.g. 'Mario=mario.web:register'")
    register = load_callable(target, "segserve: --mount")
    group = register(engine)
    prefix = getattr(group, "prefix", "") or "/"
    return {"title": title or module_name, "path": prefix.rstrip("/") + "/"}


def host_list(text: str) -> list[str]:
    """argparse type: comma-separated host names."""
    hosts = [h.strip() for h in text.split(",") if h.strip()]
    if not hosts:
        raise argparse.ArgumentTypeError("give at least one host name, e.g. segserve.example.org")
    return hosts


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(path: str | None) -> str | None:
    """The API token from ``--api-token-file`` or ``$SEGSERVE_API_TOKEN``, or ``None``; read as the cluster secret
    is (``geecache.auth.load_secret``: a file others may read is refused)."""
    try:
        secret = load_secret(path, env=TOKEN_ENV)
    except ValueError as exc:
        raise SystemExit(f"segserve: --api-token-file: {exc}") from exc
    token = secret.decode("utf-8", "replace") if secret else None
    if token and len(token) < 16:
        raise SystemExit("segserve: the API token must be at least 16 characters; make one with `make secret`")
    return token or None


def check_exposure(args: argparse.Namespace, token: str | None) -> None:
    """Refuse to listen beyond loopback without a credential; warn without TLS."""
    if is_loopback(args.host):
        return
    if token is None and not args.allow_anonymous:
        raise SystemExit(
            f"segserve: --host {args.host} is reachable from other machines, and the node reads patients' images: "
            f"give an API token (--api-token-file or ${TOKEN_ENV}), or pass --allow-anonymous to serve anyone"
        )
    if not args.tls_cert:
        log.warning("listening on %s without TLS: the API token and images cross the network in clear", args.host)


def model_specs(values: list[str] | None, precision: str) -> dict[str, str]:
    """``--model`` values (``[NAME=]PATH``) as {name: path}; the bundled model in ``precision`` without any."""
    if not values:
        return {"default" if precision == "fp32" else f"default-{precision}": str(BUNDLED[precision])}
    specs: dict[str, str] = {}
    for value in values:
        name, _, path = value.rpartition("=") if "=" in value and not value.startswith("/") else ("", "", value)
        name = name or pathlib.Path(path).name.removesuffix(".onnx")
        if not name or name in specs:
            raise SystemExit(f"segserve: --model {value!r}: name each model once (NAME=PATH)")
        specs[name] = path
    return specs


def build_service(args: argparse.Namespace, self_url: str) -> Service:
    specs = model_specs(args.model, args.precision)
    threads = args.threads or max(1, available_cpus() // args.workers)
    try:
        models = {name: Model(path, provider=args.provider, threads=threads) for name, path in specs.items()}
    except ModelError as exc:
        raise SystemExit(f"segserve: {exc}") from exc
    peers = args.peers or [self_url]
    if self_url not in peers:
        raise SystemExit(f"segserve: --self {self_url} must be one of --peers ({', '.join(peers)})")
    auth = peer_auth(args.secret_file, args.trusted_network)
    if auth is None and not args.trusted_network and len(peers) == 1:
        auth = PeerAuth(new_secret().encode())  # a single node: its peer routes answer no one
    pool = InferencePool(args.workers, args.queue)  # one pool for every model: the node's cores
    limits = Limits(
        max_pixels=args.max_pixels,
        max_voxels=args.max_voxels,
        max_files=args.max_files,
        max_slices=args.max_slices,
        max_grid_pixels=args.max_grid_pixels,
        max_run_pixels=args.max_run_pixels,
    )
    try:
        served = Models(
            {
                name: Inference(
                    model, pool, limits, batch_size=args.batch_size, batch_window=args.batch_window_ms / 1000
                )
                for name, model in models.items()
            }
        )
        cache = Cache(
            self_url,
            peers,
            loader=served.load,
            result_bytes=args.cache_bytes,
            input_bytes=args.input_cache_bytes,
            input_ttl=args.input_ttl,
            peer_timeout=args.peer_timeout,
            auth=auth,
            trusted_network=args.trusted_network,
        )
        jobs = Jobs(max_jobs=args.max_jobs, max_running=args.max_running_jobs, keep=args.job_keep)
    except ValueError as exc:
        raise SystemExit(f"segserve: {exc}") from exc
    return Service(
        served,
        cache,
        memo_bytes=args.memo_bytes,
        view_bytes=args.view_bytes,
        job_bytes=args.job_bytes,
        jobs=jobs,
    )


async def serve(args: argparse.Namespace) -> None:
    token = read_token(args.api_token_file)
    check_exposure(args, token)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("segserve: --tls-cert and --tls-key go together")
    http_sock = listen(args.host, args.port)
    peer_sock = listen(args.peer_host, args.peer_port)
    scheme = "https" if args.tls_cert else "http"
    public_url = f"{scheme}://{args.host}:{http_sock.getsockname()[1]}"
    self_url = (args.self_url or f"http://{args.peer_host}:{peer_sock.getsockname()[1]}").rstrip("/")
    service = build_service(args, self_url)
    hosts = args.allowed_hosts or [*gee.LOOPBACK_HOSTS, *([] if args.host in ("0.0.0.0", "::") else [args.host])]
    links: list[dict[str, str]] = []
    engine = build_engine(
        service, max_body_bytes=args.max_body_bytes, links=links, api_token=token, allowed_hosts=hosts
    )
    links.extend(mount(engine, spec) for spec in args.mount)
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    tcp: TCPServer | None = None
    tcp_port = -1
    if args.tcp_port >= 0:
        try:
            tcp = TCPServer(
                service,
                max_frame=args.max_frame_bytes,
                idle_timeout=args.idle_timeout,
                max_in_flight=args.max_in_flight,
                max_connections=args.tcp_max_connections,
                max_buffered_bytes=args.tcp_max_buffered_bytes,
                frame_timeout=args.tcp_frame_timeout,
                write_timeout=args.tcp_write_timeout,
                max_pending_bytes=args.tcp_max_pending_bytes,
                token=token,
            )
        except ValueError as exc:
            raise SystemExit(f"segserve: {exc}") from exc
        server = await tcp.start(args.host, args.tcp_port, ssl=tls)
        tcp_port = server.sockets[0].getsockname()[1]
    config: dict[str, Any] = {
        "log_level": args.log_level,
        "access_log": False,
        "lifespan": "on",
        "http": guarded_protocol(
            args.header_timeout, args.body_timeout, args.max_buffered_bytes, args.max_header_bytes
        ),
        "limit_concurrency": args.max_connections,
    }
    tls_files = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key} if args.tls_cert else {}
    public = uvicorn.Server(uvicorn.Config(engine, **config, **tls_files))
    peers = uvicorn.Server(uvicorn.Config(service.cache.pool.engine(), **config))
    # The sockets already listen, so clients may connect from now on: say so, for scripts and tests.
    default = service.default_model()
    print(
        f"segserve ready http={public_url} tcp={tcp_port} peer={self_url} model={default['sha256'][:12]} "
        f"precision={default['precision']} models={','.join(service.models.names)} provider={default['provider']} "
        f"peers={','.join(service.cache.peers())}",
        flush=True,
    )
    try:
        await asyncio.gather(public.serve(sockets=[http_sock]), peers.serve(sockets=[peer_sock]))
    finally:
        if tcp is not None:
            await tcp.close()
        service.pool.shutdown()


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.run(serve(args))
    except KeyboardInterrupt:
        pass
