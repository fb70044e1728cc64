.PHONY: check lint type test up down
VENV := .venv/bin

check: lint type test

lint:
	$(VENV)/ruff check src tests
	$(VENV)/ruff format --check src tests

type:
	$(VENV)/mypy

test:
	$(VENV)/pytest

up:
	$(VENV)/streamhub stack up

down:
	$(VENV)/streamhub stack down
