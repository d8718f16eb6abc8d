/*
 * args.c
 *		Checking the arguments of mojob's SQL functions.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "args.h"

static void
refuse_null(FunctionCallInfo fcinfo, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be null", name),
			 errdetail("%s() was called with %s => NULL.",
					   fcinfo->flinfo ? get_func_name(fcinfo->flinfo->fn_oid) : "the function", name),
			 errhint("mojob's functions refuse NULL where they need a value; pass one.")));
}

int64
mojob_arg_id(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		refuse_null(fcinfo, name);
	return PG_GETARG_INT64(argno);
}

void
mojob_check_finite(TimestampTz t, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite timestamp", name),
				 errdetail("It is %s.", TIMESTAMP_IS_NOBEGIN(t) ? "-infinity" : "infinity"),
				 errhint("Jobs take place at real instants; give one.")));
}

/*
 * An instant mojob computed (a roll moved, a window shifted) that is to be
 * stored: inside the range of timestamptz, or refused with 22008, so that
 * no row is ever written that cannot be read back.  The infinities are
 * left to the callers (a job's window is finite; mojob_check_finite).
 */
void
mojob_check_instant(TimestampTz t, const char *name)
{
	if (!TIMESTAMP_NOT_FINITE(t) && !IS_VALID_TIMESTAMP(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s would lie outside the range of timestamptz", name),
				 errdetail("timestamptz holds instants from 4714-11-24 BC to 294276-12-31 AD (UTC)."),
				 errhint("Give times, or rolls, that keep the job's window within that range.")));
}

/*
 * t + delta (microseconds) for an instant mojob computes: an overflow, or
 * a result outside the range of timestamptz, is refused with 22008.
 */
TimestampTz
mojob_time_add(TimestampTz t, int64 delta, const char *name)
{
	TimestampTz r;

	if (TIMESTAMP_NOT_FINITE(t) || pg_add_s64_overflow(t, delta, &r) ||
		TIMESTAMP_NOT_FINITE(r) || !IS_VALID_TIMESTAMP(r))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s would lie outside the range of timestamptz", name),
				 errdetail("timestamptz holds instants from 4714-11-24 BC to 294276-12-31 AD (UTC)."),
				 errhint("Give times, or rolls, that keep the job's window within that range.")));
	return r;
}

/*
 * The length b - a (microseconds) of a span between two finite instants,
 * refused with 22008 where it does not fit in 64 bits (a span of more than
 * about 292,000 years: timestamptz reaches about 299,000).
 */
int64
mojob_time_diff(TimestampTz b, TimestampTz a, const char *name)
{
	int64		r;

	if (TIMESTAMP_NOT_FINITE(a) || TIMESTAMP_NOT_FINITE(b) || pg_sub_s64_overflow(b, a, &r))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is too long to measure", name),
				 errdetail("It runs from %s to %s.", mojob_timestamp_text(a), mojob_timestamp_text(b)),
				 errhint("Give it an explicit length instead.")));
	return r;
}

TimestampTz
mojob_arg_time(FunctionCallInfo fcinfo, int argno, const char *name)
{
	TimestampTz t;

	if (PG_ARGISNULL(argno))
		refuse_null(fcinfo, name);
	t = PG_GETARG_TIMESTAMPTZ(argno);
	mojob_check_finite(t, name);
	return t;
}

/* A pre- or post-roll: NULL means "the default", negative is refused. */
Interval *
mojob_arg_roll(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Interval   *roll;
	Interval	zero = {0};

	if (PG_ARGISNULL(argno))
		return NULL;
	roll = PG_GETARG_INTERVAL_P(argno);
#ifdef INTERVAL_NOT_FINITE
	if (INTERVAL_NOT_FINITE(roll))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite", name)));
#endif
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, PointerGetDatum(roll),
										  PointerGetDatum(&zero))) < 0 ||
		roll->time < 0 || roll->day < 0 || roll->month < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name),
				 errdetail("It is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, PointerGetDatum(roll)))),
				 errhint("A roll is set-up or tear-down time added around the job: give '0' or more.")));
	return roll;
}

/* A job's name: not NULL and not empty. */
Datum
mojob_arg_name(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		refuse_null(fcinfo, name);
	if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(argno)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name),
				 errdetail("The %s is an empty string.", name),
				 errhint("Give the job a name an operator will recognise.")));
	return PG_GETARG_DATUM(argno);
}

Datum
mojob_arg_datum(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		refuse_null(fcinfo, name);
	return PG_GETARG_DATUM(argno);
}

/* An id and where it was in the array (1-based), to sort. */
typedef struct PlacedId
{
	int64		id;
	int			pos;
} PlacedId;

static int
placed_cmp(const void *a, const void *b)
{
	const PlacedId *x = a;
	const PlacedId *y = b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return x->pos - y->pos;
}

/*
 * An array of ids: one dimension, at most MOJOB_MAX_IDS, no NULLs, no id
 * twice (found by sorting a copy: n log n, interruptible).
 */
ArrayType *
mojob_arg_ids(FunctionCallInfo fcinfo, int argno, const char *name)
{
	ArrayType  *arr;
	Datum	   *ids;
	bool	   *nulls;
	int			n;
	PlacedId   *sorted;

	if (PG_ARGISNULL(argno))
		refuse_null(fcinfo, name);
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", name),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr)),
				 errhint("Pass a list of ids such as ARRAY[1, 2].")));
	n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (n > MOJOB_MAX_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not hold more than %d ids", name, MOJOB_MAX_IDS),
				 errdetail("It holds %d.", n),
				 errhint("A job has at most %d nodes; split the work into several jobs.", MOJOB_MAX_IDS)));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ids, &nulls, &n);
	sorted = palloc(sizeof(PlacedId) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain NULL", name),
					 errdetail("Element %d is NULL.", i + 1),
					 errhint("Every element must be the id of a resource.")));
		sorted[i].id = DatumGetInt64(ids[i]);
		sorted[i].pos = i + 1;
	}
	CHECK_FOR_INTERRUPTS();
	qsort(sorted, n, sizeof(PlacedId), placed_cmp);
	/* named as before: the first element that repeats an earlier one */
	{
		int			dup = -1;

		for (int i = 1; i < n; i++)
		{
			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (sorted[i].id == sorted[i - 1].id && sorted[i - 1].pos < sorted[i].pos &&
				(i == 1 || sorted[i - 2].id != sorted[i].id) &&
				(dup < 0 || sorted[i].pos < sorted[dup].pos))
				dup = i;
		}
		if (dup >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not name a resource twice", name),
					 errdetail("Resource " INT64_FORMAT " is at positions %d and %d.",
							   sorted[dup].id, sorted[dup - 1].pos, sorted[dup].pos),
					 errhint("One resource serves at most one node of a job.")));
	}
	pfree(sorted);
	return arr;
}

void
mojob_check_window(TimestampTz start_at, TimestampTz end_at)
{
	if (end_at <= start_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_at must be after start_at"),
				 errdetail("start_at is %s and end_at is %s.",
						   mojob_timestamp_text(start_at), mojob_timestamp_text(end_at)),
				 errhint("A job lasts a positive time; the window is [start_at, end_at).")));
}

void
mojob_not_found(const char *kind, int64 id)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_FOUND),
			 errmsg("%s " INT64_FORMAT " does not exist", kind, id),
			 errdetail("No row of mojob.%s has id " INT64_FORMAT ".",
					   strcmp(kind, "node") == 0 ? "job_resource" : kind, id),
			 errhint("Look it up in mojob.%s.", strcmp(kind, "job") == 0 ? "job_search" :
					 strcmp(kind, "node") == 0 ? "job_resource" : kind)));
}
