# vmscope: `make demo` runs the shell on the bundled demo program,
# `make test` runs the test suite. Both install missing system packages.
SWIFT        ?= swift
TESTTARGETS  := $(CURDIR)/.build/testtargets
BIN_DIR       = $(shell $(SWIFT) build --show-bin-path)

.PHONY: all deps build testtargets demo test stress golden bench clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build

testtargets: deps
	$(MAKE) -s -C TestTargets OUT=$(TESTTARGETS)

demo: build testtargets
	@VMSCOPE=$(BIN_DIR)/vmscope DEMO=$(TESTTARGETS)/demo ./scripts/demo.sh

test: build testtargets
	VMSCOPE_BIN=$(BIN_DIR)/vmscope VMSCOPE_TESTTARGETS=$(TESTTARGETS) $(SWIFT) test

# The reliability suite (issue #8) with its full counts: 1,000 attach
# cycles, 100,000 fuzz inputs. Each case prints a `RELIABILITY case=...`
# line of figures (the README's table comes from them).
stress: build testtargets
	@VMSCOPE_STRESS=1 VMSCOPE_BIN=$(BIN_DIR)/vmscope VMSCOPE_TESTTARGETS=$(TESTTARGETS) \
		$(SWIFT) test --filter Reliability > .build/stress.log 2>&1; status=$$?; \
		grep -E '^RELIABILITY|error:|Executed' .build/stress.log; exit $$status

# Regenerates examples/golden/*.md from examples/*.vms when a change of
# output is intended (review the diff before committing).
golden: build testtargets
	VMSCOPE_UPDATE_GOLDEN=1 VMSCOPE_BIN=$(BIN_DIR)/vmscope VMSCOPE_TESTTARGETS=$(TESTTARGETS) \
		$(SWIFT) test --filter ExampleTranscriptTests

# Times vmscope against eu-stack, gdb and pmap (release build; gdb and
# eu-stack are optional: `apt-get install gdb elfutils`, the bench says
# when one is missing). Prints tables of medians and writes .build/bench.json.
# BENCH_FLAGS="--repeats 3 --no-gdb" for a quick run.
RELEASE_DIR   = $(shell $(SWIFT) build -c release --show-bin-path)
bench: deps testtargets
	$(SWIFT) build -c release --product vmscope
	$(SWIFT) build -c release --product vmscope-bench
	$(RELEASE_DIR)/vmscope-bench --vmscope $(RELEASE_DIR)/vmscope --testtargets $(TESTTARGETS) \
		--json $(CURDIR)/.build/bench.json $(BENCH_FLAGS)

clean:
	$(SWIFT) package clean
	$(MAKE) -s -C TestTargets OUT=$(TESTTARGETS) clean
