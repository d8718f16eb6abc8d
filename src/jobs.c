/*
 * jobs.c
 *		SQL-callable functions of the job life cycle.
 *
 * Each function checks its arguments, then writes mojob.job with one
 * statement; the guard trigger (guard.c) does the rest, exactly as it does
 * for a plain UPDATE from psql.  No function is STRICT: a NULL argument is
 * refused with 22023 rather than silently returning NULL.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "args.h"

PG_FUNCTION_INFO_V1(mojob_create_job);
PG_FUNCTION_INFO_V1(mojob_create_job_for_resource);
PG_FUNCTION_INFO_V1(mojob_reserve);
PG_FUNCTION_INFO_V1(mojob_confirm);
PG_FUNCTION_INFO_V1(mojob_unconfirm);
PG_FUNCTION_INFO_V1(mojob_start);
PG_FUNCTION_INFO_V1(mojob_stop);
PG_FUNCTION_INFO_V1(mojob_cancel);
PG_FUNCTION_INFO_V1(mojob_reschedule);
PG_FUNCTION_INFO_V1(mojob_delete_job);
PG_FUNCTION_INFO_V1(mojob_advance);
PG_FUNCTION_INFO_V1(mojob_lock_job);
PG_FUNCTION_INFO_V1(mojob_unlock_job);

/* ---------------------------------------------------------------------
 * Creating jobs
 * ---------------------------------------------------------------------
 */

typedef struct NewJob
{
	Datum		name;
	TimestampTz start_at;
	TimestampTz end_at;
	Interval   *pre_roll;		/* NULL: the settings' default */
	Interval   *post_roll;
	bool		has_state;
	MojobState	state;
	ArrayType  *resources;		/* bigint[] or NULL */
	Datum		description;
	bool		description_null;
	Datum		priority;
	Datum		properties;
} NewJob;

static Datum
create_job(NewJob *j)
{
	static MojobPlan insert_plan;
	static MojobPlan node_plan;
	static const char *insert_sql =
		"INSERT INTO mojob.job (name, start_at, end_at, pre_roll_start, post_roll_end, state, "
		"description, priority, properties) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *";
	/*
	 * In resource order: a tentative job books each node as it is inserted,
	 * locking its resource, and all reservations lock in id order.
	 */
	static const char *node_sql =
		"INSERT INTO mojob.job_resource (job_id, resource_id) "
		"SELECT $1, r.id FROM pg_catalog.unnest($2) AS r(id) ORDER BY r.id";
	const MojobCatalog *c = mojob_catalog();
	Oid			argtypes[9];
	Datum		args[9];
	char		nulls[9];
	Datum		result;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	int64		job_id;

	memset(nulls, ' ', sizeof(nulls));
	argtypes[0] = TEXTOID;
	argtypes[1] = TIMESTAMPTZOID;
	argtypes[2] = TIMESTAMPTZOID;
	argtypes[3] = TIMESTAMPTZOID;
	argtypes[4] = TIMESTAMPTZOID;
	argtypes[5] = c->state_type;
	argtypes[6] = TEXTOID;
	argtypes[7] = c->priority_type;
	argtypes[8] = JSONBOID;

	args[0] = j->name;
	args[1] = TimestampTzGetDatum(j->start_at);
	args[2] = TimestampTzGetDatum(j->end_at);
	if (j->pre_roll)
		args[3] = DirectFunctionCall2(timestamptz_mi_interval, args[1], PointerGetDatum(j->pre_roll));
	else
		nulls[3] = 'n';
	if (j->post_roll)
		args[4] = DirectFunctionCall2(timestamptz_pl_interval, args[2], PointerGetDatum(j->post_roll));
	else
		nulls[4] = 'n';
	if (j->has_state)
		args[5] = mojob_state_datum(j->state);
	else
		nulls[5] = 'n';
	args[6] = j->description;
	if (j->description_null)
		nulls[6] = 'n';
	args[7] = j->priority;
	args[8] = j->properties;

	/*
	 * An unknown resource is refused (MJ404) by the node trigger, which
	 * checks a draft's resources and locks a holding job's: the statement
	 * fails and nothing is written.
	 */
	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&insert_plan, insert_sql, 9, argtypes),
						 args, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "inserting into mojob.job failed");
	row = SPI_copytuple(SPI_tuptable->vals[0]);
	desc = SPI_tuptable->tupdesc;
	job_id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));

	if (j->resources && ArrayGetNItems(ARR_NDIM(j->resources), ARR_DIMS(j->resources)) > 0 &&
		!mojob_insert_nodes_direct(job_id, j->resources))
	{
		Oid			nodetypes[2] = {INT8OID, INT8ARRAYOID};
		Datum		nodeargs[2] = {Int64GetDatum(job_id), PointerGetDatum(j->resources)};

		if (SPI_execute_plan(mojob_plan(&node_plan, node_sql, 2, nodetypes),
							 nodeargs, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "inserting into mojob.job_resource failed");
	}
	result = mojob_spi_return_row(row, desc, c->job_rel);
	mojob_spi_finish();
	return result;
}

static void
new_job_times(FunctionCallInfo fcinfo, NewJob *j, int first)
{
	j->name = mojob_arg_name(fcinfo, first, "name");
	j->start_at = mojob_arg_time(fcinfo, first + 1, "start_at");
	j->end_at = mojob_arg_time(fcinfo, first + 2, "end_at");
	mojob_check_window(j->start_at, j->end_at);
	j->pre_roll = mojob_arg_roll(fcinfo, first + 3, "pre_roll");
	j->post_roll = mojob_arg_roll(fcinfo, first + 4, "post_roll");
}

/*
 * mojob.create_job(name, start_at, end_at, pre_roll, post_roll, state,
 * resources, description, priority, properties) RETURNS mojob.job
 */
Datum
mojob_create_job(PG_FUNCTION_ARGS)
{
	NewJob		j = {0};

	new_job_times(fcinfo, &j, 0);
	if (!PG_ARGISNULL(5))
	{
		j.has_state = true;
		j.state = mojob_state_from_oid(PG_GETARG_OID(5));
		if (!mojob_states[j.state].initial)
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_TRANSITION),
					 errmsg("a job cannot be created in state %s", mojob_states[j.state].name),
					 errdetail("New jobs start in draft or tentative."),
					 errhint("Create the job in draft or tentative, then move it with mojob.reserve(), mojob.confirm() and mojob.start().")));
	}
	/* The right to create a job before any work on the arguments. */
	if (pg_class_aclcheck(mojob_catalog()->job_rel, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "job");
	j.resources = mojob_arg_ids(fcinfo, 6, "resources");
	j.description_null = PG_ARGISNULL(7);
	j.description = j.description_null ? (Datum) 0 : PG_GETARG_DATUM(7);
	j.priority = mojob_arg_datum(fcinfo, 8, "priority");
	j.properties = mojob_arg_datum(fcinfo, 9, "properties");
	return create_job(&j);
}

/*
 * mojob.create_job_for_resource(resource, name, start_at, end_at, pre_roll,
 * post_roll) RETURNS mojob.job: a tentative job holding the resource.
 */
Datum
mojob_create_job_for_resource(PG_FUNCTION_ARGS)
{
	NewJob		j = {0};
	int64		resource = mojob_arg_id(fcinfo, 0, "resource");
	Datum		id = Int64GetDatum(resource);

	new_job_times(fcinfo, &j, 1);
	j.has_state = true;
	j.state = MJ_TENTATIVE;
	j.resources = construct_array(&id, 1, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	j.description_null = true;
	j.priority = DirectFunctionCall2(enum_in, CStringGetDatum("normal"),
									 ObjectIdGetDatum(mojob_catalog()->priority_type));
	j.properties = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	return create_job(&j);
}

/* ---------------------------------------------------------------------
 * Transitions
 * ---------------------------------------------------------------------
 */

/*
 * Move a job to target with one UPDATE through the guard, telling the guard
 * which function asks, so that a job already in the target state is
 * refused (MJ001) rather than taken for an edit.
 */
static Datum
transition(FunctionCallInfo fcinfo, const char *action, MojobState target, const char *function)
{
	static MojobPlan plan;
	static MojobPlan cancel_plan;
	static const char *sql =
		"UPDATE mojob.job SET state = $2 WHERE id = $1 RETURNING *";
	static const char *cancel_sql =
		"UPDATE mojob.job SET state = $2, cancel_reason = $3 WHERE id = $1 RETURNING *";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	bool		cancel = target == MJ_CANCELED;
	Oid			argtypes[3] = {INT8OID, mojob_catalog()->state_type, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum		result;
	volatile int ret;
	MojobContext saved;

	args[0] = Int64GetDatum(job);
	args[1] = mojob_state_datum(target);
	if (cancel && !PG_ARGISNULL(1))
		args[2] = PG_GETARG_DATUM(1);
	else
		nulls[2] = 'n';

	mojob_spi_connect();
	/* A user's call, even from a trigger inside another statement of mojob's. */
	saved = mojob_context_enter();
	mojob_request.active = true;
	mojob_request.job_id = job;
	mojob_request.action = action;
	mojob_request.function = function;
	PG_TRY();
	{
		ret = cancel
			? SPI_execute_plan(mojob_plan(&cancel_plan, cancel_sql, 3, argtypes), args, nulls, false, 0)
			: SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, nulls, false, 0);
	}
	PG_FINALLY();
	{
		mojob_context_leave(&saved);
	}
	PG_END_TRY();
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "updating mojob.job failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, mojob_catalog()->job_rel);
	mojob_spi_finish();
	return result;
}

/* mojob.reserve(job): draft -> tentative */
Datum
mojob_reserve(PG_FUNCTION_ARGS)
{
	return transition(fcinfo, "reserve", MJ_TENTATIVE, "mojob.reserve(job)");
}

/* mojob.confirm(job): tentative -> confirmed (-> running if its start has passed) */
Datum
mojob_confirm(PG_FUNCTION_ARGS)
{
	return transition(fcinfo, "confirm", MJ_CONFIRMED, "mojob.confirm(job)");
}

/* mojob.unconfirm(job): confirmed -> tentative */
Datum
mojob_unconfirm(PG_FUNCTION_ARGS)
{
	return transition(fcinfo, "unconfirm", MJ_TENTATIVE, "mojob.unconfirm(job)");
}

/* mojob.start(job): confirmed -> running, now */
Datum
mojob_start(PG_FUNCTION_ARGS)
{
	return transition(fcinfo, "start", MJ_RUNNING, "mojob.start(job)");
}

/* mojob.stop(job): running -> completed, now */
Datum
mojob_stop(PG_FUNCTION_ARGS)
{
	return transition(fcinfo, "stop", MJ_COMPLETED, "mojob.stop(job)");
}

/* mojob.cancel(job, reason): tentative or confirmed -> canceled */
Datum
mojob_cancel(PG_FUNCTION_ARGS)
{
	return transition(fcinfo, "cancel", MJ_CANCELED, "mojob.cancel(job, reason)");
}

/* ---------------------------------------------------------------------
 * Other changes
 * ---------------------------------------------------------------------
 */

/*
 * mojob.reschedule(job, start_at, end_at, pre_roll, post_roll): move a job's
 * window.  A NULL roll keeps the job's current roll length.
 */
Datum
mojob_reschedule(PG_FUNCTION_ARGS)
{
	static MojobPlan read_plan;
	static MojobPlan update_plan;
	static const char *read_sql =
		"SELECT pre_roll_start, start_at, end_at, post_roll_end FROM mojob.job "
		"WHERE id = $1 FOR NO KEY UPDATE";
	static const char *update_sql =
		"UPDATE mojob.job SET pre_roll_start = $2, start_at = $3, end_at = $4, post_roll_end = $5 "
		"WHERE id = $1 RETURNING *";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	TimestampTz start_at = mojob_arg_time(fcinfo, 1, "start_at");
	TimestampTz end_at = mojob_arg_time(fcinfo, 2, "end_at");
	Interval   *pre_roll = mojob_arg_roll(fcinfo, 3, "pre_roll");
	Interval   *post_roll = mojob_arg_roll(fcinfo, 4, "post_roll");
	Oid			readtypes[1] = {INT8OID};
	Oid			argtypes[5] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[5];
	TimestampTz pre_roll_start,
				post_roll_end;
	bool		isnull;
	HeapTuple	row;
	TupleDesc	desc;
	Datum		result;

	mojob_check_window(start_at, end_at);
	args[0] = Int64GetDatum(job);

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, readtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	/* A NULL roll keeps its length, measured exactly in microseconds. */
	if (pre_roll)
		pre_roll_start = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																 TimestampTzGetDatum(start_at),
																 PointerGetDatum(pre_roll)));
	else
		pre_roll_start = mojob_time_add(start_at,
										-mojob_time_diff(DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull)),
														 DatumGetTimestampTz(SPI_getbinval(row, desc, 1, &isnull)),
														 "the job's pre-roll"),
										"pre_roll_start");
	if (post_roll)
		post_roll_end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																TimestampTzGetDatum(end_at),
																PointerGetDatum(post_roll)));
	else
		post_roll_end = mojob_time_add(end_at,
									   mojob_time_diff(DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull)),
													   DatumGetTimestampTz(SPI_getbinval(row, desc, 3, &isnull)),
													   "the job's post-roll"),
									   "post_roll_end");
	mojob_check_finite(pre_roll_start, "pre_roll_start");
	mojob_check_finite(post_roll_end, "post_roll_end");

	args[1] = TimestampTzGetDatum(pre_roll_start);
	args[2] = TimestampTzGetDatum(start_at);
	args[3] = TimestampTzGetDatum(end_at);
	args[4] = TimestampTzGetDatum(post_roll_end);
	if (SPI_execute_plan(mojob_plan(&update_plan, update_sql, 5, argtypes), args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "updating mojob.job failed");
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, mojob_catalog()->job_rel);
	mojob_spi_finish();
	return result;
}

/* mojob.delete_job(job): delete a draft, completed or canceled job. */
Datum
mojob_delete_job(PG_FUNCTION_ARGS)
{
	static MojobPlan plan;
	static const char *sql = "DELETE FROM mojob.job WHERE id = $1";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(job)};

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "deleting from mojob.job failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	mojob_spi_finish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------
 */

#define DUE_CONDITION \
	"((state = 'confirmed' AND start_at <= $1) OR (state = 'running' AND end_at <= $1))"

/*
 * The due jobs, earliest first, read from the partial indexes job_start_due
 * and job_end_due in due order: the plan does not depend on how many jobs
 * are due, so a generic plan is as good as any (at most 2 x $2 rows).
 */
#define DUE_BATCH \
	"SELECT id FROM (SELECT id FROM mojob.job WHERE state = 'confirmed' AND start_at <= $1 " \
	"                  AND id <> ALL ($3) AND ($4::bigint[] IS NULL OR id = ANY ($4)) " \
	"                ORDER BY start_at LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED) c " \
	"UNION ALL " \
	"SELECT id FROM (SELECT id FROM mojob.job WHERE state = 'running' AND end_at <= $1 " \
	"                  AND id <> ALL ($3) AND ($4::bigint[] IS NULL OR id = ANY ($4)) " \
	"                ORDER BY end_at LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED) r"

/*
 * Make the time transitions due at "at": confirmed jobs whose start has
 * come run, running jobs whose end has come complete.  Returns how many
 * transitions were made.
 *
 * Rows other transactions have locked are skipped, never waited for.  With
 * limit 0, every other due job moves (mojob.advance()).  With limit > 0
 * (the scheduler), at most that many jobs move, and the ids in exclude are
 * skipped too; with only, just those ids are considered.
 */
int64
mojob_advance_due(TimestampTz at, int limit, ArrayType *exclude, ArrayType *only)
{
	static MojobPlan plan;
	static MojobPlan batch_plan;
	/*
	 * Every due job no other session has locked: the rows are locked first,
	 * skipping those others hold (an operator's SELECT ... FOR UPDATE, a
	 * user's transition in progress), so that one locked job never holds
	 * up the others; the scheduler comes back for it.
	 */
	static const char *sql =
		"UPDATE mojob.job SET state = CASE WHEN state = 'confirmed' "
		"THEN 'running'::mojob.job_state ELSE 'completed'::mojob.job_state END "
		"WHERE id IN (SELECT id FROM mojob.job WHERE " DUE_CONDITION
		" FOR NO KEY UPDATE SKIP LOCKED)";
	static const char *batch_sql =
		"UPDATE mojob.job SET state = CASE WHEN state = 'confirmed' "
		"THEN 'running'::mojob.job_state ELSE 'completed'::mojob.job_state END "
		"WHERE id IN (" DUE_BATCH ")";
	/* The jobs of only, found by id (the scheduler's retries, one job each). */
	static MojobPlan only_plan;
	static const char *only_sql =
		"UPDATE mojob.job SET state = CASE WHEN state = 'confirmed' "
		"THEN 'running'::mojob.job_state ELSE 'completed'::mojob.job_state END "
		"WHERE id IN (SELECT id FROM mojob.job WHERE id = ANY ($4) AND " DUE_CONDITION
		" FOR NO KEY UPDATE SKIP LOCKED)";
	Oid			argtypes[4] = {TIMESTAMPTZOID, INT4OID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	volatile int64 made = 0;
	MojobContext saved;

	args[0] = TimestampTzGetDatum(at);
	args[1] = Int32GetDatum(limit);
	args[2] = PointerGetDatum(exclude);
	args[3] = PointerGetDatum(only);
	if (only == NULL)
		nulls[3] = 'n';

	mojob_spi_connect();
	saved = mojob_context_enter();
	mojob_clock.active = true;
	mojob_clock.at = at;
	mojob_clock.transitions = 0;
	PG_TRY();
	{
		/* all due jobs at once: planned for the instant given, seq scan or not */
		int			ret = only != NULL
			? SPI_execute_plan(mojob_plan(&only_plan, only_sql, 4, argtypes), args, nulls, false, 0)
			: limit > 0
			? SPI_execute_plan(mojob_plan(&batch_plan, batch_sql, 4, argtypes), args, nulls, false, 0)
			: SPI_execute_plan(mojob_plan_custom(&plan, sql, 1, argtypes), args, nulls, false, 0);

		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "advancing mojob.job failed: %s", SPI_result_code_string(ret));
		made = mojob_clock.transitions;
	}
	PG_FINALLY();
	{
		mojob_context_leave(&saved);
	}
	PG_END_TRY();
	mojob_spi_finish();
	return made;
}

/* The ids of up to limit due jobs not locked by others and not excluded. */
int64 *
mojob_due_jobs(TimestampTz at, int limit, ArrayType *exclude, int *n)
{
	static MojobPlan plan;
	static const char *sql = DUE_BATCH;
	Oid			argtypes[4] = {TIMESTAMPTZOID, INT4OID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		args[4] = {TimestampTzGetDatum(at), Int32GetDatum(limit), PointerGetDatum(exclude), (Datum) 0};
	char		nulls[4] = {' ', ' ', ' ', 'n'};
	MemoryContext caller = CurrentMemoryContext;
	int64	   *ids;
	bool		isnull;

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 4, argtypes), args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	ids = MemoryContextAlloc(caller, sizeof(int64) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	*n = (int) SPI_processed;
	mojob_spi_finish();
	return ids;
}

/*
 * The earliest due time after "after" (DT_NOEND if none), and whether jobs
 * due at or before it, other than those of exclude (the scheduler's jobs
 * set aside), are still waiting (locked by others); read through the
 * partial indexes job_start_due and job_end_due.
 */
TimestampTz
mojob_next_due(TimestampTz after, ArrayType *exclude, bool *waiting)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT least((SELECT min(start_at) FROM mojob.job WHERE state = 'confirmed' AND start_at > $1), "
		"             (SELECT min(end_at) FROM mojob.job WHERE state = 'running' AND end_at > $1)), "
		"       (SELECT min(start_at) FROM mojob.job WHERE state = 'confirmed' AND id <> ALL ($2)) <= $1 "
		"       OR (SELECT min(end_at) FROM mojob.job WHERE state = 'running' AND id <> ALL ($2)) <= $1";
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT8ARRAYOID};
	Datum		args[2] = {TimestampTzGetDatum(after), PointerGetDatum(exclude)};
	TimestampTz next = DT_NOEND;
	bool		isnull;
	Datum		d;

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		next = DatumGetTimestampTz(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*waiting = !isnull && DatumGetBool(d);
	mojob_spi_finish();
	return next;
}

/*
 * mojob.advance(at DEFAULT now()) RETURNS integer.  An instant ahead of now
 * moves jobs before their time, as time and past their edit locks: only the
 * owner of mojob.job may ask for that (tests, a catch-up by hand); others
 * start a job early with mojob.start(job).
 */
Datum
mojob_advance(PG_FUNCTION_ARGS)
{
	TimestampTz at = mojob_arg_time(fcinfo, 0, "at");
	TimestampTz now = GetCurrentTimestamp();	/* the clock: clock_timestamp() is not ahead */
	int64		made;

	if (at > now && !mojob_is_privileged(mojob_catalog()->job_rel))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of mojob.job may advance to an instant ahead of now"),
				 errdetail("mojob.advance was called with at = %s; the clock says %s.",
						   mojob_timestamp_text(at), mojob_timestamp_text(now)),
				 errhint("Call mojob.advance() without at; to start a job early, use mojob.start(job).")));
	made = mojob_advance_due(at, 0, NULL, NULL);

	PG_RETURN_INT32((int32) Min(made, PG_INT32_MAX));
}

/* ---------------------------------------------------------------------
 * Edit locks
 * ---------------------------------------------------------------------
 */

/*
 * mojob.lock_job(job, force) RETURNS mojob.job: the acting user holds the
 * job's edit lock until settings.lock_timeout passes.  Another user's lock
 * is refused (MJ004) unless force takes it over.
 */
Datum
mojob_lock_job(PG_FUNCTION_ARGS)
{
	static MojobPlan read_plan;
	static MojobPlan lock_plan;
	static const char *read_sql =
		"SELECT locked_by, locked_until, code FROM mojob.job WHERE id = $1 FOR NO KEY UPDATE";
	static const char *lock_sql =
		"UPDATE mojob.job SET locked_by = $2, "
		"locked_until = now() + (SELECT lock_timeout FROM mojob.settings) "
		"WHERE id = $1 RETURNING *";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	bool		force;
	const char *actor = mojob_actor();
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2] = {Int64GetDatum(job), CStringGetTextDatum(actor)};
	Datum		result;
	bool		isnull;

	force = DatumGetBool(mojob_arg_datum(fcinfo, 1, "force"));
	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	if (!force)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		holder = SPI_getbinval(row, desc, 1, &isnull);

		if (!isnull && strcmp(TextDatumGetCString(holder), actor) != 0 &&
			DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull)) > GetCurrentTransactionStartTimestamp())
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_LOCKED),
					 errmsg("job %s is locked by %s", TextDatumGetCString(SPI_getbinval(row, desc, 3, &isnull)),
							TextDatumGetCString(holder)),
					 errdetail("%s holds its edit lock until %s.", TextDatumGetCString(holder),
							   mojob_timestamp_text(DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull)))),
					 errhint("Open it read-only, or take the lock over with mojob.lock_job(job, force => true).")));
	}
	if (SPI_execute_plan(mojob_plan(&lock_plan, lock_sql, 2, argtypes), args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "updating mojob.job failed");
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, mojob_catalog()->job_rel);
	mojob_spi_finish();
	return result;
}

/*
 * mojob.unlock_job(job) RETURNS mojob.job: release the acting user's lock
 * (or a lapsed one).  Another user's live lock stays (MJ004 from the guard).
 */
Datum
mojob_unlock_job(PG_FUNCTION_ARGS)
{
	static MojobPlan plan;
	static const char *sql =
		"UPDATE mojob.job SET locked_by = NULL, locked_until = NULL WHERE id = $1 RETURNING *";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(job)};
	Datum		result;

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "updating mojob.job failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, mojob_catalog()->job_rel);
	mojob_spi_finish();
	return result;
}
