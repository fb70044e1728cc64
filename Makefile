.PHONY: check lint type test up down
VENV := .venv/bin

check: lint type test

lint:
	$(VENV)/ruff check src tests bench
	$(VENV)/ruff format --check src tests bench

type:
	$(VENV)/mypy

test:
	$(VENV)/pytest

up:
	$(VENV)/streamhub stack up

down:
	$(VENV)/streamhub stack down
