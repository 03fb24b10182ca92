# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
# llama.cpp builds from source, for the instructions this CPU lists in /proc/cpuinfo: AVX2 (every x86-64
# CPU of the last decade runs it) and, where listed, AVX-512 and VNNI (on an AVX-512 Xeon an answer takes
# a tenth less time and a prompt is read a third faster: README, Performance). Not
# -march=native: it also compiles in AMX tiles, and virtual machines that list AMX without enabling it
# die with SIGILL. The build is this CPU's, so it is never taken from pip's cache, where another CPU's
# may be, and it is made again when the flags change (.venv/.llama-cmake-args records them).
ifeq ($(shell uname -m),x86_64)
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
cpu_has = $(if $(filter-out $(CPU_FLAGS),$(1)),,$(2))
AVX512  := $(call cpu_has,avx512f avx512cd avx512vl avx512dq avx512bw,-DGGML_AVX512=ON)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	$(call cpu_has,avx_vnni,-DGGML_AVX_VNNI=ON) $(AVX512) \
	$(if $(AVX512),$(call cpu_has,avx512_vnni,-DGGML_AVX512_VNNI=ON) $(call cpu_has,avx512_bf16,-DGGML_AVX512_BF16=ON))
endif
LLAMA := $(shell grep -o -m1 'llama-cpp-python==[0-9.]*' pyproject.toml)

.PHONY: install run test test-fast index bench clean

install: $(STAMP)

# torch alone and first: this takes the local CPU build instead of CUDA wheels.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	@if [ "$$(cat $(VENV)/.llama-cmake-args 2>/dev/null)" != "$$(echo $$CMAKE_ARGS)" ]; then \
	  echo "building $(LLAMA) for this CPU ($$(echo $$CMAKE_ARGS)): about 6 minutes on 2 cores"; \
	  $(PY) -m pip install --quiet --no-cache-dir --force-reinstall --no-deps '$(LLAMA)' \
	    && echo $$CMAKE_ARGS > $(VENV)/.llama-cmake-args; \
	fi
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
