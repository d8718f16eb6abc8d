/*
 * booking.c
 *		Reservations: no resource is ever held by more jobs, or more amount,
 *		than it allows, at any instant.
 *
 * A node of a holding job (tentative, confirmed, running, or completed
 * until its post-roll ends) holds its resource for its window.  Each such
 * node has one row in mojob.booking, kept by the triggers: the window as a
 * tstzrange and the amount, indexed with GiST on (resource_id, held), so a
 * check reads only the bookings that overlap the window it asks about.
 *
 * Checking is race-free at every isolation level:
 *	- the resource rows are locked FOR NO KEY UPDATE, in id order (so two
 *	  reservations of several resources never deadlock); changes to a
 *	  resource row (disable, lower concurrency) take the same lock;
 *	- the overlapping bookings are read with a fresh snapshot taken after
 *	  the locks, so a booking committed meanwhile is seen even by a
 *	  REPEATABLE READ or SERIALIZABLE transaction, which then gets a
 *	  serialization failure (if its own snapshot cannot see the booking in
 *	  the way) or MJ005 (if it can).
 * The peak is computed by a sweep over the overlapping windows: three jobs
 * 10-11, 10:30-11:30 and 11-12 never hold more than two at once.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rangetypes.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "compat.h"
#include "mojob.h"
#include "booking.h"

PG_FUNCTION_INFO_V1(mojob_resource_guard);
PG_FUNCTION_INFO_V1(mojob_resource_usage);

/* A holding booking that overlaps the window being checked. */
typedef struct Hold
{
	TimestampTz lo;
	TimestampTz hi;
	Numeric		amount;
	int64		job_id;
	char	   *code;			/* NULL until fill_codes() */
} Hold;

/* What a sweep found. */
typedef struct SweepResult
{
	int			peak_count;		/* most holds at one instant */
	Numeric		peak_amount;	/* largest sum of amounts at one instant */
	bool		exceeded;		/* was a limit exceeded somewhere? */
	TimestampTz from;			/* from the start of the first stretch where it was */
	TimestampTz to;				/* to the end of the last one */
	int			nstretches;		/* the stretches where it was */
	TimestampTz *stretch_from;
	TimestampTz *stretch_to;
} SweepResult;

typedef struct SweepEvent
{
	TimestampTz t;
	int			delta;			/* +1 start, -1 end */
	Numeric		amount;
} SweepEvent;

static int
event_cmp(const void *a, const void *b)
{
	const SweepEvent *x = a;
	const SweepEvent *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	/* Windows are half-open: at the same instant, ends come before starts. */
	return x->delta - y->delta;
}

static Numeric
num_add(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/*
 * Sweep the holds over [lo, hi): find the peak count and amount, and the
 * first stretch where the count exceeds max_count or the amount exceeds
 * max_amount (NULL = no limit).
 */
static SweepResult
sweep(Hold *holds, int n, TimestampTz lo, TimestampTz hi,
	  int max_count, Numeric max_amount)
{
	SweepResult r;
	SweepEvent *ev = palloc(sizeof(SweepEvent) * (2 * n + 1));
	int			nev = 0;
	int			count = 0;
	Numeric		zero = int64_to_numeric(0);
	Numeric		amount = zero;

	r.peak_count = 0;
	r.peak_amount = zero;
	r.exceeded = false;
	r.from = r.to = 0;
	r.nstretches = 0;
	r.stretch_from = palloc(sizeof(TimestampTz) * (2 * n + 1));
	r.stretch_to = palloc(sizeof(TimestampTz) * (2 * n + 1));

	for (int i = 0; i < n; i++)
	{
		TimestampTz s = Max(holds[i].lo, lo);
		TimestampTz e = Min(holds[i].hi, hi);

		if (s >= e)
			continue;
		ev[nev++] = (SweepEvent) {s, +1, holds[i].amount};
		ev[nev++] = (SweepEvent) {e, -1, holds[i].amount};
	}
	qsort(ev, nev, sizeof(SweepEvent), event_cmp);

	for (int i = 0; i < nev;)
	{
		TimestampTz t = ev[i].t;

		CHECK_FOR_INTERRUPTS();

		/* apply every event at instant t, then look at [t, next) */
		for (; i < nev && ev[i].t == t; i++)
		{
			count += ev[i].delta;
			amount = ev[i].delta > 0 ? num_add(amount, ev[i].amount)
				: numeric_sub_opt_error(amount, ev[i].amount, NULL);
		}
		if (count > r.peak_count)
			r.peak_count = count;
		if (num_cmp(amount, r.peak_amount) > 0)
			r.peak_amount = amount;
		if (i < nev &&
			(count > max_count ||
			 (max_amount != NULL && num_cmp(amount, max_amount) > 0)))
		{
			if (!r.exceeded)
				r.from = t;
			r.exceeded = true;
			r.to = ev[i].t;
			/* adjacent stretches merge */
			if (r.nstretches > 0 && r.stretch_to[r.nstretches - 1] == t)
				r.stretch_to[r.nstretches - 1] = ev[i].t;
			else
			{
				r.stretch_from[r.nstretches] = t;
				r.stretch_to[r.nstretches++] = ev[i].t;
			}
		}
	}
	pfree(ev);
	return r;
}

/* ---------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------
 */

/*
 * The holding bookings of a resource that overlap [lo, hi), but those of
 * job exclude_job, as seen by snapshot (InvalidSnapshot: the active one).
 * Allocated in the caller's memory context; codes are left NULL
 * (fill_codes reads them when a refusal names the jobs).
 *
 * mojob.booking is read through its B-tree on (resource_id, lower(held))
 * directly, not through SPI: this runs for every resource of every
 * reservation.  The scan takes the
 * same locks, predicate locks (SERIALIZABLE) and visibility rules as an
 * index scan in a query.  A booking whose window ends after the start of
 * the transaction holds whatever its job's state (a completed job's
 * bookings end at its post-roll); only one that ended before needs its
 * job's state, read with SPI, in one query for all of them.
 */
static RangeType *window_range(TimestampTz lo, TimestampTz hi);

static bool
read_longest(TupleTableSlot *slot, void *arg)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, 2, &isnull);
	int64	   *out = (int64 *) arg;

	/* Only time is ever written; days and months counted generously. */
	if (!isnull)
	{
		Interval   *i = DatumGetIntervalP(d);
		int64		days = (int64) i->day + (int64) i->month * 31;
		int64		len;

		/* Saturated: a bound too long to count reads from the beginning of time. */
		if (pg_mul_s64_overflow(days, USECS_PER_DAY, &len) ||
			pg_add_s64_overflow(len, i->time, &len) || len < 0)
			len = PG_INT64_MAX;
		*out = len;
	}
	return false;
}

/*
 * The length of [lo, hi) in microseconds, saturated: a window of more than
 * about 292,000 years (timestamptz spans about 299,000) does not fit in 64
 * bits, and counts as PG_INT64_MAX, longer than any other.  That keeps the
 * arithmetic exact where it matters: a check then reads the resource's
 * bookings from the beginning of time (or through the GiST index, below),
 * so no window, however long, is missed, and none needs to be refused.
 */
static int64
window_length(TimestampTz lo, TimestampTz hi)
{
	int64		len;

	if (TIMESTAMP_NOT_FINITE(lo) || TIMESTAMP_NOT_FINITE(hi) ||
		pg_sub_s64_overflow(hi, lo, &len))
		return PG_INT64_MAX;
	return len;
}

/*
 * Bookings longer than this are "long".  While a resource has one (its
 * booking_longest is above it), a check reads the bookings that overlap
 * its window through the GiST index on (resource_id, held) -- about 25 µs
 * more than the B-tree by start, whatever the lengths -- rather than
 * every booking that starts in the longest booking's length before the
 * window: one 7,000-year booking made that every booking of the resource
 * (7.8 ms with 50,000).  And when a long booking goes, the bound is
 * computed again (shrink_longest), so the resource returns to the B-tree.
 */
#define LONG_BOOKING	(7 * USECS_PER_DAY)

/*
 * The length (microseconds) no booking of resource is longer than, as
 * snapshot sees mojob.booking_longest; 0 when it has no booking.
 */
static int64
mojob_booking_longest(int64 resource, Snapshot snapshot)
{
	const MojobCatalog *c = mojob_catalog();
	int64		longest = 0;

	mojob_index_scan(c->longest_rel, c->longest_pkey, snapshot, 1, &resource, read_longest, &longest);
	return longest;
}

/* A booking of length len (microseconds) is written: raise the longest. */
static void
raise_longest(int64 resource, int64 len)
{
	static MojobPlan plan;
	static const char *sql =
		"INSERT INTO mojob.booking_longest AS l (resource_id, longest) VALUES ($1, $2) "
		"ON CONFLICT (resource_id) DO UPDATE SET longest = greatest(l.longest, excluded.longest)";
	Oid			argtypes[2] = {INT8OID, INTERVALOID};
	Datum		args[2];
	Interval   *i = palloc0(sizeof(Interval));

	i->time = len;
	args[0] = Int64GetDatum(resource);
	args[1] = IntervalPGetDatum(i);
	mojob_spi_connect_owner();

	/*
	 * With the latest snapshot, not the transaction's: under REPEATABLE READ
	 * a bound raised by a transaction that committed since (while this one
	 * waited for the resource) is updated, not a serialization failure.
	 * The resource is locked by now, or the booking is not checked.
	 */
	CommandCounterIncrement();
	if (SPI_execute_snapshot(mojob_plan(&plan, sql, 2, argtypes), args, NULL,
							 GetLatestSnapshot(), InvalidSnapshot, false, true, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing mojob.booking_longest failed");
	mojob_spi_finish();
}

/* What read_holds collects, as its index scan gives the bookings. */
typedef struct HoldScan
{
	int64		resource;
	int64		exclude_job;
	TimestampTz lo;
	TimestampTz hi;
	TimestampTz now;
	TypeCacheEntry *rangetype;
	Hold	   *holds;
	int			n;
	int			max;
	int			npast;			/* of them, those that ended before now */
} HoldScan;

static bool
collect_hold(TupleTableSlot *slot, void *arg)
{
	HoldScan   *hs = (HoldScan *) arg;
	bool		isnull;
	RangeBound	blo,
				bhi;
	bool		empty;
	int64		job_id;
	Hold	   *h;

	/* The index gives the starts; the ends are checked here. */
	if (DatumGetInt64(slot_getattr(slot, 3, &isnull)) != hs->resource)
		return true;
	job_id = DatumGetInt64(slot_getattr(slot, 2, &isnull));
	if (job_id == hs->exclude_job)
		return true;
	range_deserialize(hs->rangetype, DatumGetRangeTypeP(slot_getattr(slot, 4, &isnull)),
					  &blo, &bhi, &empty);
	if (empty || blo.infinite || bhi.infinite)
		elog(ERROR, "mojob.booking holds an empty or unbounded window for job " INT64_FORMAT, job_id);
	if (DatumGetTimestampTz(blo.val) >= hs->hi || DatumGetTimestampTz(bhi.val) <= hs->lo)
		return true;
	if (hs->n == hs->max)
	{
		hs->max *= 2;
		hs->holds = repalloc(hs->holds, sizeof(Hold) * hs->max);
	}
	h = &hs->holds[hs->n++];
	h->lo = DatumGetTimestampTz(blo.val);
	h->hi = DatumGetTimestampTz(bhi.val);
	h->amount = DatumGetNumericCopy(slot_getattr(slot, 5, &isnull));
	h->job_id = job_id;
	h->code = NULL;
	if (h->hi <= hs->now)
		hs->npast++;
	return true;
}

static Hold *
read_holds(int64 resource, TimestampTz lo, TimestampTz hi, int64 exclude_job,
		   Snapshot snapshot, int *nholds, int64 *longest_out)
{
	const MojobCatalog *c = mojob_catalog();
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz from;
	int64		longest;
	ScanKeyData keys[3];
	int			nkeys = 0;
	HoldScan	hs;
	Hold	   *holds;
	int			n;
	Oid			index = c->booking_start;

	if (longest_out)
		*longest_out = -1;
	if (lo >= hi)
	{
		*nholds = 0;
		return palloc(sizeof(Hold));
	}
	snapshot = RegisterSnapshot(snapshot == InvalidSnapshot ? GetActiveSnapshot() : snapshot);

	/*
	 * A booking overlaps [lo, hi) when it starts before hi and ends after
	 * lo; none is longer than the resource's longest, so it starts after
	 * lo - longest.  (Both are read with the same snapshot, and a longer
	 * booking raises the longest in its own transaction.)
	 */
	longest = mojob_booking_longest(resource, snapshot);
	if (longest_out)
		*longest_out = longest;
	from = lo;
	if (!TIMESTAMP_IS_NOBEGIN(lo) &&
		(pg_sub_s64_overflow(lo, longest, &from) || !IS_VALID_TIMESTAMP(from)))
		from = DT_NOBEGIN;

	ScanKeyInit(&keys[nkeys++], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(resource));
	if (longest > LONG_BOOKING)
	{
		/* A long booking: those that overlap, through the GiST index. */
		index = c->booking_held;
		ScanKeyInit(&keys[nkeys++], 2, RANGESTRAT_OVERLAPS, F_RANGE_OVERLAPS,
					RangeTypePGetDatum(window_range(lo, hi)));
	}
	else
	{
		if (!TIMESTAMP_IS_NOBEGIN(from))
			ScanKeyInit(&keys[nkeys++], 2, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(from));
		if (!TIMESTAMP_IS_NOEND(hi))
			ScanKeyInit(&keys[nkeys++], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(hi));
	}

	hs.resource = resource;
	hs.exclude_job = exclude_job;
	hs.lo = lo;
	hs.hi = hi;
	hs.now = now;
	hs.rangetype = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
	hs.n = 0;
	hs.max = 16;
	hs.npast = 0;
	hs.holds = palloc(sizeof(Hold) * hs.max);
	mojob_index_scan_keys(c->booking_rel, index, snapshot, keys, nkeys, collect_hold, &hs);
	holds = hs.holds;
	n = hs.n;

	/* Bookings that ended before now: drop those of completed jobs. */
	if (hs.npast > 0)
	{
		static MojobPlan plan;
		static const char *sql =
			"SELECT id FROM mojob.job WHERE id = ANY ($1) AND state = 'completed' AND post_roll_end <= $2";
		Oid			argtypes[2] = {INT8ARRAYOID, TIMESTAMPTZOID};
		Datum	   *ids = palloc(sizeof(Datum) * hs.npast);
		Datum		args[2];
		int			k = 0;

		for (int i = 0; i < n; i++)
			if (holds[i].hi <= now)
				ids[k++] = Int64GetDatum(holds[i].job_id);
		args[0] = PointerGetDatum(construct_array(ids, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[1] = TimestampTzGetDatum(now);
		mojob_spi_connect_owner();
		if (SPI_execute_snapshot(mojob_plan(&plan, sql, 2, argtypes), args, NULL,
								 snapshot, InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading mojob.job failed");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int64		done = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
														   SPI_tuptable->tupdesc, 1, &isnull));
			int			keep = 0;

			CHECK_FOR_INTERRUPTS();

			for (int i = 0; i < n; i++)
				if (!(holds[i].job_id == done && holds[i].hi <= now))
					holds[keep++] = holds[i];
			n = keep;
		}
		mojob_spi_finish();
	}
	UnregisterSnapshot(snapshot);
	*nholds = n;
	return holds;
}

/*
 * The codes of the holds' jobs, for a refusal: read once, for all of them,
 * with a fresh snapshot (the jobs are locked or committed by now).  They
 * are read as the caller, so that a refusal names only the jobs it may see
 * (its privileges and the site's row security on mojob.job): the others
 * keep a NULL code, and are counted, not named (codes_in).  The check
 * itself has read every booking.
 */
static void
fill_codes(Hold *holds, int n)
{
	static MojobPlan plan;
	static const char *sql = "SELECT id, code FROM mojob.job WHERE id = ANY ($1)";
	Oid			argtypes[1] = {INT8OID};
	MemoryContext caller = CurrentMemoryContext;
	Datum	   *ids;
	Datum		args[1];

	if (n == 0)
		return;
	{
		Oid			job_rel = mojob_catalog()->job_rel;
		Oid			user = GetUserId();
		const MojobJobAttrs *a;
		Relation	rel;

		if (pg_class_aclcheck(job_rel, user, ACL_SELECT) != ACLCHECK_OK)
		{
			rel = table_open(job_rel, AccessShareLock);
			a = mojob_job_attrs(rel);
			table_close(rel, NoLock);
			if (pg_attribute_aclcheck(job_rel, a->id, user, ACL_SELECT) != ACLCHECK_OK ||
				pg_attribute_aclcheck(job_rel, a->code, user, ACL_SELECT) != ACLCHECK_OK)
				return;
		}
	}
	argtypes[0] = INT8ARRAYOID;
	ids = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		ids[i] = Int64GetDatum(holds[i].job_id);
	args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	mojob_spi_connect();
	CommandCounterIncrement();
	if (SPI_execute_snapshot(mojob_plan(&plan, sql, 1, argtypes), args, NULL,
							 GetLatestSnapshot(), InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		char	   *code = NULL;

		CHECK_FOR_INTERRUPTS();

		for (int i = 0; i < n; i++)
			if (holds[i].job_id == id)
			{
				if (code == NULL)
				{
					MemoryContext spi = MemoryContextSwitchTo(caller);

					code = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
					MemoryContextSwitchTo(spi);
				}
				holds[i].code = code;
			}
	}
	mojob_spi_finish();
}

/*
 * Lock the resources (FOR NO KEY UPDATE to book them, FOR KEY SHARE as a
 * foreign key check does; in id order) and read them.
 * ids must be sorted and distinct; out may be NULL.  Unknown ids raise MJ404.  One lookup
 * by primary key per resource, in that order, so every reservation takes
 * its locks in the same global order and two of them never deadlock.
 *
 * Done directly (index lookup, then table_tuple_lock), as SELECT ... FOR
 * NO KEY UPDATE (or FOR KEY SHARE) does it: in READ COMMITTED the newest
 * version of the row is locked and read (its id cannot change: the
 * resource guard refuses it); in REPEATABLE READ and SERIALIZABLE a row
 * changed (for KEY SHARE: its key) or deleted since the snapshot is a
 * serialization failure.
 */
void
mojob_lock_resources(const int64 *ids, int n, MojobResource *out, LockTupleMode mode)
{
	const MojobCatalog *c;
	Relation	heap;
	TupleDesc	desc;
	AttrNumber	att_name,
				att_enabled,
				att_concurrency,
				att_capacity;
	TupleTableSlot *locked;
	bool		xact_snapshot = IsolationUsesXactSnapshot();

	if (n == 0)
		return;
	/* As before a statement: what this transaction wrote so far is seen. */
	CommandCounterIncrement();
	c = mojob_catalog();
	heap = table_open(c->resource_rel, RowShareLock);
	desc = RelationGetDescr(heap);
	att_name = mojob_column(desc, "resource", "name", TEXTOID);
	att_enabled = mojob_column(desc, "resource", "enabled", BOOLOID);
	att_concurrency = mojob_column(desc, "resource", "concurrency", INT4OID);
	att_capacity = mojob_column(desc, "resource", "capacity", NUMERICOID);
	locked = table_slot_create(heap, NULL);
	for (int i = 0; i < n; i++)
	{
		Snapshot	snapshot;
		ItemPointerData tid;
		TM_FailureData tmfd;
		TM_Result	res;
		bool		isnull;
		Datum		cap;

		CHECK_FOR_INTERRUPTS();
		Assert(i == 0 || ids[i - 1] < ids[i]);
		/* What a statement would see: a new snapshot in READ COMMITTED. */
		snapshot = RegisterSnapshot(xact_snapshot ? GetTransactionSnapshot() : GetLatestSnapshot());
		if (mojob_index_scan(c->resource_rel, c->resource_pkey, snapshot, 1, &ids[i],
							 mojob_tid_of_first, &tid) == 0)
		{
			UnregisterSnapshot(snapshot);
			mojob_not_found_resource(ids[i]);
		}
		res = table_tuple_lock(heap, &tid, snapshot, locked,
							   GetCurrentCommandId(false), mode,
							   LockWaitBlock,
							   xact_snapshot ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							   &tmfd);
		UnregisterSnapshot(snapshot);
		switch (res)
		{
			case TM_Ok:
				break;
			case TM_Updated:
				if (xact_snapshot)
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update"),
							 errdetail("Resource " INT64_FORMAT " changed after this transaction began.", ids[i]),
							 errhint("The transaction might succeed if retried.")));
				elog(ERROR, "unexpected concurrent update of resource " INT64_FORMAT, ids[i]);
				break;
			case TM_Deleted:
				if (xact_snapshot)
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent delete"),
							 errdetail("Resource " INT64_FORMAT " was deleted after this transaction began.", ids[i]),
							 errhint("The transaction might succeed if retried.")));
				mojob_not_found_resource(ids[i]);
				break;
			default:
				elog(ERROR, "unexpected result %d locking resource " INT64_FORMAT, (int) res, ids[i]);
		}
		if (out == NULL)
			continue;
		out[i].id = ids[i];
		/* The owner may have dropped NOT NULL: see resource_name(). */
		cap = slot_getattr(locked, att_name, &isnull);
		out[i].name = isnull ? pstrdup("(no name)") : TextDatumGetCString(cap);
		out[i].enabled = DatumGetBool(slot_getattr(locked, att_enabled, &isnull));
		out[i].concurrency = DatumGetInt32(slot_getattr(locked, att_concurrency, &isnull));
		cap = slot_getattr(locked, att_capacity, &isnull);
		out[i].capacity = isnull ? NULL : DatumGetNumericCopy(cap);
		out[i].longest = -1;
	}
	ExecDropSingleTupleTableSlot(locked);
	table_close(heap, NoLock);
}

/* ---------------------------------------------------------------------
 * Checking
 * ---------------------------------------------------------------------
 */

/* Does hold h overlap any stretch where the sweep found a limit exceeded? */
static bool
in_the_way(const Hold *h, const SweepResult *s)
{
	for (int k = 0; k < s->nstretches; k++)
		if (h->lo < s->stretch_to[k] && h->hi > s->stretch_from[k])
			return true;
	return false;
}

/*
 * The codes of the jobs in the way (at most ten, each once), after
 * fill_codes(): those the caller may not see are counted, not named.
 */
static char *
codes_in(Hold *holds, int n, const SweepResult *s)
{
	StringInfoData buf;
	int			shown = 0;
	int			hidden = 0;
	bool		more = false;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		bool		dup = false;

		CHECK_FOR_INTERRUPTS();
		if (!in_the_way(&holds[i], s))
			continue;
		for (int k = 0; k < i && !dup; k++)
			dup = holds[k].job_id == holds[i].job_id && in_the_way(&holds[k], s);
		if (dup)
			continue;
		if (holds[i].code == NULL)
		{
			hidden++;
			continue;
		}
		if (shown == 10)
		{
			more = true;
			continue;
		}
		appendStringInfo(&buf, "%s%s", shown ? ", " : "", holds[i].code);
		shown++;
	}
	if (more)
		appendStringInfoString(&buf, ", ...");
	if (hidden > 0)
		appendStringInfo(&buf, "%s%d job%s you may not see", shown ? " and " : "",
						 hidden, hidden == 1 ? "" : "s");
	return buf.data;
}

/* A sweep that counts every hold as in the way (for listing all holders). */
static SweepResult
everywhere(TimestampTz from, TimestampTz to)
{
	SweepResult s = {0};

	s.nstretches = 1;
	s.stretch_from = palloc(sizeof(TimestampTz));
	s.stretch_to = palloc(sizeof(TimestampTz));
	s.stretch_from[0] = from;
	s.stretch_to[0] = to;
	return s;
}

static char *
num_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* Does adding one booking of amount over [lo, hi) exceed the resource? */
static SweepResult
sweep_with_new(const MojobResource *r, Hold *holds, int n,
			   TimestampTz lo, TimestampTz hi, Numeric amount)
{
	Numeric		room = r->capacity
		? numeric_sub_opt_error(r->capacity, amount, NULL) : NULL;

	return sweep(holds, n, lo, hi, r->concurrency - 1, room);
}

/*
 * Refuse (MJ005) a booking of resource r over [lo, hi) with amount for job
 * code that would exceed its concurrency or capacity at some instant.
 * The resource must be locked (mojob_lock_resources) first.  Sets
 * r->longest to the resource's longest booking as the check read it.
 */
void
mojob_check_free(MojobResource *r, TimestampTz lo, TimestampTz hi,
				 Numeric amount, int64 job_id, const char *code)
{
	Hold	   *holds;
	int			n;
	SweepResult s;

	if (!r->enabled)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_READY),
				 errmsg("resource \"%s\" is disabled", r->name),
				 errdetail("Job %s needs it from %s to %s.", code,
						   mojob_timestamp_text(lo), mojob_timestamp_text(hi)),
				 errhint("Enable it, or use another: mojob.free_resources() lists those that are free.")));
	if (r->capacity && num_cmp(amount, r->capacity) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_CONFLICT),
				 errmsg("resource \"%s\" cannot give job %s an amount of %s",
						r->name, code, num_text(amount)),
				 errdetail("Its capacity is %s.", num_text(r->capacity)),
				 errhint("Ask for less, or use a resource with more capacity.")));

	/* Everything committed up to now, even what our snapshot cannot see. */
	holds = read_holds(r->id, lo, hi, job_id, GetLatestSnapshot(), &n, &r->longest);
	s = sweep_with_new(r, holds, n, lo, hi, amount);
	if (!s.exceeded)
		return;
	fill_codes(holds, n);

	/*
	 * In REPEATABLE READ and SERIALIZABLE, a booking that our snapshot
	 * cannot see was committed concurrently: that is a serialization failure,
	 * and a retry will see it (and get MJ005 if it still conflicts).
	 */
	if (IsolationUsesXactSnapshot())
	{
		Hold	   *mine;
		int			nmine;

		mine = read_holds(r->id, lo, hi, job_id, InvalidSnapshot, &nmine, NULL);
		if (!sweep_with_new(r, mine, nmine, lo, hi, amount).exceeded)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent reservation of resource \"%s\"",
							r->name),
					 errdetail("A transaction that committed after this one began booked it from %s to %s (job %s).",
							   mojob_timestamp_text(s.from), mojob_timestamp_text(s.to),
							   codes_in(holds, n, &s)),
					 errhint("The transaction might succeed if retried.")));
	}

	if (s.peak_count >= r->concurrency)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_CONFLICT),
				 errmsg("resource \"%s\" is already booked from %s to %s",
						r->name, mojob_timestamp_text(s.from), mojob_timestamp_text(s.to)),
				 errdetail("Job %s needs it from %s to %s; in that time it is held by %s, and its concurrency is %d.",
						   code, mojob_timestamp_text(lo), mojob_timestamp_text(hi),
						   codes_in(holds, n, &s), r->concurrency),
				 errhint("Find a free resource with mojob.free_resources(tstzrange(...)), or move the job with mojob.reschedule().")));
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_CONFLICT),
			 errmsg("resource \"%s\" has not enough capacity left from %s to %s",
					r->name, mojob_timestamp_text(s.from), mojob_timestamp_text(s.to)),
			 errdetail("Job %s needs %s of it; in that time %s hold up to %s, and its capacity is %s.",
					   code, num_text(amount), codes_in(holds, n, &s),
					   num_text(s.peak_amount), num_text(r->capacity)),
			 errhint("Find a free resource with mojob.free_resources(tstzrange(...)), or move the job with mojob.reschedule().")));
}

/* ---------------------------------------------------------------------
 * Writing bookings
 * ---------------------------------------------------------------------
 */

/*
 * Bookings are written directly (heap and index), not through SPI: every
 * reservation writes one per node.  mojob.booking has no trigger but the
 * internal guard (which lets mojob through) and no constraint the callers
 * do not already ensure (lo < hi, no NULL).  Every write is followed by
 * CommandCounterIncrement(), so that the checks of the next node or job in
 * the same statement see it, as they would after an SPI statement.
 */

/* The window [lo, hi) as a tstzrange. */
static RangeType *
window_range(TimestampTz lo, TimestampTz hi)
{
	TypeCacheEntry *rangetype = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
	RangeBound	l = {0},
				u = {0};

	l.val = TimestampTzGetDatum(lo);
	l.infinite = TIMESTAMP_IS_NOBEGIN(lo);
	l.inclusive = !l.infinite;
	l.lower = true;
	u.val = TimestampTzGetDatum(hi);
	u.infinite = TIMESTAMP_IS_NOEND(hi);
	u.inclusive = false;
	u.lower = false;
#if PG_VERSION_NUM >= 160000
	return make_range(rangetype, &l, &u, false, NULL);
#else
	return make_range(rangetype, &l, &u, false);
#endif
}

/* A booking about to be deleted: where it is, and whether it is long. */
typedef struct FoundBooking
{
	ItemPointerData tid;
	int64		resource;
	int64		length;
} FoundBooking;

/* The length of the booking in slot (a row of mojob.booking), saturated. */
static int64
slot_booking_length(TupleTableSlot *slot)
{
	TypeCacheEntry *rangetype = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
	bool		isnull;
	RangeBound	blo,
				bhi;
	bool		empty;

	range_deserialize(rangetype, DatumGetRangeTypeP(slot_getattr(slot, 4, &isnull)),
					  &blo, &bhi, &empty);
	return empty ? 0 : window_length(blo.infinite ? DT_NOBEGIN : DatumGetTimestampTz(blo.val),
									 bhi.infinite ? DT_NOEND : DatumGetTimestampTz(bhi.val));
}

static bool
find_booking(TupleTableSlot *slot, void *arg)
{
	FoundBooking *f = (FoundBooking *) arg;
	bool		isnull;

	ItemPointerCopy(&slot->tts_tid, &f->tid);
	f->resource = DatumGetInt64(slot_getattr(slot, 3, &isnull));
	f->length = slot_booking_length(slot);
	return false;
}

/*
 * Find node's booking (committed, or written by this transaction) and, if
 * there is one, delete it.  Its job is locked, so nobody else writes it.
 * Returns the resource of a long booking it deleted (its bound may shrink:
 * shrink_longest), else -1.
 */
static int64
delete_booking(Relation heap, int64 node_id)
{
	const MojobCatalog *c = mojob_catalog();
	FoundBooking f;

	if (mojob_index_scan(c->booking_rel, c->booking_pkey, SnapshotSelf, 1, &node_id,
						 find_booking, &f) == 0)
		return -1;
	simple_heap_delete(heap, &f.tid);
	return f.length > LONG_BOOKING ? f.resource : -1;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static bool
longest_of(TupleTableSlot *slot, void *arg)
{
	int64	   *longest = (int64 *) arg;
	int64		len;

	CHECK_FOR_INTERRUPTS();
	len = slot_booking_length(slot);
	if (len > *longest)
		*longest = len;
	return true;
}

/*
 * Lock resource's row as a reservation does, if no other transaction holds
 * it: false, without waiting, if one does (or it changed or went).
 */
static bool
try_lock_resource(int64 resource)
{
	const MojobCatalog *c = mojob_catalog();
	Relation	heap;
	TupleTableSlot *locked;
	Snapshot	snapshot;
	ItemPointerData tid;
	TM_FailureData tmfd;
	TM_Result	res = TM_Invisible;

	CommandCounterIncrement();
	heap = table_open(c->resource_rel, RowShareLock);
	locked = table_slot_create(heap, NULL);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (mojob_index_scan(c->resource_rel, c->resource_pkey, snapshot, 1, &resource,
						 mojob_tid_of_first, &tid) > 0)
		res = table_tuple_lock(heap, &tid, snapshot, locked, GetCurrentCommandId(false),
							   LockTupleNoKeyExclusive, LockWaitSkip, 0, &tmfd);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(locked);
	table_close(heap, NoLock);
	return res == TM_Ok;
}

/*
 * Long bookings of these resources were deleted: compute each one's
 * longest booking again, and lower its bound to it, so that one long
 * booking, once gone, does not make later checks of the resource slower
 * for good.  Reads every booking of the resource (one index scan): paid
 * only when a booking longer than LONG_BOOKING goes.
 *
 * Never waits: a cancel does not wait for an unrelated reservation of the
 * resource, nor deadlock with another session canceling long bookings in
 * the opposite order.  The bound's row is locked first, unless another
 * transaction holds it (one writing a long booking of the resource: those
 * always write that row, insert_booking; or one lowering it too), and then
 * the bound is left as it is.  Then the bookings are read with the latest
 * snapshot:
 *	- if the resource's lock could be taken without waiting, no other
 *	  transaction is writing a booking that grows, and the bound goes down
 *	  to the longest booking read;
 *	- if another transaction holds it, that one may be writing a booking
 *	  this cannot see yet, no longer than LONG_BOOKING unless it wrote the
 *	  bound's row (or will, after this one ends: then it raises the bound
 *	  as this one left it): the bound goes down to no less than
 *	  LONG_BOOKING, which takes the resource's checks back to the B-tree.
 * Two transactions lowering the bound of one resource at once can leave it
 * higher than needed (the second leaves it), until the next long booking
 * of the resource goes: never lower than a booking.
 */
static void
shrink_longest(int64 *ids, int n)
{
	static MojobPlan lock_plan;
	static MojobPlan plan;
	static const char *lock_sql =
		"SELECT longest FROM mojob.booking_longest WHERE resource_id = $1 FOR UPDATE SKIP LOCKED";
	static const char *sql =
		"UPDATE mojob.booking_longest SET longest = $2 WHERE resource_id = $1 AND longest > $2";
	const MojobCatalog *c = mojob_catalog();
	Oid			argtypes[2] = {INT8OID, INTERVALOID};
	int			k = 0;

	if (n == 0)
		return;
	qsort(ids, n, sizeof(int64), int64_cmp);
	for (int i = 0; i < n; i++)
		if (k == 0 || ids[k - 1] != ids[i])
			ids[k++] = ids[i];
	n = k;
	for (int i = 0; i < n; i++)
	{
		int64		longest = 0;
		Datum		args[2];
		Interval   *iv = palloc0(sizeof(Interval));
		bool		exact;
		Snapshot	snapshot;
		uint64		found;

		CHECK_FOR_INTERRUPTS();
		args[0] = Int64GetDatum(ids[i]);
		mojob_spi_connect_owner();
		CommandCounterIncrement();
		if (SPI_execute_snapshot(mojob_plan(&lock_plan, lock_sql, 1, argtypes), args, NULL,
								 GetLatestSnapshot(), InvalidSnapshot, false, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "locking mojob.booking_longest failed");
		found = SPI_processed;
		mojob_spi_finish();
		if (found == 0)
			continue;

		exact = try_lock_resource(ids[i]);
		CommandCounterIncrement();
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		mojob_index_scan(c->booking_rel, c->booking_start, snapshot, 1, &ids[i], longest_of, &longest);
		UnregisterSnapshot(snapshot);
		if (!exact && longest < LONG_BOOKING)
			longest = LONG_BOOKING;
		iv->time = longest;
		args[1] = IntervalPGetDatum(iv);
		mojob_spi_connect_owner();
		if (SPI_execute_snapshot(mojob_plan(&plan, sql, 2, argtypes), args, NULL,
								 GetLatestSnapshot(), InvalidSnapshot, false, true, 0) != SPI_OK_UPDATE)
			elog(ERROR, "updating mojob.booking_longest failed");
		mojob_spi_finish();
	}
	CommandCounterIncrement();
}

/* Insert a booking, with its index entries. */
static void
insert_booking(Relation heap, int64 node_id, int64 job_id, int64 resource_id,
			   TimestampTz lo, TimestampTz hi, Numeric amount, int64 longest)
{
	MojobInserter ins;

	/* mojob's own table, as mojob made it (mojob.c checks the columns). */
	if (RelationGetDescr(heap)->natts != 5)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mojob.booking has been altered"),
				 errdetail("It has %d columns; mojob writes node_id, job_id, resource_id, held and amount.",
						   RelationGetDescr(heap)->natts),
				 errhint("Re-create the extension, or restore mojob.booking as mojob made it.")));
	mojob_insert_begin(&ins, heap);
	memset(ins.slot->tts_isnull, 0, sizeof(bool) * 5);
	ins.slot->tts_values[0] = Int64GetDatum(node_id);
	ins.slot->tts_values[1] = Int64GetDatum(job_id);
	ins.slot->tts_values[2] = Int64GetDatum(resource_id);
	ins.slot->tts_values[3] = RangeTypePGetDatum(window_range(lo, hi));
	ins.slot->tts_values[4] = NumericGetDatum(amount);
	mojob_insert_row(&ins);
	mojob_insert_end(&ins);

	/*
	 * The checks read back as far as the longest booking of the resource:
	 * as the check just read it (under the resource's lock), else as it is.
	 */
	if (longest < 0)
		longest = mojob_booking_longest(resource_id, SnapshotSelf);
	/* A long booking always writes the bound's row: shrink_longest waits for it. */
	if (window_length(lo, hi) > longest || window_length(lo, hi) > LONG_BOOKING)
		raise_longest(resource_id, window_length(lo, hi));
}

/*
 * Make node's booking [lo, hi) with amount: insert it, or replace the one
 * the node has.  fresh: the node has none (a new node, or a job that held
 * nothing), so there is none to look for; were there one after all, the
 * primary key would refuse the second.  checked: the resource as
 * mojob_check_free() left it, or NULL.
 */
void
mojob_put_booking(int64 node_id, int64 job_id, int64 resource_id,
				  TimestampTz lo, TimestampTz hi, Numeric amount, bool fresh,
				  const MojobResource *checked)
{
	Relation	heap;

	if (lo >= hi)
	{
		mojob_drop_booking(node_id);
		return;
	}
	heap = table_open(mojob_catalog()->booking_rel, RowExclusiveLock);
	if (!fresh)
	{
		int64		shrink = delete_booking(heap, node_id);

		/* A long booking replaced: its bound is computed again first. */
		if (shrink >= 0)
		{
			CommandCounterIncrement();
			shrink_longest(&shrink, 1);
			checked = NULL;
		}
	}
	insert_booking(heap, node_id, job_id, resource_id, lo, hi, amount,
				   checked && checked->id == resource_id ? checked->longest : -1);
	table_close(heap, NoLock);
	CommandCounterIncrement();
}

void
mojob_drop_booking(int64 node_id)
{
	Relation	heap = table_open(mojob_catalog()->booking_rel, RowExclusiveLock);
	int64		shrink = delete_booking(heap, node_id);

	table_close(heap, NoLock);
	CommandCounterIncrement();
	if (shrink >= 0)
		shrink_longest(&shrink, 1);
}

/* A job's node ids, as drop_job_bookings collects them. */
typedef struct NodeIds
{
	AttrNumber	id_att;
	int64	   *ids;
	int			n;
	int			max;
} NodeIds;

static bool
collect_node_id(TupleTableSlot *slot, void *arg)
{
	NodeIds    *list = (NodeIds *) arg;
	bool		isnull;

	if (list->n == list->max)
	{
		list->max *= 2;
		list->ids = repalloc(list->ids, sizeof(int64) * list->max);
	}
	list->ids[list->n++] = DatumGetInt64(slot_getattr(slot, list->id_att, &isnull));
	return true;
}

/*
 * A job stops holding: drop the bookings of its nodes (each booking is its
 * node's, by primary key).  The job is locked, and node changes lock it
 * first: its nodes are what this transaction sees now.
 */
static void
drop_job_bookings(int64 job_id)
{
	const MojobCatalog *c = mojob_catalog();
	Relation	heap = table_open(c->node_rel, AccessShareLock);
	NodeIds		list;

	list.id_att = mojob_node_attrs(heap)->id;
	table_close(heap, NoLock);
	list.n = 0;
	list.max = 8;
	list.ids = palloc(sizeof(int64) * list.max);
	mojob_index_scan(c->node_rel, c->node_job_index, SnapshotSelf, 1, &job_id,
					 collect_node_id, &list);
	if (list.n == 0)
		return;
	heap = table_open(c->booking_rel, RowExclusiveLock);
	{
		int64	   *shrink = palloc(sizeof(int64) * list.n);
		int			nshrink = 0;

		for (int i = 0; i < list.n; i++)
		{
			int64		r;

			CHECK_FOR_INTERRUPTS();
			r = delete_booking(heap, list.ids[i]);

			if (r >= 0)
				shrink[nshrink++] = r;
		}
		table_close(heap, NoLock);
		CommandCounterIncrement();
		shrink_longest(shrink, nshrink);
	}
}

/* A node of a job, as far as booking is concerned. */
typedef struct JobNode
{
	int64		id;
	int64		resource_id;
	Numeric		amount;
	bool		has_from;
	TimestampTz held_from;
	bool		has_until;
	TimestampTz held_until;
} JobNode;

/* The resolved nodes of a job, as read_nodes collects them. */
typedef struct NodeList
{
	const MojobNodeAttrs *attrs;
	MemoryContext caller;
	JobNode    *nodes;
	int			n;
	int			max;
} NodeList;

static bool
collect_node(TupleTableSlot *slot, void *arg)
{
	NodeList   *list = (NodeList *) arg;
	const MojobNodeAttrs *a = list->attrs;
	JobNode    *node;
	bool		isnull;
	Datum		d;

	d = slot_getattr(slot, a->resource_id, &isnull);
	if (isnull)
		return false;			/* unresolved nodes sort last */
	if (list->n == list->max)
	{
		list->max *= 2;
		list->nodes = repalloc(list->nodes, sizeof(JobNode) * list->max);
	}
	node = &list->nodes[list->n++];
	node->resource_id = DatumGetInt64(d);
	node->id = DatumGetInt64(slot_getattr(slot, a->id, &isnull));
	d = slot_getattr(slot, a->amount, &isnull);
	node->amount = isnull ? int64_to_numeric(0) : DatumGetNumericCopy(d);
	d = slot_getattr(slot, a->held_from, &isnull);
	node->has_from = !isnull;
	node->held_from = isnull ? 0 : DatumGetTimestampTz(d);
	d = slot_getattr(slot, a->held_until, &isnull);
	node->has_until = !isnull;
	node->held_until = isnull ? 0 : DatumGetTimestampTz(d);
	return true;
}

/*
 * The resolved nodes of a job, sorted by resource id: read directly through
 * the unique index on (job_id, resource_id), which keeps them in that
 * order.  The job row is locked by now, and every node change locks it
 * first (nodes.c): the latest snapshot sees every node, even one committed
 * while this statement waited for the lock.
 */
static JobNode *
read_nodes(int64 job_id, int *nnodes)
{
	const MojobCatalog *c = mojob_catalog();
	Relation	rel = table_open(c->node_rel, AccessShareLock);
	NodeList	list;

	list.attrs = mojob_node_attrs(rel);
	table_close(rel, NoLock);
	list.caller = CurrentMemoryContext;
	list.n = 0;
	list.max = 4;
	list.nodes = palloc(sizeof(JobNode) * list.max);
	mojob_index_scan(c->node_rel, c->node_job_index, GetLatestSnapshot(), 1, &job_id,
					 collect_node, &list);
	*nnodes = list.n;
	return list.nodes;
}

/*
 * The window a node holds its resource for: its own held_from/held_until
 * where set (a running job's swap), within its job's [pre, post).
 */
void
mojob_node_window(bool has_from, TimestampTz held_from, bool has_until, TimestampTz held_until,
				  TimestampTz pre, TimestampTz post, TimestampTz *lo, TimestampTz *hi)
{
	*lo = has_from ? Max(held_from, pre) : pre;
	*hi = has_until ? Min(held_until, post) : post;
}

static void
node_window(const JobNode *n, TimestampTz pre, TimestampTz post,
			TimestampTz *lo, TimestampTz *hi)
{
	mojob_node_window(n->has_from, n->held_from, n->has_until, n->held_until, pre, post, lo, hi);
}

/*
 * A holding job may not keep a node that holds nothing (its own window
 * outside the job's): the job would list the resource, yet leave it free
 * for others.
 */
void
mojob_refuse_empty_node(int64 node_id, const char *code, TimestampTz pre, TimestampTz post)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_READY),
			 errmsg("node " INT64_FORMAT " of job %s would hold nothing", node_id, code),
			 errdetail("Its held_from and held_until leave nothing of the job's window, from %s to %s.",
					   mojob_timestamp_text(pre), mojob_timestamp_text(post)),
			 errhint("Set the node's held_from and held_until within the job's window (or to NULL), or remove the node.")));
}

/*
 * A job's state or window changed (guard.c): make its bookings follow.
 * A job that starts to hold books every resolved node, checked; one that
 * stops holding releases them; a holding job whose window changed moves
 * its bookings, checking those that grow (all of them when nodes_moved:
 * the nodes' own windows moved too).  refuse_empty: a node that would hold
 * nothing is refused (a job before it runs).
 */
void
mojob_job_bookings_changed(int64 job_id, const char *code,
						   bool was_holding, TimestampTz old_pre, TimestampTz old_post,
						   bool holding, TimestampTz pre, TimestampTz post,
						   bool refuse_empty, bool nodes_moved)
{
	JobNode    *nodes;
	int			n;
	int64	   *ids;
	MojobResource *res;
	int			nlock = 0;

	if (!holding)
	{
		if (was_holding)
			drop_job_bookings(job_id);
		return;
	}
	if (was_holding && !nodes_moved && old_pre == pre && old_post == post)
		return;

	nodes = read_nodes(job_id, &n);
	if (n == 0)
		return;

	/* Lock, in id order, the resources whose booking starts or grows. */
	ids = palloc(sizeof(int64) * n);
	res = palloc(sizeof(MojobResource) * n);
	for (int i = 0; i < n; i++)
	{
		TimestampTz lo,
					hi,
					olo,
					ohi;

		node_window(&nodes[i], pre, post, &lo, &hi);
		node_window(&nodes[i], old_pre, old_post, &olo, &ohi);
		if (lo >= hi && refuse_empty)
			mojob_refuse_empty_node(nodes[i].id, code, pre, post);
		if (lo < hi && (!was_holding || nodes_moved || lo < olo || hi > ohi))
			ids[nlock++] = nodes[i].resource_id;
	}
	mojob_lock_resources(ids, nlock, res, LockTupleNoKeyExclusive);

	for (int i = 0, k = 0; i < n; i++)
	{
		TimestampTz lo,
					hi;
		const MojobResource *checked = NULL;

		CHECK_FOR_INTERRUPTS();
		node_window(&nodes[i], pre, post, &lo, &hi);
		if (k < nlock && res[k].id == nodes[i].resource_id)
		{
			mojob_check_free(&res[k], lo, hi, nodes[i].amount, job_id, code);
			checked = &res[k++];
		}
		mojob_put_booking(nodes[i].id, job_id, nodes[i].resource_id, lo, hi, nodes[i].amount,
						  !was_holding, checked);
	}
}

/* ---------------------------------------------------------------------
 * Resources
 * ---------------------------------------------------------------------
 */

/*
 * Trigger mojob_resource_guard: BEFORE UPDATE OR DELETE ON mojob.resource
 * FOR EACH ROW.  Refuses to disable a resource, or lower its concurrency
 * or capacity, when that would over-book a window that has not ended
 * (MJ005); refuses to delete a resource any job uses.
 */
static Datum resource_guard(FunctionCallInfo fcinfo);

Datum
mojob_resource_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Datum		row = resource_guard(fcinfo);

	/* An update it approved: judged again as written (mojob_guard_recheck). */
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) && DatumGetPointer(row) != NULL)
		mojob_guard_approved(td, (HeapTuple) DatumGetPointer(row),
							 mojob_column(RelationGetDescr(td->tg_relation), "resource", "id", INT8OID));
	return row;
}

/*
 * A resource's name for messages: its NULL (a BEFORE trigger sees the row
 * before NOT NULL refuses it) or "(no name)" where the owner dropped that.
 */
static char *
resource_name(HeapTuple tuple, TupleDesc desc, bool *isnull)
{
	Datum		d = mojob_heap_getattr(tuple, mojob_column(desc, "resource", "name", TEXTOID), desc, isnull);

	return *isnull ? pstrdup("(no name)") : TextDatumGetCString(d);
}

static Datum
resource_guard(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup;
	MojobResource old,
				new;
	bool		isnull;
	Datum		d;
	Hold	   *holds;
	int			n;
	SweepResult s;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mojob_resource_guard must be fired BEFORE ... FOR EACH ROW")));
	mojob_check_trigger_table(td->tg_relation, mojob_catalog()->resource_rel, "mojob.resource_guard()");
	desc = RelationGetDescr(td->tg_relation);
	oldtup = td->tg_trigtuple;

	old.id = DatumGetInt64(mojob_heap_getattr(oldtup, mojob_column(desc, "resource", "id", INT8OID), desc, &isnull));
	old.name = resource_name(oldtup, desc, &isnull);

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		static MojobPlan plan;
		static const char *sql =
			"SELECT count(*), count(DISTINCT job_id) FROM mojob.job_resource WHERE resource_id = $1";
		Oid			argtypes[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(old.id)};
		int64		nodes;

		mojob_spi_connect_owner();
		if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading mojob.job_resource failed");
		nodes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		mojob_spi_finish();
		if (nodes > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("resource \"%s\" cannot be deleted: jobs use it", old.name),
					 errdetail(INT64_FORMAT " job%s %s it as a node.", nodes,
							   nodes == 1 ? "" : "s", nodes == 1 ? "has" : "have"),
					 errhint("Disable it instead: UPDATE mojob.resource SET enabled = false WHERE id = " INT64_FORMAT ";",
							 old.id)));
		return PointerGetDatum(oldtup);
	}

	old.enabled = DatumGetBool(mojob_heap_getattr(oldtup, mojob_column(desc, "resource", "enabled", BOOLOID), desc, &isnull));
	old.concurrency = DatumGetInt32(mojob_heap_getattr(oldtup, mojob_column(desc, "resource", "concurrency", INT4OID), desc, &isnull));
	d = mojob_heap_getattr(oldtup, mojob_column(desc, "resource", "capacity", NUMERICOID), desc, &isnull);
	old.capacity = isnull ? NULL : DatumGetNumeric(d);

	new.id = old.id;
	new.name = resource_name(td->tg_newtuple, desc, &isnull);
	if (isnull)
		return PointerGetDatum(td->tg_newtuple);	/* NOT NULL refuses it */
	new.enabled = DatumGetBool(mojob_heap_getattr(td->tg_newtuple, mojob_column(desc, "resource", "enabled", BOOLOID), desc, &isnull));
	new.concurrency = DatumGetInt32(mojob_heap_getattr(td->tg_newtuple, mojob_column(desc, "resource", "concurrency", INT4OID), desc, &isnull));
	if (isnull)
		return PointerGetDatum(td->tg_newtuple);	/* NOT NULL refuses it */
	d = mojob_heap_getattr(td->tg_newtuple, mojob_column(desc, "resource", "capacity", NUMERICOID), desc, &isnull);
	new.capacity = isnull ? NULL : DatumGetNumeric(d);

	if (new.id != DatumGetInt64(mojob_heap_getattr(td->tg_newtuple, mojob_column(desc, "resource", "id", INT8OID), desc, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
				 errmsg("the id of resource \"%s\" cannot change", old.name),
				 errhint("Create a new resource instead.")));

	/* Only fewer slots or less room can over-book. */
	if (!(old.enabled && !new.enabled) &&
		new.concurrency >= old.concurrency &&
		(new.capacity == NULL ||
		 (old.capacity != NULL && num_cmp(new.capacity, old.capacity) >= 0)))
		return PointerGetDatum(td->tg_newtuple);

	holds = read_holds(old.id, now, DT_NOEND, 0, GetLatestSnapshot(), &n, NULL);
	if (!new.enabled)
	{
		SweepResult all = everywhere(now, DT_NOEND);

		if (n > 0)
			fill_codes(holds, n);
		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_CONFLICT),
					 errmsg("resource \"%s\" cannot be disabled while jobs hold it", old.name),
					 errdetail("Held by %s.", codes_in(holds, n, &all)),
					 errhint("Move those jobs to other resources with mojob.swap_resource(), or cancel them.")));
		return PointerGetDatum(td->tg_newtuple);
	}
	s = sweep(holds, n, now, DT_NOEND, new.concurrency, new.capacity);
	if (s.exceeded)
		fill_codes(holds, n);
	if (s.exceeded && s.peak_count > new.concurrency)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_CONFLICT),
				 errmsg("resource \"%s\" would be over-booked from %s to %s",
						old.name, mojob_timestamp_text(s.from), mojob_timestamp_text(s.to)),
				 errdetail("Jobs %s hold it at once then: %d of them, and the new concurrency is %d.",
						   codes_in(holds, n, &s), s.peak_count, new.concurrency),
				 errhint("Move some of those jobs to other resources with mojob.swap_resource(), or cancel them first.")));
	if (s.exceeded)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_CONFLICT),
				 errmsg("resource \"%s\" would be over-booked from %s to %s",
						old.name, mojob_timestamp_text(s.from), mojob_timestamp_text(s.to)),
				 errdetail("Jobs %s hold amounts adding up to %s then, and the new capacity is %s.",
						   codes_in(holds, n, &s), num_text(s.peak_amount),
						   num_text(new.capacity)),
				 errhint("Move some of those jobs to other resources with mojob.swap_resource(), or cancel them first.")));
	return PointerGetDatum(td->tg_newtuple);
}

static void
check_resource_exists(int64 resource)
{
	static MojobPlan plan;
	static const char *sql = "SELECT FROM mojob.resource WHERE id = $1";
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(resource)};
	uint64		found;

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.resource failed");
	found = SPI_processed;
	mojob_spi_finish();
	if (found == 0)
		mojob_not_found_resource(resource);
}

/*
 * mojob.resource_usage(resource, during) -> (jobs, amount): the most
 * holding bookings, and the largest sum of their amounts, at any instant
 * of the window.
 */
Datum
mojob_resource_usage(PG_FUNCTION_ARGS)
{
	int64		resource;
	RangeType  *during;
	TypeCacheEntry *typcache;
	RangeBound	lower,
				upper;
	bool		empty;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Hold	   *holds;
	int			n;
	SweepResult s;

	/*
	 * The bookings are read as the tables' owner: only those who may read
	 * the jobs may see them summarized (README.md, "Roles").
	 */
	if (pg_class_aclcheck(mojob_catalog()->job_rel, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table job"),
				 errdetail("resource_usage() summarizes the bookings of jobs, which needs SELECT on mojob.job."),
				 errhint("Ask the owner of mojob's tables for SELECT on mojob.job.")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "resource" : "during")));
	resource = PG_GETARG_INT64(0);
	during = PG_GETARG_RANGE_P(1);
	typcache = lookup_type_cache(RangeTypeGetOid(during), TYPECACHE_RANGE_INFO);
	range_deserialize(typcache, during, &lower, &upper, &empty);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (empty)
	{
		check_resource_exists(resource);
		values[0] = Int32GetDatum(0);
		values[1] = NumericGetDatum(int64_to_numeric(0));
	}
	else
	{
		/* An unbounded window asks for the peak at any instant. */
		TimestampTz lo = lower.infinite ? DT_NOBEGIN : DatumGetTimestampTz(lower.val);
		TimestampTz hi = upper.infinite ? DT_NOEND : DatumGetTimestampTz(upper.val);

		holds = read_holds(resource, lo, hi, 0, InvalidSnapshot, &n, NULL);
		s = sweep(holds, n, lo, hi, INT_MAX, NULL);
		if (n == 0)
			check_resource_exists(resource);
		values[0] = Int32GetDatum(s.peak_count);
		values[1] = NumericGetDatum(s.peak_amount);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* ---------------------------------------------------------------------
 * Confirming: every node resolved
 * ---------------------------------------------------------------------
 */

/*
 * Jobs confirmed by the current statement.  Whether they have an
 * unresolved node is asked once at the end of the statement, for all of
 * them, rather than once per row: a bulk confirm stays one query.
 */
typedef struct PendingConfirm
{
	int64		job_id;
	SubTransactionId subid;
} PendingConfirm;

static PendingConfirm *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

void
mojob_confirm_check_later(int64 job_id)
{
	if (npending == maxpending)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		maxpending = maxpending ? maxpending * 2 : 64;
		pending = pending ? repalloc_huge(pending, sizeof(PendingConfirm) * maxpending)
			: palloc(sizeof(PendingConfirm) * maxpending);
		MemoryContextSwitchTo(old);
	}
	pending[npending].job_id = job_id;
	pending[npending].subid = GetCurrentSubTransactionId();
	npending++;
}

/* Forget the checks of an aborted subtransaction (all of them at xact end). */
void
mojob_confirm_check_reset(SubTransactionId subid)
{
	if (subid == InvalidSubTransactionId)
	{
		pending = NULL;
		npending = maxpending = 0;
		return;
	}
	while (npending > 0 && pending[npending - 1].subid >= subid)
		npending--;
}

bool
mojob_confirm_check_pending(void)
{
	return npending > 0;
}

/* Refuse (MJ006) the statement if a job it confirmed has an unresolved node. */
void
mojob_confirm_check_flush(void)
{
	static MojobPlan any_plan;
	static MojobPlan plan;
	static const char *any_sql =
		"SELECT FROM mojob.job_resource WHERE resource_id IS NULL LIMIT 1";
	static const char *sql =
		"SELECT j.code, count(*) FROM pg_catalog.unnest($1) AS c(id) "
		"JOIN mojob.job_resource n ON n.job_id = c.id AND n.resource_id IS NULL "
		"JOIN mojob.job j ON j.id = c.id GROUP BY j.code ORDER BY j.code LIMIT 1";
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		args[1];
	Datum	   *ids;
	int			n = npending;
	bool		isnull;
	Snapshot	snapshot;

	if (n == 0)
		return;
	npending = 0;

	/*
	 * The nodes as committed now, not as the statement's snapshot saw them.
	 * A node change locks its job's row first, so at READ COMMITTED a node
	 * added by a transaction that committed while this statement waited for
	 * the job's row is in no snapshot taken before (confirm_node_race.spec).
	 * Under REPEATABLE READ and SERIALIZABLE that wait ends in 40001, and the
	 * transaction's snapshot is the one to read with.
	 */
	snapshot = IsolationUsesXactSnapshot() ? InvalidSnapshot : GetLatestSnapshot();

	mojob_spi_connect_owner();
	/* Most databases have no unresolved node at all: one probe says so. */
	if (SPI_execute_snapshot(mojob_plan(&any_plan, any_sql, 0, NULL), NULL, NULL,
							 snapshot, InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job_resource failed");
	if (SPI_processed > 0)
	{
		ids = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
			ids[i] = Int64GetDatum(pending[i].job_id);
		args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (SPI_execute_snapshot(mojob_plan(&plan, sql, 1, argtypes), args, NULL,
								 snapshot, InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading mojob.job_resource failed");
		if (SPI_processed > 0)
		{
			char	   *code = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			int64		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_NOT_READY),
					 errmsg("job %s cannot be confirmed: it has unresolved pool nodes", code),
					 errdetail(INT64_FORMAT " pool node%s no resource.", count,
							   count == 1 ? " has" : "s have"),
					 errhint("Give each a resource with mojob.assign_node(node, resource), then confirm.")));
		}
	}
	mojob_spi_finish();
}
