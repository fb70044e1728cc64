"""Business flows of a hospital day, in canonical terms.

Registration → visit → diagnoses, prescriptions, charges, lab and exam reports →
settlement; admissions and, later, discharges; corrections, cancellations and
refunds. Each flow writes what it decides through the base class and schedules
its own follow-ups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import ceil

from streamhub.codes import catalogue
from streamhub.simulate.bad_records import UNDECODABLE_TAIL, BadKind, PlantedRecord
from streamhub.simulate.people import PeopleFactory, corrupt_check_char
from streamhub.simulate.workload import WorkloadBase

CENT = Decimal("0.01")
NON_CLINICAL = {"20", "30", "32"}  # emergency, laboratory and imaging take no registrations


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Encounter:
    key: int
    patient: int
    kind: str  # outpatient / inpatient
    charges: dict[int, Decimal] = field(default_factory=dict)
    orders: list[tuple[int, int]] = field(default_factory=list)  # (order line, its charge)


class InstitutionWorkload(WorkloadBase):
    """One institution's day: arrivals of patients and everything they set off."""

    def configure(
        self, *, bad_fraction: float, bad_kinds: tuple[BadKind, ...], raw_text: bool
    ) -> None:
        self.bad_fraction = bad_fraction
        self.bad_kinds = bad_kinds if bad_fraction > 0 else ()
        self.raw_text = raw_text
        self.planted: list[PlantedRecord] = []
        self.people = PeopleFactory(self.rng, self.now.date(), self.activity.roads)
        departments = catalogue.departments()
        self.outpatient_departments = [d for d in departments if d.code not in NON_CLINICAL]
        self.ward_departments = [d for d in departments if d.inpatient]
        self.emergency = next(d for d in departments if d.code == "20")
        self.diagnoses = catalogue.icd10()
        self.known_codes = {d.code for d in self.diagnoses}
        self.drugs = catalogue.drugs()
        panels: dict[str, list[catalogue.LabItem]] = {}
        for item in catalogue.lab_items():
            panels.setdefault(item.panel, []).append(item)
        self.panels = sorted(panels.items())
        self.exams = catalogue.exam_items()
        charges = catalogue.charge_items()
        self.charge_by_category = {c.category.value: c for c in reversed(charges)}
        self.doctors = [self.people.name() for _ in range(self.activity.doctors_per_institution)]
        self.patients: list[int] = []
        self.visit_counter = 0

    def has(self, system: str) -> bool:
        return system in self.institution.systems

    def plant(self, *kinds: BadKind) -> BadKind | None:
        """Whether to plant a bad record here, and of which of the applicable kinds."""
        usable = [k for k in kinds if k in self.bad_kinds]
        if not usable or self.rng.random() >= self.bad_fraction:
            return None
        return self.rng.choice(usable)

    def record_bad(self, entity: str, key: int, kind: BadKind, *fields: str) -> None:
        self.planted.append(PlantedRecord(self.institution.key, entity, key, kind, fields))

    # --- the initial state -----------------------------------------------------------

    def seed_state(self, patients: int, inpatients: int) -> None:
        start = self.now
        for _ in range(patients):
            self.now = start - timedelta(days=self.rng.uniform(1, 365))
            self.new_patient()
        for _ in range(inpatients):
            self.now = start - timedelta(hours=self.rng.uniform(1, 200))
            self.admit(self.rng.choice(self.patients))
        self.now = start

    # --- arrivals --------------------------------------------------------------------

    def arrive(self) -> None:
        shares = self.activity.arrivals[self.institution.kind]
        kinds = list(shares)
        kind = self.rng.choices(kinds, weights=[shares[k] for k in kinds])[0]
        if kind == "correction":
            self.correct_patient()
            return
        if not self.patients or self.rng.random() < self.activity.new_patient_share:
            patient = self.new_patient()
        else:
            patient = self.rng.choice(self.patients)
        if kind == "admission":
            self.admit(patient)
        else:
            self.register(patient, kind)

    def new_patient(self) -> int:
        person = self.people.person()
        values: dict[str, object] = {
            "name": person.name,
            "sex": person.sex,
            "birth_date": person.birth_date,
            "id_type": "resident_id",
            "id_number": person.id_number,
            "phone": person.phone,
            "address": person.address,
            "region_code": person.region_code,
        }
        kinds: list[BadKind] = ["bad_id_checksum", "missing_required"]
        if self.raw_text:
            kinds.append("undecodable_text")
        bad = self.plant(*kinds)
        if bad == "bad_id_checksum":
            values["id_number"] = corrupt_check_char(person.id_number, self.rng)
        elif bad == "missing_required":
            values["name"] = None
        elif bad == "undecodable_text":
            values["address"] = person.address.encode("gbk") + UNDECODABLE_TAIL
        key = self.insert("patient", values)
        if bad is not None:
            field_name = {"bad_id_checksum": "id_number", "missing_required": "name"}
            self.record_bad("patient", key, bad, field_name.get(bad, "address"))
        self.patients.append(key)
        return key

    def correct_patient(self) -> None:
        key = self.older_than("patient", minutes=1)
        if key is not None:
            self.update("patient", key, {"phone": self.people.person().phone})

    # --- outpatient and emergency ----------------------------------------------------

    def register(self, patient: int, visit_type: str) -> None:
        department = (
            self.emergency
            if visit_type == "emergency"
            else self.rng.choice(self.outpatient_departments)
        )
        self.visit_counter += 1
        key = self.insert(
            "registration",
            {
                "patient_id": patient,
                "visit_no": f"{self.now:%Y%m%d}{self.visit_counter % 100000:05d}",
                "visit_type": visit_type,
                "department": department.code,
                "department_name": department.name,
                "doctor": self.rng.choice(self.doctors),
                "registered_at": self.now,
                "visited_at": None,
                "status": "active",
                "fee": self.activity.registration_fee[visit_type],  # type: ignore[index]
            },
        )
        self.after(self.activity.visit_delay, self.visit, Encounter(key, patient, "outpatient"))

    def visit(self, encounter: Encounter) -> None:
        if self.rng.random() < self.activity.withdraw_share:
            self.update("registration", encounter.key, {"status": "withdrawn"})
            return
        self.update("registration", encounter.key, {"visited_at": self.now})
        self.diagnose(encounter, "outpatient")
        self.charge(encounter, self.charge_by_category["registration"])
        self.prescribe(encounter, "one_off", self.rng.randint(1, 4))
        if self.has("lis") and self.rng.random() < self.activity.lab_share:
            self.request_lab(encounter)
        if self.has("pacs") and self.rng.random() < self.activity.exam_share:
            self.request_exam(encounter)
        if encounter.orders and self.rng.random() < self.activity.order_cancel_share:
            self.after(self.activity.cancel_delay, self.cancel_order, encounter)
        self.after(self.activity.settle_delay, self.settle, encounter)

    def diagnose(self, encounter: Encounter, diagnosis_type: str) -> None:
        count = 2 if self.rng.random() < self.activity.second_diagnosis_share else 1
        for seq in range(1, count + 1):
            diagnosis = self.rng.choice(self.diagnoses)
            code, name = diagnosis.code, diagnosis.name
            bad = self.plant("unknown_code")
            if bad is not None:
                code, name = self.unknown_code(), "其他特指的疾病"
            key = self.insert(
                "diagnosis",
                {
                    "patient_id": encounter.patient,
                    "encounter_id": encounter.key,
                    "encounter_type": encounter.kind,
                    "diagnosis_type": diagnosis_type,
                    "seq": seq,
                    "icd_code": code,
                    "icd_name": name,
                    "local_code": f"ZD{sum(map(ord, code)) % 10000:04d}",
                    "diagnosed_at": self.now,
                },
            )
            if bad is not None:
                self.record_bad("diagnosis", key, bad, "icd_code")

    def unknown_code(self) -> str:
        """A well-formed ICD-10 code that the catalogue does not list."""
        while True:
            letter, number = self.rng.choice("RSTUVWXYZ"), self.rng.randrange(10**5)
            code = f"{letter}{number // 1000:02d}.{number % 1000:03d}"
            if code not in self.known_codes:
                return code

    def prescribe(self, encounter: Encounter, kind: str, lines: int) -> None:
        order_no = f"CF{self.now:%y%m%d}{self.rng.randrange(10**6):06d}"
        for line in range(1, lines + 1):
            drug = self.rng.choice(self.drugs)
            quantity = Decimal(self.rng.choice((1, 1, 2, 3)))
            order = self.insert(
                "order",
                {
                    "order_no": order_no,
                    "line_no": line,
                    "patient_id": encounter.patient,
                    "encounter_id": encounter.key,
                    "order_kind": kind,
                    "drug_code": drug.code,
                    "drug_name": drug.name,
                    "dose": Decimal(self.rng.choice(("0.5", "1", "2"))),
                    "dose_unit": drug.unit,
                    "route": drug.route,
                    "frequency": drug.frequency,
                    "quantity": quantity,
                    "cancelled": "no",
                    "ordered_at": self.now,
                },
            )
            charge = self.add_charge(
                encounter, drug.code, drug.name, drug.category.value, quantity, drug.price
            )
            encounter.orders.append((order, charge))

    def charge(self, encounter: Encounter, item: catalogue.ChargeItem, quantity: int = 1) -> None:
        self.add_charge(
            encounter, item.code, item.name, item.category.value, Decimal(quantity), item.price
        )

    def add_charge(
        self,
        encounter: Encounter,
        code: str,
        name: str,
        category: str,
        quantity: Decimal,
        price: Decimal,
    ) -> int:
        amount = money(price * quantity)
        key = self.insert(
            "charge",
            {
                "patient_id": encounter.patient,
                "encounter_id": encounter.key,
                "item_code": code,
                "item_name": name,
                "category": category,
                "quantity": quantity,
                "unit_price": price,
                "amount": amount,
                "charged_at": self.now,
                "settlement_id": None,
            },
        )
        encounter.charges[key] = amount
        return key

    def cancel_order(self, encounter: Encounter) -> None:
        order, charge = self.rng.choice(encounter.orders)
        self.update("order", order, {"cancelled": "yes"})
        if encounter.charges.pop(charge, None) is not None:
            self.delete("charge", charge)  # an unsettled charge line is withdrawn outright

    def settle(self, encounter: Encounter) -> None:
        if not encounter.charges:
            return
        total = sum(encounter.charges.values(), Decimal(0))
        fund = money(total * Decimal(str(self.activity.fund_share[encounter.kind])))  # type: ignore[index]
        settlement = self.insert(
            "settlement",
            {
                "patient_id": encounter.patient,
                "encounter_id": encounter.key,
                "total": total,
                "fund_paid": fund,
                "self_paid": total - fund,
                "refund_of": None,
                "settled_at": self.now,
            },
        )
        for charge in encounter.charges:
            self.update("charge", charge, {"settlement_id": settlement})
        if self.rng.random() < self.activity.refund_share:
            self.after(self.activity.refund_delay, self.refund, encounter, settlement, total, fund)

    def refund(self, encounter: Encounter, settlement: int, total: Decimal, fund: Decimal) -> None:
        self.insert(
            "settlement",
            {
                "patient_id": encounter.patient,
                "encounter_id": encounter.key,
                "total": -total,
                "fund_paid": -fund,
                "self_paid": fund - total,
                "refund_of": settlement,
                "settled_at": self.now,
            },
        )

    # --- laboratory ------------------------------------------------------------------

    def request_lab(self, encounter: Encounter) -> None:
        panel, items = self.rng.choice(self.panels)
        report = self.insert(
            "lab_report",
            {
                "patient_id": encounter.patient,
                "encounter_id": encounter.key,
                "request_no": f"JY{self.now:%y%m%d}{self.rng.randrange(10**6):06d}",
                "panel": panel,
                "department": "30",
                "requested_at": self.now,
                "sampled_at": None,
                "reported_at": None,
                "status": "requested",
                "verifier": None,
            },
        )
        self.charge(encounter, self.charge_by_category["lab"])
        self.after(self.activity.sample_delay, self.sample_lab, report, items)

    def sample_lab(self, report: int, items: list[catalogue.LabItem]) -> None:
        self.update("lab_report", report, {"sampled_at": self.now})
        self.after(self.activity.lab_report_delay, self.report_lab, report, items)

    def report_lab(self, report: int, items: list[catalogue.LabItem]) -> None:
        self.update("lab_report", report, {"reported_at": self.now, "status": "reported"})
        for item in items:
            value, flag = self.lab_value(item)
            self.insert(
                "lab_result",
                {
                    "report_id": report,
                    "item_code": item.code,
                    "item_name": item.name,
                    "value_text": f"{value:g}",
                    "value_num": Decimal(f"{value:g}"),
                    "unit": item.unit,
                    "ref_low": Decimal(f"{item.low:g}"),
                    "ref_high": Decimal(f"{item.high:g}"),
                    "ref_range": f"{item.low:g} ~ {item.high:g}",
                    "flag": flag,
                },
            )
        self.after(self.activity.verify_delay, self.verify_lab, report)

    def lab_value(self, item: catalogue.LabItem) -> tuple[float, str]:
        span = item.high - item.low
        if self.rng.random() < self.activity.abnormal_result_share:
            # an item whose range starts at 0 (CRP 0-10) cannot be abnormally low
            if self.rng.random() < 0.6 or item.low <= 0:
                return round(item.high + span * self.rng.uniform(0.05, 0.8), 2), "high"
            return round(max(item.low - span * self.rng.uniform(0.05, 0.5), 0.01), 2), "low"
        return round(self.rng.uniform(item.low, item.high), 2), "normal"

    def verify_lab(self, report: int) -> None:
        self.update(
            "lab_report", report, {"status": "verified", "verifier": self.rng.choice(self.doctors)}
        )

    # --- imaging ---------------------------------------------------------------------

    def request_exam(self, encounter: Encounter) -> None:
        exam = self.rng.choice(self.exams)
        serial = self.rng.randrange(10**8)
        key = self.insert(
            "exam_report",
            {
                "patient_id": encounter.patient,
                "encounter_id": encounter.key,
                "accession_no": f"{self.institution.index % 100:02d}{self.now:%y%m}{serial:08d}",
                "study_uid": (
                    f"1.2.156.112605.{self.institution.index + 1}.{self.now:%Y%m%d%H%M%S}.{serial}"
                ),
                "modality": exam.modality,
                "body_part": exam.body_part,
                "item_name": exam.name,
                "findings": None,
                "impression": None,
                "requested_at": self.now,
                "reported_at": None,
                "status": "requested",
            },
        )
        self.add_charge(encounter, exam.code, exam.name, "examination", Decimal(1), exam.price)
        self.after(self.activity.exam_report_delay, self.report_exam, key)

    def report_exam(self, key: int) -> None:
        texts = self.activity.exam_texts
        self.update(
            "exam_report",
            key,
            {
                "findings": self.rng.choice(texts["findings"]),
                "impression": self.rng.choice(texts["impressions"]),
                "reported_at": self.now,
                "status": "reported",
            },
        )
        self.after(self.activity.verify_delay, self.verify_exam, key)

    def verify_exam(self, key: int) -> None:
        self.update("exam_report", key, {"status": "verified"})

    # --- inpatients ------------------------------------------------------------------

    def admit(self, patient: int) -> None:
        department = self.rng.choice(self.ward_departments)
        key = self.insert(
            "admission",
            {
                "patient_id": patient,
                "admission_no": f"{self.now:%Y}{self.rng.randrange(10**6):06d}",
                "admission_count": self.rng.choice((1, 1, 1, 2, 3)),
                "department": department.code,
                "department_name": department.name,
                "ward": f"{department.name}病区",
                "bed": f"{self.rng.randrange(1, 60):02d}",
                "admitted_at": self.now,
                "discharged_at": None,
                "status": "in_hospital",
            },
        )
        encounter = Encounter(key, patient, "inpatient")
        self.diagnose(encounter, "admission")
        self.prescribe(encounter, "long_term", self.rng.randint(1, 3))
        stay = timedelta(hours=self.rng.uniform(*self.activity.length_of_stay_hours))
        self._schedule_at(max(self.now + stay, self._paused_until), self.discharge, encounter)

    def discharge(self, encounter: Encounter) -> None:
        admitted = self.live["admission"][encounter.key]
        discharged = self.now
        bad = self.plant("discharge_before_admission")
        if bad is not None:
            discharged = admitted - timedelta(hours=self.rng.uniform(1, 48))
        self.update(
            "admission",
            encounter.key,
            {"discharged_at": discharged, "status": "discharged"},
        )
        if bad is not None:
            self.record_bad("admission", encounter.key, bad, "admitted_at", "discharged_at")
        self.diagnose(encounter, "discharge")
        days = max(1, ceil((self.now - admitted).total_seconds() / 86400))
        self.charge(encounter, self.charge_by_category["bed"], days)
        self.charge(encounter, self.charge_by_category["nursing"], days)
        self.after(self.activity.settle_delay, self.settle, encounter)  # billing comes later
