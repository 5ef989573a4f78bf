"""Start and stop a whole platform as real processes, for end-to-end tests and the benchmark.

- `EmbeddedStack`: `dispatch serve --port P --demo-providers 0` (the four services in one uvicorn
  process, SQLite in a temp `COUPDEMAIN_VAR_DIR`, the in-process bus), in its own session.
- `DistributedStack`: `deploy/platform.sh up` with everything that could clash set apart from a
  developer's own stack: a fresh PostgreSQL database on the test server, a fresh Kafka topic
  prefix and consumer groups, a temp `COUPDEMAIN_DISTRIBUTED_DIR` (pid files, logs, nginx prefix)
  and free ports for nginx and the four services. `stop()` runs `platform.sh down` (PostgreSQL
  and Kafka keep running), kills whatever is still alive from the pid files, drops the database
  and deletes the run's topics. `down` must succeed on its own: when it exits non-zero or
  leaves a process of ours alive, `stop()` still cleans up, then raises `StopFailed`.

Both are context managers; `stop()` is safe to call more than once and after a failed start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.e2e.scenario import Stack

REPO = Path(__file__).resolve().parents[2]
DISPATCH = REPO / ".venv" / "bin" / "dispatch"
PLATFORM_SH = REPO / "deploy" / "platform.sh"
SERVICES = ("providers", "pricing", "orders", "matching")

# Short intervals so that a scenario's asynchronous steps take well under a second each.
FAST_SETTINGS: dict[str, str] = {
    "MATCHING_BATCH_INTERVAL_S": "0.3",
    "MATCHING_FAST_BATCH_INTERVAL_S": "0.3",
    "MATCHING_OFFER_TTL_S": "30",
    "ORDERS_DISPATCH_MARGIN_MIN": "0",
    "ORDERS_NOTIFY_INTERVAL_S": "0.5",
    "COUPDEMAIN_OUTBOX_POLL_S": "0.1",
    "COUPDEMAIN_LOG_JSON": "false",
    "COUPDEMAIN_LOG_LEVEL": "WARNING",
}
# Variables of the caller's environment a stack must not inherit (they would point it elsewhere).
INHERITED_OUT = (
    "DATABASE_URL",
    "COUPDEMAIN_DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "COUPDEMAIN_KAFKA_BOOTSTRAP_SERVERS",
    "COUPDEMAIN_MODE",
    "COUPDEMAIN_VAR_DIR",
    "COUPDEMAIN_PUBLIC_URL",
    "COUPDEMAIN_KAFKA_TOPIC_PREFIX",
    "ORDERS_PRICING_URL",
    "COUPDEMAIN_DISTRIBUTED_DIR",
    "PUBLIC_HOST",
    "PUBLIC_PORT",
    *(f"{s.upper()}_{k}" for s in SERVICES for k in ("PORT", "REPLICAS")),
)


REPLICA_PORT_STEP = 10  # platform.sh puts replica k of a service at PORT + 10 k


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, replicas: int = 1) -> list[int]:
    """Return `count` base ports free on 127.0.0.1 right now, each with its replicas' ports.

    Base port P stands for P, P + 10, ... P + 10 (replicas - 1): all free, none shared.
    """
    sockets, ports, taken = [], [], set()
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            port = s.getsockname()[1]
            wanted = {port + REPLICA_PORT_STEP * k for k in range(max(replicas, 1))}
            if wanted.isdisjoint(taken) and all(_is_free(p) for p in wanted - {port}):
                ports.append(port)
                taken |= wanted
    finally:
        for s in sockets:
            s.close()
    return ports


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_OUT}
    env.update(FAST_SETTINGS)
    env.update(extra)
    return env


def wait_healthy(
    url: str, timeout_s: float, alive: Callable[[], bool] | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if alive is not None and not alive():
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise RuntimeError(f"the platform exited during start-up:\n{tail}")
        if time.monotonic() >= deadline:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise RuntimeError(f"{url}/healthz does not answer after {timeout_s:.0f}s:\n{tail}")
        time.sleep(0.2)


class StackContext:
    """`with stack:` starts it and stops it, also when starting fails half-way."""

    def start(self) -> Stack:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException as failure:
            try:
                self.stop()
            except Exception as stop_failure:  # noqa: BLE001 - the start's failure is the one to see
                failure.add_note(f"stopping after the failed start failed too: {stop_failure}")
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedStack(StackContext):
    """The four services in one `dispatch serve` process on a free port (its output in `log`)."""

    mode = "embedded"

    def __init__(
        self, var_dir: Path, *, settings: Mapping[str, str] | None = None, demo_providers: int = 0
    ) -> None:
        self.var_dir = var_dir
        self.demo_providers = demo_providers
        self.port = free_ports(1)[0]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.jwt_secret = f"e2e-{uuid.uuid4().hex}{uuid.uuid4().hex}"
        self.settings = {**FAST_SETTINGS, **(settings or {})}
        self.log = var_dir / "platform.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def stack(self) -> Stack:
        return Stack(
            self.mode,
            self.base_url,
            self.jwt_secret,
            int(self.settings.get("ORDERS_DISPATCH_MARGIN_MIN", "30")),
        )

    def start(self, timeout_s: float = 60) -> Stack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        env = base_env(
            {
                **self.settings,
                "COUPDEMAIN_MODE": "embedded",
                "COUPDEMAIN_VAR_DIR": str(self.var_dir),
                "COUPDEMAIN_PUBLIC_URL": self.base_url,
                "COUPDEMAIN_JWT_SECRET": self.jwt_secret,
            }
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(DISPATCH),
                    "serve",
                    "--port",
                    str(self.port),
                    "--demo-providers",
                    str(self.demo_providers),
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills the whole group
            )
        wait_healthy(
            self.base_url,
            timeout_s,
            alive=lambda: self.process is not None and self.process.poll() is None,
            log=self.log,
        )
        return self.stack

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1).split("?", 1)[0]


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()


async def _group_assignments(bootstrap: str, group: str) -> dict[str, list[tuple[str, int]]]:
    """The members of a consumer group (by client host and member id) and the partitions each holds."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    members: dict[str, list[tuple[str, int]]] = {}
    for _error, _group, _state, _protocol_type, _protocol, group_members, *_ in response.groups:
        for member_id, _client_id, client_host, _metadata, assignment in group_members:
            held = ConsumerProtocolMemberAssignment.decode(assignment).partitions() if assignment else []
            members[f"{client_host} {member_id}"] = sorted((tp.topic, tp.partition) for tp in held)
    return members


class StopFailed(AssertionError):
    """`platform.sh down` failed or left processes behind (they were killed afterwards)."""


class DistributedStack(StackContext):
    """`deploy/platform.sh up` on a fresh database, topic prefix, state directory and ports."""

    mode = "distributed"

    def __init__(
        self,
        state_dir: Path,
        *,
        database_url: str,
        kafka_bootstrap: str,
        settings: Mapping[str, str] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        run = uuid.uuid4().hex[:10]
        self.state_dir = state_dir
        self.server_url = database_url
        self.database = f"e2e_{run}"
        self.database_url = with_database(database_url, self.database)
        self.kafka_bootstrap = kafka_bootstrap
        self.topic_prefix = f"e2e-{run}."
        self.jwt_secret = f"e2e-{uuid.uuid4().hex}{uuid.uuid4().hex}"
        self.settings = {**FAST_SETTINGS, **(settings or {})}
        self.replicas = {service: 1 for service in SERVICES} | dict(replicas or {})
        public, *service_ports = free_ports(1 + len(SERVICES), max(self.replicas.values()))
        self.public_port = public
        self.ports = dict(zip(SERVICES, service_ports, strict=True))
        self.base_url = f"http://127.0.0.1:{public}"
        self.started = False
        self.created_database = False

    @property
    def stack(self) -> Stack:
        return Stack(
            self.mode,
            self.base_url,
            self.jwt_secret,
            int(self.settings.get("ORDERS_DISPATCH_MARGIN_MIN", "30")),
        )

    def env(self) -> dict[str, str]:
        run = self.database
        extra = {
            **self.settings,
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "COUPDEMAIN_KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "COUPDEMAIN_JWT_SECRET": self.jwt_secret,
            "COUPDEMAIN_DISTRIBUTED_DIR": str(self.state_dir),
            "PUBLIC_HOST": "127.0.0.1",
            "PUBLIC_PORT": str(self.public_port),
            "ORDERS_CONSUMER_GROUP": f"orders-{run}",
            "MATCHING_CONSUMER_GROUP": f"matching-{run}",
            "PRICING_CONSUMER_GROUP": f"pricing-{run}",
            "PROVIDERS_CONSUMER_GROUP": f"providers-{run}",
            "SERVICE_START_TIMEOUT": "90",
            "STOP_TIMEOUT": "15",
        }
        for service, port in self.ports.items():
            extra[f"{service.upper()}_PORT"] = str(port)
        for service, n in self.replicas.items():
            extra[f"{service.upper()}_REPLICAS"] = str(n)
        return base_env(extra)

    def process_urls(self, service: str) -> list[str]:
        """The base URL of each process of `service`, bypassing nginx."""
        base = self.ports[service]
        return [f"http://127.0.0.1:{base + REPLICA_PORT_STEP * k}" for k in range(self.replicas[service])]

    async def consumer_group(self, service: str) -> dict[str, list[tuple[str, int]]]:
        """Who is in `service`'s consumer group now and which partitions each member holds."""
        return await _group_assignments(self.kafka_bootstrap, f"{service}-{self.database}")

    def platform(self, command: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(PLATFORM_SH), command],
            cwd=REPO,
            env=self.env(),
            text=True,
            capture_output=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )

    def start(self, timeout_s: float = 180) -> Stack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(_admin(self.server_url, f'CREATE DATABASE "{self.database}"'))
        self.created_database = True
        self.started = True
        done = self.platform("up", timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"platform.sh up failed ({done.returncode}):\n{done.stderr[-6000:]}")
        wait_healthy(self.base_url, 30)
        return self.stack

    def our_processes(self) -> list[tuple[int, bytes]]:
        """(pid, what its command line must contain) for every process this run wrote a pid file for."""
        found = []
        for pid_file in (self.state_dir / "run").glob("*.pid"):
            try:
                pid, port = pid_file.read_text().split()[:2]
                found.append((int(pid), f"--port {port}".encode()))
            except (ValueError, OSError):
                continue
        nginx_pid = self.state_dir / "nginx" / "nginx.pid"
        try:
            found.append((int(nginx_pid.read_text().strip()), str(self.state_dir).encode()))
        except (ValueError, OSError):
            pass
        return found

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        ours = self.our_processes()
        problems: list[str] = []
        try:
            down = self.platform("down", 90)
            if down.returncode != 0:
                problems.append(f"platform.sh down exited {down.returncode}:\n{down.stderr[-4000:]}")
        finally:
            # whatever `down` left, by the pids this run wrote (checked against their command line)
            for pid, marker in ours:
                if not _is_running(pid, marker):
                    continue
                problems.append(f"pid {pid} ({marker.decode()}) still alive after platform.sh down")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self.created_database:
                self.created_database = False
                asyncio.run(
                    _admin(self.server_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                )
            try:
                asyncio.run(_delete_topics(self.kafka_bootstrap, self.topic_prefix))
            except Exception:  # noqa: BLE001 - topics are only litter; the run's prefix is unique
                pass
        if problems:
            raise StopFailed("\n".join(problems))


def _is_running(pid: int, marker: bytes) -> bool:
    """Is `pid` alive and still the process we started (its command line holds `marker`)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker in cmdline  # a zombie's command line is empty
