-- De-identified patients (docs/decisions/privacy.md): no part of a name, ID number or phone,
-- and no birth year leaves the standardizer any more. The columns that held the partial
-- values go, with the rows already landed in them: a masked ID number beside the birth year
-- fitted a few dozen ID numbers, and the birth year undid the 80+ top-coding of age_band.
-- region_code/region_name keep their type and now hold the prefecture (350200 厦门市);
-- rows landed before are generalized the same way below.
-- No view of 0003/0004 and no named query reads these columns.

ALTER TABLE std_patient DROP COLUMN IF EXISTS `id_number_masked`;
ALTER TABLE std_patient DROP COLUMN IF EXISTS `name_masked`;
ALTER TABLE std_patient DROP COLUMN IF EXISTS `birth_year`;
ALTER TABLE std_patient DROP COLUMN IF EXISTS `phone_masked`;

-- Rows landed before: the county becomes its prefecture as the standardizer now writes it
-- (a county code is six digits not ending in 00), the name its prefecture part.
ALTER TABLE std_patient
    UPDATE region_code = concat(substring(region_code, 1, 4), '00'),
           region_name = nullIf(extract(coalesce(region_name, ''), '^(.+?(?:市|地区|自治州|盟))'), '')
    WHERE match(coalesce(region_code, ''), '^[0-9]{4}(?:0[1-9]|[1-9][0-9])$')
    SETTINGS mutations_sync = 1;
