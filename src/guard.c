/*
 * guard.c
 *		The trigger on mojob.job that enforces the life cycle for every writer.
 *
 * zz_mojob_guard runs BEFORE INSERT OR UPDATE OR DELETE ... FOR EACH ROW.
 * Its name sorts last, so it judges the row after any other BEFORE trigger
 * has had its say.  It checks the transition against the state graph
 * (state_graph.c), the edit and delete rules of the state, makes the
 * transition's side effects on the row itself (manual start, stop early,
 * cancel), and records history and NOTIFY (history.c).  A plain UPDATE of
 * the state column therefore behaves exactly like the function for it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "mojob.h"
#include "args.h"
#include "booking.h"
#include "scheduler.h"

PG_FUNCTION_INFO_V1(mojob_job_guard);
PG_FUNCTION_INFO_V1(mojob_next_id);

MojobRequest mojob_request = {false, 0, NULL, NULL};

/*
 * The jobs this transaction created: nobody else sees them yet.  A hash
 * table in the transaction's memory (a recurrence creates thousands at once),
 * gone when the transaction ends.
 */
static HTAB *new_jobs = NULL;

void
mojob_job_is_new_note(int64 job_id)
{
	if (new_jobs == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(int64);
		ctl.hcxt = TopTransactionContext;
		new_jobs = hash_create("mojob new jobs", 256, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	(void) hash_search(new_jobs, &job_id, HASH_ENTER, NULL);
}

bool
mojob_job_is_new(int64 job_id)
{
	return new_jobs != NULL && hash_search(new_jobs, &job_id, HASH_FIND, NULL) != NULL;
}

/* At the end of a transaction: its memory, and the table with it, is gone. */
void
mojob_job_is_new_reset(void)
{
	new_jobs = NULL;
}

MojobClock	mojob_clock = {false, 0, 0};

/* Values of mojob.settings that a new job needs. */
typedef struct MojobNewJobSettings
{
	MojobState	default_state;
	Datum		default_pre_roll;	/* Interval * */
	Datum		default_post_roll;	/* Interval * */
	char	   *code_pattern;
	Datum		lock_timeout;	/* Interval * */
} MojobNewJobSettings;

/*
 * A row of mojob.job, taken apart once (heap_deform_tuple) so that the
 * guard reads any column without walking the tuple again, and put together
 * once at the end (heap_form_tuple).
 */
typedef struct Row
{
	TupleDesc	desc;
	Datum	   *v;
	bool	   *n;
} Row;

static void
row_read(Row *r, HeapTuple tuple, TupleDesc desc)
{
	r->desc = desc;
	r->v = palloc(sizeof(Datum) * desc->natts);
	r->n = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(tuple, desc, r->v, r->n);
}

static void
row_set(Row *r, AttrNumber att, Datum value, bool isnull)
{
	r->v[att - 1] = value;
	r->n[att - 1] = isnull;
}

static HeapTuple
row_form(Row *r)
{
	return heap_form_tuple(r->desc, r->v, r->n);
}

static Datum
get_col(const Row *r, AttrNumber att, bool *isnull)
{
	*isnull = r->n[att - 1];
	return r->v[att - 1];
}

static TimestampTz
get_time(const Row *r, AttrNumber att)
{
	return r->n[att - 1] ? DT_NOBEGIN : DatumGetTimestampTz(r->v[att - 1]);
}

static char *
get_text(const Row *r, AttrNumber att)
{
	return r->n[att - 1] ? NULL : TextDatumGetCString(r->v[att - 1]);
}

static MojobState
get_state(const Row *r, AttrNumber att)
{
	if (r->n[att - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"state\" of relation \"job\" violates not-null constraint"),
				 errhint("A job's state is one of mojob.job_state; see mojob.state_transitions.")));
	return mojob_state_from_oid(DatumGetObjectId(r->v[att - 1]));
}

/*
 * The settings a new job needs, read directly from mojob.settings (one row;
 * a query per job would cost more than the rest of the check), as the
 * statement's snapshot sees it.
 */
static Datum
setting(TupleTableSlot *slot, AttrNumber att, const char *column)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("mojob.settings.%s is null", column),
				 errdetail("mojob needs a value for each setting."),
				 errhint("Set it: UPDATE mojob.settings SET %s = ...;", column)));
	return d;
}

static void
read_new_job_settings(MojobNewJobSettings *s)
{
	Oid			relid = mojob_catalog()->settings_rel;
	Relation	rel;
	TupleDesc	desc;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int			rows = 0;
	AttrNumber	att_default_state,
				att_default_pre_roll,
				att_default_post_roll,
				att_job_code_pattern,
				att_lock_timeout;

	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	att_default_state = mojob_column(desc, "settings", "default_state", mojob_catalog()->state_type);
	att_default_pre_roll = mojob_column(desc, "settings", "default_pre_roll", INTERVALOID);
	att_default_post_roll = mojob_column(desc, "settings", "default_post_roll", INTERVALOID);
	att_job_code_pattern = mojob_column(desc, "settings", "job_code_pattern", TEXTOID);
	att_lock_timeout = mojob_column(desc, "settings", "lock_timeout", INTERVALOID);
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		if (++rows > 1)
			break;
		s->default_state = mojob_state_from_oid(DatumGetObjectId(setting(slot, att_default_state, "default_state")));
		s->default_pre_roll = datumCopy(setting(slot, att_default_pre_roll, "default_pre_roll"),
										false, sizeof(Interval));
		s->default_post_roll = datumCopy(setting(slot, att_default_post_roll, "default_post_roll"),
										 false, sizeof(Interval));
		s->code_pattern = TextDatumGetCString(setting(slot, att_job_code_pattern, "job_code_pattern"));
		s->lock_timeout = datumCopy(setting(slot, att_lock_timeout, "lock_timeout"),
									false, sizeof(Interval));
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	if (rows != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mojob.settings must have exactly one row"),
				 errdetail("It has %s.", rows == 0 ? "none" : "more than one"),
				 errhint("Re-create the extension, or restore the row from a dump.")));
}

static TimestampTz
time_plus(TimestampTz t, Datum interval, bool minus)
{
	return DatumGetTimestampTz(DirectFunctionCall2(minus ? timestamptz_mi_interval : timestamptz_pl_interval,
												   TimestampTzGetDatum(t), interval));
}

static const char *
job_label(const Row *r, const MojobJobAttrs *a)
{
	char	   *code = get_text(r, a->code);

	return code ? code : "(new)";
}

/*
 * The four instants of the row as it will be written: each inside the
 * range of timestamptz (22008), so that every row can be read back and
 * dumped whatever computed it.
 */
static void
check_instants(const Row *r, const MojobJobAttrs *a)
{
	if (!r->n[a->pre_roll_start - 1])
		mojob_check_instant(DatumGetTimestampTz(r->v[a->pre_roll_start - 1]), "pre_roll_start");
	if (!r->n[a->start_at - 1])
		mojob_check_instant(DatumGetTimestampTz(r->v[a->start_at - 1]), "start_at");
	if (!r->n[a->end_at - 1])
		mojob_check_instant(DatumGetTimestampTz(r->v[a->end_at - 1]), "end_at");
	if (!r->n[a->post_roll_end - 1])
		mojob_check_instant(DatumGetTimestampTz(r->v[a->post_roll_end - 1]), "post_roll_end");
}

/* ---------------------------------------------------------------------
 * Ids are mojob's
 * ---------------------------------------------------------------------
 *
 * A non-owner's insert cannot choose the id of a job or a node: an id
 * planted above the sequence would make the insert that the sequence later
 * gives it to fail, and one given history first would fail for good.  The
 * ids' column default, mojob.next_id(sequence), notes each id it issues in
 * this backend; the guard accepts a non-owner's id only if it is one of
 * those, just issued and not yet used.  A default is evaluated for a row
 * just before that row's BEFORE triggers fire (INSERT ... VALUES, ...
 * SELECT, COPY alike), so a few notes suffice; a few more allow for a
 * default of a site's column that itself inserts a job.
 */
#define MAX_ISSUED_IDS 8

typedef struct IssuedId
{
	Oid			seq;
	int64		id;
} IssuedId;

static IssuedId issued_ids[MAX_ISSUED_IDS];
static int	n_issued_ids = 0;

/* mojob.next_id(seq regclass) RETURNS bigint: nextval, noted (see above). */
Datum
mojob_next_id(PG_FUNCTION_ARGS)
{
	Oid			seq = DatumGetObjectId(mojob_arg_datum(fcinfo, 0, "seq"));
	int64		id;

	if (get_rel_relkind(seq) != RELKIND_SEQUENCE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("seq must be a sequence"),
				 errdetail("Relation %u is not a sequence.", seq),
				 errhint("Pass the sequence of the ids, as in mojob.next_id('mojob.job_id_seq').")));
	id = nextval_internal(seq, true);

	if (n_issued_ids == MAX_ISSUED_IDS)
	{
		memmove(&issued_ids[0], &issued_ids[1], sizeof(IssuedId) * (MAX_ISSUED_IDS - 1));
		n_issued_ids--;
	}
	issued_ids[n_issued_ids].seq = seq;
	issued_ids[n_issued_ids].id = id;
	n_issued_ids++;
	PG_RETURN_INT64(id);
}

/* Was id just issued by mojob.next_id(seq)?  Then it is used now. */
bool
mojob_take_issued_id(Oid seq, int64 id)
{
	for (int i = n_issued_ids - 1; i >= 0; i--)
		if (issued_ids[i].id == id && issued_ids[i].seq == seq)
		{
			memmove(&issued_ids[i], &issued_ids[i + 1], sizeof(IssuedId) * (n_issued_ids - i - 1));
			n_issued_ids--;
			return true;
		}
	return false;
}

/* At the end of a transaction: ids not used by then are not "just issued". */
void
mojob_issued_ids_reset(void)
{
	n_issued_ids = 0;
}

/* Is expr a call of function fn (of schema nsp) with the one argument seq (a regclass)? */
static bool
is_call_of(Node *expr, const char *fn, Oid nsp, Oid seq)
{
	FuncExpr   *f;
	Node	   *arg;
	char	   *name;

	if (expr == NULL || !IsA(expr, FuncExpr))
		return false;
	f = (FuncExpr *) expr;
	if (list_length(f->args) != 1)
		return false;
	arg = linitial(f->args);
	if (!IsA(arg, Const) || ((Const *) arg)->constisnull ||
		((Const *) arg)->consttype != REGCLASSOID ||
		DatumGetObjectId(((Const *) arg)->constvalue) != seq)
		return false;
	name = get_func_name(f->funcid);
	return name != NULL && strcmp(name, fn) == 0 && get_func_namespace(f->funcid) == nsp;
}

/*
 * How the ids of rel (mojob.job or mojob.job_resource) are given: by the
 * default of its id column att, from sequence seq (cached with the
 * table's column numbers, until the table changes).
 */
MojobIdRule
mojob_id_rule(Relation rel, AttrNumber att, Oid seq)
{
	Node	   *def = build_column_default(rel, att);
	Oid			regclass = REGCLASSOID;
	oidvector  *args;

	if (is_call_of(def, "next_id", mojob_catalog()->namespace, seq))
		return MJ_ID_NEXT_ID;
	args = buildoidvector(&regclass, 1);
	if (is_call_of(def, "nextval", PG_CATALOG_NAMESPACE, seq) &&
		!SearchSysCacheExists3(PROCNAMEARGSNSP, CStringGetDatum("next_id"), PointerGetDatum(args),
							   ObjectIdGetDatum(mojob_catalog()->namespace)))
		return MJ_ID_LEGACY;
	return MJ_ID_OTHER;
}

/* A callback: does the row exist (the dirty snapshot sees it)? */
static bool
row_seen(TupleTableSlot *slot, void *arg)
{
	return false;
}

/*
 * A non-owner's insert into mojob.job or mojob.job_resource (rel) gives id
 * in column att, and mojob.next_id() did not just issue it.  A row of that
 * id that exists makes the insert a conflict, its own matter (23505, or
 * nothing with ON CONFLICT DO NOTHING); any other is refused (42501),
 * saying so if the column's default (rule) is no longer mojob.next_id().
 */
void
mojob_check_chosen_id(Relation rel, AttrNumber att, int64 id, MojobIdRule rule)
{
	const MojobCatalog *c = mojob_catalog();
	bool		job = RelationGetRelid(rel) == c->job_rel;
	const char *table = job ? "mojob.job" : "mojob.job_resource";
	const char *seqname = job ? "mojob.job_id_seq" : "mojob.job_resource_id_seq";
	SnapshotData dirty;

	/* As committed now, or being written (whatever this transaction's snapshot). */
	InitDirtySnapshot(dirty);
	if (mojob_index_scan(RelationGetRelid(rel), job ? c->job_pkey : c->node_pkey, &dirty, 1, &id,
						 row_seen, NULL) > 0)
		return;
	if (rule == MJ_ID_NEXT_ID)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of %s can choose the id of a new row", table),
				 errdetail("The insert gives id " INT64_FORMAT ", which mojob.next_id('%s'), the column's default, did not just issue; an id chosen by hand could take the one the sequence gives another insert later.",
						   id, seqname),
				 errhint("Leave id out of the insert (or write DEFAULT), and read the new id with RETURNING id."),
				 errtablecol(rel, att)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("only the owner of %s can choose the id of a new row", table),
			 errdetail("The default of %s.id is not mojob.next_id('%s'), so the id " INT64_FORMAT " cannot be told from one chosen by hand.",
					   table, seqname, id),
			 errhint("The owner may restore it: ALTER TABLE %s ALTER COLUMN id SET DEFAULT mojob.next_id('%s').",
					 table, seqname),
			 errtablecol(rel, att)));
}

/* ---------------------------------------------------------------------
 * INSERT
 * ---------------------------------------------------------------------
 */
static HeapTuple
guard_insert(TriggerData *td, const MojobJobAttrs *a)
{
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	Row			row;
	bool		privileged = mojob_is_privileged(RelationGetRelid(rel));
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	MojobNewJobSettings s;
	bool		isnull;
	MojobState	state;
	Datum		d;
	const char *actor = mojob_actor();

	read_new_job_settings(&s);
	row_read(&row, td->tg_trigtuple, desc);

	d = get_col(&row, a->state, &isnull);
	state = isnull ? s.default_state : mojob_state_from_oid(DatumGetObjectId(d));
	if (isnull)
		row_set(&row, a->state, mojob_state_datum(state), false);

	if (!mojob_states[state].initial && !privileged)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("a job cannot be created in state %s", mojob_states[state].name),
				 errdetail("New jobs start in draft or tentative; only the owner of mojob.job can insert jobs in other states (to restore a dump)."),
				 errhint("Create the job in draft or tentative, then move it with mojob.reserve(), mojob.confirm() and mojob.start().")));

	/* The rolls: the window defaults to the settings' pre- and post-roll. */
	{
		bool		start_null,
					end_null;
		Datum		start = get_col(&row, a->start_at, &start_null);
		Datum		end = get_col(&row, a->end_at, &end_null);

		get_col(&row, a->pre_roll_start, &isnull);
		if (isnull && !start_null && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(start)))
			row_set(&row, a->pre_roll_start,
					   TimestampTzGetDatum(time_plus(DatumGetTimestampTz(start), s.default_pre_roll, true)),
					   false);
		get_col(&row, a->post_roll_end, &isnull);
		if (isnull && !end_null && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(end)))
			row_set(&row, a->post_roll_end,
					   TimestampTzGetDatum(time_plus(DatumGetTimestampTz(end), s.default_post_roll, false)),
					   false);
	}

	/*
	 * What mojob manages.  A privileged insert (a restore) keeps what it
	 * supplies and only fills what is missing.
	 */
	get_col(&row, a->code, &isnull);
	if (isnull || !privileged)
	{
		Oid			seq = mojob_catalog()->code_seq;
		int64		n = nextval_internal(seq, false);

		row_set(&row, a->code,
				   CStringGetTextDatum(mojob_format_code(s.code_pattern, n, now)),
				   false);
	}
	get_col(&row, a->created_by, &isnull);
	if (isnull || !privileged)
		row_set(&row, a->created_by, CStringGetTextDatum(actor), false);
	get_col(&row, a->created_at, &isnull);
	if (isnull || !privileged)
		row_set(&row, a->created_at, TimestampTzGetDatum(now), false);
	get_col(&row, a->updated_at, &isnull);
	if (isnull || !privileged)
		row_set(&row, a->updated_at, TimestampTzGetDatum(now), false);
	get_col(&row, a->version, &isnull);
	if (isnull || !privileged)
		row_set(&row, a->version, Int64GetDatum(1), false);
	if (!privileged)
	{
		row_set(&row, a->canceled_at, (Datum) 0, true);
		row_set(&row, a->cancel_reason, (Datum) 0, true);
		row_set(&row, a->locked_by, (Datum) 0, true);
		row_set(&row, a->locked_until, (Datum) 0, true);
	}

	get_col(&row, a->id, &isnull);
	if (!isnull)
	{
		int64		id = DatumGetInt64(get_col(&row, a->id, &isnull));

		/*
		 * An id mojob.next_id() just issued is new: no other row has it,
		 * nor had it.  Only the owner may give another (a restore).
		 */
		if (!mojob_take_issued_id(mojob_catalog()->job_seq, id) && !privileged)
		{
			const MojobCatalog *c = mojob_catalog();
			ItemPointerData tid;
			SnapshotData dirty;

			/*
			 * History outlives jobs: an id given again would inherit a
			 * deleted job's history.  History as committed now (whatever
			 * this transaction's snapshot); a job of that id still there,
			 * not being deleted, makes the insert a conflict, its own
			 * matter (ON CONFLICT DO NOTHING).  Only for an id given by
			 * hand: one index probe, ≈ 1.2 µs a row.
			 */
			InitDirtySnapshot(dirty);
			if (mojob_index_scan(c->event_rel, c->event_job_index, GetLatestSnapshot(), 1, &id,
								 mojob_tid_of_first, &tid) > 0 &&
				(mojob_index_scan(c->job_rel, c->job_pkey, &dirty, 1, &id, mojob_tid_of_first, &tid) == 0 ||
				 TransactionIdIsValid(dirty.xmax)))
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("job id " INT64_FORMAT " was used by a deleted job", id),
						 errdetail("Its history is kept in mojob.job_event, and would read as the new job's."),
						 errhint("Insert the job without an id: mojob.next_id('mojob.job_id_seq') gives one.")));
			/* A database not yet updated to 1.1 keeps the 1.0 rules. */
			if (a->id_rule != MJ_ID_LEGACY)
				mojob_check_chosen_id(rel, a->id, id, a->id_rule);
		}
		mojob_job_is_new_note(id);
	}
	check_instants(&row, a);

	/*
	 * A job inserted confirmed or running (by the owner: a restore's INSERT
	 * or COPY) is due at a time: it wakes the scheduler at commit, as an
	 * update making it due would.
	 */
	if (state == MJ_CONFIRMED || state == MJ_RUNNING)
	{
		Datum		due = get_col(&row, state == MJ_CONFIRMED ? a->start_at : a->end_at, &isnull);

		if (!isnull)
			mojob_scheduler_note_due(DatumGetTimestampTz(due));
	}
	return row_form(&row);
}

/* ---------------------------------------------------------------------
 * UPDATE
 * ---------------------------------------------------------------------
 */

/* Is column att unchanged between the old and the new row? */
static bool
col_unchanged(const Row *o, const Row *nw, AttrNumber att)
{
	Form_pg_attribute attr = TupleDescAttr(o->desc, att - 1);

	if (o->n[att - 1] || nw->n[att - 1])
		return o->n[att - 1] == nw->n[att - 1];
	return datum_image_eq(o->v[att - 1], nw->v[att - 1], attr->attbyval, attr->attlen);
}

static bool
is_metadata(const MojobJobAttrs *a, AttrNumber att)
{
	return att == a->name || att == a->description || att == a->priority ||
		att == a->owner || att == a->properties;
}

static void
refuse_edit(const Row *o, const MojobJobAttrs *a,
			MojobState state, const char *column, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
			 errmsg("column %s of %s job %s cannot be changed",
					column, mojob_states[state].name, job_label(o, a)),
			 errdetail("%s", why),
			 errhint("%s", hint)));
}

/*
 * The edit rules of the state the job is in (docs/design.md section 1): refuse
 * any change the state does not allow.  "transition" is the state the
 * same statement moves the job to, or -1.
 */
static void
check_edit(const Row *o, const Row *nw, const MojobJobAttrs *a,
		   MojobState state, int transition, TimestampTz now)
{
	TupleDesc	desc = o->desc;
	MojobEditRule rule = mojob_states[state].edit;

	/* The job's identity never changes, in any state. */
	if (!col_unchanged(o, nw, a->id))
		refuse_edit(o, a, state, "id", "A job's id never changes.",
					"Create a new job with mojob.create_job() or mojob.duplicate().");
	if (!col_unchanged(o, nw, a->code))
		refuse_edit(o, a, state, "code", "A job's code is given when it is created and never changes.",
					"Use name for the title an operator sees.");
	if (!col_unchanged(o, nw, a->created_at))
		refuse_edit(o, a, state, "created_at", "created_at records when the job was created.",
					"Leave created_at and created_by as mojob set them.");
	if (!col_unchanged(o, nw, a->created_by))
		refuse_edit(o, a, state, "created_by", "created_by records who created the job.",
					"Leave created_at and created_by as mojob set them.");

	/* canceled_at and cancel_reason are written by the cancel transition. */
	if (transition != MJ_CANCELED)
	{
		if (!col_unchanged(o, nw, a->cancel_reason))
			refuse_edit(o, a, state, "cancel_reason",
						"The cancel reason is given when the job is canceled.",
						"Use mojob.cancel(job, reason).");
		if (!col_unchanged(o, nw, a->canceled_at))
			refuse_edit(o, a, state, "canceled_at",
						"canceled_at records when the job was canceled.",
						"Use mojob.cancel(job, reason).");
	}

	if (rule == MJ_EDIT_ALL)
		return;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		AttrNumber	att = attr->attnum;

		if (attr->attisdropped)
			continue;
		/* written by mojob: checked above, or overwritten below */
		if (att == a->state || att == a->version || att == a->updated_at ||
			att == a->id || att == a->code || att == a->created_at ||
			att == a->created_by || att == a->canceled_at || att == a->cancel_reason)
			continue;
		if (col_unchanged(o, nw, att))
			continue;

		/* A lock on a read-only job can still be released. */
		if (rule == MJ_EDIT_NOTHING &&
			(att == a->locked_by || att == a->locked_until))
		{
			if (nw->n[att - 1])
				continue;
		}
		if (rule == MJ_EDIT_NOTHING)
			refuse_edit(o, a, state, NameStr(attr->attname),
						"A canceled job is read-only.",
						"Create a new job with mojob.duplicate(), or delete this one with mojob.delete_job().");
		if (is_metadata(a, att) || att == a->locked_by || att == a->locked_until)
			continue;
		if (rule == MJ_EDIT_RUNNING && (att == a->end_at || att == a->post_roll_end))
		{
			TimestampTz t = get_time(nw, att);

			if (t <= now)
				ereport(ERROR,
						(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
						 errmsg("%s of running job %s must be in the future",
								NameStr(attr->attname), job_label(o, a)),
						 errdetail("The new %s is %s; now is %s.", NameStr(attr->attname),
								   mojob_timestamp_text(t), mojob_timestamp_text(now)),
						 errhint("To end the job now, use mojob.stop(job).")));
			continue;
		}
		if (rule == MJ_EDIT_RUNNING)
			refuse_edit(o, a, state, NameStr(attr->attname),
						"A running job may change its end_at and post_roll_end (to future instants) and its metadata "
						"(name, description, priority, owner, properties) only.",
						"To end the job now, use mojob.stop(job).");
		refuse_edit(o, a, state, NameStr(attr->attname),
					"A completed job may change its metadata (name, description, priority, owner, properties) only.",
					"Create a new job with mojob.duplicate() to run it again.");
	}
}

static void
refuse_transition(const Row *o, const MojobJobAttrs *a,
				  MojobState from, MojobState to)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_TRANSITION),
			 errmsg("job %s cannot go from %s to %s",
					job_label(o, a), mojob_states[from].name, mojob_states[to].name),
			 errdetail("%s", mojob_successors_text(from)),
			 errhint("SELECT * FROM mojob.state_transitions shows every allowed transition.")));
}

/*
 * Refuse a change (MJ004) if holder, not the acting user, holds the job's
 * edit lock until a time still ahead.  Time transitions are never refused.
 */
void
mojob_refuse_locked(const char *code, const char *holder, TimestampTz until)
{
	const char *actor;

	if (holder == NULL || mojob_clock.active || until <= GetCurrentTransactionStartTimestamp())
		return;
	actor = mojob_actor();
	if (strcmp(holder, actor) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_LOCKED),
			 errmsg("job %s is locked by %s", code, holder),
			 errdetail("%s holds its edit lock until %s; %s may not change it meanwhile.",
					   holder, mojob_timestamp_text(until), actor),
			 errhint("Wait for %s to unlock it; a user who may edit the job can take the lock over with "
					 "mojob.lock_job(job, force => true). Starting and stopping a job need no lock.",
					 holder)));
}

/*
 * Edit locks (docs/design.md section 6): while another user holds the job's
 * lock, any change by this user is refused (MJ004) -- except taking the
 * lock over (a change of locked_by/locked_until alone, to this user), which
 * is what mojob.lock_job(job, force => true) does.  Time transitions are
 * never blocked.
 */
static void
check_edit_lock(const Row *o, const Row *nw, const MojobJobAttrs *a,
				TimestampTz now, bool takeover_allowed)
{
	TupleDesc	desc = o->desc;
	char	   *holder;
	const char *actor;

	if (o->n[a->locked_by - 1] || mojob_clock.active ||
		get_time(o, a->locked_until) <= now)
		return;
	holder = get_text(o, a->locked_by);
	actor = mojob_actor();
	if (strcmp(holder, actor) == 0)
		return;
	if (takeover_allowed && nw != NULL)
	{
		char	   *new_holder = get_text(nw, a->locked_by);
		bool		only_lock = true;

		for (int i = 0; i < desc->natts && only_lock; i++)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, i);

			if (attr->attisdropped || attr->attnum == a->locked_by ||
				attr->attnum == a->locked_until || attr->attnum == a->version ||
				attr->attnum == a->updated_at)
				continue;
			only_lock = col_unchanged(o, nw, attr->attnum);
		}
		if (only_lock && new_holder != NULL && strcmp(new_holder, actor) == 0)
			return;
	}
	mojob_refuse_locked(get_text(o, a->code), holder, get_time(o, a->locked_until));
}

/*
 * Is the change a start (confirmed -> running) or a stop (running ->
 * completed) and nothing else?  What the guard itself writes (the times of
 * a manual start or stop, version, updated_at) is not the user's change.
 */
static bool
is_start_or_stop(const Row *o, const Row *nw, const MojobJobAttrs *a,
				 MojobState from, MojobState to)
{
	TupleDesc	desc = o->desc;

	if (!((from == MJ_CONFIRMED && to == MJ_RUNNING) ||
		  (from == MJ_RUNNING && to == MJ_COMPLETED)))
		return false;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (attr->attisdropped || attr->attnum == a->state ||
			attr->attnum == a->version || attr->attnum == a->updated_at)
			continue;
		if (!col_unchanged(o, nw, attr->attnum))
			return false;
	}
	return true;
}

/*
 * A change of the edit lock by a plain UPDATE (mojob.lock_job and
 * unlock_job make one too): the holder is the acting user, and the lock
 * lapses within settings.lock_timeout (docs/design.md section 6).  Only the
 * owner may write other values (a restore, a repair).
 */
static void
check_lock_columns(const Row *nw, const MojobJobAttrs *a, TimestampTz now, const char *code)
{
	bool		no_holder = nw->n[a->locked_by - 1];
	bool		no_until = nw->n[a->locked_until - 1];
	const char *actor = mojob_actor();
	MojobNewJobSettings s;
	TimestampTz limit;

	if (no_holder && no_until)
		return;
	if (no_holder != no_until)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
				 errmsg("the edit lock of job %s needs both locked_by and locked_until, or neither", code),
				 errdetail("The change would leave %s NULL.", no_holder ? "locked_by" : "locked_until"),
				 errhint("Use mojob.lock_job(job) and mojob.unlock_job(job).")));
	if (strcmp(get_text(nw, a->locked_by), actor) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
				 errmsg("the edit lock of job %s can be given to the acting user only", code),
				 errdetail("locked_by would be \"%s\"; the acting user is \"%s\".", get_text(nw, a->locked_by), actor),
				 errhint("Use mojob.lock_job(job); the acting user is mojob.actor, else session_user.")));
	read_new_job_settings(&s);
	limit = time_plus(now, s.lock_timeout, false);
	if (get_time(nw, a->locked_until) > limit)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
				 errmsg("the edit lock of job %s can last settings.lock_timeout at most", code),
				 errdetail("locked_until would be %s; the lock may last until %s.",
						   mojob_timestamp_text(get_time(nw, a->locked_until)), mojob_timestamp_text(limit)),
				 errhint("Use mojob.lock_job(job), and again to keep the lock longer.")));
}

static HeapTuple
guard_update(TriggerData *td, const MojobJobAttrs *a)
{
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	Row			or,
				nr;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	MojobState	from,
				to,
				final;
	int64		job_id;
	bool		isnull;
	TimestampTz start_at,
				end_at,
				pre_roll_start,
				post_roll_end,
				old_pre,
				old_post;
	char	   *code;
	int64		version;

	row_read(&or, td->tg_trigtuple, desc);
	row_read(&nr, td->tg_newtuple, desc);
	from = get_state(&or, a->state);
	to = get_state(&nr, a->state);
	final = to;
	start_at = get_time(&nr, a->start_at);
	end_at = get_time(&nr, a->end_at);
	pre_roll_start = get_time(&nr, a->pre_roll_start);
	post_roll_end = get_time(&nr, a->post_roll_end);
	old_pre = get_time(&or, a->pre_roll_start);
	old_post = get_time(&or, a->post_roll_end);
	code = get_text(&or, a->code);
	job_id = DatumGetInt64(get_col(&or, a->id, &isnull));
	/*
	 * A restore adding the nodes of a locked job leaves its lock as dumped.
	 * Starting and stopping a job are not edits: a live show must always be
	 * startable and stoppable, whoever holds its edit lock.
	 */
	if (!(mojob_touch.active && mojob_touch.job_id == job_id && mojob_touch.restore) &&
		!is_start_or_stop(&or, &nr, a, from, to))
		check_edit_lock(&or, &nr, a, now, from == to);
	if ((!col_unchanged(&or, &nr, a->locked_by) || !col_unchanged(&or, &nr, a->locked_until)) &&
		!mojob_is_privileged(RelationGetRelid(rel)))
		check_lock_columns(&nr, a, now, code);

	/* A transition function asks for its own edge, and no other. */
	if (mojob_request.active && mojob_request.job_id == job_id)
	{
		const MojobEdge *e = mojob_find_action(from, mojob_request.action);

		if (e == NULL && from == to)
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_TRANSITION),
					 errmsg("job %s is already %s", code, mojob_states[to].name),
					 errdetail("%s", mojob_successors_text(from)),
					 errhint("SELECT * FROM mojob.state_transitions shows every allowed transition.")));
		if (e == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_MOJOB_TRANSITION),
					 errmsg("job %s is %s, and %s applies only to %s jobs",
							code, mojob_states[from].name, mojob_request.function,
							mojob_action_sources_text(mojob_request.action)),
					 errdetail("%s", mojob_successors_text(from)),
					 errhint("SELECT * FROM mojob.state_transitions shows every allowed transition.")));
		Assert(e->to == to);
	}

	if (from == to)
	{
		check_edit(&or, &nr, a, from, -1, now);

		/* A node changed: the job row itself stays as it is. */
		if (mojob_touch.active && mojob_touch.job_id == job_id)
			return td->tg_newtuple;
	}
	else
	{
		MojobCause	cause = mojob_clock.active ? MJ_CAUSE_TIME : MJ_CAUSE_USER;
		TimestampTz ref;
		int			made = 1;

		if (mojob_find_edge(from, to, cause) == NULL)
			refuse_transition(&or, a, from, to);
		check_edit(&or, &nr, a, from, to, now);

		if (cause == MJ_CAUSE_TIME)
		{
			/* Time moves a job only when it is due. */
			TimestampTz due = (from == MJ_CONFIRMED) ? start_at : end_at;

			if (due > mojob_clock.at)
				ereport(ERROR,
						(errcode(ERRCODE_MOJOB_TRANSITION),
						 errmsg("job %s is not due to go from %s to %s",
								code, mojob_states[from].name, mojob_states[to].name),
						 errdetail("It is due at %s, after %s.", mojob_timestamp_text(due),
								   mojob_timestamp_text(mojob_clock.at)),
						 errhint("Use mojob.start(job) or mojob.stop(job) to do it by hand.")));
		}
		else if (to == MJ_RUNNING)
		{
			/* Manual start: the job starts now, its pre-roll at the latest now. */
			if (now < start_at)
			{
				start_at = now;
				if (now < pre_roll_start)
					pre_roll_start = now;
				row_set(&nr, a->start_at, TimestampTzGetDatum(start_at), false);
				row_set(&nr, a->pre_roll_start, TimestampTzGetDatum(pre_roll_start), false);
			}
		}
		else if (to == MJ_COMPLETED)
		{
			/* Stop early: the job ends now; its post-roll keeps its length. */
			if (now <= start_at)
				ereport(ERROR,
						(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
						 errmsg("running job %s cannot be stopped before its start", code),
						 errdetail("It starts at %s; now is %s.", mojob_timestamp_text(start_at),
								   mojob_timestamp_text(now)),
						 errhint("Stop it after its start, or let mojob.advance() complete it at its end.")));
			if (now < end_at)
			{
				post_roll_end = mojob_time_add(now, mojob_time_diff(post_roll_end, end_at, "the job's post-roll"),
											   "post_roll_end");
				end_at = now;
				row_set(&nr, a->end_at, TimestampTzGetDatum(end_at), false);
				row_set(&nr, a->post_roll_end, TimestampTzGetDatum(post_roll_end), false);
			}
		}
		else if (to == MJ_CANCELED)
		{
			Oid			relid = RelationGetRelid(td->tg_relation);

			/*
			 * A cancellation writes canceled_at and cancel_reason: a role
			 * that may not write cancel_reason (one granted UPDATE (state)
			 * alone) may not cancel by setting the state either.
			 */
			if (pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK &&
				pg_attribute_aclcheck(relid, a->cancel_reason, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to cancel job %s", code),
						 errdetail("A cancellation writes cancel_reason, which role \"%s\" may not update.",
								   GetUserNameFromId(GetUserId(), false)),
						 errhint("Cancel as a role that may (mojob.cancel(job, reason)), or GRANT UPDATE (cancel_reason) ON mojob.job.")));
			/* A canceled job is read-only: nobody is editing it any more. */
			row_set(&nr, a->canceled_at, TimestampTzGetDatum(now), false);
			row_set(&nr, a->locked_by, (Datum) 0, true);
			row_set(&nr, a->locked_until, (Datum) 0, true);
		}

		/* Confirming needs every node resolved: checked at the statement's end. */
		if (to == MJ_CONFIRMED)
			mojob_confirm_check_later(job_id);

		mojob_history_record(job_id, code, from, to, cause,
							 to == MJ_CANCELED ? get_text(&nr, a->cancel_reason) : NULL);

		/*
		 * What time would do at once: a job confirmed or started after its
		 * start runs, and one whose end has also passed completes.
		 */
		ref = cause == MJ_CAUSE_TIME ? mojob_clock.at : now;
		if (final == MJ_CONFIRMED && start_at <= ref)
		{
			mojob_history_record(job_id, code, final, MJ_RUNNING, MJ_CAUSE_TIME, NULL);
			final = MJ_RUNNING;
			made++;
		}
		if (final == MJ_RUNNING && end_at <= ref)
		{
			mojob_history_record(job_id, code, final, MJ_COMPLETED, MJ_CAUSE_TIME, NULL);
			final = MJ_COMPLETED;
			made++;
		}
		if (final != to)
			row_set(&nr, a->state, mojob_state_datum(final), false);
		if (mojob_clock.active)
			mojob_clock.transitions += made;
	}

	/* A job newly due at a time wakes the scheduler, at commit. */
	if (final == MJ_CONFIRMED && (from != final || start_at != get_time(&or, a->start_at)))
		mojob_scheduler_note_due(start_at);
	else if (final == MJ_RUNNING && (from != final || end_at != get_time(&or, a->end_at)))
		mojob_scheduler_note_due(end_at);

	/*
	 * The bookings follow the job's state and window.  A completed job keeps
	 * its bookings as the record of what it used; the checks count them only
	 * until its post-roll ends.
	 */
	{
		bool		was_holding = mojob_states[from].holds;
		bool		holding = mojob_states[final].holds;
		bool		nodes_moved = false;
		TimestampTz old_start = get_time(&or, a->start_at);
		TimestampTz old_end = get_time(&or, a->end_at);

		/*
		 * A job moved before it started: the nodes' own windows move with
		 * it (a node keeping its absolute instants would hold something
		 * else, or nothing).  Once it runs, they are the record of swaps.
		 */
		if (from == final &&
			(from == MJ_DRAFT || from == MJ_TENTATIVE || from == MJ_CONFIRMED) &&
			(old_start != start_at || old_end != end_at))
			nodes_moved = mojob_move_node_windows(job_id, code,
												  mojob_time_diff(start_at, old_start, "the move of start_at"),
												  mojob_time_diff(end_at, old_end, "the move of end_at"));

		if (was_holding != holding || (holding && nodes_moved) ||
			(holding && (old_pre != pre_roll_start || old_post != post_roll_end)))
			mojob_job_bookings_changed(job_id, code, was_holding, old_pre, old_post,
									   holding, pre_roll_start, post_roll_end,
									   final == MJ_TENTATIVE || final == MJ_CONFIRMED, nodes_moved);
	}

	check_instants(&nr, a);
	version = DatumGetInt64(get_col(&or, a->version, &isnull));
	row_set(&nr, a->version, Int64GetDatum(version + 1), false);
	row_set(&nr, a->updated_at, TimestampTzGetDatum(now), false);
	return row_form(&nr);
}

/* ---------------------------------------------------------------------
 * DELETE
 * ---------------------------------------------------------------------
 */
static HeapTuple
guard_delete(TriggerData *td, const MojobJobAttrs *a)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	Row			or;
	MojobState	state;

	row_read(&or, td->tg_trigtuple, desc);
	state = get_state(&or, a->state);
	check_edit_lock(&or, NULL, a, GetCurrentTransactionStartTimestamp(), false);
	if (!mojob_states[state].deletable)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_DELETABLE),
				 errmsg("%s job %s cannot be deleted", mojob_states[state].name,
						job_label(&or, a)),
				 errdetail("Only draft, completed and canceled jobs can be deleted; it holds its resources while %s.",
						   mojob_states[state].name),
				 errhint("%s", state == MJ_RUNNING
						 ? "Stop it first with mojob.stop(job); a completed job can be deleted."
						 : "Cancel it first with mojob.cancel(job, reason); a canceled job can be deleted.")));

	/* A completed job's tear-down holds its resources until it ends. */
	if (state == MJ_COMPLETED &&
		get_time(&or, a->post_roll_end) > GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_DELETABLE),
				 errmsg("completed job %s cannot be deleted during its post-roll", job_label(&or, a)),
				 errdetail("Its tear-down holds its resources until %s.",
						   mojob_timestamp_text(get_time(&or, a->post_roll_end))),
				 errhint("Delete it once its post-roll has ended.")));

	/* A deleted instance of a recurrence takes its conflict record along. */
	if (!or.n[a->recurrence_id - 1])
	{
		static MojobPlan plan;
		static const char *sql = "DELETE FROM mojob.recurrence_conflict WHERE job_id = $1";
		Oid			argtypes[1] = {INT8OID};
		Datum		args[1];
		bool		isnull;

		args[0] = get_col(&or, a->id, &isnull);
		mojob_spi_connect_owner();
		if (SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "deleting from mojob.recurrence_conflict failed");
		mojob_spi_finish();
	}
	return td->tg_trigtuple;
}

/* ---------------------------------------------------------------------
 * The row as finally written
 * ---------------------------------------------------------------------
 */

/*
 * A row a guard (this file's, or the node guard) approved while a BEFORE
 * ROW trigger of the site's fires after it (its name sorts after the
 * guard's: "zz_site", "zzz", "überprüfung"): what that trigger does to the
 * row, the guard never saw.  mojob.guard_recheck(), AFTER ROW, compares
 * the row as written with the one approved; what is left unmatched at the
 * end of the statement was skipped or given another id.  Either is
 * refused.  Without such a trigger nothing is kept, and the AFTER trigger
 * is not even queued (its WHEN asks mojob.guard_pending()).
 */
typedef struct Approved
{
	Oid			relid;
	int64		id;
	HeapTuple	tuple;			/* as the guard returned it */
	CommandId	cid;			/* the command it was approved in */
	SubTransactionId subid;
} Approved;

static Approved *approved = NULL;
static int	napproved = 0;
static int	maxapproved = 0;

/* The names of the enabled BEFORE ROW triggers of this event that fire after td's, or NULL. */
static char *
later_triggers(TriggerData *td)
{
	TriggerDesc *trigdesc = td->tg_relation->trigdesc;
	int16		event = TRIGGER_FIRED_BY_INSERT(td->tg_event) ? TRIGGER_TYPE_INSERT :
		TRIGGER_FIRED_BY_DELETE(td->tg_event) ? TRIGGER_TYPE_DELETE : TRIGGER_TYPE_UPDATE;
	StringInfoData names;

	if (trigdesc == NULL)
		return NULL;
	names.data = NULL;
	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];
		bool		fires;

		if (!TRIGGER_TYPE_MATCHES(t->tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_BEFORE, event) ||
			strcmp(t->tgname, td->tg_trigger->tgname) <= 0)
			continue;
		if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
			fires = t->tgenabled == TRIGGER_FIRES_ON_REPLICA || t->tgenabled == TRIGGER_FIRES_ALWAYS;
		else
			fires = t->tgenabled == TRIGGER_FIRES_ON_ORIGIN || t->tgenabled == TRIGGER_FIRES_ALWAYS;
		if (!fires)
			continue;
		if (names.data == NULL)
			initStringInfo(&names);
		else
			appendStringInfoString(&names, ", ");
		appendStringInfoString(&names, quote_identifier(t->tgname));
	}
	return names.data;
}

/*
 * The guard fired by td approved tuple (whose id is column idatt): keep it
 * if a trigger of the site's may still change it.
 */
void
mojob_guard_approved(TriggerData *td, HeapTuple tuple, AttrNumber idatt)
{
	MemoryContext old;
	bool		isnull;
	Approved   *a;
	char	   *later = later_triggers(td);

	if (later == NULL)
		return;
	pfree(later);
	old = MemoryContextSwitchTo(TopTransactionContext);
	if (napproved == maxapproved)
	{
		maxapproved = maxapproved == 0 ? 16 : maxapproved * 2;
		approved = approved == NULL
			? palloc(sizeof(Approved) * maxapproved)
			: repalloc_huge(approved, sizeof(Approved) * maxapproved);
	}
	a = &approved[napproved++];
	a->relid = RelationGetRelid(td->tg_relation);
	a->id = DatumGetInt64(mojob_heap_getattr(tuple, idatt, RelationGetDescr(td->tg_relation), &isnull));
	a->tuple = heap_copytuple(tuple);
	a->cid = GetCurrentCommandId(true);	/* used: a statement after this gets a later one */
	a->subid = GetCurrentSubTransactionId();
	MemoryContextSwitchTo(old);
}

/* mojob.guard_pending(): is any approved row still to be compared? */
PG_FUNCTION_INFO_V1(mojob_guard_pending);
Datum
mojob_guard_pending(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(napproved > 0);
}

static void
forget_approved(int i)
{
	heap_freetuple(approved[i].tuple);
	memmove(&approved[i], &approved[i + 1], sizeof(Approved) * (napproved - i - 1));
	napproved--;
}

static const char *
guarded_name(Oid relid)
{
	if (relid == mojob_catalog()->resource_rel)
		return "resource";
	return relid == mojob_catalog()->node_rel ? "node" : "job";
}

static const char *
guard_name(Oid relid)
{
	if (relid == mojob_catalog()->resource_rel)
		return "zz_mojob_resource_guard";
	return relid == mojob_catalog()->node_rel ? "zz_mojob_node_guard" : "zz_mojob_guard";
}

/*
 * Trigger mojob_guard_recheck: AFTER INSERT OR UPDATE ON mojob.job and
 * mojob.resource, AFTER INSERT OR UPDATE OR DELETE ON mojob.job_resource
 * (the node guard releases a deleted node's booking before the delete: a
 * delete skipped after it would leave the node holding nothing), FOR EACH
 * ROW WHEN (mojob.guard_pending()).
 */
PG_FUNCTION_INFO_V1(mojob_guard_recheck);
Datum
mojob_guard_recheck(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	written;
	AttrNumber	idatt;
	Oid			relid;
	int64		id;
	bool		isnull;
	const MojobCatalog *c;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mojob_guard_recheck must be fired AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW")));
	c = mojob_catalog();
	rel = td->tg_relation;
	relid = RelationGetRelid(rel);
	if (relid != c->node_rel && relid != c->resource_rel)
		mojob_check_trigger_table(rel, c->job_rel, "mojob.guard_recheck()");
	desc = RelationGetDescr(rel);
	if (relid == c->resource_rel)
		idatt = mojob_column(desc, "resource", "id", INT8OID);
	else
		idatt = relid == c->node_rel ? mojob_node_attrs(rel)->id : mojob_job_attrs(rel)->id;
	written = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	id = DatumGetInt64(mojob_heap_getattr(written, idatt, desc, &isnull));

	for (int i = napproved - 1; i >= 0; i--)
	{
		Approved   *a = &approved[i];

		if (a->relid != relid || a->id != id)
			continue;
		/* A delete the guard approved (its bookkeeping done) took place. */
		if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		{
			forget_approved(i);
			break;
		}
		for (int k = 0; k < desc->natts; k++)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, k);
			bool		n1,
						n2;
			Datum		v1,
						v2;

			/* A stored generated column is computed after the BEFORE triggers. */
			if (attr->attisdropped || attr->attgenerated != '\0')
				continue;
			v1 = mojob_heap_getattr(a->tuple, k + 1, desc, &n1);
			v2 = mojob_heap_getattr(written, k + 1, desc, &n2);
			if (n1 == n2 && (n1 || datum_image_eq(v1, v2, attr->attbyval, attr->attlen)))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
					 errmsg("%s " INT64_FORMAT " was changed after %s judged it",
							guarded_name(relid), id, guard_name(relid)),
					 errdetail("Column %s of mojob.%s is not what the guard approved; a BEFORE trigger that fires after the guard changed it.",
							   quote_identifier(NameStr(attr->attname)), RelationGetRelationName(rel)),
					 errhint("Give the trigger a name that sorts before \"%s\" (triggers fire in name order): the guard then judges its change.",
							 guard_name(relid))));
		}
		forget_approved(i);
		break;
	}
	return PointerGetDatum(NULL);
}

/*
 * At the end of a statement whose command is cid (or of the transaction,
 * with cid 0): an approved row not matched by what was written was skipped
 * by a later trigger, or given another id.
 */
void
mojob_guard_check_written(CommandId cid)
{
	for (int i = napproved - 1; i >= 0; i--)
	{
		Approved   *a = &approved[i];

		if (a->cid < cid)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
				 errmsg("%s " INT64_FORMAT " was not written as %s approved it",
						guarded_name(a->relid), a->id, guard_name(a->relid)),
				 errdetail("A BEFORE trigger that fires after the guard skipped the row, or changed its id."),
				 errhint("Give the trigger a name that sorts before \"%s\" (triggers fire in name order): the guard then judges the row it leaves.",
						 guard_name(a->relid))));
	}
}

bool
mojob_guard_any_approved(void)
{
	return napproved > 0;
}

/* Forget the approvals of an aborted subtransaction (and those inside it). */
void
mojob_guard_subxact_abort(SubTransactionId subid)
{
	while (napproved > 0 && approved[napproved - 1].subid >= subid)
		napproved--;			/* the memory goes with the transaction's */
}

/* At the end of a transaction: its memory, and the list with it, is gone. */
void
mojob_guard_xact_end(void)
{
	approved = NULL;
	napproved = 0;
	maxapproved = 0;
}

/*
 * Trigger zz_mojob_guard: BEFORE INSERT OR UPDATE OR DELETE ON mojob.job
 * FOR EACH ROW.
 */
Datum
mojob_job_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const MojobJobAttrs *a;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mojob_job_guard must be fired BEFORE ... FOR EACH ROW")));
	mojob_check_trigger_table(td->tg_relation, mojob_catalog()->job_rel, "mojob.job_guard()");

	a = mojob_job_attrs(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	row = TRIGGER_FIRED_BY_INSERT(td->tg_event) ? guard_insert(td, a) : guard_update(td, a);

		mojob_guard_approved(td, row, a->id);
		return PointerGetDatum(row);
	}
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(guard_delete(td, a));
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("mojob_job_guard must be fired by INSERT, UPDATE or DELETE")));
	pg_unreachable();
}
