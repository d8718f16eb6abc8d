/*
 * verify.c
 *		Rebuilding what mojob derives from the jobs and their nodes: the
 *		bookings, the bound the checks read them back by, the scheduler's
 *		wake-up.  A restore made with triggers disabled
 *		(pg_dump --data-only --disable-triggers) leaves them out; the SQL
 *		function mojob.verify() says so, mojob.rebuild_bookings() repairs it.
 *
 * The bookings derived here are the ones the triggers write (booking.c):
 * one per resolved node of a holding job, for the node's own window within
 * its job's, when that is not empty.  mojob.verify() derives them the same
 * way, and a rebuild is refused (MJ005) where verify() would then find a
 * resource over-booked, or a disabled one held, from now on.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "scheduler.h"

PG_FUNCTION_INFO_V1(mojob_rebuild_bookings);

/* The bookings the jobs and their nodes derive, as a WITH item (verify() has the same). */
#define DERIVED_BOOKINGS \
	"derived AS (" \
	"  SELECT node_id, job_id, resource_id, tstzrange(lo, hi, '[)') AS held, amount" \
	"  FROM (SELECT n.id AS node_id, n.job_id, n.resource_id, n.amount," \
	"               greatest(j.pre_roll_start, n.held_from) AS lo," \
	"               least(j.post_roll_end, n.held_until) AS hi" \
	"        FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id" \
	"        WHERE n.resource_id IS NOT NULL" \
	"          AND j.state = ANY ('{tentative,confirmed,running,completed}'::mojob.job_state[])) w" \
	"  WHERE lo < hi) "

/*
 * Run one statement of the rebuild (mojob's SPI runs with search_path =
 * pg_catalog, pg_temp); returns SPI_processed.
 */
static uint64
run(const char *sql, int nargs, Oid *argtypes, Datum *args, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "rebuilding the bookings failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * mojob.rebuild_bookings() RETURNS integer: the owner's.  Makes mojob.booking
 * what the jobs and nodes derive (adds the missing bookings, fixes the wrong
 * ones, removes the stray ones), sets mojob.booking_longest from them, and
 * wakes the scheduler for the jobs due.  Returns how many bookings it added,
 * fixed or removed.  Refuses (MJ005), changing nothing, where the bookings
 * would over-book a resource or hold a disabled one from now on.
 */
Datum
mojob_rebuild_bookings(PG_FUNCTION_ARGS)
{
	const MojobCatalog *c = mojob_catalog();
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		args[1];
	bool		isnull;
	int64		changed;
	TimestampTz next;
	bool		waiting;

	if (!mojob_is_privileged(c->job_rel))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of mojob's tables may rebuild the bookings"),
				 errdetail("Role \"%s\" is not a member of role \"%s\", which owns mojob.job.",
						   GetUserNameFromId(GetUserId(), false),
						   GetUserNameFromId(c->owner, false)),
				 errhint("SELECT * FROM mojob.verify() shows what is wrong; ask the owner to call mojob.rebuild_bookings().")));

	mojob_spi_connect_owner();

	/*
	 * Nobody changes jobs, nodes or resources meanwhile, and nobody books:
	 * what is rebuilt is what they derive at commit.  Reservations, which
	 * only lock resource rows, wait for the bookings.
	 */
	run("LOCK TABLE mojob.job, mojob.job_resource, mojob.resource IN SHARE MODE", 0, NULL, NULL, SPI_OK_UTILITY);
	run("LOCK TABLE mojob.booking, mojob.booking_longest IN EXCLUSIVE MODE", 0, NULL, NULL, SPI_OK_UTILITY);

	/* Remove the bookings that are not as derived (stray or wrong)... */
	run("WITH " DERIVED_BOOKINGS ", "
		"gone AS (DELETE FROM mojob.booking b WHERE NOT EXISTS ("
		"  SELECT FROM derived d WHERE d.node_id = b.node_id"
		"    AND d.job_id = b.job_id AND d.resource_id = b.resource_id"
		"    AND d.held = b.held AND d.amount = b.amount)"
		"  RETURNING b.node_id) "
		"SELECT array_agg(node_id) FROM gone", 0, NULL, NULL, SPI_OK_SELECT);
	args[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	args[0] = isnull ? PointerGetDatum(construct_empty_array(INT8OID))
		: PointerGetDatum(DatumGetArrayTypePCopy(args[0]));

	/* ...add those missing (and the wrong ones, as they should be)... */
	run("WITH " DERIVED_BOOKINGS ", "
		"added AS (INSERT INTO mojob.booking (node_id, job_id, resource_id, held, amount)"
		"  SELECT d.node_id, d.job_id, d.resource_id, d.held, d.amount FROM derived d"
		"  WHERE NOT EXISTS (SELECT FROM mojob.booking b WHERE b.node_id = d.node_id)"
		"  RETURNING node_id) "
		"SELECT (SELECT count(*) FROM added) "
		"     + cardinality($1) "
		"     - (SELECT count(*) FROM added WHERE node_id = ANY ($1))",
		1, argtypes, args, SPI_OK_SELECT);
	changed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/*
	 * ...and bound each resource's bookings by the longest it has now.  The
	 * lengths are counted in exact microseconds, saturated at the largest
	 * bigint as booking.c counts them: upper - lower as an interval wraps
	 * (to a negative length) for a booking of over about 292,000 years, and
	 * max() then chose a shorter booking's length, hiding the long one from
	 * later checks.  The bound is written as days and microseconds (exact;
	 * booking.c reads days as 24 hours).
	 */
	run("DELETE FROM mojob.booking_longest l WHERE NOT EXISTS "
		"(SELECT FROM mojob.booking b WHERE b.resource_id = l.resource_id)",
		0, NULL, NULL, SPI_OK_DELETE);
	run("INSERT INTO mojob.booking_longest AS l (resource_id, longest) "
		"SELECT resource_id, make_interval(days => (len / 86400000000)::integer)"
		"                    + (len % 86400000000)::float8 * interval '1 microsecond' "
		"FROM (SELECT resource_id,"
		"             least(max(extract(epoch FROM upper(held)) - extract(epoch FROM lower(held))) * 1000000,"
		"                   9223372036854775807)::bigint AS len"
		"      FROM mojob.booking GROUP BY resource_id) m "
		"ON CONFLICT (resource_id) DO UPDATE SET longest = excluded.longest "
		"WHERE l.longest <> excluded.longest", 0, NULL, NULL, SPI_OK_INSERT);

	/* Refuse what would over-book: the error undoes all of the above. */
	run("SELECT string_agg(detail, '; ' ORDER BY check_name) "
		"FROM mojob.verify() WHERE NOT ok "
		"AND check_name = ANY ('{concurrency,capacity,disabled}'::text[])",
		0, NULL, NULL, SPI_OK_SELECT);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_CONFLICT),
					 errmsg("the bookings of the jobs would over-book their resources"),
					 errdetail("Rebuilt from the jobs and their nodes: %s.", TextDatumGetCString(d)),
					 errhint("Cancel or reschedule some of those jobs (or raise the resource's limits), then call mojob.rebuild_bookings() again; nothing was changed.")));
	}
	mojob_spi_finish();

	/*
	 * Jobs restored without their triggers did not tell the scheduler when
	 * they are due: wake it for the first of them (at commit).
	 */
	next = mojob_next_due(DT_NOBEGIN, construct_empty_array(INT8OID), &waiting);
	if (next != DT_NOEND)
		mojob_scheduler_note_due(next);

	PG_RETURN_INT32((int32) Min(changed, PG_INT32_MAX));
}
