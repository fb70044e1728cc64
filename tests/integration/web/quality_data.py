"""The 质控 tests' data: the quality report's fixed dataset for two institutions, their
contacts in the users file and a few work orders in the real store (shared by the API and
the browser test)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client
from fastapi.testclient import TestClient

from streamhub.config import Settings
from streamhub.quality.orders import WorkOrder, WorkOrderStore
from streamhub.web.auth import User, hash_password, read_users, write_users
from tests.integration.quality import dataset
from tests.integration.web import conftest, data
from tests.integration.web.conftest import AppFactory

A, B = data.SIMING_A, data.HULI_B
CONTACTS = {"chen": A, "sun": B}
# the web tests' users and these contacts (conftest's PASSWORDS are its users file's only)
PASSWORDS = {**conftest.PASSWORDS, **{name: f"{name}-contact-pw" for name in CONTACTS}}
PERIOD = "2026-11"
TITLES = ["总体评价", "趋势", "规则明细", "问题记录"]
OPENED_MS = int(dataset.NOV.timestamp() * 1000) + 86_400_000  # the day after the breaches


@pytest.fixture(scope="module")
def quality_rows(ch: Client) -> None:
    """The fixed dataset with I1 → A and I2 → B (its ops counts stay I1's: a third scope)."""
    remapped = [
        dataclasses.replace(v, institution={"I1": A, "I2": B}[v.institution])
        for v in dataset.VERSIONS
    ]
    original, dataset.VERSIONS = dataset.VERSIONS, remapped
    try:
        dataset.insert(ch)
    finally:
        dataset.VERSIONS = original


@pytest.fixture(scope="module")
def contacts(web_settings: Settings) -> Iterator[dict[str, str]]:
    path = web_settings.web_users_path
    before = read_users(path)
    users = dict(before)
    for name, institution in CONTACTS.items():
        password = PASSWORDS[name]
        users[name] = User(
            name, "institution_contact", hash_password(password, iterations=1_000), institution
        )
    write_users(path, users)
    yield CONTACTS
    write_users(path, before)


def _order(order_id: str, institution: str, state: str = "open") -> WorkOrder:
    return WorkOrder(
        order_id=order_id,
        institution_id=institution,
        rule="encounter_exists",
        system="emr",
        table="emr.diag",
        level="error",
        state=state,
        opened_at_ms=OPENED_MS,
        deadline_ms=OPENED_MS + 7 * 86_400_000,
        breach_count=2,
        breach_rate=0.5,
        examples=("d2", "d4"),
        evidence="",
        updated_at_ms=OPENED_MS,
    )


@pytest.fixture(scope="module")
def orders(ch: Client, quality_rows: None) -> WorkOrderStore:
    store = WorkOrderStore(ch)
    for order_id, institution in (("wo-a-1", A), ("wo-b-1", B), ("wo-b-2", B)):
        store.save(_order(order_id, institution), actor="test", action="opened")
    return store


@pytest.fixture
def app(make_client: AppFactory, orders: WorkOrderStore, contacts: dict[str, str]) -> AppFactory:
    def make() -> TestClient:
        return make_client(orders=lambda: orders)

    return make
