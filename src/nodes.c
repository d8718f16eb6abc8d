/*
 * nodes.c
 *		A job's nodes (mojob.job_resource): the trigger that guards them and
 *		the functions that add, assign, swap and remove them.
 *
 * A change to a node is a change to its job: the trigger first "touches"
 * the job row (an UPDATE that changes nothing), so that the guard on
 * mojob.job sees it (edit locks, and the row lock that orders it with the
 * job's transitions: a concurrent reserve or cancel either sees the node
 * or, under REPEATABLE READ, fails to serialize).  Then it applies the
 * rules of the job's state and books the node if the job holds.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "args.h"
#include "booking.h"

PG_FUNCTION_INFO_V1(mojob_node_guard);
PG_FUNCTION_INFO_V1(mojob_add_resource);
PG_FUNCTION_INFO_V1(mojob_add_pool_node);
PG_FUNCTION_INFO_V1(mojob_assign_node);
PG_FUNCTION_INFO_V1(mojob_remove_resource);
PG_FUNCTION_INFO_V1(mojob_swap_resource);

MojobTouch	mojob_touch = {false, 0, false};


/* The job a node belongs to, as the touch returned it. */
typedef struct JobHead
{
	bool		found;
	MojobState	state;
	TimestampTz pre;
	TimestampTz post;
	char	   *code;
} JobHead;

static bool
array_is_empty(Datum a)
{
	ArrayType  *arr;

	if (a == (Datum) 0)
		return true;
	arr = DatumGetArrayTypeP(a);
	return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) == 0;
}

/* A node row, read from a job_resource tuple. */
typedef struct NodeRow
{
	int64		id;
	int64		job_id;
	bool		has_resource;
	int64		resource_id;
	bool		has_pool;
	int64		pool_id;
	Numeric		amount;
	Datum		caps;			/* text[] */
	bool		has_from;
	TimestampTz held_from;
	bool		has_until;
	TimestampTz held_until;
} NodeRow;

void
mojob_not_found_resource(int64 id)
{
	mojob_not_found("resource", id);
}

/* A job created by this transaction, as touch_job reads it. */
typedef struct OwnJob
{
	const MojobJobAttrs *attrs;
	JobHead    *head;
	MemoryContext caller;
	bool		locked;
	char	   *locked_by;
	TimestampTz locked_until;
	bool		not_own;		/* the row is not this transaction's */
} OwnJob;

static bool
read_own_job(TupleTableSlot *slot, void *arg)
{
	OwnJob	   *own = (OwnJob *) arg;
	const MojobJobAttrs *a = own->attrs;
	MemoryContext old;
	bool		isnull;
	Datum		by;

	/*
	 * The guard notes a job as new before its row is inserted: an INSERT
	 * ... ON CONFLICT DO NOTHING on an existing job, or one whose
	 * subtransaction failed, leaves the note on another transaction's row.
	 * Only a row this transaction wrote (inserted, or updated and so locked)
	 * is beyond the reach of others.
	 */
	if (!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(
				slot_getsysattr(slot, MinTransactionIdAttributeNumber, &isnull))))
	{
		own->not_own = true;
		return false;
	}
	old = MemoryContextSwitchTo(own->caller);
	own->head->found = true;
	own->head->state = mojob_state_from_oid(DatumGetObjectId(slot_getattr(slot, a->state, &isnull)));
	own->head->pre = DatumGetTimestampTz(slot_getattr(slot, a->pre_roll_start, &isnull));
	own->head->post = DatumGetTimestampTz(slot_getattr(slot, a->post_roll_end, &isnull));
	own->head->code = TextDatumGetCString(slot_getattr(slot, a->code, &isnull));
	by = slot_getattr(slot, a->locked_by, &isnull);
	if (!isnull)
	{
		Datum		until = slot_getattr(slot, a->locked_until, &isnull);

		if (!isnull)
		{
			own->locked = true;
			own->locked_by = TextDatumGetCString(by);
			own->locked_until = DatumGetTimestampTz(until);
		}
	}
	MemoryContextSwitchTo(old);
	return false;
}

/*
 * Touch the job row: lock it and let the guard judge the change (edit
 * locks).  Returns what the node rules need.
 */
static JobHead
touch_job(int64 job_id, bool restore)
{
	static MojobPlan plan;
	static const char *sql =
		"UPDATE mojob.job SET version = version WHERE id = $1 "
		"RETURNING state, pre_roll_start, post_roll_end, code";
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(job_id)};
	MemoryContext caller = CurrentMemoryContext;
	JobHead		j = {0};
	volatile int ret;
	MojobContext saved;

	if (mojob_job_is_new(job_id))
	{
		/*
		 * Created by this transaction (its row written by this transaction,
		 * read_own_job checks): no other transaction can see it, so
		 * nothing can race this change.  Reading it (directly, by its
		 * primary key), and checking its lock (the acting user may have
		 * changed meanwhile), is enough: a recurrence makes hundreds of
		 * instances at once, and create_job inserts the nodes of the job it
		 * has just made.
		 */
		OwnJob		own = {0};
		const MojobCatalog *c = mojob_catalog();
		Relation	rel = table_open(c->job_rel, AccessShareLock);

		own.attrs = mojob_job_attrs(rel);
		own.head = &j;
		own.caller = caller;
		table_close(rel, NoLock);
		mojob_index_scan(c->job_rel, c->job_pkey, SnapshotSelf, 1, &job_id, read_own_job, &own);
		if (!own.not_own)
		{
			if (j.found && own.locked && !restore)
				mojob_refuse_locked(j.code, own.locked_by, own.locked_until);
			return j;
		}
		/* Not created here after all: touch it as any other job. */
	}

	/*
	 * In the caller's name: a node change is an edit of its job, and the
	 * triggers a site put on mojob.job run with the rights of whoever
	 * changes the node, never with the owner's.
	 */
	mojob_spi_connect();
	saved = mojob_context_enter();
	mojob_touch.active = true;
	mojob_touch.job_id = job_id;
	mojob_touch.restore = restore;
	PG_TRY();
	{
		ret = SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0);
	}
	PG_FINALLY();
	{
		mojob_context_leave(&saved);
	}
	PG_END_TRY();
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "updating mojob.job failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		j.found = true;
		j.state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull)));
		j.pre = DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull));
		j.post = DatumGetTimestampTz(SPI_getbinval(row, desc, 3, &isnull));
		j.code = TextDatumGetCString(SPI_getbinval(row, desc, 4, &isnull));
		MemoryContextSwitchTo(spi);
	}
	else
	{
		/*
		 * No row updated: the job is gone (a delete cascading to its nodes),
		 * or its row is there but this role's update of it was skipped (a
		 * row security policy of the site's, or a site trigger returning
		 * NULL).  Then the node rules could not be judged: refuse.
		 */
		const MojobCatalog *c = mojob_catalog();
		ItemPointerData tid;

		if (mojob_index_scan(c->job_rel, c->job_pkey, SnapshotSelf, 1, &job_id, mojob_tid_of_first, &tid) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("the nodes of job " INT64_FORMAT " cannot be changed by role \"%s\"",
							job_id, GetUserNameFromId(GetUserId(), false)),
					 errdetail("A node change updates its job's row first, and that update did not reach the row "
							   "(a row security policy or a trigger of the site's skipped it)."),
					 errhint("Change the nodes as a role that may update the job.")));
	}
	mojob_spi_finish();
	return j;
}

/* A node row from its column values. */
static NodeRow
node_from_values(const MojobNodeAttrs *a, const Datum *v, const bool *isnull)
{
	NodeRow		n;

#define COL(att)	(v[(att) - 1])
#define NUL(att)	(isnull[(att) - 1])
	n.id = DatumGetInt64(COL(a->id));
	n.job_id = DatumGetInt64(COL(a->job_id));
	n.has_resource = !NUL(a->resource_id);
	n.resource_id = n.has_resource ? DatumGetInt64(COL(a->resource_id)) : 0;
	n.has_pool = !NUL(a->pool_id);
	n.pool_id = n.has_pool ? DatumGetInt64(COL(a->pool_id)) : 0;
	n.amount = NUL(a->amount) ? int64_to_numeric(0) : DatumGetNumeric(COL(a->amount));
	n.caps = NUL(a->required_capabilities) ? (Datum) 0 : COL(a->required_capabilities);
	n.has_from = !NUL(a->held_from);
	n.held_from = n.has_from ? DatumGetTimestampTz(COL(a->held_from)) : 0;
	n.has_until = !NUL(a->held_until);
	n.held_until = n.has_until ? DatumGetTimestampTz(COL(a->held_until)) : 0;
#undef COL
#undef NUL
	return n;
}

/* A node row, taken apart once. */
static NodeRow
read_node(HeapTuple tuple, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *v = palloc(sizeof(Datum) * desc->natts);
	bool	   *isnull = palloc(sizeof(bool) * desc->natts);

	heap_deform_tuple(tuple, desc, v, isnull);
	return node_from_values(mojob_node_attrs(rel), v, isnull);
}

/*
 * Does the job keep bookings?  A completed job keeps them as the record of
 * what it used (the checks count them only until its post-roll ends); its
 * nodes are not checked again.
 */
static bool
job_books(MojobState state)
{
	return mojob_states[state].holds;
}

/* The window a node holds its resource for, within its job's window. */
static void
node_window(const NodeRow *n, const JobHead *j, TimestampTz *lo, TimestampTz *hi)
{
	mojob_node_window(n->has_from, n->held_from, n->has_until, n->held_until, j->pre, j->post, lo, hi);
}

static bool
stop_at_first(TupleTableSlot *slot, void *arg)
{
	return false;
}

/*
 * Refuse a resource that cannot fill the node: not in the node's pool, or
 * lacking a required capability (MJ006).  An unknown resource is MJ404.
 */
static void
check_assignment(const NodeRow *n, const char *code)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT coalesce(r.name, '(no name)'), "
		"  $2::bigint IS NULL OR EXISTS (SELECT FROM mojob.pool_member m "
		"                                WHERE m.pool_id = $2 AND m.resource_id = r.id), "
		"  (SELECT p.name FROM mojob.pool p WHERE p.id = $2), "
		"  ARRAY(SELECT c FROM unnest($3::text[]) AS c WHERE c <> ALL (r.capabilities) ORDER BY c)::text "
		"FROM mojob.resource r WHERE r.id = $1";
	Oid			argtypes[3] = {INT8OID, INT8OID, TEXTARRAYOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	char	   *name;
	char	   *missing;

	/* A plain node: the resource has only to exist (read by its key). */
	if (!n->has_pool && array_is_empty(n->caps))
	{
		const MojobCatalog *c = mojob_catalog();

		if (mojob_index_scan(c->resource_rel, c->resource_pkey, GetActiveSnapshot(), 1,
							 &n->resource_id, stop_at_first, NULL) == 0)
			mojob_not_found_resource(n->resource_id);
		return;
	}
	args[0] = Int64GetDatum(n->resource_id);
	args[1] = Int64GetDatum(n->pool_id);
	if (!n->has_pool)
		nulls[1] = 'n';
	args[2] = n->caps;
	if (n->caps == (Datum) 0)
		nulls[2] = 'n';

	mojob_spi_connect_owner();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 3, argtypes), args, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.resource failed");
	if (SPI_processed == 0)
		mojob_not_found_resource(n->resource_id);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	name = TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull));
	if (!DatumGetBool(SPI_getbinval(row, desc, 2, &isnull)))
	{
		Datum		pool = SPI_getbinval(row, desc, 3, &isnull);

		if (isnull)
			mojob_not_found("pool", n->pool_id);
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_READY),
				 errmsg("resource \"%s\" is not in pool \"%s\"", name, TextDatumGetCString(pool)),
				 errdetail("Node " INT64_FORMAT " of job %s is filled from that pool.", n->id, code),
				 errhint("Pick a member: SELECT * FROM mojob.free_resources(during, pool => " INT64_FORMAT ").",
						 n->pool_id)));
	}
	missing = TextDatumGetCString(SPI_getbinval(row, desc, 4, &isnull));
	if (strcmp(missing, "{}") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_READY),
				 errmsg("resource \"%s\" lacks capabilities %s", name, missing),
				 errdetail("Node " INT64_FORMAT " of job %s requires them.", n->id, code),
				 errhint("Pick a resource that has them: SELECT * FROM mojob.free_resources(during, capabilities => ...).")));
	mojob_spi_finish();
}

/*
 * Book node n of job j (which holds), checking the resource is free.
 * fresh: a new node, which has no booking yet.  Returns whether it locked
 * the resource (to check it).
 */
static bool
book_node(const NodeRow *n, const JobHead *j, bool check, bool fresh)
{
	TimestampTz lo,
				hi;
	MojobResource r;

	node_window(n, j, &lo, &hi);
	if (lo >= hi)
	{
		if (!fresh)
			mojob_drop_booking(n->id);
		return false;
	}
	if (check)
	{
		mojob_lock_resources(&n->resource_id, 1, &r, LockTupleNoKeyExclusive);
		mojob_check_free(&r, lo, hi, n->amount, n->job_id, j->code);
	}
	mojob_put_booking(n->id, n->job_id, n->resource_id, lo, hi, n->amount, fresh,
					  check ? &r : NULL);
	return check;
}

static void
refuse_node_change(const JobHead *j, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
			 errmsg("the nodes of %s job %s cannot change", mojob_states[j->state].name, j->code),
			 errdetail("%s", why),
			 errhint("%s", hint)));
}

static void
refuse_unresolved(const JobHead *j)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_READY),
			 errmsg("%s job %s cannot have an unresolved pool node", mojob_states[j->state].name, j->code),
			 errdetail("A confirmed job has a resource for every node."),
			 errhint("Give the node a resource, or return the job to tentative with mojob.unconfirm(job) first.")));
}

/* The rules of the job's state for a node change (docs/design.md section 1). */
static void
check_node_state(const JobHead *j, const NodeRow *newn)
{
	if (j->state == MJ_COMPLETED || j->state == MJ_CANCELED)
		refuse_node_change(j, "Completed and canceled jobs keep the nodes they had.",
						   "Create a new job with mojob.duplicate().");
	if (newn && !newn->has_resource && (j->state == MJ_CONFIRMED || j->state == MJ_RUNNING))
		refuse_unresolved(j);
}

static bool
num_gt(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b))) > 0;
}

/*
 * The rules for a new node n (the trigger's, and create_job's when it
 * inserts nodes directly).  Returns whether they locked its resource (to
 * book it).
 */
static bool
node_insert_rules(NodeRow n, bool privileged)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	/*
	 * A restore (the owner's plain INSERT, acting as itself: no mojob.actor)
	 * adds the nodes of a locked job with the lock as dumped; anyone acting
	 * for an application user is held to the lock.
	 */
	JobHead		j = touch_job(n.job_id, privileged && !mojob_actor_is_set());

	if (!j.found)
		mojob_not_found("job", n.job_id);
	if (!privileged)
	{
		check_node_state(&j, &n);
		if (j.state == MJ_RUNNING && (!n.has_from || n.held_from < now))
			refuse_node_change(&j, "A running job's resources change from now on only.",
							   "Use mojob.swap_resource(job, old, new) to replace one from now.");
	}
	/*
	 * A restore (a plain INSERT by the tables' owner) keeps what it supplies,
	 * as for jobs: its rows arrive in an order of their own (pool members may
	 * come after the nodes) and describe a past that later changes to the
	 * resources did not have to respect.  So it is not checked against pools
	 * and capabilities, nor where its window has ended; where it has not,
	 * the check still holds (a consistent dump always passes it).  Everyone
	 * else's node is checked; a plain node of a holding job when its
	 * resource is locked.
	 */
	if (!privileged && n.has_resource &&
		(n.has_pool || !array_is_empty(n.caps) || !job_books(j.state) || j.state == MJ_COMPLETED))
		check_assignment(&n, j.code);
	if (n.has_resource && job_books(j.state))
	{
		TimestampTz lo,
					hi;

		node_window(&n, &j, &lo, &hi);
		/* A restore keeps what it was given; anyone else's node holds something. */
		if (lo >= hi && !privileged && (j.state == MJ_TENTATIVE || j.state == MJ_CONFIRMED))
			mojob_refuse_empty_node(n.id, j.code, j.pre, j.post);
		return book_node(&n, &j, j.state != MJ_COMPLETED && (!privileged || hi > now), true);
	}
	return false;
}

static HeapTuple
node_insert(TriggerData *td, bool privileged)
{
	node_insert_rules(read_node(td->tg_trigtuple, td->tg_relation), privileged);
	return td->tg_trigtuple;
}

static HeapTuple
node_update(TriggerData *td)
{
	NodeRow		o = read_node(td->tg_trigtuple, td->tg_relation);
	NodeRow		n = read_node(td->tg_newtuple, td->tg_relation);
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	JobHead		j;
	bool		resource_changed;

	if (o.id != n.id || o.job_id != n.job_id)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
				 errmsg("node " INT64_FORMAT " cannot move to another job or id", o.id),
				 errhint("Remove it with mojob.remove_resource() and add a new one.")));
	j = touch_job(n.job_id, false);
	if (!j.found)
		mojob_not_found("job", n.job_id);

	resource_changed = o.has_resource != n.has_resource ||
		o.resource_id != n.resource_id || o.has_pool != n.has_pool || o.pool_id != n.pool_id ||
		(o.caps == (Datum) 0) != (n.caps == (Datum) 0) ||
		(o.caps != (Datum) 0 && !datum_image_eq(o.caps, n.caps, false, -1));

	check_node_state(&j, &n);
	if (j.state == MJ_RUNNING)
	{
		/* Only an end from now on: the node is dropped or swapped out. */
		bool		until_changed = n.has_until != o.has_until || n.held_until != o.held_until;
		bool		other_changed = resource_changed ||
			num_gt(o.amount, n.amount) || num_gt(n.amount, o.amount) ||
			o.has_from != n.has_from || o.held_from != n.held_from;

		if (other_changed ||
			(until_changed &&
			 (!n.has_until || n.held_until < now ||
			  (o.has_until && n.held_until > o.held_until))))
			refuse_node_change(&j, "A running job may only end a node's hold from now on.",
							   "Use mojob.swap_resource(job, old, new) or mojob.remove_resource(job, resource).");
	}
	if (n.has_resource && resource_changed)
		check_assignment(&n, j.code);

	if (job_books(j.state))
	{
		if (!n.has_resource)
			mojob_drop_booking(n.id);
		else
		{
			TimestampTz olo,
						ohi,
						lo,
						hi;
			bool		grows;

			node_window(&o, &j, &olo, &ohi);
			node_window(&n, &j, &lo, &hi);
			grows = !o.has_resource || o.resource_id != n.resource_id ||
				num_gt(n.amount, o.amount) || lo < olo || hi > ohi;
			if (lo >= hi && (j.state == MJ_TENTATIVE || j.state == MJ_CONFIRMED))
				mojob_refuse_empty_node(n.id, j.code, j.pre, j.post);
			book_node(&n, &j, grows, false);
		}
	}
	return td->tg_newtuple;
}

static HeapTuple
node_delete(TriggerData *td)
{
	NodeRow		o = read_node(td->tg_trigtuple, td->tg_relation);
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	JobHead		j = touch_job(o.job_id, false);

	/* No job: it is being deleted, and its nodes with it. */
	if (j.found)
	{
		check_node_state(&j, NULL);
		if (j.state == MJ_RUNNING && !(o.has_from && o.held_from >= now))
			refuse_node_change(&j, "A running job keeps the record of the resources it used.",
							   "Use mojob.remove_resource(job, resource): it ends the node's hold now.");
	}
	mojob_drop_booking(o.id);
	return td->tg_trigtuple;
}

/*
 * Trigger zz_mojob_node_guard: BEFORE INSERT OR UPDATE OR DELETE ON
 * mojob.job_resource FOR EACH ROW.
 */
Datum
mojob_node_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	bool		privileged;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mojob_node_guard must be fired BEFORE ... FOR EACH ROW")));
	mojob_check_trigger_table(td->tg_relation, mojob_catalog()->node_rel, "mojob.node_guard()");
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		/*
		 * Only a plain INSERT by the tables' owner or a superuser (a restore)
		 * may add nodes as they are, as it may add jobs; inside mojob's own
		 * functions the rules hold for everyone.
		 */
		HeapTuple	row;
		const MojobNodeAttrs *a = mojob_node_attrs(td->tg_relation);
		bool		isnull;
		Datum		id;

		privileged = !mojob_in_function() &&
			mojob_is_privileged(RelationGetRelid(td->tg_relation));
		/*
		 * Ids are mojob's (guard.c): only the owner's plain INSERT chooses
		 * one (and anyone's in a database not yet updated to 1.1).
		 */
		id = mojob_heap_getattr(td->tg_trigtuple, a->id, RelationGetDescr(td->tg_relation), &isnull);
		if (!isnull && !mojob_take_issued_id(mojob_catalog()->node_seq, DatumGetInt64(id)) &&
			!privileged && a->id_rule != MJ_ID_LEGACY)
			mojob_check_chosen_id(td->tg_relation, a->id, DatumGetInt64(id), a->id_rule);
		row = node_insert(td, privileged);
		mojob_guard_approved(td, row, a->id);
		return PointerGetDatum(row);
	}
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	row = node_update(td);

		mojob_guard_approved(td, row, mojob_node_attrs(td->tg_relation)->id);
		return PointerGetDatum(row);
	}
	{
		HeapTuple	row = node_delete(td);

		/* Its booking is gone: the delete must happen (guard.c's recheck). */
		mojob_guard_approved(td, row, mojob_node_attrs(td->tg_relation)->id);
		return PointerGetDatum(row);
	}
}

/* ---------------------------------------------------------------------
 * A new job's nodes, inserted directly
 * ---------------------------------------------------------------------
 */

/*
 * create_job inserts the nodes of the job it has just made.  As an INSERT
 * that is a statement of its own: executor start-up, the CHECKs parsed
 * again, the guard called as a trigger, a foreign key query per key and
 * row; as much again as the job itself.  Directly, it is what those amount
 * to for these rows, as SPI would run them (a new command, a new snapshot):
 *  - the defaults, NOT NULLs and CHECKs of mojob.job_resource, whatever
 *    they are (read once per relcache entry, planned at each call, as the
 *    executor plans them at each statement, so a function or domain they
 *    use is current; evaluated for each row);
 *  - the guard's rules (node_insert_rules), exactly as the trigger applies
 *    them;
 *  - the foreign keys: the job is the one create_job has just inserted
 *    (the rules read it, and refuse it if it is gone); the resource is
 *    locked FOR KEY SHARE, as the foreign key check locks it, unless the
 *    rules locked it more strongly to book it; pool_id is NULL;
 *  - the heap and index entries, the unique ones checked by the index.
 * Only while the table has no rule, no row security, no generated column,
 * and no trigger but mojob's guard and its foreign keys' own checks, all
 * enabled; and while the user may insert job_id and resource_id.  Anything
 * else (a site's audit trigger, a policy, replication role replica) takes
 * the INSERT, which honours it.
 */
typedef struct NodeDirect
{
	Oid			relid;			/* InvalidOid: not worked out yet */
	bool		ok;				/* may nodes be inserted directly? */
	MemoryContext cxt;			/* holds what follows */
	int			ndefaults;
	AttrNumber *default_att;	/* the columns with a default but job_id and resource_id */
	Node	  **default_expr;	/* as build_column_default gives it */
	int			nchecks;
	char	  **check_name;
	Node	  **check_expr;		/* as stored (ccbin) */
} NodeDirect;

static NodeDirect node_direct;

/*
 * mojob.job_resource (or a type: a domain's default) changed: work it out
 * again.
 */
void
mojob_nodes_direct_invalidate(Oid relid)
{
	if (relid == InvalidOid || relid == node_direct.relid)
		node_direct.relid = InvalidOid;
}

/* Is trigger t mojob's guard, or the check of one of mojob's foreign keys? */
static bool
trigger_is_mojobs(const Trigger *t, const MojobNodeAttrs *a)
{
	static const struct
	{
		const char *name;
		const char *column;
		const char *refers_to;
	}			fks[] = {
		{"job_resource_job_id_fkey", "job_id", "job"},
		{"job_resource_resource_id_fkey", "resource_id", "resource"},
		{"job_resource_pool_id_fkey", "pool_id", "pool"},
	};
	HeapTuple	tup;
	Form_pg_constraint con;
	bool		ok = false;

	if (t->tgenabled != TRIGGER_FIRES_ON_ORIGIN && t->tgenabled != TRIGGER_FIRES_ALWAYS)
		return false;
	if (!t->tgisinternal)
		return strcmp(t->tgname, "zz_mojob_node_guard") == 0 || strcmp(t->tgname, "mojob_guard_recheck") == 0;
	if (RI_FKey_trigger_type(t->tgfoid) != RI_TRIGGER_FK)
		return false;
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(t->tgconstraint));
	if (!HeapTupleIsValid(tup))
		return false;
	con = (Form_pg_constraint) GETSTRUCT(tup);
	for (int i = 0; i < (int) lengthof(fks) && !ok; i++)
	{
		bool		isnull;
		Datum		conkey;
		Datum	   *keys;
		bool	   *keynulls;
		int			nkeys;

		if (strcmp(NameStr(con->conname), fks[i].name) != 0 ||
			get_rel_namespace(con->confrelid) != mojob_catalog()->namespace)
			continue;
		{
			char	   *refers_to = get_rel_name(con->confrelid);

			if (refers_to == NULL || strcmp(refers_to, fks[i].refers_to) != 0)
				continue;
		}
		conkey = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conkey, &isnull);
		if (isnull)
			continue;
		deconstruct_array(DatumGetArrayTypeP(conkey), INT2OID, 2, true, TYPALIGN_SHORT,
						  &keys, &keynulls, &nkeys);
		ok = nkeys == 1 && !keynulls[0] &&
			DatumGetInt16(keys[0]) ==
			(strcmp(fks[i].column, "job_id") == 0 ? a->job_id :
			 strcmp(fks[i].column, "resource_id") == 0 ? a->resource_id : a->pool_id);
	}
	ReleaseSysCache(tup);
	return ok;
}

/*
 * Work out node_direct for rel (mojob.job_resource).  Built aside, so that
 * an error on the way leaves it to be worked out again.
 */
static void
node_direct_prepare(Relation rel)
{
	const MojobNodeAttrs *a = mojob_node_attrs(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	NodeDirect	d = {0};
	MemoryContext old;

	d.relid = RelationGetRelid(rel);
	d.cxt = AllocSetContextCreate(CurTransactionContext, "mojob direct nodes",
								  ALLOCSET_SMALL_SIZES);
	d.ok = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rules == NULL &&
		!rel->rd_rel->relrowsecurity &&
		TupleDescAttr(desc, a->job_id - 1)->atttypid == INT8OID &&
		TupleDescAttr(desc, a->resource_id - 1)->atttypid == INT8OID;
	/* Generated columns (stored, or virtual since PostgreSQL 18). */
	for (int i = 0; i < desc->natts && d.ok; i++)
		if (TupleDescAttr(desc, i)->attgenerated != '\0')
			d.ok = false;
	/* Only what fires on INSERT matters to inserting nodes. */
	if (d.ok && rel->trigdesc != NULL)
		for (int i = 0; i < rel->trigdesc->numtriggers && d.ok; i++)
			if (TRIGGER_FOR_INSERT(rel->trigdesc->triggers[i].tgtype) &&
				!trigger_is_mojobs(&rel->trigdesc->triggers[i], a))
				d.ok = false;

	old = MemoryContextSwitchTo(d.cxt);
	if (d.ok)
	{
		d.default_att = palloc(sizeof(AttrNumber) * desc->natts);
		d.default_expr = palloc(sizeof(Node *) * desc->natts);
		for (int i = 0; i < desc->natts && d.ok; i++)
		{
			AttrNumber	att = i + 1;
			Node	   *def;

			if (TupleDescAttr(desc, i)->attisdropped || att == a->job_id || att == a->resource_id)
				continue;
			def = build_column_default(rel, att);
			/*
			 * No default: NULL, which the planner coerces to the column's
			 * domain (expand_insert_targetlist), so that a domain's NOT NULL
			 * or CHECK refuses it as in the INSERT.
			 */
			if (def == NULL && get_typtype(TupleDescAttr(desc, i)->atttypid) == TYPTYPE_DOMAIN)
			{
				Form_pg_attribute attr = TupleDescAttr(desc, i);

				def = coerce_to_domain((Node *) makeConst(attr->atttypid, -1, attr->attcollation,
														  attr->attlen, (Datum) 0, true, attr->attbyval),
									   InvalidOid, -1, attr->atttypid,
									   COERCION_IMPLICIT, COERCE_IMPLICIT_CAST, -1, false);
			}
			if (def == NULL)
				continue;
			/* The foreign key on pool_id is not checked: it must stay NULL. */
			if (att == a->pool_id)
				d.ok = false;
			d.default_att[d.ndefaults] = att;
			d.default_expr[d.ndefaults++] = def;
		}
	}
	if (d.ok && desc->constr != NULL && desc->constr->num_check > 0)
	{
		int			n = desc->constr->num_check;

		d.check_name = palloc(sizeof(char *) * n);
		d.check_expr = palloc(sizeof(Node *) * n);
		for (int i = 0; i < n; i++)
		{
			ConstrCheck *cc = &desc->constr->check[i];

#if PG_VERSION_NUM >= 180000
			/* As ExecRelCheck: NOT VALID ones are checked, NOT ENFORCED not. */
			if (!cc->ccenforced)
				continue;
#endif
			d.check_name[d.nchecks] = pstrdup(cc->ccname);
			d.check_expr[d.nchecks++] = stringToNode(cc->ccbin);
		}
	}
	MemoryContextSwitchTo(old);

	/* Nothing reads the old one any more: each call copies what it uses. */
	if (node_direct.cxt != NULL)
		MemoryContextDelete(node_direct.cxt);
	MemoryContextSetParent(d.cxt, CacheMemoryContext);
	node_direct = d;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Insert a node of job job_id for each resource in resources (bigint[]),
 * in resource order, directly.  Returns false, having done nothing, where
 * an INSERT must do it (see above).
 */
bool
mojob_insert_nodes_direct(int64 job_id, ArrayType *resources)
{
	const MojobCatalog *c = mojob_catalog();
	const MojobNodeAttrs *a;
	Relation	rel;
	TupleDesc	desc;
	Datum	   *ids;
	bool	   *nulls;
	int			n;
	Oid			user = GetUserId();
	MojobInserter ins;
	ExprContext *econtext;
	int			ndefaults;
	AttrNumber *default_att;
	Node	  **default_expr;
	ExprState **defaults;
	int			nchecks;
	char	  **check_name;
	Node	  **check_expr;
	ExprState **checks;

	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return false;
	rel = table_open(c->node_rel, RowExclusiveLock);
	if (node_direct.relid != RelationGetRelid(rel))
		node_direct_prepare(rel);
	a = mojob_node_attrs(rel);
	if (!node_direct.ok ||
		(pg_class_aclcheck(RelationGetRelid(rel), user, ACL_INSERT) != ACLCHECK_OK &&
		 (pg_attribute_aclcheck(RelationGetRelid(rel), a->job_id, user, ACL_INSERT) != ACLCHECK_OK ||
		  pg_attribute_aclcheck(RelationGetRelid(rel), a->resource_id, user, ACL_INSERT) != ACLCHECK_OK)))
	{
		table_close(rel, NoLock);
		return false;
	}
	deconstruct_array(resources, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ids, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
		{
			/* The INSERT refuses it as the table's constraints say. */
			table_close(rel, NoLock);
			return false;
		}
	/* Datums of a pass-by-value int8 sort as int64 (the lock order). */
	{
		int64	   *sorted = palloc(sizeof(int64) * n);

		for (int i = 0; i < n; i++)
			sorted[i] = DatumGetInt64(ids[i]);
		qsort(sorted, n, sizeof(int64), int64_cmp);
		for (int i = 0; i < n; i++)
			ids[i] = Int64GetDatum(sorted[i]);
	}

	/*
	 * What this call uses of node_direct, copied in one go (no user code
	 * runs while copying: a nested create_job, from a function that
	 * planning or a CHECK calls, may work node_direct out again), then
	 * planned afresh (a function, a domain may have changed).
	 */
	ndefaults = node_direct.ndefaults;
	nchecks = node_direct.nchecks;
	default_att = palloc(sizeof(AttrNumber) * Max(ndefaults, 1));
	default_expr = palloc(sizeof(Node *) * Max(ndefaults, 1));
	check_name = palloc(sizeof(char *) * Max(nchecks, 1));
	check_expr = palloc(sizeof(Node *) * Max(nchecks, 1));
	for (int k = 0; k < ndefaults; k++)
	{
		default_att[k] = node_direct.default_att[k];
		default_expr[k] = copyObject(node_direct.default_expr[k]);
	}
	for (int k = 0; k < nchecks; k++)
	{
		check_name[k] = pstrdup(node_direct.check_name[k]);
		check_expr[k] = copyObject(node_direct.check_expr[k]);
	}
	defaults = palloc(sizeof(ExprState *) * Max(ndefaults, 1));
	for (int k = 0; k < ndefaults; k++)
		defaults[k] = ExecInitExpr(expression_planner((Expr *) default_expr[k]), NULL);
	checks = palloc(sizeof(ExprState *) * Max(nchecks, 1));
	for (int k = 0; k < nchecks; k++)
		checks[k] = ExecInitCheck(make_ands_implicit(expression_planner((Expr *) check_expr[k])), NULL);

	/* As SPI runs a statement: a new command, a new snapshot. */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	desc = RelationGetDescr(rel);
	mojob_insert_begin(&ins, rel);
	econtext = GetPerTupleExprContext(ins.estate);

	for (int i = 0; i < n; i++)
	{
		TupleTableSlot *slot = ins.slot;
		Datum	   *v = slot->tts_values;
		bool	   *isnull = slot->tts_isnull;
		int64		resource_id = DatumGetInt64(ids[i]);

		CHECK_FOR_INTERRUPTS();

		for (int k = 0; k < desc->natts; k++)
			isnull[k] = true;
		for (int k = 0; k < ndefaults; k++)
		{
			AttrNumber	att = default_att[k];

			v[att - 1] = ExecEvalExprSwitchContext(defaults[k], econtext, &isnull[att - 1]);
		}
		/* The id mojob.next_id() issued (the default) is used now. */
		if (!isnull[a->id - 1])
			(void) mojob_take_issued_id(c->node_seq, DatumGetInt64(v[a->id - 1]));
		v[a->job_id - 1] = Int64GetDatum(job_id);
		isnull[a->job_id - 1] = false;
		v[a->resource_id - 1] = ids[i];
		isnull[a->resource_id - 1] = false;

		/* The guard, then the foreign key's lock if booking did not lock. */
		if (!node_insert_rules(node_from_values(a, v, isnull), false))
			mojob_lock_resources(&resource_id, 1, NULL, LockTupleKeyShare);

		for (int k = 0; k < desc->natts; k++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, k);

			if (att->attnotnull && isnull[k])
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
								NameStr(att->attname), RelationGetRelationName(rel)),
						 errdetail("A node of job " INT64_FORMAT " on resource " INT64_FORMAT " has no value for it.",
								   job_id, resource_id),
						 errhint("Give the column a default, or add the nodes with mojob.add_resource()."),
						 errtablecol(rel, k + 1)));
		}
		ExecStoreVirtualTuple(slot);
		econtext->ecxt_scantuple = slot;
		for (int k = 0; k < nchecks; k++)
			if (!ExecCheck(checks[k], econtext))
				ereport(ERROR,
						(errcode(ERRCODE_CHECK_VIOLATION),
						 errmsg("new row for relation \"%s\" violates check constraint \"%s\"",
								RelationGetRelationName(rel), check_name[k]),
						 errdetail("A node of job " INT64_FORMAT " on resource " INT64_FORMAT ".",
								   job_id, resource_id),
						 errhint("Add the nodes with mojob.add_resource() and the values the constraint needs."),
						 errtableconstraint(rel, check_name[k])));
		ins.cid = GetCurrentCommandId(true);
		mojob_insert_row(&ins);
	}
	mojob_insert_end(&ins);
	PopActiveSnapshot();
	table_close(rel, NoLock);
	CommandCounterIncrement();
	return true;
}

/* ---------------------------------------------------------------------
 * Functions
 * ---------------------------------------------------------------------
 */

static Numeric
arg_amount(FunctionCallInfo fcinfo, int argno)
{
	Numeric		a;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must not be null"),
				 errhint("Pass 0 for a node that uses no capacity.")));
	a = PG_GETARG_NUMERIC(argno);
	if (numeric_is_nan(a) || num_gt(int64_to_numeric(0), a) ||
		numeric_is_inf(a))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("amount must be a finite number, 0 or more"),
				 errdetail("It is %s.", DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(a))))));
	return a;
}

/*
 * Run one statement on job_resource, returning its single row (or none) as
 * a value of rowrel's row type (InvalidOid: the statement returns no row).
 */
static Datum
node_statement(MojobPlan *plan, const char *sql, int nargs, Oid *argtypes,
			   Datum *args, const char *nulls, int expect, bool *found, Oid rowrel)
{
	int			ret;
	Datum		result = (Datum) 0;

	ret = SPI_execute_plan(mojob_plan(plan, sql, nargs, argtypes), args, nulls, false, 0);
	if (ret != expect)
		elog(ERROR, "writing mojob.job_resource failed: %s", SPI_result_code_string(ret));
	*found = SPI_processed > 0;
	if (*found && SPI_tuptable != NULL && OidIsValid(rowrel))
		result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, rowrel);
	return result;
}

/* Refuse a resource that already serves a node of the job. */
static void
check_not_in_job(int64 job, int64 resource)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT n.id, j.code FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id "
		"WHERE n.job_id = $1 AND n.resource_id = $2";
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(job), Int64GetDatum(resource)};
	bool		isnull;

	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job_resource failed");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resource " INT64_FORMAT " already serves job %s", resource,
						TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull))),
				 errdetail("It is node " INT64_FORMAT ".",
						   DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))),
				 errhint("One resource serves at most one node of a job.")));
}

/* mojob.add_resource(job, resource, amount, alias) RETURNS mojob.job_resource */
Datum
mojob_add_resource(PG_FUNCTION_ARGS)
{
	static MojobPlan plan;
	static const char *sql =
		"INSERT INTO mojob.job_resource (job_id, resource_id, amount, alias) "
		"VALUES ($1, $2, $3, $4) RETURNING *";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	int64		resource = mojob_arg_id(fcinfo, 1, "resource");
	Numeric		amount = arg_amount(fcinfo, 2);
	Oid			argtypes[4] = {INT8OID, INT8OID, NUMERICOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		found;
	Datum		result;

	args[0] = Int64GetDatum(job);
	args[1] = Int64GetDatum(resource);
	args[2] = NumericGetDatum(amount);
	args[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	if (PG_ARGISNULL(3))
		nulls[3] = 'n';
	mojob_spi_connect();
	check_not_in_job(job, resource);
	result = node_statement(&plan, sql, 4, argtypes, args, nulls, SPI_OK_INSERT_RETURNING, &found, mojob_catalog()->node_rel);
	mojob_spi_finish();
	return result;
}

/* mojob.add_pool_node(job, pool, alias, required_capabilities) RETURNS mojob.job_resource */
Datum
mojob_add_pool_node(PG_FUNCTION_ARGS)
{
	static MojobPlan plan;
	static MojobPlan pool_plan;
	static const char *sql =
		"INSERT INTO mojob.job_resource (job_id, pool_id, alias, required_capabilities) "
		"VALUES ($1, $2, $3, $4) RETURNING *";
	static const char *pool_sql = "SELECT FROM mojob.pool WHERE id = $1";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	int64		pool = mojob_arg_id(fcinfo, 1, "pool");
	Datum		caps = mojob_arg_datum(fcinfo, 3, "required_capabilities");
	Oid			argtypes[4] = {INT8OID, INT8OID, TEXTOID, TEXTARRAYOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		found;
	Datum		result;

	/* bounded before any work: each resolution's @> compares every name */
	{
		ArrayType  *a = DatumGetArrayTypeP(caps);
		int			n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));

		if (n > MOJOB_MAX_CAPABILITIES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("required_capabilities must not hold more than %d names", MOJOB_MAX_CAPABILITIES),
					 errdetail("It holds %d.", n),
					 errhint("Require only the capabilities the node needs.")));
	}
	if (array_contains_nulls(DatumGetArrayTypeP(caps)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("required_capabilities must not contain NULL")));
	args[0] = Int64GetDatum(job);
	args[1] = Int64GetDatum(pool);
	args[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	if (PG_ARGISNULL(2))
		nulls[2] = 'n';
	args[3] = caps;
	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&pool_plan, pool_sql, 1, &argtypes[1]), &args[1], NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.pool failed");
	if (SPI_processed == 0)
		mojob_not_found("pool", pool);
	result = node_statement(&plan, sql, 4, argtypes, args, nulls, SPI_OK_INSERT_RETURNING, &found, mojob_catalog()->node_rel);
	mojob_spi_finish();
	return result;
}

/* mojob.assign_node(node, resource) RETURNS mojob.job_resource */
Datum
mojob_assign_node(PG_FUNCTION_ARGS)
{
	static MojobPlan plan;
	static MojobPlan read_plan;
	static const char *sql =
		"UPDATE mojob.job_resource SET resource_id = $2 WHERE id = $1 RETURNING *";
	static const char *read_sql =
		"SELECT job_id FROM mojob.job_resource WHERE id = $1";
	int64		node = mojob_arg_id(fcinfo, 0, "node");
	int64		resource = mojob_arg_id(fcinfo, 1, "resource");
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(node), Int64GetDatum(resource)};
	bool		found;
	bool		isnull;
	Datum		result;

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job_resource failed");
	if (SPI_processed == 0)
		mojob_not_found("node", node);
	{
		int64		job = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		static MojobPlan same_plan;
		static const char *same_sql =
			"SELECT FROM mojob.job_resource WHERE id = $1 AND resource_id = $2";

		if (SPI_execute_plan(mojob_plan(&same_plan, same_sql, 2, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading mojob.job_resource failed");
		if (SPI_processed == 0)
			check_not_in_job(job, resource);
	}
	result = node_statement(&plan, sql, 2, argtypes, args, NULL, SPI_OK_UPDATE_RETURNING, &found, mojob_catalog()->node_rel);
	if (!found)
		mojob_not_found("node", node);
	mojob_spi_finish();
	return result;
}

static void
refuse_not_a_node(int64 job, int64 resource)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_FOUND),
			 errmsg("resource " INT64_FORMAT " is not a node of job " INT64_FORMAT, resource, job),
			 errdetail("No node of job " INT64_FORMAT " uses resource " INT64_FORMAT
					   " (another session may just have swapped or removed it).", job, resource),
			 errhint("SELECT * FROM mojob.job_resource WHERE job_id = " INT64_FORMAT " lists its nodes.", job)));
}

/*
 * The node of job serving resource, with its job's state, as this
 * statement's snapshot sees them.  The node may change before it is
 * written (another session swapping or removing the resource), so the
 * statements that write it name the resource again ("AND resource_id =")
 * and find no row if it no longer serves it.
 */
static int64
find_node(int64 job, int64 resource, MojobState *state)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT n.id, j.state FROM mojob.job j "
		"LEFT JOIN mojob.job_resource n ON n.job_id = j.id AND n.resource_id = $2 "
		"WHERE j.id = $1";
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(job), Int64GetDatum(resource)};
	bool		isnull;
	Datum		d;

	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job_resource failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	*state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
																 SPI_tuptable->tupdesc, 2, &isnull)));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		refuse_not_a_node(job, resource);
	return DatumGetInt64(d);
}

/*
 * mojob.remove_resource(job, resource): the job stops using the resource.
 * A running job keeps the node with its hold ended now.
 */
Datum
mojob_remove_resource(PG_FUNCTION_ARGS)
{
	static MojobPlan end_plan;
	static MojobPlan delete_plan;
	static const char *end_sql =
		"UPDATE mojob.job_resource SET held_until = now() "
		"WHERE id = $1 AND resource_id = $2 AND (held_from IS NULL OR held_from < now())";
	static const char *delete_sql = "DELETE FROM mojob.job_resource WHERE id = $1 AND resource_id = $2";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	int64		resource = mojob_arg_id(fcinfo, 1, "resource");
	MojobState	state;
	int64		node;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2];
	bool		found = false;

	mojob_spi_connect();
	node = find_node(job, resource, &state);
	args[0] = Int64GetDatum(node);
	args[1] = Int64GetDatum(resource);
	if (state == MJ_RUNNING)
		node_statement(&end_plan, end_sql, 2, argtypes, args, NULL, SPI_OK_UPDATE, &found, InvalidOid);
	if (!found)
		node_statement(&delete_plan, delete_sql, 2, argtypes, args, NULL, SPI_OK_DELETE, &found, InvalidOid);
	if (!found)
		refuse_not_a_node(job, resource);	/* swapped or removed meanwhile */
	mojob_spi_finish();
	PG_RETURN_VOID();
}

/*
 * mojob.swap_resource(job, old_resource, new_resource) RETURNS mojob.job:
 * the node of old_resource is filled by new_resource.  On a running job the
 * old resource is freed from now and the new one held from now.
 */
Datum
mojob_swap_resource(PG_FUNCTION_ARGS)
{
	static MojobPlan assign_plan;
	static MojobPlan end_plan;
	static MojobPlan add_plan;
	static MojobPlan job_plan;
	static MojobPlan unused_plan;
	static const char *assign_sql =
		"UPDATE mojob.job_resource SET resource_id = $2 WHERE id = $1 AND resource_id = $3";
	static const char *end_sql =
		"UPDATE mojob.job_resource SET held_until = now() "
		"WHERE id = $1 AND resource_id = $3 AND (held_from IS NULL OR held_from < now())";
	static const char *unused_sql =
		"DELETE FROM mojob.job_resource WHERE id = $1 AND resource_id = $3";
	static const char *add_sql =
		"INSERT INTO mojob.job_resource (job_id, resource_id, pool_id, alias, amount, "
		"required_capabilities, held_from) "
		"SELECT job_id, $2, pool_id, alias, amount, required_capabilities, now() "
		"FROM mojob.job_resource WHERE id = $1 AND resource_id = $3";
	static const char *job_sql = "SELECT * FROM mojob.job WHERE id = $1";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	int64		old_resource = mojob_arg_id(fcinfo, 1, "old_resource");
	int64		new_resource = mojob_arg_id(fcinfo, 2, "new_resource");
	MojobState	state;
	int64		node;
	Oid			argtypes[3] = {INT8OID, INT8OID, INT8OID};
	Datum		args[3];
	bool		found;
	Datum		result;

	mojob_spi_connect();
	node = find_node(job, old_resource, &state);
	if (old_resource == new_resource)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("old_resource and new_resource are the same")));
	check_not_in_job(job, new_resource);
	args[0] = Int64GetDatum(node);
	args[1] = Int64GetDatum(new_resource);
	args[2] = Int64GetDatum(old_resource);
	if (state == MJ_RUNNING)
	{
		node_statement(&add_plan, add_sql, 3, argtypes, args, NULL, SPI_OK_INSERT, &found, InvalidOid);
		if (found)
		{
			/* The old node ends now; one that was to start only now never held anything. */
			node_statement(&end_plan, end_sql, 3, argtypes, args, NULL, SPI_OK_UPDATE, &found, InvalidOid);
			if (!found)
				node_statement(&unused_plan, unused_sql, 3, argtypes, args, NULL, SPI_OK_DELETE, &found, InvalidOid);
		}
	}
	else
		node_statement(&assign_plan, assign_sql, 3, argtypes, args, NULL, SPI_OK_UPDATE, &found, InvalidOid);
	if (!found)
		refuse_not_a_node(job, old_resource);	/* swapped or removed meanwhile */

	args[0] = Int64GetDatum(job);
	result = node_statement(&job_plan, job_sql, 1, argtypes, args, NULL, SPI_OK_SELECT, &found, mojob_catalog()->job_rel);
	mojob_spi_finish();
	return result;
}

/* ---------------------------------------------------------------------
 * A job's window moves: the nodes' own windows move with it
 * ---------------------------------------------------------------------
 */

/* The node rows of a job, copied, as move_node_windows collects them. */
typedef struct NodeTuples
{
	HeapTuple  *tuples;
	int			n;
	int			max;
} NodeTuples;

static bool
collect_node_tuple(TupleTableSlot *slot, void *arg)
{
	NodeTuples *list = (NodeTuples *) arg;

	CHECK_FOR_INTERRUPTS();
	if (list->n == list->max)
	{
		list->max *= 2;
		list->tuples = repalloc(list->tuples, sizeof(HeapTuple) * list->max);
	}
	list->tuples[list->n++] = ExecCopySlotHeapTuple(slot);
	return true;
}

/*
 * The job's start moved by dfrom and its end by duntil (microseconds), in
 * a state whose window may still move (draft, tentative, confirmed): each
 * node with a window of its own keeps its place in the job -- held_from
 * its distance from start_at, held_until its distance from end_at -- rather
 * than the absolute instants it had, which would leave it holding
 * something else, or nothing.  Called by the guard on mojob.job while it
 * judges the job's row (the job is locked, and every node change locks it
 * first), so the nodes are written directly, as mojob writes bookings:
 * through the trigger, the node's touch of its job would update the row
 * being updated.  Only held_from and held_until change; their CHECK is
 * kept here (a node whose window would close is refused, 22023), and an
 * instant outside timestamptz's range is 22008.  Returns whether a node
 * moved.
 */
bool
mojob_move_node_windows(int64 job_id, const char *code, int64 dfrom, int64 duntil)
{
	const MojobCatalog *c = mojob_catalog();
	Relation	rel;
	const MojobNodeAttrs *a;
	NodeTuples	list;
	MojobInserter ins;
	TupleDesc	desc;
	bool		moved = false;

	if (dfrom == 0 && duntil == 0)
		return false;
	rel = table_open(c->node_rel, RowExclusiveLock);
	a = mojob_node_attrs(rel);
	desc = RelationGetDescr(rel);
	list.n = 0;
	list.max = 8;
	list.tuples = palloc(sizeof(HeapTuple) * list.max);
	CommandCounterIncrement();
	mojob_index_scan(c->node_rel, c->node_job_index, SnapshotSelf, 1, &job_id,
					 collect_node_tuple, &list);
	mojob_insert_begin(&ins, rel);
	for (int i = 0; i < list.n; i++)
	{
		Datum	   *v = ins.slot->tts_values;
		bool	   *isnull = ins.slot->tts_isnull;
#if PG_VERSION_NUM < 160000
		bool		update_indexes;
#endif
		TimestampTz from = 0,
					until = 0;

		CHECK_FOR_INTERRUPTS();
		ExecClearTuple(ins.slot);
		heap_deform_tuple(list.tuples[i], desc, v, isnull);
		if (isnull[a->held_from - 1] && isnull[a->held_until - 1])
			continue;
		/* An infinite bound stays infinite: it limits nothing wherever the job goes. */
		if (!isnull[a->held_from - 1])
		{
			from = DatumGetTimestampTz(v[a->held_from - 1]);
			if (!TIMESTAMP_NOT_FINITE(from))
				from = mojob_time_add(from, dfrom, "a node's held_from");
			v[a->held_from - 1] = TimestampTzGetDatum(from);
		}
		if (!isnull[a->held_until - 1])
		{
			until = DatumGetTimestampTz(v[a->held_until - 1]);
			if (!TIMESTAMP_NOT_FINITE(until))
				until = mojob_time_add(until, duntil, "a node's held_until");
			v[a->held_until - 1] = TimestampTzGetDatum(until);
		}
		if (!isnull[a->held_from - 1] && !isnull[a->held_until - 1] && from >= until)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("node " INT64_FORMAT " of job %s would hold nothing",
							DatumGetInt64(v[a->id - 1]), code),
					 errdetail("Its own window keeps its distance from the job's start and end, and the new window is too short for it (from %s to %s).",
							   mojob_timestamp_text(from), mojob_timestamp_text(until)),
					 errhint("Set the node's held_from and held_until to fit the new window first, or remove the node.")));
		ExecStoreVirtualTuple(ins.slot);
#if PG_VERSION_NUM >= 160000
		{
			TU_UpdateIndexes upd;

			simple_table_tuple_update(rel, &list.tuples[i]->t_self, ins.slot, GetLatestSnapshot(), &upd);
			if (upd != TU_None)
				ExecInsertIndexTuples(ins.rri, ins.slot, ins.estate, true, false, NULL, NIL,
									  upd == TU_Summarizing);
		}
#else
		simple_table_tuple_update(rel, &list.tuples[i]->t_self, ins.slot, GetLatestSnapshot(), &update_indexes);
		if (update_indexes)
			ExecInsertIndexTuples(ins.rri, ins.slot, ins.estate, true, false, NULL, NIL);
#endif
		ResetPerTupleExprContext(ins.estate);
		moved = true;
	}
	ExecClearTuple(ins.slot);
	mojob_insert_end(&ins);
	table_close(rel, NoLock);
	CommandCounterIncrement();
	return moved;
}
