ALTER TABLE std_patient_local ON CLUSTER province DROP COLUMN IF EXISTS `id_number_masked`;

ALTER TABLE std_patient ON CLUSTER province DROP COLUMN IF EXISTS `id_number_masked`;

ALTER TABLE std_patient_local ON CLUSTER province DROP COLUMN IF EXISTS `name_masked`;

ALTER TABLE std_patient ON CLUSTER province DROP COLUMN IF EXISTS `name_masked`;

ALTER TABLE std_patient_local ON CLUSTER province DROP COLUMN IF EXISTS `birth_year`;

ALTER TABLE std_patient ON CLUSTER province DROP COLUMN IF EXISTS `birth_year`;

ALTER TABLE std_patient_local ON CLUSTER province DROP COLUMN IF EXISTS `phone_masked`;

ALTER TABLE std_patient ON CLUSTER province DROP COLUMN IF EXISTS `phone_masked`;

ALTER TABLE std_patient_local ON CLUSTER province
    UPDATE region_code = concat(substring(region_code, 1, 4), '00'),
           region_name = nullIf(extract(coalesce(region_name, ''), '^(.+?(?:市|地区|自治州|盟))'), '')
    WHERE match(coalesce(region_code, ''), '^[0-9]{4}(?:0[1-9]|[1-9][0-9])$')
    SETTINGS mutations_sync = 1;

