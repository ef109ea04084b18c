# vmscope: `make demo` runs the shell on the bundled demo program,
# `make test` runs the test suite. Both install missing system packages.
SWIFT        ?= swift
TESTTARGETS  := $(CURDIR)/.build/testtargets
BIN_DIR       = $(shell $(SWIFT) build --show-bin-path)

.PHONY: all deps build testtargets demo test stress golden clean

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

# The reliability tests with their full counts (VMSCOPE_STRESS=1 scales
# them up: thousands of stops, hundreds of signalled sessions).
stress: build testtargets
	VMSCOPE_STRESS=1 VMSCOPE_BIN=$(BIN_DIR)/vmscope VMSCOPE_TESTTARGETS=$(TESTTARGETS) $(SWIFT) test --filter Reliability

# Regenerates examples/golden/*.md from examples/*.vms when a change of
# output is intended (review the diff before committing).
golden: build testtargets
	VMSCOPE_UPDATE_GOLDEN=1 VMSCOPE_BIN=$(BIN_DIR)/vmscope VMSCOPE_TESTTARGETS=$(TESTTARGETS) \
		$(SWIFT) test --filter ExampleTranscriptTests

clean:
	$(SWIFT) package clean
	$(MAKE) -s -C TestTargets OUT=$(TESTTARGETS) clean
