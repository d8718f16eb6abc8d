/*
 * recurrence.c
 *		Recurring jobs: RFC 5545 rules expanded with libical, in local time.
 *
 * A recurrence repeats a job (its template) by a rule such as
 * FREQ=WEEKLY;BYDAY=SA.  libical expands the rule in wall-clock time,
 * starting from the template's start as a local time in the recurrence's
 * time zone; each local occurrence becomes an instant with PostgreSQL's own
 * time-zone rules (timestamp AT TIME ZONE), so a 20:00 Europe/Brussels show
 * stays at 20:00 across daylight-saving changes.  A local time that does not
 * exist (the spring gap) is read as PostgreSQL reads it, with the offset in
 * force before the change: 02:30 becomes 03:30 summer time.  A local time that
 * exists twice (the autumn overlap) is the second, standard-time instant.
 *
 * Instances are created up to now() + horizon, in the template's state; one
 * whose resources are taken is created as a draft instead and shows the
 * error RECURRENCE_CONFLICT until it is reserved.  Reservations go through
 * the same triggers and checks as any other.
 */
#include "postgres.h"

#include <libical/ical.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "access/tupdesc.h"
#include "utils/tuplestore.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "args.h"
#include "recurrence.h"

PG_FUNCTION_INFO_V1(mojob_make_recurring);
PG_FUNCTION_INFO_V1(mojob_extend_recurrences);
PG_FUNCTION_INFO_V1(mojob_cancel_recurrence);
PG_FUNCTION_INFO_V1(mojob_recurrence_preview);

#define MAX_INSTANCES 5000

/* What a recurrence needs to expand its rule. */
typedef struct Recurrence
{
	int64		id;
	char	   *rule;
	char	   *time_zone;
	TimestampTz dtstart;		/* the first instance's start */
	MojobState	instance_state; /* draft or tentative: the template's at the start */
} Recurrence;

/* The job whose fields each instance copies. */
typedef struct Template
{
	int64		id;
	MojobState	state;
	TimestampTz start_at;
	Interval	length;			/* exact: microseconds only */
	Interval	pre_roll;
	Interval	post_roll;
} Template;

/* ---------------------------------------------------------------------
 * Rules and time zones
 * ---------------------------------------------------------------------
 */

static void
bad_rule(const char *rule, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid recurrence rule \"%s\"", rule),
			 errdetail("libical: %s", why),
			 errhint("Give an RFC 5545 RRULE such as 'FREQ=WEEKLY;BYDAY=SA' or 'FREQ=DAILY;UNTIL=20271231T000000Z'.")));
}

/* The rule, parsed by libical; 22023 with libical's complaint if it is not valid. */
static struct icalrecurrencetype
parse_rule(const char *rule)
{
	struct icalrecurrencetype r;
	const char *text = rule;

	if (pg_strncasecmp(text, "RRULE:", 6) == 0)
		text += 6;
	icalerror_set_errors_are_fatal(0);
	icalerror_clear_errno();
	r = icalrecurrencetype_from_string(text);
	if (r.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR)
		bad_rule(rule, icalerrno != ICAL_NO_ERROR ? icalerror_strerror(icalerrno)
				 : "the rule has no FREQ");
	return r;
}

/* An instant as wall-clock time in a time zone (PostgreSQL's rules). */
static Timestamp
to_local(TimestampTz t, const char *tz)
{
	return DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
												 CStringGetTextDatum(tz),
												 TimestampTzGetDatum(t)));
}

/* A wall-clock time in a time zone as an instant (PostgreSQL's rules). */
static TimestampTz
from_local(Timestamp t, const char *tz)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
												   CStringGetTextDatum(tz),
												   TimestampGetDatum(t)));
}

static struct icaltimetype
ical_from_timestamp(Timestamp t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	struct icaltimetype it = icaltime_null_time();

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	it.year = tm.tm_year;
	it.month = tm.tm_mon;
	it.day = tm.tm_mday;
	it.hour = tm.tm_hour;
	it.minute = tm.tm_min;
	it.second = tm.tm_sec;
	it.is_date = 0;
	return it;
}

static Timestamp
timestamp_from_ical(struct icaltimetype it, fsec_t fsec)
{
	struct pg_tm tm = {0};
	Timestamp	t;

	tm.tm_year = it.year;
	tm.tm_mon = it.month;
	tm.tm_mday = it.day;
	tm.tm_hour = it.hour;
	tm.tm_min = it.minute;
	tm.tm_sec = it.second;
	if (tm2timestamp(&tm, fsec, NULL, &t) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a recurrence occurrence is out of range")));
	return t;
}

/*
 * The starts of the occurrences of rule after dtstart (which is the first
 * instance) that fall in [after, before): wall-clock times in tz made
 * instants.  More than MAX_INSTANCES in [count_from, before) is refused
 * (22023).
 */
static TimestampTz *
expand(const char *rule, const char *tz, TimestampTz dtstart,
	   TimestampTz after, TimestampTz before, TimestampTz count_from, int *n)
{
	struct icalrecurrencetype r = parse_rule(rule);
	Timestamp	local_start = to_local(dtstart, tz);
	fsec_t		fsec = local_start % USECS_PER_SEC;
	struct icaltimetype start = ical_from_timestamp(local_start - fsec);
	icalrecur_iterator *it;
	TimestampTz *starts = palloc(sizeof(TimestampTz) * 64);
	int			max = 64;
	int			count = 0;
	int			counted = 0;

	/*
	 * libical compares UNTIL with the (floating, local) occurrences: an UNTIL
	 * given in UTC, as RFC 5545 asks, is made local time in tz first.
	 */
	if (!icaltime_is_null_time(r.until) && !r.until.is_date && icaltime_is_utc(r.until))
	{
		Timestamp	until_utc = timestamp_from_ical(r.until, 0);

		r.until = ical_from_timestamp(to_local((TimestampTz) until_utc, tz));
	}

	icalerror_clear_errno();
	it = icalrecur_iterator_new(r, start);
	if (it == NULL)
		bad_rule(rule, icalerrno != ICAL_NO_ERROR ? icalerror_strerror(icalerrno)
				 : "the rule gives no occurrence");
	PG_TRY();
	{
		int			returned = 0;
		struct icaltimetype last = start;

		for (;;)
		{
			struct icaltimetype next;
			Timestamp	local;
			TimestampTz t;

			CHECK_FOR_INTERRUPTS();
			next = icalrecur_iterator_next(it);
			if (icaltime_is_null_time(next))
			{
				/*
				 * libical also ends a rule where its own calendar ends (the
				 * year 2582 in libical 3.0): a rule still going then is not
				 * cut short silently.
				 */
				bool		rule_ended = (r.count > 0 && returned >= r.count) ||
					(!icaltime_is_null_time(r.until) && last.year + 1 >= r.until.year);

				if (!rule_ended && last.year >= 2500)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("recurrence rule \"%s\" goes on past the year %d, where libical stops",
									rule, last.year),
							 errdetail("The horizon ends at %s.", mojob_timestamp_text(before)),
							 errhint("Use a shorter horizon, or a rule with COUNT or UNTIL.")));
				break;
			}
			returned++;
			last = next;
			local = timestamp_from_ical(next, fsec);
			/* the template is the first instance (compared as wall-clock time) */
			if (local <= local_start)
				continue;
			t = from_local(local, tz);
			if (t >= before)
				break;
			if (t >= count_from && ++counted > MAX_INSTANCES)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("recurrence rule \"%s\" makes more than %d instances within the horizon",
								rule, MAX_INSTANCES),
						 errdetail("The horizon ends at %s.", mojob_timestamp_text(before)),
						 errhint("Use a shorter horizon, or a rule with COUNT or UNTIL.")));
			if (t < after)
				continue;
			if (count == max)
			{
				max *= 2;
				starts = repalloc(starts, sizeof(TimestampTz) * max);
			}
			starts[count++] = t;
		}
	}
	PG_FINALLY();
	{
		icalrecur_iterator_free(it);
	}
	PG_END_TRY();
	*n = count;
	return starts;
}

/* ---------------------------------------------------------------------
 * Instances
 * ---------------------------------------------------------------------
 */

static Interval *
exact_interval(TimestampTz from, TimestampTz to)
{
	Interval   *i = palloc0(sizeof(Interval));

	i->time = to - from;
	return i;
}

/*
 * The job instances copy: the template, or if it was deleted or canceled
 * (one episode dropped) the latest instance that was not.
 */
static bool
read_template(int64 recurrence, int64 template_job, Template *t)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT id, state, pre_roll_start, start_at, end_at, post_roll_end FROM mojob.job "
		"WHERE id = $1 OR recurrence_id = $2 "
		"ORDER BY state <> 'canceled' DESC, id = $1 DESC, start_at DESC LIMIT 1";
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(template_job), Int64GetDatum(recurrence)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	TimestampTz pre,
				start,
				end,
				post;

	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	if (SPI_processed == 0)
		return false;
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	t->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	t->state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull)));
	pre = DatumGetTimestampTz(SPI_getbinval(row, desc, 3, &isnull));
	start = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
	end = DatumGetTimestampTz(SPI_getbinval(row, desc, 5, &isnull));
	post = DatumGetTimestampTz(SPI_getbinval(row, desc, 6, &isnull));
	t->start_at = start;
	t->length = *exact_interval(start, end);
	t->pre_roll = *exact_interval(pre, start);
	t->post_roll = *exact_interval(end, post);
	return true;
}

/*
 * Run the instance-making statement in a subtransaction.  False if it was
 * refused for resources (MJ005, MJ006), which changes nothing; any other
 * error is raised.
 */
static bool
try_instances(MojobPlan *plan, const char *sql, Oid *argtypes, Datum *args, MemoryContext cxt)
{
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (SPI_execute_plan(mojob_plan(plan, sql, 7, argtypes), args, NULL, false, 0) < 0)
			elog(ERROR, "creating instances failed");
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_MOJOB_CONFLICT &&
			edata->sqlerrcode != ERRCODE_MOJOB_NOT_READY)
			ReThrowError(edata);
		FlushErrorState();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * Create the instances starting at starts[0..n-1] as copies of the
 * template, in state (draft or tentative); returns how many.  In one
 * statement for all; if that is refused for resources (MJ005, MJ006), one
 * by one, each that is refused becoming a draft with RECURRENCE_CONFLICT.
 */
static int
create_instances(int64 recurrence, const Template *t, MojobState state,
				 TimestampTz *starts, int n)
{
	static MojobPlan plan;
	static MojobPlan conflict_plan;
	static const char *sql =
		"WITH made AS ("
		"  INSERT INTO mojob.job (name, description, priority, owner, properties, state, "
		"                         pre_roll_start, start_at, end_at, post_roll_end, recurrence_id) "
		"  SELECT t.name, t.description, t.priority, t.owner, t.properties, $4, "
		"         s - $5, s, s + $6, s + $6 + $7, $2 "
		"  FROM mojob.job t, pg_catalog.unnest($3) AS s WHERE t.id = $1 "
		"  RETURNING id) "
		"INSERT INTO mojob.job_resource (job_id, resource_id, pool_id, alias, amount, required_capabilities) "
		"SELECT m.id, n.resource_id, n.pool_id, n.alias, n.amount, n.required_capabilities "
		"FROM made m, mojob.job_resource n "
		"WHERE n.job_id = $1 AND (n.held_until IS NULL OR n.held_until > now()) "
		"ORDER BY n.resource_id, m.id, n.id";
	static const char *conflict_sql =
		"INSERT INTO mojob.recurrence_conflict (job_id) "
		"SELECT id FROM mojob.job WHERE recurrence_id = $1 AND start_at = $2 AND state = 'draft' "
		"ORDER BY id DESC LIMIT 1";
	Oid			argtypes[7] = {INT8OID, INT8OID, TIMESTAMPTZARRAYOID, mojob_catalog()->state_type,
		INTERVALOID, INTERVALOID, INTERVALOID};
	Datum		args[7];
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *elems;

	if (n == 0)
		return 0;
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = TimestampTzGetDatum(starts[i]);
	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(recurrence);
	args[2] = PointerGetDatum(construct_array(elems, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = mojob_state_datum(state);
	args[4] = IntervalPGetDatum(&t->pre_roll);
	args[5] = IntervalPGetDatum(&t->length);
	args[6] = IntervalPGetDatum(&t->post_roll);

	/* All at once. */
	if (try_instances(&plan, sql, argtypes, args, cxt))
		return n;
	if (state == MJ_DRAFT)
		elog(ERROR, "creating draft instances failed");

	/* One by one: those whose resources are taken become drafts. */
	for (int i = 0; i < n; i++)
	{
		Datum		one[7];

		memcpy(one, args, sizeof(one));
		one[2] = PointerGetDatum(construct_array(&elems[i], 1, TIMESTAMPTZOID, 8,
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (!try_instances(&plan, sql, argtypes, one, cxt))
		{
			Oid			ctypes[2] = {INT8OID, TIMESTAMPTZOID};
			Datum		cargs[2] = {Int64GetDatum(recurrence), elems[i]};

			one[3] = mojob_state_datum(MJ_DRAFT);
			if (SPI_execute_plan(mojob_plan(&plan, sql, 7, argtypes), one, NULL, false, 0) < 0)
				elog(ERROR, "creating a draft instance failed");
			/* mojob's own record: written as the tables' owner */
			mojob_spi_connect_owner();
			if (SPI_execute_plan(mojob_plan(&conflict_plan, conflict_sql, 2, ctypes), cargs, NULL, false, 0) < 0)
				elog(ERROR, "recording a recurrence conflict failed");
			mojob_spi_finish();
		}
	}
	return n;
}

/*
 * Create the instances of recurrence rec that start in (after, before), and
 * record how far it was extended.  Returns how many it created.
 */
static int
extend_one(const Recurrence *rec, int64 template_job, TimestampTz after, TimestampTz before,
		   TimestampTz count_from)
{
	static MojobPlan plan;
	static const char *sql =
		"UPDATE mojob.recurrence SET extended_until = $2 WHERE id = $1";
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(rec->id), TimestampTzGetDatum(before)};
	Template	t;
	TimestampTz *starts;
	int			n;
	int			made = 0;

	if (read_template(rec->id, template_job, &t))
	{
		starts = expand(rec->rule, rec->time_zone, rec->dtstart, after, before, count_from, &n);
		made = create_instances(rec->id, &t, rec->instance_state, starts, n);
	}
	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "updating mojob.recurrence failed");
	return made;
}

/* ---------------------------------------------------------------------
 * Functions
 * ---------------------------------------------------------------------
 */

/*
 * mojob.make_recurring(job, rule, time_zone, horizon) RETURNS mojob.recurrence:
 * the job becomes the first instance of a recurrence; the further
 * occurrences that start before now() + horizon become jobs.
 */
Datum
mojob_make_recurring(PG_FUNCTION_ARGS)
{
	static MojobPlan read_plan;
	static MojobPlan insert_plan;
	static MojobPlan link_plan;
	static MojobPlan result_plan;
	static const char *read_sql =
		"SELECT state, start_at, code, recurrence_id FROM mojob.job WHERE id = $1 FOR NO KEY UPDATE";
	static const char *insert_sql =
		"INSERT INTO mojob.recurrence (template_job, rule, time_zone, horizon, dtstart, extended_until, "
		"                              created_by, instance_state) "
		"VALUES ($1, $2, $3, $4, $5, $5, $6, $7) RETURNING id";
	static const char *link_sql =
		"UPDATE mojob.job SET recurrence_id = $2 WHERE id = $1";
	static const char *result_sql = "SELECT * FROM mojob.recurrence WHERE id = $1";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	char	   *rule = TextDatumGetCString(mojob_arg_datum(fcinfo, 1, "rule"));
	char	   *tz = TextDatumGetCString(mojob_arg_datum(fcinfo, 2, "time_zone"));
	Interval   *horizon = DatumGetIntervalP(mojob_arg_datum(fcinfo, 3, "horizon"));
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz before;
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INTERVALOID, TIMESTAMPTZOID, TEXTOID,
		mojob_catalog()->state_type};
	Datum		args[7];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	MojobState	state;
	TimestampTz start_at;
	char	   *code;
	Recurrence	rec;
	Datum		result;
	Interval	zero = {0};

	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(horizon),
										  IntervalPGetDatum(&zero))) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be positive"),
				 errdetail("It is %s.", DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(horizon)))),
				 errhint("Instances are created up to now() + horizon; the default is 1 year.")));
	(void) parse_rule(rule);
	(void) to_local(now, tz);	/* 22023 for an unknown time zone */
	before = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													 TimestampTzGetDatum(now), IntervalPGetDatum(horizon)));

	mojob_spi_connect();
	args[0] = Int64GetDatum(job);
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull)));
	start_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull));
	code = TextDatumGetCString(SPI_getbinval(row, desc, 3, &isnull));
	(void) SPI_getbinval(row, desc, 4, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("job %s is already an instance of a recurrence", code),
				 errhint("Cancel that recurrence with mojob.cancel_recurrence(), or duplicate the job first.")));
	if ((state != MJ_DRAFT && state != MJ_TENTATIVE) || start_at <= now)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("job %s cannot be made recurring", code),
				 errdetail("It is %s and %s; only a draft or tentative job that has not started can.",
						   mojob_states[state].name,
						   start_at <= now ? "its start has passed" : "has not started"),
				 errhint("Make a new draft with mojob.duplicate(job, start_at) and make that recurring.")));

	args[0] = Int64GetDatum(job);
	args[1] = CStringGetTextDatum(rule);
	args[2] = CStringGetTextDatum(tz);
	args[3] = IntervalPGetDatum(horizon);
	args[4] = TimestampTzGetDatum(start_at);
	args[5] = CStringGetTextDatum(mojob_actor());
	args[6] = mojob_state_datum(state);
	if (SPI_execute_plan(mojob_plan(&insert_plan, insert_sql, 7, argtypes), args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting into mojob.recurrence failed");
	rec.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	rec.rule = rule;
	rec.time_zone = tz;
	rec.dtstart = start_at;
	rec.instance_state = state;

	args[1] = Int64GetDatum(rec.id);
	{
		Oid			linktypes[2] = {INT8OID, INT8OID};

		if (SPI_execute_plan(mojob_plan(&link_plan, link_sql, 2, linktypes), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "updating mojob.job failed");
	}
	(void) extend_one(&rec, job, start_at, before, now);

	/* Not read-only: the row was inserted by this call. */
	args[0] = Int64GetDatum(rec.id);
	if (SPI_execute_plan(mojob_plan(&result_plan, result_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "reading mojob.recurrence failed");
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  get_relname_relid("recurrence", mojob_catalog()->namespace));
	mojob_spi_finish();
	return result;
}

/* Extend every active recurrence up to at + its horizon (the scheduler's daily call). */
int64
mojob_extend_all(TimestampTz at)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT id, rule, time_zone, dtstart, extended_until, template_job, "
		"       $1 + horizon, instance_state FROM mojob.recurrence "
		"WHERE state = 'active' AND extended_until < $1 + horizon ORDER BY id FOR NO KEY UPDATE";
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1] = {TimestampTzGetDatum(at)};
	SPITupleTable *tt;
	uint64		n;
	int64		made = 0;

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.recurrence failed");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	row = tt->vals[i];
		TupleDesc	desc = tt->tupdesc;
		bool		isnull;
		Recurrence	rec;

		rec.id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		rec.rule = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
		rec.time_zone = TextDatumGetCString(SPI_getbinval(row, desc, 3, &isnull));
		rec.dtstart = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
		rec.instance_state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 8, &isnull)));
		made += extend_one(&rec,
						   DatumGetInt64(SPI_getbinval(row, desc, 6, &isnull)),
						   DatumGetTimestampTz(SPI_getbinval(row, desc, 5, &isnull)),
						   DatumGetTimestampTz(SPI_getbinval(row, desc, 7, &isnull)),
						   at);
	}
	mojob_spi_finish();
	return made;
}

/* mojob.extend_recurrences(at DEFAULT now()) RETURNS integer */
Datum
mojob_extend_recurrences(PG_FUNCTION_ARGS)
{
	TimestampTz at = mojob_arg_time(fcinfo, 0, "at");
	int64		made = mojob_extend_all(at);

	PG_RETURN_INT32((int32) Min(made, PG_INT32_MAX));
}

/*
 * mojob.cancel_recurrence(recurrence, reason) RETURNS mojob.recurrence:
 * instances that have not started are canceled (tentative, confirmed, with
 * the reason) or deleted (drafts); started ones stay as they are.
 */
Datum
mojob_cancel_recurrence(PG_FUNCTION_ARGS)
{
	static MojobPlan read_plan;
	static MojobPlan lock_plan;
	static MojobPlan cancel_plan;
	static MojobPlan delete_plan;
	static MojobPlan done_plan;
	static const char *read_sql =
		"SELECT state FROM mojob.recurrence WHERE id = $1 FOR NO KEY UPDATE";
	/*
	 * The instances not started, locked in id order before anything is
	 * decided: one a user is changing is waited for, and at READ COMMITTED
	 * then judged as the user left it (a draft just reserved is canceled, an
	 * instance just started is left alone; recurrence_cancel_race.spec).
	 * The statements after it read with snapshots taken after the locks.
	 */
	static const char *lock_sql =
		"SELECT FROM mojob.job WHERE recurrence_id = $1 AND state IN ('draft', 'tentative', 'confirmed') "
		"ORDER BY id FOR NO KEY UPDATE";
	static const char *cancel_sql =
		"SELECT count(mojob.cancel(id, $2)) FROM mojob.job "
		"WHERE recurrence_id = $1 AND state IN ('tentative', 'confirmed')";
	static const char *delete_sql =
		"DELETE FROM mojob.job WHERE recurrence_id = $1 AND state = 'draft'";
	static const char *done_sql =
		"UPDATE mojob.recurrence SET state = 'canceled', canceled_at = now(), cancel_reason = $2 "
		"WHERE id = $1 RETURNING *";
	int64		recurrence = mojob_arg_id(fcinfo, 0, "recurrence");
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Datum		result;

	args[0] = Int64GetDatum(recurrence);
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.recurrence failed");
	if (SPI_processed == 0)
		mojob_not_found("recurrence", recurrence);
	if (strcmp(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
			   "canceled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("recurrence " INT64_FORMAT " is already canceled", recurrence),
				 errhint("SELECT * FROM mojob.recurrences shows its instances.")));
	if (SPI_execute_plan(mojob_plan(&lock_plan, lock_sql, 1, argtypes), args, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_execute_plan(mojob_plan(&cancel_plan, cancel_sql, 2, argtypes), args, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_execute_plan(mojob_plan(&delete_plan, delete_sql, 1, argtypes), args, nulls, false, 0) != SPI_OK_DELETE ||
		SPI_execute_plan(mojob_plan(&done_plan, done_sql, 2, argtypes), args, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "canceling recurrence " INT64_FORMAT " failed", recurrence);
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  get_relname_relid("recurrence", mojob_catalog()->namespace));
	mojob_spi_finish();
	return result;
}

/*
 * mojob.recurrence_preview(rule, time_zone, dtstart, until) RETURNS SETOF
 * timestamptz: the occurrences a rule gives after dtstart, before until --
 * what make_recurring would create; also the next occurrence of a
 * recurrence in mojob.recurrences.
 */
Datum
mojob_recurrence_preview(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *rule = TextDatumGetCString(mojob_arg_datum(fcinfo, 0, "rule"));
	char	   *tz = TextDatumGetCString(mojob_arg_datum(fcinfo, 1, "time_zone"));
	TimestampTz dtstart = mojob_arg_time(fcinfo, 2, "dtstart");
	TimestampTz until = mojob_arg_time(fcinfo, 3, "until");
	TimestampTz *starts;
	int			n;
	TupleDesc	desc;
	Tuplestorestate *store;
	MemoryContext old;

	if (until <= dtstart)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("until must be after dtstart"),
				 errdetail("dtstart is %s and until is %s.", mojob_timestamp_text(dtstart),
						   mojob_timestamp_text(until)),
				 errhint("The occurrences listed are those after dtstart and before until.")));

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recurrence_preview must be called where a set is accepted")));
	starts = expand(rule, tz, dtstart, dtstart, until, dtstart, &n);

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	desc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(desc, (AttrNumber) 1, "start_at", TIMESTAMPTZOID, -1, 0);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < n; i++)
	{
		Datum		v = TimestampTzGetDatum(starts[i]);
		bool		isnull = false;

		tuplestore_putvalues(store, desc, &v, &isnull);
	}
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	return (Datum) 0;
}
