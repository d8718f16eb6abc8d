  DROP FUNCTION reserve_try(text, text);
  DROP TABLE reserve_job;
  DROP FUNCTION reserve_check(bigint, bigint);
