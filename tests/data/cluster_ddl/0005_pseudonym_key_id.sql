ALTER TABLE std_patient_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER person_key;

ALTER TABLE std_patient ON CLUSTER province ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER person_key;

ALTER TABLE std_encounter_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER doctor_key;

ALTER TABLE std_encounter ON CLUSTER province ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER doctor_key;

ALTER TABLE std_lab_report_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER verifier_key;

ALTER TABLE std_lab_report ON CLUSTER province ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER verifier_key;

