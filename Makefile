# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
# llama.cpp builds from source. A -march=native build uses AMX tiles where the CPU lists them, and
# virtual machines that list AMX without enabling it die with SIGILL: build for AVX2 instead,
# which every x86-64 CPU of the last decade runs.
ifeq ($(shell uname -m),x86_64)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: install run test test-fast index bench clean

install: $(STAMP)

# torch alone and first: this takes the local CPU build instead of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

index: install
	$(VENV)/bin/rag index

run: index
	$(VENV)/bin/rag serve

test: install
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not model and not browser"

bench: install
	$(PY) eval/bench.py

clean:
	rm -rf $(VENV) index/CURRENT index/builds   # keeps index/uploads: articles added in the chat
