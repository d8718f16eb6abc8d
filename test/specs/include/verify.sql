  -- The invariants hold after each permutation (issue 15: verify() after
  -- every suite); a failure shows as "teardown failed" in the output.
  DO $$ DECLARE bad text; t text; BEGIN
    SELECT string_agg(check_name || ': ' || detail, '; ') INTO bad FROM mojob.verify() WHERE NOT ok;
    IF bad IS NOT NULL THEN RAISE EXCEPTION 'mojob.verify() is not clean: %', bad; END IF;
    FOR t IN SELECT relname FROM pg_class WHERE relnamespace = 'mojob'::regnamespace AND relkind IN ('r', 'p') LOOP
      EXECUTE format('SELECT count(x::text) FROM mojob.%I x', t);
    END LOOP;
  END $$;
