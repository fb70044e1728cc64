"""The topic catalog (``topics/*.yaml``): what each topic holds, and applying it to Kafka."""
