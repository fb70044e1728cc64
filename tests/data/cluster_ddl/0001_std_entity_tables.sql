CREATE TABLE IF NOT EXISTS std_patient_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `patient_id`          Nullable(String),
    `person_key`          Nullable(String),
    `id_type`             LowCardinality(Nullable(String)),
    `id_number_masked`    Nullable(String),
    `name_masked`         Nullable(String),
    `sex_code`            LowCardinality(Nullable(String)),
    `birth_year`          Nullable(Int64),
    `age_band`            LowCardinality(Nullable(String)),
    `phone_masked`        Nullable(String),
    `region_code`         LowCardinality(Nullable(String)),
    `region_name`         LowCardinality(Nullable(String)),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_patient', '{replica}', source_position_seq, deleted)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_patient ON CLUSTER province
AS std_patient_local
ENGINE = Distributed('province', 'streamhub', 'std_patient_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_encounter_local ON CLUSTER province
(
    `record_id`             String,
    `institution_id`        LowCardinality(String),
    `source_system`         LowCardinality(String),
    `source_database`       LowCardinality(String),
    `source_table`          LowCardinality(String),
    `source_key`            String,
    `operation`             LowCardinality(String),
    `deleted`               Bool,
    `source_position`       String,
    `source_position_seq`   UInt64,
    `business_time`         Nullable(DateTime64(3, 'UTC')),
    `commit_time`           DateTime64(3, 'UTC'),
    `received_time`         DateTime64(3, 'UTC'),
    `standardized_time`     DateTime64(3, 'UTC'),
    `cancelled`             Bool,
    `quality_issues`        Array(LowCardinality(String)),
    `profile`               LowCardinality(String),
    `encounter_id`          Nullable(String),
    `patient_id`            Nullable(String),
    `encounter_type`        LowCardinality(Nullable(String)),
    `visit_no`              Nullable(String),
    `admission_count`       Nullable(Int64),
    `department_code`       LowCardinality(Nullable(String)),
    `department_name`       LowCardinality(Nullable(String)),
    `local_department_code` LowCardinality(Nullable(String)),
    `ward`                  LowCardinality(Nullable(String)),
    `bed`                   Nullable(String),
    `doctor_key`            Nullable(String),
    `registered_time`       Nullable(DateTime64(3, 'UTC')),
    `visit_time`            Nullable(DateTime64(3, 'UTC')),
    `discharge_time`        Nullable(DateTime64(3, 'UTC')),
    `status`                LowCardinality(Nullable(String)),
    `fee`                   Nullable(Decimal(18, 2)),
    `_topic`                LowCardinality(String),
    `_partition`            UInt32,
    `_offset`               UInt64,
    `_landed_time`          DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_encounter', '{replica}', source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_encounter ON CLUSTER province
AS std_encounter_local
ENGINE = Distributed('province', 'streamhub', 'std_encounter_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_diagnosis_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `diagnosis_id`        Nullable(String),
    `patient_id`          Nullable(String),
    `encounter_id`        Nullable(String),
    `encounter_type`      Nullable(String),
    `diagnosis_type`      LowCardinality(Nullable(String)),
    `seq`                 Nullable(Int64),
    `icd_code`            Nullable(String),
    `icd_name`            Nullable(String),
    `local_code`          Nullable(String),
    `diagnosed_time`      Nullable(DateTime64(3, 'UTC')),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_diagnosis', '{replica}', source_position_seq, deleted)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_diagnosis ON CLUSTER province
AS std_diagnosis_local
ENGINE = Distributed('province', 'streamhub', 'std_diagnosis_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_order_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `order_id`            Nullable(String),
    `order_no`            Nullable(String),
    `line_no`             Nullable(Int64),
    `patient_id`          Nullable(String),
    `encounter_id`        Nullable(String),
    `order_kind`          LowCardinality(Nullable(String)),
    `drug_code`           Nullable(String),
    `drug_name`           Nullable(String),
    `drug_category`       LowCardinality(Nullable(String)),
    `dose`                Nullable(Decimal(18, 3)),
    `dose_unit`           LowCardinality(Nullable(String)),
    `route`               LowCardinality(Nullable(String)),
    `frequency`           LowCardinality(Nullable(String)),
    `quantity`            Nullable(Decimal(18, 2)),
    `ordered_time`        Nullable(DateTime64(3, 'UTC')),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_order', '{replica}', source_position_seq, deleted)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_order ON CLUSTER province
AS std_order_local
ENGINE = Distributed('province', 'streamhub', 'std_order_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_charge_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `charge_id`           Nullable(String),
    `charge_kind`         LowCardinality(Nullable(String)),
    `patient_id`          Nullable(String),
    `encounter_id`        Nullable(String),
    `item_code`           Nullable(String),
    `item_name`           Nullable(String),
    `category`            LowCardinality(Nullable(String)),
    `is_drug`             Nullable(Bool),
    `quantity`            Nullable(Decimal(18, 2)),
    `unit_price`          Nullable(Decimal(18, 2)),
    `amount`              Nullable(Decimal(18, 2)),
    `settlement_id`       Nullable(String),
    `total`               Nullable(Decimal(18, 2)),
    `fund_paid`           Nullable(Decimal(18, 2)),
    `self_paid`           Nullable(Decimal(18, 2)),
    `refund_of`           Nullable(String),
    `charged_time`        Nullable(DateTime64(3, 'UTC')),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_charge', '{replica}', source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_charge ON CLUSTER province
AS std_charge_local
ENGINE = Distributed('province', 'streamhub', 'std_charge_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_lab_report_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `report_id`           Nullable(String),
    `patient_id`          Nullable(String),
    `encounter_id`        Nullable(String),
    `request_no`          Nullable(String),
    `panel`               LowCardinality(Nullable(String)),
    `department_code`     LowCardinality(Nullable(String)),
    `requested_time`      Nullable(DateTime64(3, 'UTC')),
    `sampled_time`        Nullable(DateTime64(3, 'UTC')),
    `reported_time`       Nullable(DateTime64(3, 'UTC')),
    `status`              LowCardinality(Nullable(String)),
    `verifier_key`        Nullable(String),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_lab_report', '{replica}', source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_lab_report ON CLUSTER province
AS std_lab_report_local
ENGINE = Distributed('province', 'streamhub', 'std_lab_report_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_lab_result_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `result_id`           Nullable(String),
    `report_id`           Nullable(String),
    `item_code`           Nullable(String),
    `item_name`           Nullable(String),
    `value_text`          Nullable(String),
    `value_num`           Nullable(Float64),
    `unit`                LowCardinality(Nullable(String)),
    `ref_low`             Nullable(Float64),
    `ref_high`            Nullable(Float64),
    `ref_text`            Nullable(String),
    `abnormal_flag`       LowCardinality(Nullable(String)),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_lab_result', '{replica}', source_position_seq, deleted)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_lab_result ON CLUSTER province
AS std_lab_result_local
ENGINE = Distributed('province', 'streamhub', 'std_lab_result_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS std_exam_local ON CLUSTER province
(
    `record_id`           String,
    `institution_id`      LowCardinality(String),
    `source_system`       LowCardinality(String),
    `source_database`     LowCardinality(String),
    `source_table`        LowCardinality(String),
    `source_key`          String,
    `operation`           LowCardinality(String),
    `deleted`             Bool,
    `source_position`     String,
    `source_position_seq` UInt64,
    `business_time`       Nullable(DateTime64(3, 'UTC')),
    `commit_time`         DateTime64(3, 'UTC'),
    `received_time`       DateTime64(3, 'UTC'),
    `standardized_time`   DateTime64(3, 'UTC'),
    `cancelled`           Bool,
    `quality_issues`      Array(LowCardinality(String)),
    `profile`             LowCardinality(String),
    `exam_id`             Nullable(String),
    `patient_id`          Nullable(String),
    `encounter_id`        Nullable(String),
    `accession_no`        Nullable(String),
    `study_uid`           Nullable(String),
    `modality`            LowCardinality(Nullable(String)),
    `body_part`           LowCardinality(Nullable(String)),
    `item_name`           Nullable(String),
    `findings`            Nullable(String),
    `impression`          Nullable(String),
    `requested_time`      Nullable(DateTime64(3, 'UTC')),
    `reported_time`       Nullable(DateTime64(3, 'UTC')),
    `status`              LowCardinality(Nullable(String)),
    `_topic`              LowCardinality(String),
    `_partition`          UInt32,
    `_offset`             UInt64,
    `_landed_time`        DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT record_id_present CHECK record_id != '',
    CONSTRAINT institution_present CHECK institution_id != ''
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/std_exam', '{replica}', source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS std_exam ON CLUSTER province
AS std_exam_local
ENGINE = Distributed('province', 'streamhub', 'std_exam_local', cityHash64(institution_id, record_id));

