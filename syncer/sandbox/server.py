"""The HTTP side: authentication, rate limits, faults, the request log, and `Sandbox` to run it.

Standard library ThreadingHTTPServer speaking HTTP/1.1 with keep-alive, so clients pool
connections as they do with api.hubapi.com.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from syncer.sandbox import behaviour, portal
from syncer.sandbox.api import Api, Request, Response, encode
from syncer.sandbox.errors import ApiError, correlation_id, rate_limited, unauthenticated, validation
from syncer.sandbox.faults import Fault, FaultInjector
from syncer.sandbox.search import SearchIndex
from syncer.sandbox.limits import RateLimits
from syncer.sandbox.records import Records, WriteInput
from syncer.sandbox.store import Store

FAULT_BODIES = {
    423: ("LOCKED", "The record is locked by another operation. Wait at least 2 seconds and try again."),
    500: ("INTERNAL_ERROR", "internal error"),
    502: ("BAD_GATEWAY", "Bad gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service temporarily unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway timeout"),
}


@dataclass(frozen=True)
class LogEntry:
    """One request as the portal saw it. `status` is 0 when the connection was dropped."""

    method: str
    path: str
    query: str
    status: int
    time: float  # epoch seconds when the request arrived
    duration: float
    body: object = None
    fault: str | None = None  # the injected fault's kind, if any
    applied: bool = True  # False when a fault struck before the request was carried out


class Portal:
    """Store, definitions, records and endpoints, assembled (and seeded) from one SQLite file."""

    def __init__(self, db_path: str | None, seed: bool, ordered_results: bool, shuffle_seed: int | None,
                 portal_id: int | None = None, variants: behaviour.Variants = behaviour.INSTANT_INDEX,
                 clock_offset: float = 0.0) -> None:
        self.store = Store(db_path)
        self.store.clock.offset_ms = round(clock_offset * 1000)
        try:
            with self.store.transaction():
                self.portal_id = self._own_id(portal_id)
                saved = self.store.meta("definitions")
                if saved:
                    self.registry = self._load(self.portal_id, json.loads(saved))
                else:
                    self.registry = self._fresh(self.portal_id, seed)
                    self.save_definitions()
                self.records = Records(self.registry, self.store, shuffle_seed, ordered_results, variants)
                if seed and not self.store.meta("seeded"):
                    self._seed()
                self.records.rebuild_uniques()
                # After the seed, which a portal has indexed long before anyone searches it.
                self.records.index = SearchIndex(self.store.clock, variants.search_lag,
                                                 variants.search_lag_jitter, shuffle_seed)
        except BaseException:
            self.store.close()
            raise
        self.api = Api(self.registry, self.store, self.records, self.save_definitions)

    def _own_id(self, wanted: int | None) -> int:
        """The portal's id, saved in its store: a new store takes `wanted`, else a random one."""
        saved = self.store.meta("portal_id")
        if saved is not None:
            own = int(saved)
        elif self.store.meta("definitions"):  # made before each portal had its own id
            own = portal.LEGACY_PORTAL_ID
        else:
            own = wanted if wanted is not None else portal.new_portal_id()
        if wanted is not None and wanted != own:
            raise ValueError(f"the sandbox store {self.store.path} is portal {own}, not portal {wanted}; "
                             "leave portal_id out to open it, or use another file")
        self.store.set_meta("portal_id", str(own))
        return own

    @staticmethod
    def _fresh(portal_id: int, seed: bool) -> portal.Registry:
        types = [portal.contacts(portal_id), portal.companies(portal_id)]
        if seed:
            types.append(portal.cars(portal_id))
        known = {t.object_type_id for t in types}
        associations = [a for a in portal.seed_association_types() if {a.from_type, a.to_type} <= known]
        return portal.Registry(portal_id, types, associations)

    @staticmethod
    def _load(portal_id: int, saved: dict) -> portal.Registry:
        return portal.Registry(portal_id,
                               [portal.ObjectType.from_json(t, portal_id) for t in saved["object_types"]],
                               [portal.AssociationType(**a) for a in saved["association_types"]])

    def save_definitions(self) -> None:
        self.store.set_meta("definitions", json.dumps({
            "object_types": [t.to_json() for t in self.registry.object_types.values()],
            "association_types": [a.__dict__ for a in self.registry.association_types]}))

    def _seed(self) -> None:
        contacts = self.registry.resolve("contacts")
        items = [WriteInput(p) for p in portal.seed_contact_properties()]
        self.records.prepare(contacts, items)
        self.records.apply(contacts, items)
        self.store.set_meta("seeded", "1")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, sandbox: "Sandbox") -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (after a timeout, a drop) is not worth a stack trace on stderr."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def process_request_thread(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Gate:
    """One held request (see Sandbox.hold): `reached` is set when it arrives; `release()` lets it on."""

    def __init__(self, method: str, path_end: str, nth: int) -> None:
        self.method, self.path_end, self.nth = method, path_end, nth
        self.seen = 0
        self.reached = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    def matches(self, method: str, path: str) -> bool:
        if method != self.method or not path.endswith(self.path_end):
            return False
        with self._lock:
            self.seen += 1
            return self.seen == self.nth

    def wait_here(self) -> None:
        self.reached.set()
        self.released.wait(timeout=60)  # bounded: a test that forgets to release cannot hang the server

    def release(self) -> None:
        self.released.set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without TCP_NODELAY each keep-alive answer would
    # wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args) -> None:  # the request log replaces stderr lines
        pass

    def do_GET(self):
        self.serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def serve(self) -> None:
        sandbox = self.server.sandbox
        arrived = time.time()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        split = urlsplit(self.path)
        path, query = unquote(split.path).rstrip("/") or "/", split.query
        body, fault, applied = None, None, True
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        sandbox.pass_gates(self.command, path)
        try:
            response, fault, applied = sandbox.respond(self.command, path, query, raw, self.headers)
        except Exception as exc:  # a sandbox bug must still answer, like HubSpot's 500
            response = Response(500, {"status": "error", "message": f"internal error: {exc}",
                                       "correlationId": correlation_id(), "category": "INTERNAL_ERROR"})
        status = 0 if fault and fault.kind == "drop" else response.status
        sandbox.log(LogEntry(self.command, path, query, status, arrived, time.time() - arrived, body,
                             fault.kind if fault else None, applied))
        if fault and fault.kind == "slow":
            self.server.stopping.wait(sandbox.slow_seconds)
        if status == 0:
            self.drop(response, applied)
        else:
            self.send(response)

    def send(self, response: Response) -> None:
        payload = b"" if response.body is None else encode(response.body)
        self.send_response(response.status)
        cid = response.body.get("correlationId") if isinstance(response.body, dict) else None
        self.send_header("X-HubSpot-Correlation-Id", cid or correlation_id())
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def drop(self, response: Response, applied: bool) -> None:
        """Cut the connection: mid-response when the write went through, before any byte otherwise."""
        if applied:
            payload = encode(response.body if response.body is not None else {})
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload) + 100))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Sandbox:
    """A HubSpot-compatible portal on loopback, served from a background thread.

    `with Sandbox() as portal:` gives a fresh, seeded portal at `portal.base_url`; with `db_path`
    the state lives in that SQLite file and survives a restart (a seeded file is not re-seeded).
    Each fresh store is a portal of its own, with a random id unless `portal_id` names one; a
    file keeps its id, and ValueError says so when `portal_id` names another.

    `variants` are the ways it behaves where HubSpot may behave more than one way (behaviour.Variants;
    without, INSTANT_INDEX: the defaults, with search indexing at once). Its clock is the real time
    plus `clock_offset` seconds (negative: a portal whose past lies further back, so a test can
    write "an hour ago"); `advance_clock` moves it on, as the search lag waits on it.
    """

    def __init__(self, db_path=None, token: str = "sandbox", rate_limit: int = behaviour.TEN_SECONDLY_LIMIT,
                 search_rate_limit: int = behaviour.SEARCH_PER_SECOND, faults: str = "", fault_seed=None,
                 seed: bool = True, host: str = "127.0.0.1", port: int = 0, ordered_results: bool = False,
                 extra_tokens: dict[str, set[str]] | None = None,
                 slow_seconds: float = behaviour.SLOW_SECONDS, log_limit: int = 10_000,
                 portal_id: int | None = None, variants: behaviour.Variants | None = None,
                 clock_offset: float = 0.0) -> None:
        self.variants = variants if variants is not None else behaviour.INSTANT_INDEX
        self.clock_offset = clock_offset  # seconds the portal's clock starts ahead of (negative: behind) real time
        self.db_path = str(db_path) if db_path else None
        self.token = token
        self.wanted_portal_id = portal_id
        self.host, self.port = host, port
        self.seed = seed
        self.ordered_results = ordered_results
        self.slow_seconds = slow_seconds
        self.tokens: dict[str, frozenset[str] | None] = {token: None}
        self.tokens.update({t: frozenset(s) for t, s in (extra_tokens or {}).items()})
        self.limits = RateLimits(rate_limit, search_rate_limit, competing_share=self.variants.competing_share,
                                 headers=self.variants.rate_headers, seed=fault_seed)
        self.faults = FaultInjector(faults, fault_seed)
        self.fault_seed = fault_seed
        self._log: deque[LogEntry] = deque(maxlen=log_limit)  # the newest entries; memory stays flat
        self._log_lock = threading.Lock()
        self._gates: list[Gate] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.portal: Portal | None = None

    def __repr__(self) -> str:
        return f"Sandbox(base_url={self.base_url!r})"

    @property
    def portal_id(self) -> int | None:
        """The portal's id (HubSpot's portalId, the hub id), known once the store is open."""
        return self.portal.portal_id if self.portal else None

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> "Sandbox":
        self.bind()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="sandbox-portal",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()
        for gate in self._gates:
            gate.release()
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()
        self.portal.store.close()
        self._server = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block serving requests in this thread (the CLI) until interrupted; `bind()` first."""
        if self._server is None:
            self.bind()
        try:
            self._server.serve_forever()
        finally:
            self._server.stopping.set()
            self._server.close_connections()
            self._server.server_close()
            self.portal.store.close()
            self._server = None

    def bind(self) -> "Sandbox":
        """Open the store and the listening socket without serving yet (so the port is known)."""
        self.portal = Portal(self.db_path, self.seed, self.ordered_results, self.fault_seed, self.wanted_portal_id,
                             self.variants, self.clock_offset)
        try:
            self._server = _Server((self.host, self.port), self)
        except OSError:
            self.portal.store.close()
            raise
        self.port = self._server.server_address[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- controls ----------------------------------------------------------------------------

    @property
    def request_log(self) -> list[LogEntry]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def log(self, entry: LogEntry) -> None:
        with self._log_lock:
            self._log.append(entry)

    def hold(self, method: str, path_end: str, nth: int = 1) -> Gate:
        """Hold the `nth` request whose method and path end match until the gate is released.

        Lets a test act at an exact moment of a client's run (kill it, interrupt it) without timing:
        wait on `gate.reached`, act, then `gate.release()`. Stopping the sandbox releases every gate.
        """
        gate = Gate(method.upper(), path_end, nth)
        with self._log_lock:
            self._gates.append(gate)
        return gate

    def pass_gates(self, method: str, path: str) -> None:
        with self._log_lock:
            matching = [g for g in self._gates if g.matches(method, path)]
        for gate in matching:
            gate.wait_here()

    def set_faults(self, spec: str, seed: int | None = None) -> None:
        """`"429:0.1,503:0.05,slow:0.02,drop:0.02"`; `""` turns faults off. FaultSpecError if bad."""
        self.faults.configure(spec, seed)

    def set_rate_limit(self, limit: int) -> None:
        """Requests per rolling 10 s for the main token (a fresh window)."""
        self.limits.set_limit(self.token, limit)

    def advance_clock(self, seconds: float) -> None:
        """Move the portal's clock forward: what waits on it (the search lag) is that much nearer.
        Writes after it are stamped that much later than the real time."""
        with self.portal.store.lock:
            self.portal.store.clock.advance(seconds)

    def now_ms(self) -> int:
        """The portal's clock, epoch milliseconds."""
        return self.portal.store.clock.now()

    def searchable_at(self, record_id) -> int | None:
        """When (the portal's clock, epoch ms) search sees the record's latest write; None if it does."""
        with self.portal.store.lock:
            return self.portal.records.index.searchable_at(int(record_id))

    def catch_up_search(self) -> None:
        """Let the search index catch up with every write now, whatever the lag."""
        with self.portal.store.lock:
            self.portal.records.index.catch_up()

    # --- one request -------------------------------------------------------------------------

    def respond(self, method: str, path: str, query: str, raw: bytes, headers) -> tuple[Response, Fault | None, bool]:
        """The response, the fault that struck (if any) and whether the request was carried out."""
        token = _bearer(headers.get("Authorization"))
        if token not in self.tokens:
            return _error(unauthenticated()), None, False
        api = self.portal.api
        is_search = api.is_search(method, path)
        is_write = method != "GET" and not is_search and not path.endswith("/batch/read")
        fault = self.faults.draw(is_write)
        verdict = self.limits.check(token, is_search)
        if fault and not fault.after_write and fault.kind not in ("slow", "drop"):
            return self._fault_response(fault, verdict.headers, is_search), fault, False
        if fault and fault.kind == "drop" and not fault.after_write:
            return Response(200), fault, False
        if verdict.policy:
            return self._rate_limited(verdict.policy, token, verdict.headers), fault, False
        response = self._dispatch(method, path, query, raw, self.tokens[token])
        response.headers.update(verdict.headers)
        if fault and fault.after_write and fault.kind not in ("slow", "drop"):
            return self._fault_response(fault, verdict.headers, is_search), fault, True
        return response, fault, True

    def _dispatch(self, method: str, path: str, query: str, raw: bytes, scopes) -> Response:
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            return _error(validation(f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}, column "
                                     f"{getattr(exc, 'colno', 1)}: {getattr(exc, 'msg', str(exc))}"))
        request = Request(method, path, parse_qs(query, keep_blank_values=True), body, len(raw), scopes)
        try:
            return self.portal.api.handle(request)
        except ApiError as error:
            return _error(error)

    def _rate_limited(self, policy: str, token: str, headers: dict) -> Response:
        group = {"SECONDLY": "publicapi:search-secondly", "DAILY": "publicapi:daily"}.get(
            policy, f"publicapi:hapikey-api-calls-ten-secondly:{self.portal_id}")
        response = Response(429, rate_limited(policy, group), dict(headers))
        if behaviour.RETRY_AFTER_SECONDS is not None:
            response.headers["Retry-After"] = str(behaviour.RETRY_AFTER_SECONDS)
        return response

    def _fault_response(self, fault: Fault, headers: dict, is_search: bool) -> Response:
        if fault.kind == "429":
            return self._rate_limited("SECONDLY" if is_search else "TEN_SECONDLY_ROLLING", "", headers)
        category, message = FAULT_BODIES[fault.status]
        return Response(fault.status, {"status": "error", "message": message, "correlationId": correlation_id(),
                                       "category": category})


def _bearer(header: str | None) -> str | None:
    if not header or not header.startswith("Bearer "):
        return None
    return header[len("Bearer "):].strip()


def _error(error: ApiError) -> Response:
    body = dict(error.body)
    body["correlationId"] = correlation_id()
    return Response(error.status, body)


def serve(host: str = "127.0.0.1", port: int = 8470, db_path=None, token: str = "sandbox",
          rate_limit: int = behaviour.TEN_SECONDLY_LIMIT, faults: str = "", fault_seed=None,
          seed: bool = True, on_ready=None, portal_id: int | None = None,
          variants: behaviour.Variants | None = None) -> None:
    """Serve a sandbox portal in this thread until interrupted (Ctrl-C); `on_ready(sandbox)` is
    called once the port is bound (and the portal's id known), before the first request is served.
    `variants` default to behaviour.Variants(): the strongest evidence, search lag included."""
    sandbox = Sandbox(db_path=db_path, token=token, rate_limit=rate_limit, faults=faults,
                      fault_seed=fault_seed, seed=seed, host=host, port=port, portal_id=portal_id,
                      variants=variants if variants is not None else behaviour.Variants()).bind()
    if on_ready:
        on_ready(sandbox)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
