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

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rangetypes.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

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
	char	   *code;
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
 * job exclude_job, as seen by snapshot (InvalidSnapshot: the current one).
 * Allocated in the caller's memory context.
 */
static Hold *
read_holds(int64 resource, TimestampTz lo, TimestampTz hi, int64 exclude_job,
		   Snapshot snapshot, int *nholds)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT lower(b.held), upper(b.held), b.amount, b.job_id, j.code "
		"FROM mojob.booking b JOIN mojob.job j ON j.id = b.job_id "
		"WHERE b.resource_id = $1 AND b.held && tstzrange($2, $3) AND b.job_id <> $4 "
		"AND (j.state <> 'completed' OR j.post_roll_end > $5)";
	Oid			argtypes[5] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID};
	Datum		args[5];
	MemoryContext caller = CurrentMemoryContext;
	SPIPlanPtr	p;
	int			ret;
	Hold	   *holds;

	args[0] = Int64GetDatum(resource);
	args[1] = TimestampTzGetDatum(lo);
	args[2] = TimestampTzGetDatum(hi);
	args[3] = Int64GetDatum(exclude_job);
	args[4] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	mojob_spi_connect_owner();
	p = mojob_plan(&plan, sql, 5, argtypes);
	if (snapshot != InvalidSnapshot)
		ret = SPI_execute_snapshot(p, args, NULL, snapshot, InvalidSnapshot, true, false, 0);
	else
		ret = SPI_execute_plan(p, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.booking failed: %s", SPI_result_code_string(ret));

	holds = MemoryContextAlloc(caller, sizeof(Hold) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		holds[i].lo = DatumGetTimestampTz(SPI_getbinval(row, desc, 1, &isnull));
		holds[i].hi = DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull));
		holds[i].amount = DatumGetNumericCopy(SPI_getbinval(row, desc, 3, &isnull));
		holds[i].job_id = DatumGetInt64(SPI_getbinval(row, desc, 4, &isnull));
		holds[i].code = TextDatumGetCString(SPI_getbinval(row, desc, 5, &isnull));
		MemoryContextSwitchTo(spi);
	}
	*nholds = (int) SPI_processed;
	mojob_spi_finish();
	return holds;
}

/*
 * Lock the resources (FOR NO KEY UPDATE, in id order) and read them.
 * ids must be sorted and distinct.  Unknown ids raise MJ404.  One lookup
 * by primary key per resource, in that order: the plan is an index scan
 * whatever the plan cache does, and every reservation takes its locks in
 * the same global order, so two of them never deadlock.
 */
void
mojob_lock_resources(const int64 *ids, int n, MojobResource *out)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT id, name, enabled, concurrency, capacity FROM mojob.resource "
		"WHERE id = $1 FOR NO KEY UPDATE";
	Oid			argtypes[1] = {INT8OID};
	MemoryContext caller = CurrentMemoryContext;

	if (n == 0)
		return;
	mojob_spi_connect_owner();
	for (int i = 0; i < n; i++)
	{
		Datum		args[1] = {Int64GetDatum(ids[i])};
		HeapTuple	row;
		TupleDesc	desc;
		bool		isnull;
		Datum		cap;
		MemoryContext spi;
		int			ret;

		Assert(i == 0 || ids[i - 1] < ids[i]);
		ret = SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "locking mojob.resource failed: %s", SPI_result_code_string(ret));
		if (SPI_processed == 0)
			mojob_not_found_resource(ids[i]);
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		spi = MemoryContextSwitchTo(caller);
		out[i].id = ids[i];
		out[i].name = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
		out[i].enabled = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
		out[i].concurrency = DatumGetInt32(SPI_getbinval(row, desc, 4, &isnull));
		cap = SPI_getbinval(row, desc, 5, &isnull);
		out[i].capacity = isnull ? NULL : DatumGetNumericCopy(cap);
		MemoryContextSwitchTo(spi);
	}
	mojob_spi_finish();
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

/* The codes of the jobs in the way (at most ten, each once). */
static char *
codes_in(Hold *holds, int n, const SweepResult *s)
{
	StringInfoData buf;
	int			shown = 0;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		bool		dup = false;

		if (!in_the_way(&holds[i], s))
			continue;
		for (int k = 0; k < i && !dup; k++)
			dup = holds[k].job_id == holds[i].job_id && in_the_way(&holds[k], s);
		if (dup)
			continue;
		if (shown == 10)
		{
			appendStringInfoString(&buf, ", ...");
			break;
		}
		appendStringInfo(&buf, "%s%s", shown ? ", " : "", holds[i].code);
		shown++;
	}
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
 * The resource must be locked (mojob_lock_resources) first.
 */
void
mojob_check_free(const MojobResource *r, TimestampTz lo, TimestampTz hi,
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
	holds = read_holds(r->id, lo, hi, job_id, GetLatestSnapshot(), &n);
	s = sweep_with_new(r, holds, n, lo, hi, amount);
	if (!s.exceeded)
		return;

	/*
	 * In REPEATABLE READ and SERIALIZABLE, a booking that our snapshot
	 * cannot see was committed concurrently: that is a serialization failure,
	 * and a retry will see it (and get MJ005 if it still conflicts).
	 */
	if (IsolationUsesXactSnapshot())
	{
		Hold	   *mine;
		int			nmine;

		mine = read_holds(r->id, lo, hi, job_id, InvalidSnapshot, &nmine);
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

/* Make node's booking [lo, hi) with amount (insert or replace). */
void
mojob_put_booking(int64 node_id, int64 job_id, int64 resource_id,
				  TimestampTz lo, TimestampTz hi, Numeric amount)
{
	static MojobPlan plan;
	static const char *sql =
		"INSERT INTO mojob.booking (node_id, job_id, resource_id, held, amount) "
		"VALUES ($1, $2, $3, tstzrange($4, $5), $6) "
		"ON CONFLICT (node_id) DO UPDATE SET resource_id = excluded.resource_id, "
		"held = excluded.held, amount = excluded.amount";
	Oid			argtypes[6] = {INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, NUMERICOID};
	Datum		args[6];

	if (lo >= hi)
	{
		mojob_drop_booking(node_id);
		return;
	}
	args[0] = Int64GetDatum(node_id);
	args[1] = Int64GetDatum(job_id);
	args[2] = Int64GetDatum(resource_id);
	args[3] = TimestampTzGetDatum(lo);
	args[4] = TimestampTzGetDatum(hi);
	args[5] = NumericGetDatum(amount);
	mojob_spi_connect_owner();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 6, argtypes), args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing mojob.booking failed");
	mojob_spi_finish();
}

void
mojob_drop_booking(int64 node_id)
{
	static MojobPlan plan;
	static const char *sql = "DELETE FROM mojob.booking WHERE node_id = $1";
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(node_id)};

	mojob_spi_connect_owner();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "deleting from mojob.booking failed");
	mojob_spi_finish();
}

static void
drop_job_bookings(int64 job_id)
{
	static MojobPlan plan;
	static const char *sql = "DELETE FROM mojob.booking WHERE job_id = $1";
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(job_id)};

	mojob_spi_connect_owner();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "deleting from mojob.booking failed");
	mojob_spi_finish();
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

/* The resolved nodes of a job, sorted by resource id. */
static JobNode *
read_nodes(int64 job_id, int *nnodes)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT id, resource_id, amount, held_from, held_until FROM mojob.job_resource "
		"WHERE job_id = $1 AND resource_id IS NOT NULL ORDER BY resource_id";
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(job_id)};
	MemoryContext caller = CurrentMemoryContext;
	JobNode    *nodes;

	mojob_spi_connect_owner();
	/*
	 * The job row is locked by now, and every node change locks it first
	 * (nodes.c): the latest snapshot sees every node, even one committed
	 * while this statement waited for the lock.
	 */
	if (SPI_execute_snapshot(mojob_plan(&plan, sql, 1, argtypes), args, NULL,
							 GetLatestSnapshot(), InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job_resource failed");
	nodes = MemoryContextAlloc(caller, sizeof(JobNode) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		nodes[i].id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		nodes[i].resource_id = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
		nodes[i].amount = DatumGetNumericCopy(SPI_getbinval(row, desc, 3, &isnull));
		d = SPI_getbinval(row, desc, 4, &isnull);
		nodes[i].has_from = !isnull;
		nodes[i].held_from = isnull ? 0 : DatumGetTimestampTz(d);
		d = SPI_getbinval(row, desc, 5, &isnull);
		nodes[i].has_until = !isnull;
		nodes[i].held_until = isnull ? 0 : DatumGetTimestampTz(d);
		MemoryContextSwitchTo(spi);
	}
	*nnodes = (int) SPI_processed;
	mojob_spi_finish();
	return nodes;
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
 * A job's state or window changed (guard.c): make its bookings follow.
 * A job that starts to hold books every resolved node, checked; one that
 * stops holding releases them; a holding job whose window changed moves
 * its bookings, checking those that grow.
 */
void
mojob_job_bookings_changed(int64 job_id, const char *code,
						   bool was_holding, TimestampTz old_pre, TimestampTz old_post,
						   bool holding, TimestampTz pre, TimestampTz post)
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
	if (was_holding && old_pre == pre && old_post == post)
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
		if (lo < hi && (!was_holding || lo < olo || hi > ohi))
			ids[nlock++] = nodes[i].resource_id;
	}
	mojob_lock_resources(ids, nlock, res);

	for (int i = 0, k = 0; i < n; i++)
	{
		TimestampTz lo,
					hi;

		node_window(&nodes[i], pre, post, &lo, &hi);
		if (k < nlock && res[k].id == nodes[i].resource_id)
			mojob_check_free(&res[k++], lo, hi, nodes[i].amount, job_id, code);
		mojob_put_booking(nodes[i].id, job_id, nodes[i].resource_id, lo, hi, nodes[i].amount);
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
Datum
mojob_resource_guard(PG_FUNCTION_ARGS)
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
	desc = RelationGetDescr(td->tg_relation);
	oldtup = td->tg_trigtuple;

	old.id = DatumGetInt64(heap_getattr(oldtup, SPI_fnumber(desc, "id"), desc, &isnull));
	old.name = TextDatumGetCString(heap_getattr(oldtup, SPI_fnumber(desc, "name"), desc, &isnull));

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

	old.enabled = DatumGetBool(heap_getattr(oldtup, SPI_fnumber(desc, "enabled"), desc, &isnull));
	old.concurrency = DatumGetInt32(heap_getattr(oldtup, SPI_fnumber(desc, "concurrency"), desc, &isnull));
	d = heap_getattr(oldtup, SPI_fnumber(desc, "capacity"), desc, &isnull);
	old.capacity = isnull ? NULL : DatumGetNumeric(d);

	new.id = old.id;
	new.name = TextDatumGetCString(heap_getattr(td->tg_newtuple, SPI_fnumber(desc, "name"), desc, &isnull));
	new.enabled = DatumGetBool(heap_getattr(td->tg_newtuple, SPI_fnumber(desc, "enabled"), desc, &isnull));
	new.concurrency = DatumGetInt32(heap_getattr(td->tg_newtuple, SPI_fnumber(desc, "concurrency"), desc, &isnull));
	if (isnull)
		return PointerGetDatum(td->tg_newtuple);	/* NOT NULL refuses it */
	d = heap_getattr(td->tg_newtuple, SPI_fnumber(desc, "capacity"), desc, &isnull);
	new.capacity = isnull ? NULL : DatumGetNumeric(d);

	if (new.id != DatumGetInt64(heap_getattr(td->tg_newtuple, SPI_fnumber(desc, "id"), desc, &isnull)))
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

	holds = read_holds(old.id, now, DT_NOEND, 0, GetLatestSnapshot(), &n);
	if (!new.enabled)
	{
		SweepResult all = everywhere(now, DT_NOEND);

		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_CONFLICT),
					 errmsg("resource \"%s\" cannot be disabled while jobs hold it", old.name),
					 errdetail("Held by %s.", codes_in(holds, n, &all)),
					 errhint("Move those jobs to other resources with mojob.swap_resource(), or cancel them.")));
		return PointerGetDatum(td->tg_newtuple);
	}
	s = sweep(holds, n, now, DT_NOEND, new.concurrency, new.capacity);
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

		holds = read_holds(resource, lo, hi, 0, InvalidSnapshot, &n);
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

	if (n == 0)
		return;
	npending = 0;

	mojob_spi_connect_owner();
	/* Most databases have no unresolved node at all: one probe says so. */
	if (SPI_execute_plan(mojob_plan(&any_plan, any_sql, 0, NULL), NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job_resource failed");
	if (SPI_processed > 0)
	{
		ids = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
			ids[i] = Int64GetDatum(pending[i].job_id);
		args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
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
