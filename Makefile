# ember — see README.md.  `make demo` and `make test` set everything up
# themselves (apt packages, .venv, pip packages, the build).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
CC ?= gcc

SRCS := $(shell $(PY) buildcfg.py sources)
CFLAGS_EM := $(shell $(PY) buildcfg.py cflags)
LDLIBS_EM := $(shell $(PY) buildcfg.py ldlibs)
HDRS := $(shell find csrc/ember -name '*.h')
INC := -Icsrc/ember/include -Icsrc/ember
OBJS := $(SRCS:%.c=build/obj/%.o)
TEST_SRCS := $(wildcard tests/c/*.c)
TEST_HDRS := $(wildcard tests/c/*.h)
PYEXT_SRCS := $(wildcard csrc/pyext/*.c csrc/pyext/*.h)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
EXT := python/ember/_C$(shell $(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')

.PHONY: all lib ext setup test test-c test-valgrind test-asan test-py test-wheel demo bench clean

all: lib build/test_c ext

lib: build/libember.a build/libember.so

build/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_EM) $(INC) -c $< -o $@

build/libember.a: $(OBJS)
	ar rcs $@ $^

build/libember.so: $(OBJS)
	$(CC) -shared -o $@ $^ $(LDLIBS_EM)

build/test_c: $(TEST_SRCS) $(TEST_HDRS) build/libember.a
	$(CC) $(CFLAGS_EM) -g $(INC) -Itests/c $(TEST_SRCS) build/libember.a $(LDLIBS_EM) -o $@

# sanitizer build of the C tests straight from the sources
build/asan/test_c: $(TEST_SRCS) $(TEST_HDRS) $(SRCS) $(HDRS)
	@mkdir -p build/asan
	$(CC) $(CFLAGS_EM) $(SAN) $(INC) -Itests/c $(TEST_SRCS) $(SRCS) $(LDLIBS_EM) -o $@

# the Python extension, built in place into python/ember
ext: $(EXT)
$(EXT): $(SRCS) $(HDRS) $(PYEXT_SRCS) setup.py buildcfg.py | setup
	$(VPY) setup.py -q build_ext --inplace --build-temp build/pyext

# sanitizer build of the extension into build/asan/pkg (with the .py files)
build/asan/pkg/.stamp: $(SRCS) $(HDRS) $(PYEXT_SRCS) $(wildcard python/ember/*.py python/ember/*/*.py) | setup
	rm -rf build/asan/pkg && mkdir -p build/asan/pkg
	cp -r python/ember build/asan/pkg/ && rm -f build/asan/pkg/ember/_C*.so
	EMBER_EXTRA_CFLAGS="$(SAN)" EMBER_EXTRA_LDFLAGS="-fsanitize=address,undefined" \
	  $(VPY) setup.py -q build_ext --build-lib build/asan/pkg --build-temp build/asan/tmp
	touch $@

setup: $(VENV)/.stamp
$(VENV)/.stamp: requirements-dev.txt
	@command -v valgrind >/dev/null && command -v $(CC) >/dev/null && $(PY) -c 'import venv, ensurepip, sysconfig, os; \
	  assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind gcc make python3-venv python3-dev)
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q -r requirements-dev.txt
	touch $@

test: setup all test-c test-valgrind test-asan test-py test-wheel fuzz

test-c: build/test_c
	./build/test_c

test-valgrind: build/test_c
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all ./build/test_c

ASAN_ENV := ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1
test-asan: build/asan/test_c build/asan/pkg/.stamp
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ./build/asan/test_c
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" $(ASAN_ENV) \
	  PYTHONPATH=build/asan/pkg EMBER_SANITIZED=1 $(VPY) -m pytest -x -q -p no:cacheprovider tests

test-py: ext
	PYTHONPATH=python $(VPY) -m pytest -q tests

# `pip install .` path: build a wheel from a copy of the tracked files, install
# it into a scratch folder and import it from there
test-wheel: setup
	rm -rf build/wheel && mkdir -p build/wheel/src
	git ls-files -z | xargs -0 cp --parents -t build/wheel/src
	cd build/wheel/src && ../../../$(VPY) -m pip wheel -q --no-build-isolation --no-deps . -w ../dist
	$(VPY) -m pip install -q --no-deps --target build/wheel/site build/wheel/dist/ember-*.whl
	cd build/wheel && PYTHONPATH=site ../../$(VPY) -c 'import ember, numpy as np; \
	  t = ember.asarray(np.arange(6.0)).reshape(2, 3); assert (t @ t.T).tolist() == [[5, 14], [14, 50]]; \
	  assert "/build/wheel/site/ember/" in ember.__file__, ember.__file__; print("wheel OK:", ember.__file__)'

demo: setup ext
	PYTHONPATH=python $(VPY) examples/demo.py

bench: setup ext
	PYTHONPATH=python $(VPY) benchmarks/bench_ops.py

# GEMM against NumPy/OpenBLAS and PyTorch, as fractions of the FMA peak (benchmarks/peak.c)
.PHONY: bench-gemm
bench-gemm: setup ext
	PYTHONPATH=python $(VPY) benchmarks/bench_gemm.py

# CSV fuzz target under ASan+UBSan with gcc: seed corpus plus random mutations, at most 10 s
.PHONY: fuzz
fuzz:
	@mkdir -p build/fuzz
	$(CC) $(CFLAGS_EM) $(SAN) $(INC) tests/fuzz/fuzz_csv.c tests/fuzz/driver.c $(SRCS) $(LDLIBS_EM) -o build/fuzz/fuzz_csv
	ASAN_OPTIONS=detect_leaks=1 ./build/fuzz/fuzz_csv -n 200000 -t 10 tests/fuzz/corpus_csv

clean:
	rm -rf build python/ember/_C*.so
