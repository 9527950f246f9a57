# kurilwatch: `make run` starts the daemon, `make test` runs the suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: install run test lint clean locales

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/pybabel compile --domain kurilwatch --directory bot/locales >/dev/null
	touch $@

# after changing a message in bot/: extract the msgids, update the three catalogues (new ones
# come empty or fuzzy: translate them; tests/test_i18n.py fails until every one is), compile
locales: install
	$(BIN)/pybabel extract -F babel.cfg --add-comments=Translators: --no-location \
		--sort-output --project=kurilwatch -o bot/locales/kurilwatch.pot .
	$(BIN)/pybabel update --domain kurilwatch --input-file bot/locales/kurilwatch.pot \
		--output-dir bot/locales --width 100 --ignore-obsolete
	$(BIN)/pybabel compile --domain kurilwatch --directory bot/locales --statistics

run: install
	$(BIN)/kurilwatch run --config $(CONFIG)

# three workers on CI's two cores: much of the suite waits on daemons, feed servers and the fake
# Bot API, so a third worker fills the waits (README gives the figures). Bytecode is written
# whatever the environment says: with PYTHONDONTWRITEBYTECODE set, each of the suite's hundreds
# of daemons and commands compiled every changed module from source again (0.4 s of CPU each)
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 3

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
