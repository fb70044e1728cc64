-- Pseudonym keys rotate (docs/decisions/pseudonym-keys.md): the records that carry a person or
-- staff key (person_key, doctor_key, verifier_key) say which key made it. Rows landed before
-- the column existed read NULL: they were all made with the single key, now k1.
-- record_id, source_key and the internal ids became keyed tokens in the same change; they
-- stay String, so no column changes for them.

ALTER TABLE std_patient ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER person_key;
ALTER TABLE std_encounter ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER doctor_key;
ALTER TABLE std_lab_report ADD COLUMN IF NOT EXISTS `pseudonym_key_id` Nullable(String) AFTER verifier_key;
