# The two commands a new user needs: `make demo` and `make test` (both install on first use).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint proto bench-throughput bench-replica bench-queue bench-scaling bench-scaling-frontier bench-forecast bench-dispatch bench-lb bench-foreach bench-call-overhead bench-two-node clean

$(STAMP): pyproject.toml requirements/client.txt requirements/server.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	# Bytecode now, as pip does for installed wheels, so the first `orchestrator` call is fast too.
	$(PY) -m compileall -q models scheduler ray_backend controlplane samples
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/orchestrator demo

# Lint, types and the package boundaries first (seconds), then the suite.
test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Regenerates controlplane/api/gen from proto/ (the only way generated code changes).
proto: $(STAMP)
	$(PY) controlplane/api/generate.py

bench-throughput: $(STAMP)
	$(PY) bench/throughput.py $(BENCH_ARGS)

# The replica actor called directly against bare Ray actors (see bench/replica_overhead.py).
bench-replica: $(STAMP)
	$(PY) bench/replica_overhead.py $(BENCH_ARGS)

# Dispatcher rounds under 1k / 5k / 20k queued tasks with demands (see bench/queueing.py).
bench-queue: $(STAMP)
	$(PY) bench/queueing.py $(BENCH_ARGS)

# Backtests of auto and the baselines on every NAB trace and synthetic series (bench/forecast.py).
bench-forecast: $(STAMP)
	$(PY) bench/forecast.py $(BENCH_ARGS)

# The learned dispatching policy against every rule on job-shop families it never saw
# (bench/dispatch_transfer.py; --set laft|abz|harder|ta15|generated for the others).
bench-dispatch: $(STAMP)
	$(PY) bench/dispatch_transfer.py --set unseen $(BENCH_ARGS)

# Predictive vs reactive autoscaling on the NAB nyc_taxi and ELB traces (see bench/scaling.py).
bench-scaling: $(STAMP)
	$(PY) bench/scaling.py $(BENCH_ARGS)

# Reactive's cost-violation frontier (target utilisation sweep) against predictive variants.
bench-scaling-frontier: $(STAMP)
	$(PY) bench/scaling_frontier.py $(BENCH_ARGS)

# Load-balancing strategies with one slow replica: simulation and live run (bench/load_balancing.py).
bench-lb: $(STAMP)
	$(PY) bench/load_balancing.py $(BENCH_ARGS)

# for_each of 10,000 no-op items against the same fan-out written out (bench/foreach.py).
bench-foreach: $(STAMP)
	$(PY) bench/foreach.py $(BENCH_ARGS)

bench-call-overhead: $(STAMP)
	$(PY) bench/call_overhead.py $(BENCH_ARGS)

# A fan-out on a two-node Ray cluster of this machine, steady and with the second node
# SIGKILLed mid-run (bench/two_node.py).
bench-two-node: $(STAMP)
	$(PY) bench/two_node.py $(BENCH_ARGS)

# ListExecutions / GetExecution at 1k, 10k, 100k stored executions; server RSS after 1k and 10k
# finished executions; store bytes per task (bench/store_scale.py).
.PHONY: bench-store
bench-store: $(STAMP)
	$(PY) bench/store_scale.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
