# The two commands of the README: `make run` and `make test`. Everything else is set-up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Python 3.13: the one on PATH, or pyenv's.
PYTHON313 := $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	if [ -x "$$(command -v $$p 2>/dev/null)" ] && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then echo $$p; break; fi; done)

# The browser tests drive Debian's Chromium; `make test` installs it when it is missing.
export CHROMIUM ?= /usr/bin/chromium

.PHONY: run test bench install assets lint clean-data browser nft

run: install
	$(PY) -m config.localenv run

test: install browser nft
	$(PY) -m config.localenv test $(ARGS)

bench: install
	$(PY) -m config.localenv exec $(PY) -m benchmarks

lint: install
	$(VENV)/bin/ruff check .

install: $(VENV)/.installed node_modules/.installed static/css/app.css static/vendor/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is required (python3.13 on PATH or under pyenv)."; exit 1; }
	test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	rm -rf build *.egg-info
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/.installed: node_modules/.installed
	mkdir -p static/vendor/htmx static/fonts
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-ws/dist/ws.min.js static/vendor/htmx/
	cp node_modules/@fontsource-variable/inter/files/inter-latin-wght-normal.woff2 \
	   node_modules/@fontsource/jetbrains-mono/files/jetbrains-mono-latin-400-normal.woff2 static/fonts/
	touch $@

# Tailwind reads the classes in templates and in the Python that writes HTML (log lines).
static/css/app.css: node_modules/.installed assets/app.css $(shell find templates -name '*.html') $(wildcard deployments/*.py)
	npx --no-install tailwindcss -i assets/app.css -o static/css/app.css --minify

# nftables for the isolation tests, which load a firewall table of their own (removed after):
# installed with apt-get when the tests run as root (isolation needs root; as another user
# those tests are skipped, saying so).
nft:
	@if [ "$$(id -u)" != 0 ] || command -v nft >/dev/null || test -x /usr/sbin/nft; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "Without nft (nftables) the firewall tests are skipped."; exit 0; fi; \
	echo "Installing Debian's nftables for the isolation tests (apt-get)"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null 2>&1 || \
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null; }

# Chromium for the browser tests: present, or installed with apt-get (as root, or through
# sudo without a password), or a one-line error that says how to get it.
browser:
	@test -x "$(CHROMIUM)" && exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi; \
	if ! command -v apt-get >/dev/null || [ "$$sudo" = none ]; then \
	  echo "The browser tests need Chromium at $(CHROMIUM): install Debian's chromium package (sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium."; exit 1; fi; \
	echo "Installing Debian's chromium for the browser tests (apt-get)"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; \
	test -x "$(CHROMIUM)" || { echo "apt-get did not install $(CHROMIUM); install Chromium and set CHROMIUM=/path/to/chromium."; exit 1; }

assets: static/css/app.css static/vendor/.installed

clean-data:
	rm -rf .data
