"""deploy/kubernetes/: the manifests are read as Kubernetes would, and the agent pod's
quota-sidecar container is started as a real process with the container's own args and env
(its ConfigMap and Secret volumes laid out in a temporary folder, its Redis URL pointed at the
test's Redis, its ports moved to free ones). Its probes and metrics port must then answer."""

from __future__ import annotations

import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from tests.support.redis_servers import free_port
from tests.support.sidecar import SidecarProcess

MANIFESTS = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
SIDECAR = "quota-sidecar"
_SERVING = health_pb2.HealthCheckResponse.SERVING
Doc = dict[str, Any]


def _documents() -> list[Doc]:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
    return docs


def _find(kind: str, name: str) -> Doc:
    found = [d for d in _documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"one {kind} {name} expected, found {len(found)}"
    return found[0]


def _container(pod: Doc, name: str) -> Doc:
    every = pod.get("initContainers", []) + pod.get("containers", [])
    found = [c for c in every if c["name"] == name]
    assert len(found) == 1, f"one container {name} expected"
    return found[0]


def _flag(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _secret_values() -> dict[str, str]:
    """The Secret's keys with test values (the manifest's are placeholders to replace)."""
    secret = _find("Secret", "quota-sidecar-tokens")
    return {key: f"test-{key}" for key in secret["stringData"]}


def _lay_out_volumes(pod: Doc, container: Doc, root: Path) -> dict[str, str]:
    """Each volume the container mounts, as a folder under `root` holding what Kubernetes
    would put there; returns mountPath -> folder."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = _secret_values()
    paths: dict[str, str] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        folder = root / mount["name"]
        folder.mkdir()
        if "configMap" in volume:
            config_map = _find("ConfigMap", volume["configMap"]["name"])
            for key, text in config_map["data"].items():
                (folder / key).write_text(text)
        elif "secret" in volume:
            assert volume["secret"]["secretName"] == "quota-sidecar-tokens"
            items = volume["secret"].get("items") or [{"key": k, "path": k} for k in secrets]
            for item in items:
                (folder / item["path"]).write_text(secrets[item["key"]])
        else:
            assert "emptyDir" in volume, f"volume {mount['name']}: no rule to lay it out"
        paths[mount["mountPath"]] = str(folder)
    return paths


def _environment(container: Doc, redis_url: str) -> dict[str, str]:
    secrets = _secret_values()
    env: dict[str, str] = {
        # The test's shell may carry these; the container would not.
        "QUOTA_SIDECAR_ADMIN_TOKEN": "",
        "QUOTA_SIDECAR_DATA_TOKEN": "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
    }
    for item in container.get("env", []):
        if item["name"] == "QUOTA_SIDECAR_REDIS_URL":
            env[item["name"]] = redis_url
        elif "value" in item:
            env[item["name"]] = item["value"]
        else:
            env[item["name"]] = secrets[item["valueFrom"]["secretKeyRef"]["key"]]
    return env


def _serving(target: str, service: str = "") -> bool:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 10
        while True:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            if reply.status == _SERVING or time.monotonic() > deadline:
                return bool(reply.status == _SERVING)
            time.sleep(0.05)


def test_the_kustomization_lists_every_manifest_and_each_is_a_kubernetes_object() -> None:
    listed = set(yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    for doc in _documents():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], doc


def test_the_agent_pods_sidecar_starts_with_its_args_and_answers_on_the_ports_it_names(
    redis_url: str, tmp_path: Path
) -> None:
    pod = _find("Deployment", "agent")["spec"]["template"]
    spec = pod["spec"]
    sidecar = _container(spec, SIDECAR)
    assert sidecar in spec["initContainers"] and sidecar["restartPolicy"] == "Always"
    assert sidecar["resources"]["requests"]["cpu"] and sidecar["resources"]["requests"]["memory"]
    assert sidecar["command"] == ["quota-sidecar"] and sidecar["args"][0] == "serve"
    args: list[str] = sidecar["args"][1:]
    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}

    # What the probes and the scrape annotations name is what the container listens on.
    grpc_port = _port(_flag(args, "--listen"))
    metrics_port = _port(_flag(args, "--metrics-listen"))
    assert ports == {"grpc": grpc_port, "metrics": metrics_port}
    probes = {
        kind: sidecar[kind]["grpc"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert {probe["port"] for probe in probes.values()} == {grpc_port}
    assert int(pod["metadata"]["annotations"]["prometheus.io/port"]) == metrics_port
    assert spec["terminationGracePeriodSeconds"] > float(_flag(args, "--grace-seconds"))

    # The container, on this machine: its volumes in tmp_path, its ports moved to free ones.
    moved = {port: free_port() for port in ports.values()}
    mounts = _lay_out_volumes(spec, sidecar, tmp_path)

    def localized(arg: str) -> str:
        for port, free in moved.items():
            arg = arg.replace(f"0.0.0.0:{port}", f"127.0.0.1:{free}")
        for mount_path, folder in mounts.items():
            if arg.startswith(mount_path):
                arg = folder + arg.removeprefix(mount_path)
        return arg

    local = [localized(arg) for arg in args]
    env = _environment(sidecar, redis_url)
    with SidecarProcess(*local, env=env) as process:
        assert process.port == moved[grpc_port]
        for probe in probes.values():
            assert _serving(f"127.0.0.1:{moved[probe['port']]}", probe.get("service", ""))
        url = f"http://127.0.0.1:{moved[metrics_port]}{pod['metadata']['annotations']['prometheus.io/path']}"
        with urllib.request.urlopen(url, timeout=5) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("text/plain")
            metrics = reply.read().decode()
        assert "# TYPE quota_sidecar_store_up gauge" in metrics
        assert "quota_sidecar_store_up 1.0" in metrics
        # The ConfigMap's quota file was applied, and the Secret's admin token opens the admin API.
        with grpc.insecure_channel(process.target) as channel:
            admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
            acme = types_pb2.Subject(scope=types_pb2.SCOPE_TENANT, identifier="acme")
            token = (("authorization", f"Bearer {_secret_values()['admin-token']}"),)
            got = admin.GetQuota(admin_pb2.GetQuotaRequest(subject=acme), metadata=token, timeout=5)
            assert got.config.subject == acme
        assert process.terminate() == 0


def test_the_agent_container_reaches_the_sidecar_with_the_data_token() -> None:
    spec = _find("Deployment", "agent")["spec"]["template"]["spec"]
    sidecar, agent = _container(spec, SIDECAR), _container(spec, "agent")
    env = {e["name"]: e for e in agent["env"]}
    assert _port(env["QUOTA_SIDECAR_TARGET"]["value"]) == _port(_flag(sidecar["args"], "--listen"))
    token_key = env["QUOTA_SIDECAR_DATA_TOKEN"]["valueFrom"]["secretKeyRef"]["key"]
    mounted = {
        item["path"]: item["key"]
        for v in spec["volumes"]
        if "secret" in v
        for item in v["secret"]["items"]
    }
    data_token_file = Path(_flag(sidecar["args"], "--data-token-file"))
    assert mounted[data_token_file.name] == token_key  # the agent sends what the sidecar checks


def test_every_sidecar_container_runs_the_image_make_image_builds() -> None:
    """`make image` tags its archive quota-sidecar:<pyproject version> (what `podman load` and
    `docker load` name it); a release bumps the one version, and these tags with it."""
    version = tomllib.loads((MANIFESTS.parents[1] / "pyproject.toml").read_text())["project"][
        "version"
    ]
    images = [
        container["image"]
        for name in ("agent", "quota-dashboard")
        for container in _every_container(_find("Deployment", name)["spec"]["template"]["spec"])
        if container["name"] == SIDECAR
    ]
    assert images == [f"quota-sidecar:{version}"] * 2


def _every_container(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def test_the_redis_service_is_the_one_the_sidecars_name() -> None:
    service = _find("Service", "quota-redis")
    redis = _find("StatefulSet", "quota-redis")["spec"]["template"]["spec"]["containers"][0]
    assert (
        service["spec"]["selector"].items()
        <= _find("StatefulSet", "quota-redis")["spec"]["template"]["metadata"]["labels"].items()
    )
    assert "noeviction" in redis["args"]  # spend must never be evicted
    for name in ("agent", "quota-dashboard"):
        spec = _find("Deployment", name)["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in _container(spec, SIDECAR).get("env", [])}
        url = env["QUOTA_SIDECAR_REDIS_URL"]
        assert url.startswith(
            f"redis://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/"
        )


def test_the_dashboard_deployment_is_wired_to_its_flags_and_service() -> None:
    """Structure only: the dashboard's flags come from another branch, so it is not started."""
    deployment = _find("Deployment", "quota-dashboard")["spec"]["template"]
    container = _container(deployment["spec"], SIDECAR)
    args = container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert _port(_flag(args, "--http-listen")) == ports["http"]
    assert _port(_flag(args, "--listen")) == ports["grpc"]
    assert _port(_flag(args, "--metrics-listen")) == ports["metrics"]
    assert container["readinessProbe"]["grpc"]["port"] == ports["grpc"]
    assert container["livenessProbe"]["grpc"] == {"port": ports["grpc"], "service": "liveness"}
    assert container["resources"]["requests"]
    token = {e["name"]: e for e in container["env"]}["QUOTA_SIDECAR_DASHBOARD_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["key"] in _secret_values()
    service = _find("Service", "quota-dashboard")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= deployment["metadata"]["labels"].items()
