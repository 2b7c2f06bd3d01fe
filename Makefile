# The front door: `make run` and `make test`. Everything installs from constraints.txt.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTANCE ?= instance
HOST ?= localhost
PORT ?= 8080
MAIL_PORT ?= 8025
# The TLS proxy in front of Plone, if any (e.g. 127.0.0.1): see scripts/make_instance.py
TRUSTED_PROXIES ?=
PYTEST_ARGS ?=

.PHONY: help
help: ## Show the targets
	@grep -E '^[a-zA-Z_%-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The media server's packet path is a C extension (src/prorenata/videomote/media/_*.c):
# installing builds it, with a C compiler and Python's headers (build-tools).
$(VENV)/.installed: $(BIN)/python setup.py requirements.txt constraints.txt \
  $(wildcard src/prorenata/videomote/media/_*.[ch]) | build-tools
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/python -m pip install -q -U pip setuptools wheel
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/python -m pip install -q -r requirements.txt
	touch $@

.PHONY: build-tools
build-tools: ## A C compiler and Python's headers (gcc, python3-dev from apt when missing)
	@if ! command -v cc >/dev/null || ! $(PYTHON) -c "import sysconfig, pathlib, sys; \
	  sys.exit(not pathlib.Path(sysconfig.get_paths()['include'], 'Python.h').exists())"; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q gcc libc6-dev python3-dev; \
	  else echo "Please install: gcc libc6-dev python3-dev (apt)"; exit 1; fi; \
	fi

.PHONY: install
install: $(VENV)/.installed system-packages node_modules/.installed ## Create .venv and install everything (pinned)

# axe-core for the accessibility browser test, pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

SYSTEM_PACKAGES := chromium firefox-esr gettext iproute2 postgresql haproxy coturn openssl

.PHONY: system-packages
system-packages: ## Debian packages the tests and the room need (browsers, msgfmt, ip; PostgreSQL, HAProxy, coturn, openssl for run-cluster)
	@missing=; for tool in chromium firefox-esr msgfmt ip haproxy turnserver openssl; do \
	  command -v $$tool >/dev/null || test -x /usr/sbin/$$tool || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES); \
	  else echo "Please install: $(SYSTEM_PACKAGES) (apt)"; fi; \
	fi

# Written every time (cheap, the database is never touched), so HOST and PORT given now
# are the ones Plone listens on and the CalDAV worker calls.
.PHONY: instance
instance: $(VENV)/.installed ## Write the Zope instance configuration
	$(BIN)/python scripts/make_instance.py --dir $(INSTANCE) --host $(HOST) --port $(PORT) \
	  --trusted-proxy "$(TRUSTED_PROXIES)"

.PHONY: site
# HOST and PORT are also where the demo's e-mail and SMS links lead (scripts/create_site.py).
site: instance ## Create (or update) the demo site; safe to run again
	VIDEOMOTE_HOST=$(HOST) VIDEOMOTE_PORT=$(PORT) VIDEOMOTE_MAIL_PORT=$(MAIL_PORT) \
	  $(BIN)/zconsole run $(INSTANCE)/etc/zope.conf scripts/create_site.py

.PHONY: run
run: site ## Install, create the demo site if missing and serve it (Ctrl-C stops)
	VIDEOMOTE_MAIL_PORT=$(MAIL_PORT) $(BIN)/python scripts/run.py --instance $(INSTANCE) --port $(PORT)

# The production topology on this machine (scripts/cluster.py): PostgreSQL in
# $(CLUSTER)/var/pg (or VIDEOMOTE_DSN), $(CLUSTER_INSTANCES) Zope instances on RelStorage,
# HAProxy with TLS on HTTPS_PORT, the media server, the CalDAV worker, the demo mail server.
CLUSTER ?= cluster
CLUSTER_INSTANCES ?= 2
HTTPS_PORT ?= 8443
# e.g. CLUSTER_ARGS="--bind 0.0.0.0 --public-name meet.example.se --turn-address 192.0.2.10"
CLUSTER_ARGS ?=

.PHONY: run-cluster
run-cluster: $(VENV)/.installed ## PostgreSQL + 2 Zope instances + HAProxy (TLS) + media + CalDAV, demo site (Ctrl-C stops)
	$(BIN)/python scripts/cluster.py run --dir $(CLUSTER) --instances $(CLUSTER_INSTANCES) \
	  --https-port $(HTTPS_PORT) --mail-port $(MAIL_PORT) $(CLUSTER_ARGS)

.PHONY: migrate-to-cluster
migrate-to-cluster: $(VENV)/.installed ## Copy the FileStorage site in $(INSTANCE)/var into an empty cluster database (zodbconvert)
	$(BIN)/python scripts/cluster.py migrate --dir $(CLUSTER) --from $(INSTANCE)/var

.PHONY: test
test: $(VENV)/.installed node_modules/.installed ## Run the whole test suite (in a loopback-only network namespace)
	scripts/in_netns.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: $(VENV)/.installed ## Run the suite without slow browser/media tests
	scripts/in_netns.sh $(BIN)/python -m pytest -m "not slow and not cluster" $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV)/.installed ## ruff + zpretty checks
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	find src -name '*.zcml' -o -name '*.xml' | grep -v locales | xargs $(BIN)/zpretty --check

.PHONY: format
format: $(VENV)/.installed ## Apply ruff and zpretty formatting
	$(BIN)/ruff check --fix src tests scripts benchmarks
	$(BIN)/ruff format src tests scripts benchmarks
	find src -name '*.zcml' -o -name '*.xml' | grep -v locales | xargs $(BIN)/zpretty -i

.PHONY: i18n
i18n: $(VENV)/.installed ## Re-extract the .pot and sync sv/en .po files
	$(BIN)/i18ndude rebuild-pot --pot src/prorenata/videomote/locales/prorenata.videomote.pot \
	  --create prorenata.videomote src/prorenata/videomote
	for lang in sv en; do $(BIN)/i18ndude sync --pot src/prorenata/videomote/locales/prorenata.videomote.pot \
	  src/prorenata/videomote/locales/$$lang/LC_MESSAGES/prorenata.videomote.po; done

.PHONY: versions-cfg
versions-cfg: ## Regenerate versions.cfg (buildout) from constraints.txt
	$(PYTHON) scripts/versions_cfg.py > versions.cfg

.PHONY: constraints
constraints: ## Re-resolve every dependency into constraints.txt (review the diff!)
	rm -rf /tmp/videomote-resolve && $(PYTHON) -m venv /tmp/videomote-resolve
	/tmp/videomote-resolve/bin/pip install -q -U pip setuptools wheel
	/tmp/videomote-resolve/bin/pip install -q Plone plone.app.layout==6.0.2 aiortc==1.16.0 -e .[test,cluster]
	{ sed -n '1,3p' constraints.txt; /tmp/videomote-resolve/bin/pip freeze --all --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt && $(MAKE) versions-cfg

.PHONY: bench
bench: $(VENV)/.installed ## Run every benchmark (each prints one JSON object last)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

.PHONY: bench-caldav
bench-caldav: $(VENV)/.installed ## CalDAV sync on Radicale (1,000 and 10,000 events; 50 accounts: calendar-to-journal latency, idle CPU, 5,000 vs 50 meetings)
	$(BIN)/python benchmarks/caldav_sync.py

.PHONY: bench-media
bench-media: $(VENV)/.installed ## Media server: forward vs re-encode CPU, rooms, first frame, latency
	scripts/in_netns.sh $(BIN)/python benchmarks/media.py

.PHONY: bench-cluster
bench-cluster: $(VENV)/.installed ## Cluster: 50 SMS-code submissions at one instant (p95) with two instances and one, bookings lost and invitations duplicated when an instance is killed
	scripts/in_netns.sh $(BIN)/python benchmarks/cluster.py

.PHONY: bench-smoke
bench-smoke: $(VENV)/.installed ## Every benchmark at a tiny size, its JSON keys checked (CI runs it)
	scripts/in_netns.sh $(BIN)/python scripts/bench_smoke.py

bench-%: $(VENV)/.installed ## Run one benchmark: make bench-<name>
	$(BIN)/python benchmarks/$*.py

.PHONY: clean
clean: ## Remove the venv and the instances (the demo databases too!)
	rm -rf $(VENV) $(INSTANCE) $(CLUSTER)

.PHONY: buildout-check
buildout-check: ## Resolve the buildout alternative against PyPI in a temp dir (slow: ~4 min)
	rm -rf /tmp/videomote-buildout && mkdir -p /tmp/videomote-buildout
	git archive HEAD | tar -x -C /tmp/videomote-buildout
	cd /tmp/videomote-buildout && $(PYTHON) -m venv .venv-buildout \
	  && .venv-buildout/bin/pip install -q zc.buildout==6.0.1 setuptools==80.9.0 \
	  && .venv-buildout/bin/buildout -N && test -x bin/instance && test -x bin/zconsole
