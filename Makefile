# One entry point for every task. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements/dev.txt requirements/agents.txt | cksum | cut -d' ' -f1)
# The one version (pyproject.toml [project] version): the package, the contract, the image tag.
VERSION       := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml | head -n1)
IMAGE_ARCHIVE := build/quota-sidecar-$(VERSION).oci.tar

.PHONY: venv lock check-lock contract release-contract run test unit lint protos check-protos bench stubs clean image version docs reference check-reference

## The venv is exactly the lock (requirements/agents.txt, hashed: dev.txt plus the agent
## frameworks of the integrations' tests): pip brings the lock tool, uv installs the rest, then
## the project itself, editable, with the locked setuptools.
$(STAMP): pyproject.toml requirements/dev.txt requirements/agents.txt requirements/uv.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/uv.txt
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements/agents.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@# xds-protos ships a stale copy of opentelemetry/proto/ which, installed after
	@# opentelemetry-proto, overwrites its files (grpc/grpc#42428): put the real ones back.
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --reinstall \
	    "opentelemetry-proto==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

## Refresh the lock from pyproject.toml, keeping the pins that still fit (UPGRADE=1: newest).
lock: venv
	bash scripts/lock.sh write

## Fail when the committed lock no longer matches pyproject.toml (part of `make lint`).
check-lock: venv
	bash scripts/lock.sh check

## Try it: the sidecar on an embedded Redis (no Redis URL needed) with the example quotas, the
## dashboard on $(HTTP_LISTEN) and a one-time admin token printed at start (as Jupyter does).
## `quota-sidecar serve` alone keeps its secure defaults: no dashboard, admin API closed.
run: venv
	$(BIN)/quota-sidecar serve --listen $(LISTEN) --config examples/quotas.yaml \
	    --http-listen $(HTTP_LISTEN) --generate-admin-token

## Lint, the generated-code check, the documentation site (strict), the image, then every test
## against a real Redis and a real server (tests/integration/deploy runs the image).
test: venv lint check-protos docs image
	$(BIN)/pytest -q

## The documentation site from docs/ and mkdocs.yml into site/ (git-ignored), strictly: a broken
## link or anchor, or a page missing from the nav, fails; so does a stale generated reference.
docs: venv check-reference
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

## Regenerate docs/reference/ (every CLI flag and environment variable, every quota-file key)
## from the code: the argparse parsers and the quota file's FileSection tables.
reference: venv
	$(BIN)/python scripts/gen_reference.py write

## Fail when docs/reference/ differs from what the code generates (part of `make docs`).
check-reference: venv
	$(BIN)/python scripts/gen_reference.py check

## The unit tests that finish in process (those marked `spawns` start a process: `make test`).
unit: venv
	$(BIN)/pytest -q tests/unit -m "not spawns"

## The gRPC contract: buf lint, and buf breaking against the last released contract (buf.yaml).
contract:
	bash scripts/contract.sh check

## On a release: keep protos/ as released (protos/released/v<version>.binpb), the new baseline.
release-contract:
	bash scripts/contract.sh release

## Style, types, the import contract of the layers ([tool.importlinter] in pyproject.toml), and
## the gRPC contract's guard.
lint: venv check-lock contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Regenerate every committed generated file from protos/ (never edited by hand): the Python
## code (quota_sidecar/v1) and the client packages' (clients/go, clients/node/gen,
## clients/java/src/main/java), and stamp pyproject.toml's version into the clients' manifests.
protos: venv
	bash scripts/gen_code.sh write

## Regenerate into a scratch folder and fail on any difference from what is committed.
check-protos: venv
	bash scripts/gen_code.sh check

clean:
	rm -rf $(VENV) .gen-check .pytest_cache .mypy_cache .ruff_cache site

## The OCI image quota-sidecar:$(VERSION) as $(IMAGE_ARCHIVE), for `podman load` / `docker load`
## (README "Install"): buildah and debootstrap, no daemon, no registry; cached in .image-cache/.
image: venv
	bash scripts/build_image.sh

version:
	@echo $(VERSION) $(IMAGE_ARCHIVE)

## Clients for other languages from protos/ into gen/<lang>/ (git-ignored): Python, Node.js, C++,
## Java, Go (a module with its go.mod), Ruby, PHP, C#; lists what it skipped and how to install it.
stubs: venv
	bash scripts/gen_stubs.sh gen

## Benchmarks (not part of `make test`): bench/results/<date>.{json,md,png}. Installs what it needs.
bench: venv
	$(BIN)/python -c "import limits, matplotlib" 2>/dev/null || \
	    $(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements/bench.txt
	sh bench/ensure_loader.sh
	$(BIN)/python -m bench.run $(BENCH_ARGS)
