-- mojob 1.0 -> 1.1 (ALTER EXTENSION mojob UPDATE TO '1.1').
--
-- Kept in step with sql/mojob--1.1.sql: a database upgraded by this script
-- holds the same objects as a fresh install of 1.1, which
-- test/t/030_upgrade.pl checks in the catalogs.
\echo Use "ALTER EXTENSION mojob UPDATE TO '1.1'" to load this file. \quit
