# The two commands of the README, and the setup they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PEER := tests/peers/fedify
AXE := tests/web/axe
DEMO ?= .demo
PORT ?= 8080
JOBS ?= 2

.PHONY: run demo test lint bench clean messages

# A virtualenv with Chapterhouse (editable) and the test tools.
$(BIN)/chapterhouse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The Fedify peer the interoperability tests talk to, exactly as locked.
$(PEER)/node_modules/.package-lock.json: $(PEER)/package-lock.json
	npm ci --prefix $(PEER) --no-audit --no-fund
	touch $@

# axe-core, which the accessibility tests run inside headless Chromium, exactly as locked.
$(AXE)/node_modules/.package-lock.json: $(AXE)/package-lock.json
	npm ci --prefix $(AXE) --no-audit --no-fund
	touch $@

# A node on http://127.0.0.1:$(PORT)/ with a sample chapter and its organiser, Ana, whose
# password is set at the link the first run prints (kept in $(DEMO)/).
run: $(BIN)/chapterhouse
	@if [ ! -f $(DEMO)/config.toml ]; then \
	  set -e; \
	  $(BIN)/chapterhouse init --data $(DEMO) --domain 127.0.0.1:$(PORT) --name "Chapterhouse demo"; \
	  $(BIN)/chapterhouse chapter create dublin --data $(DEMO) --name "IOPS Dublin" \
	    --level local --location "Dublin, Ireland" --founded 2012-11-20 \
	    --summary "Organising and bookfairs in Dublin. Meetings every second Tuesday."; \
	  $(BIN)/chapterhouse member add ana --data $(DEMO) --chapter dublin --name "Ana Byrne" \
	    --password-link; \
	  $(BIN)/chapterhouse chapter organisers add dublin ana --data $(DEMO); \
	  printf 'Chapters of a grassroots organisation, in English and Esperanto. **Join** a chapter near you, or read [about us](/pages/about).\n' \
	    | $(BIN)/chapterhouse page set --data $(DEMO) --slug welcome --language en --title "Welcome" --file -; \
	  printf 'Filioj de popola organizo, en la angla kaj en Esperanto. **Aliĝu** al filio proksima al vi, aŭ legu [pri ni](/pages/about).\n' \
	    | $(BIN)/chapterhouse page set --data $(DEMO) --slug welcome --language eo --title "Bonvenon" --file -; \
	  printf 'We seek a participatory society based on solidarity, equity, diversity, self-management and ecological stewardship.\n' \
	    | $(BIN)/chapterhouse page set --data $(DEMO) --slug about --language en --title "About us" --navigation --file -; \
	  printf 'Ni celas partoprenan socion bazitan sur solidareco, justeco, diverseco, memadministrado kaj ekologia zorgo.\n' \
	    | $(BIN)/chapterhouse page set --data $(DEMO) --slug about --language eo --title "Pri ni" --navigation --file -; \
	fi
	@# A demo node made by an older checkout is upgraded first (serve refuses an old schema).
	$(BIN)/chapterhouse migrate --data $(DEMO)
	$(BIN)/chapterhouse serve --data $(DEMO) --listen 127.0.0.1:$(PORT)

# Four nodes on 127.0.0.1:8101-8104, Dublin → Leinster → Ireland → International, minutes
# posted at Dublin climbing to International; Ctrl-C stops them (kept in .demo-federation/).
demo: $(BIN)/chapterhouse
	$(BIN)/chapterhouse demo

# Every test on SQLite, then every test on PostgreSQL (a throwaway cluster the tests start:
# Debian's server binaries must be installed, as .ci/run does); two workers each, a test
# file staying on one worker in order (a module's nodes are built once, and some modules'
# tests build on the ones before, like the hierarchy chain).
test: $(BIN)/chapterhouse $(PEER)/node_modules/.package-lock.json \
      $(AXE)/node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(JOBS) --dist loadfile --engine sqlite
	$(BIN)/pytest -n $(JOBS) --dist loadfile --engine postgresql

bench: $(BIN)/chapterhouse
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/minutes_up.py
	$(BIN)/python bench/inbox_throughput.py
	$(BIN)/python bench/signatures.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/pg_drivers.py

# The catalogues: every message in the code and templates, merged into each language's
# .po (translations kept; new ones empty until translated; the test suite says which).
messages: $(BIN)/chapterhouse
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k reason:2 --add-location=file \
	  --sort-by-file --project=Chapterhouse --copyright-holder="Chapterhouse contributors" \
	  -o .messages.pot .
	$(BIN)/pybabel --quiet update -i .messages.pot -d web/locale -D messages \
	  --no-fuzzy-matching --ignore-obsolete
	rm -f .messages.pot

clean:
	rm -rf $(VENV) $(PEER)/node_modules $(AXE)/node_modules $(DEMO) .demo-federation
