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
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "booking.h"
#include "scheduler.h"

PG_FUNCTION_INFO_V1(mojob_job_guard);

MojobRequest mojob_request = {false, 0, NULL, NULL};
MojobClock	mojob_clock = {false, 0, 0};

/* Values of mojob.settings that a new job needs. */
typedef struct MojobNewJobSettings
{
	MojobState	default_state;
	Datum		default_pre_roll;	/* Interval * */
	Datum		default_post_roll;	/* Interval * */
	char	   *code_pattern;
} MojobNewJobSettings;

/* A row being written, as arrays that heap_modify_tuple_by_cols accepts. */
typedef struct RowChange
{
	int			n;
	int			cols[16];
	Datum		values[16];
	bool		nulls[16];
} RowChange;

static void
change_set(RowChange *rc, AttrNumber att, Datum value, bool isnull)
{
	for (int i = 0; i < rc->n; i++)
		if (rc->cols[i] == att)
		{
			rc->values[i] = value;
			rc->nulls[i] = isnull;
			return;
		}
	Assert(rc->n < (int) lengthof(rc->cols));
	rc->cols[rc->n] = att;
	rc->values[rc->n] = value;
	rc->nulls[rc->n] = isnull;
	rc->n++;
}

static Datum
get_col(HeapTuple tuple, TupleDesc desc, AttrNumber att, bool *isnull)
{
	return heap_getattr(tuple, att, desc, isnull);
}

static TimestampTz
get_time(HeapTuple tuple, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, desc, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

static char *
get_text(HeapTuple tuple, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static MojobState
get_state(HeapTuple tuple, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, desc, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"state\" of relation \"job\" violates not-null constraint"),
				 errhint("A job's state is one of mojob.job_state; see mojob.state_transitions.")));
	return mojob_state_from_oid(DatumGetObjectId(d));
}

static void
read_new_job_settings(MojobNewJobSettings *s)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT default_state, default_pre_roll, default_post_roll, job_code_pattern "
		"FROM mojob.settings";
	MemoryContext caller = CurrentMemoryContext;
	bool		isnull;
	HeapTuple	row;
	TupleDesc	desc;

	mojob_spi_connect_owner();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 0, NULL), NULL, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.settings failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mojob.settings must have exactly one row"),
				 errdetail("It has " UINT64_FORMAT ".", SPI_processed),
				 errhint("Re-create the extension, or restore the row from a dump.")));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	s->default_state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull)));
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		s->default_pre_roll = datumCopy(SPI_getbinval(row, desc, 2, &isnull), false, sizeof(Interval));
		s->default_post_roll = datumCopy(SPI_getbinval(row, desc, 3, &isnull), false, sizeof(Interval));
		s->code_pattern = TextDatumGetCString(SPI_getbinval(row, desc, 4, &isnull));
		MemoryContextSwitchTo(spi);
	}
	mojob_spi_finish();
}

static TimestampTz
time_plus(TimestampTz t, Datum interval, bool minus)
{
	return DatumGetTimestampTz(DirectFunctionCall2(minus ? timestamptz_mi_interval : timestamptz_pl_interval,
												   TimestampTzGetDatum(t), interval));
}

static const char *
job_label(HeapTuple tuple, TupleDesc desc, const MojobJobAttrs *a)
{
	char	   *code = get_text(tuple, desc, a->code);

	return code ? code : "(new)";
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
	HeapTuple	tuple = td->tg_trigtuple;
	bool		privileged = mojob_is_privileged(RelationGetRelid(rel));
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	MojobNewJobSettings s;
	RowChange	rc = {0};
	bool		isnull;
	MojobState	state;
	Datum		d;
	char	   *actor = mojob_actor();

	read_new_job_settings(&s);

	d = get_col(tuple, desc, a->state, &isnull);
	state = isnull ? s.default_state : mojob_state_from_oid(DatumGetObjectId(d));
	if (isnull)
		change_set(&rc, a->state, mojob_state_datum(state), false);

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
		Datum		start = get_col(tuple, desc, a->start_at, &start_null);
		Datum		end = get_col(tuple, desc, a->end_at, &end_null);

		get_col(tuple, desc, a->pre_roll_start, &isnull);
		if (isnull && !start_null && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(start)))
			change_set(&rc, a->pre_roll_start,
					   TimestampTzGetDatum(time_plus(DatumGetTimestampTz(start), s.default_pre_roll, true)),
					   false);
		get_col(tuple, desc, a->post_roll_end, &isnull);
		if (isnull && !end_null && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(end)))
			change_set(&rc, a->post_roll_end,
					   TimestampTzGetDatum(time_plus(DatumGetTimestampTz(end), s.default_post_roll, false)),
					   false);
	}

	/*
	 * What mojob manages.  A privileged insert (a restore) keeps what it
	 * supplies and only fills what is missing.
	 */
	get_col(tuple, desc, a->code, &isnull);
	if (isnull || !privileged)
	{
		Oid			seq = get_relname_relid("job_code_seq", mojob_catalog()->namespace);
		int64		n = nextval_internal(seq, false);

		change_set(&rc, a->code,
				   CStringGetTextDatum(mojob_format_code(s.code_pattern, n, now)),
				   false);
	}
	get_col(tuple, desc, a->created_by, &isnull);
	if (isnull || !privileged)
		change_set(&rc, a->created_by, CStringGetTextDatum(actor), false);
	get_col(tuple, desc, a->created_at, &isnull);
	if (isnull || !privileged)
		change_set(&rc, a->created_at, TimestampTzGetDatum(now), false);
	get_col(tuple, desc, a->updated_at, &isnull);
	if (isnull || !privileged)
		change_set(&rc, a->updated_at, TimestampTzGetDatum(now), false);
	get_col(tuple, desc, a->version, &isnull);
	if (isnull || !privileged)
		change_set(&rc, a->version, Int64GetDatum(1), false);
	if (!privileged)
	{
		change_set(&rc, a->canceled_at, (Datum) 0, true);
		change_set(&rc, a->cancel_reason, (Datum) 0, true);
		change_set(&rc, a->locked_by, (Datum) 0, true);
		change_set(&rc, a->locked_until, (Datum) 0, true);
	}

	return heap_modify_tuple_by_cols(tuple, desc, rc.n, rc.cols, rc.values, rc.nulls);
}

/* ---------------------------------------------------------------------
 * UPDATE
 * ---------------------------------------------------------------------
 */

/* Is column att unchanged between the old and the new row? */
static bool
col_unchanged(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, AttrNumber att)
{
	Form_pg_attribute attr = TupleDescAttr(desc, att - 1);
	bool		oldnull,
				newnull;
	Datum		o = heap_getattr(oldtup, att, desc, &oldnull);
	Datum		n = heap_getattr(newtup, att, desc, &newnull);

	if (oldnull || newnull)
		return oldnull == newnull;
	return datum_image_eq(o, n, attr->attbyval, attr->attlen);
}

static bool
is_metadata(const MojobJobAttrs *a, AttrNumber att)
{
	return att == a->name || att == a->description || att == a->priority ||
		att == a->owner || att == a->properties;
}

static void
refuse_edit(HeapTuple oldtup, TupleDesc desc, const MojobJobAttrs *a,
			MojobState state, const char *column, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
			 errmsg("column %s of %s job %s cannot be changed",
					column, mojob_states[state].name, job_label(oldtup, desc, a)),
			 errdetail("%s", why),
			 errhint("%s", hint)));
}

/*
 * The edit rules of the state the job is in (DESIGN.md section 1): refuse
 * any change the state does not allow.  "transition" is the state the
 * same statement moves the job to, or -1.
 */
static void
check_edit(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc,
		   const MojobJobAttrs *a, MojobState state, int transition,
		   TimestampTz now)
{
	MojobEditRule rule = mojob_states[state].edit;

	/* The job's identity never changes, in any state. */
	if (!col_unchanged(oldtup, newtup, desc, a->id))
		refuse_edit(oldtup, desc, a, state, "id", "A job's id never changes.",
					"Create a new job with mojob.create_job() or mojob.duplicate().");
	if (!col_unchanged(oldtup, newtup, desc, a->code))
		refuse_edit(oldtup, desc, a, state, "code", "A job's code is given when it is created and never changes.",
					"Use name for the title an operator sees.");
	if (!col_unchanged(oldtup, newtup, desc, a->created_at))
		refuse_edit(oldtup, desc, a, state, "created_at", "created_at records when the job was created.",
					"Leave created_at and created_by as mojob set them.");
	if (!col_unchanged(oldtup, newtup, desc, a->created_by))
		refuse_edit(oldtup, desc, a, state, "created_by", "created_by records who created the job.",
					"Leave created_at and created_by as mojob set them.");

	/* canceled_at and cancel_reason are written by the cancel transition. */
	if (transition != MJ_CANCELED)
	{
		if (!col_unchanged(oldtup, newtup, desc, a->cancel_reason))
			refuse_edit(oldtup, desc, a, state, "cancel_reason",
						"The cancel reason is given when the job is canceled.",
						"Use mojob.cancel(job, reason).");
		if (!col_unchanged(oldtup, newtup, desc, a->canceled_at))
			refuse_edit(oldtup, desc, a, state, "canceled_at",
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
		if (col_unchanged(oldtup, newtup, desc, att))
			continue;

		/* A lock on a read-only job can still be released. */
		if (rule == MJ_EDIT_NOTHING &&
			(att == a->locked_by || att == a->locked_until))
		{
			bool		isnull;

			(void) heap_getattr(newtup, att, desc, &isnull);
			if (isnull)
				continue;
		}
		if (rule == MJ_EDIT_NOTHING)
			refuse_edit(oldtup, desc, a, state, NameStr(attr->attname),
						"A canceled job is read-only.",
						"Create a new job with mojob.duplicate(), or delete this one with mojob.delete_job().");
		if (is_metadata(a, att) || att == a->locked_by || att == a->locked_until)
			continue;
		if (rule == MJ_EDIT_RUNNING && (att == a->end_at || att == a->post_roll_end))
		{
			TimestampTz t = get_time(newtup, desc, att);

			if (t <= now)
				ereport(ERROR,
						(errcode(ERRCODE_MOJOB_NOT_EDITABLE),
						 errmsg("%s of running job %s must be in the future",
								NameStr(attr->attname), job_label(oldtup, desc, a)),
						 errdetail("The new %s is %s; now is %s.", NameStr(attr->attname),
								   mojob_timestamp_text(t), mojob_timestamp_text(now)),
						 errhint("To end the job now, use mojob.stop(job).")));
			continue;
		}
		if (rule == MJ_EDIT_RUNNING)
			refuse_edit(oldtup, desc, a, state, NameStr(attr->attname),
						"A running job may change its end_at and post_roll_end (to future instants) and its metadata "
						"(name, description, priority, owner, properties) only.",
						"To end the job now, use mojob.stop(job).");
		refuse_edit(oldtup, desc, a, state, NameStr(attr->attname),
					"A completed job may change its metadata (name, description, priority, owner, properties) only.",
					"Create a new job with mojob.duplicate() to run it again.");
	}
}

static void
refuse_transition(HeapTuple oldtup, TupleDesc desc, const MojobJobAttrs *a,
				  MojobState from, MojobState to)
{
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_TRANSITION),
			 errmsg("job %s cannot go from %s to %s",
					job_label(oldtup, desc, a), mojob_states[from].name, mojob_states[to].name),
			 errdetail("%s", mojob_successors_text(from)),
			 errhint("SELECT * FROM mojob.state_transitions shows every allowed transition.")));
}

/*
 * Edit locks (DESIGN.md section 6): while another user holds the job's
 * lock, any change by this user is refused (MJ004) -- except taking the
 * lock over (a change of locked_by/locked_until alone, to this user), which
 * is what mojob.lock_job(job, force => true) does.  Time transitions are
 * never blocked.
 */
static void
check_edit_lock(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc,
				const MojobJobAttrs *a, TimestampTz now, bool takeover_allowed)
{
	char	   *holder = get_text(oldtup, desc, a->locked_by);
	char	   *actor;

	if (holder == NULL || mojob_clock.active ||
		get_time(oldtup, desc, a->locked_until) <= now)
		return;
	actor = mojob_actor();
	if (strcmp(holder, actor) == 0)
		return;
	if (takeover_allowed && newtup != NULL)
	{
		char	   *new_holder = get_text(newtup, desc, a->locked_by);
		bool		only_lock = true;

		for (int i = 0; i < desc->natts && only_lock; i++)
		{
			Form_pg_attribute attr = TupleDescAttr(desc, i);

			if (attr->attisdropped || attr->attnum == a->locked_by ||
				attr->attnum == a->locked_until || attr->attnum == a->version ||
				attr->attnum == a->updated_at)
				continue;
			only_lock = col_unchanged(oldtup, newtup, desc, attr->attnum);
		}
		if (only_lock && new_holder != NULL && strcmp(new_holder, actor) == 0)
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_MOJOB_LOCKED),
			 errmsg("job %s is locked by %s", get_text(oldtup, desc, a->code), holder),
			 errdetail("%s holds its edit lock until %s; %s may not change it meanwhile.",
					   holder, mojob_timestamp_text(get_time(oldtup, desc, a->locked_until)), actor),
			 errhint("Wait for %s to unlock it, or take the lock over with mojob.lock_job(job, force => true).",
					 holder)));
}

static HeapTuple
guard_update(TriggerData *td, const MojobJobAttrs *a)
{
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	oldtup = td->tg_trigtuple;
	HeapTuple	newtup = td->tg_newtuple;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	MojobState	from = get_state(oldtup, desc, a->state);
	MojobState	to = get_state(newtup, desc, a->state);
	MojobState	final = to;
	int64		job_id;
	bool		isnull;
	RowChange	rc = {0};
	TimestampTz start_at = get_time(newtup, desc, a->start_at);
	TimestampTz end_at = get_time(newtup, desc, a->end_at);
	TimestampTz pre_roll_start = get_time(newtup, desc, a->pre_roll_start);
	TimestampTz post_roll_end = get_time(newtup, desc, a->post_roll_end);
	TimestampTz old_pre = get_time(oldtup, desc, a->pre_roll_start);
	TimestampTz old_post = get_time(oldtup, desc, a->post_roll_end);
	char	   *code = get_text(oldtup, desc, a->code);
	int64		version;

	job_id = DatumGetInt64(heap_getattr(oldtup, a->id, desc, &isnull));
	check_edit_lock(oldtup, newtup, desc, a, now, from == to);

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
		check_edit(oldtup, newtup, desc, a, from, -1, now);

		/* A node changed: the job row itself stays as it is. */
		if (mojob_touch.active && mojob_touch.job_id == job_id)
			return newtup;
	}
	else
	{
		MojobCause	cause = mojob_clock.active ? MJ_CAUSE_TIME : MJ_CAUSE_USER;
		TimestampTz ref;
		int			made = 1;

		if (mojob_find_edge(from, to, cause) == NULL)
			refuse_transition(oldtup, desc, a, from, to);
		check_edit(oldtup, newtup, desc, a, from, to, now);

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
				change_set(&rc, a->start_at, TimestampTzGetDatum(start_at), false);
				change_set(&rc, a->pre_roll_start, TimestampTzGetDatum(pre_roll_start), false);
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
				post_roll_end = now + (post_roll_end - end_at);
				end_at = now;
				change_set(&rc, a->end_at, TimestampTzGetDatum(end_at), false);
				change_set(&rc, a->post_roll_end, TimestampTzGetDatum(post_roll_end), false);
			}
		}
		else if (to == MJ_CANCELED)
		{
			/* A canceled job is read-only: nobody is editing it any more. */
			change_set(&rc, a->canceled_at, TimestampTzGetDatum(now), false);
			change_set(&rc, a->locked_by, (Datum) 0, true);
			change_set(&rc, a->locked_until, (Datum) 0, true);
		}

		/* Confirming needs every node resolved: checked at the statement's end. */
		if (to == MJ_CONFIRMED)
			mojob_confirm_check_later(job_id);

		mojob_history_record(job_id, code, from, to, cause,
							 to == MJ_CANCELED ? get_text(newtup, desc, a->cancel_reason) : NULL);

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
			change_set(&rc, a->state, mojob_state_datum(final), false);
		if (mojob_clock.active)
			mojob_clock.transitions += made;
	}

	/* A job newly due at a time wakes the scheduler, at commit. */
	if (final == MJ_CONFIRMED && (from != final || start_at != get_time(oldtup, desc, a->start_at)))
		mojob_scheduler_note_due(start_at);
	else if (final == MJ_RUNNING && (from != final || end_at != get_time(oldtup, desc, a->end_at)))
		mojob_scheduler_note_due(end_at);

	/*
	 * The bookings follow the job's state and window.  A completed job keeps
	 * its bookings as the record of what it used; the checks count them only
	 * until its post-roll ends.
	 */
	{
		bool		was_holding = mojob_states[from].holds;
		bool		holding = mojob_states[final].holds;

		if (was_holding != holding ||
			(holding && (old_pre != pre_roll_start || old_post != post_roll_end)))
			mojob_job_bookings_changed(job_id, code, was_holding, old_pre, old_post,
									   holding, pre_roll_start, post_roll_end);
	}

	version = DatumGetInt64(heap_getattr(oldtup, a->version, desc, &isnull));
	change_set(&rc, a->version, Int64GetDatum(version + 1), false);
	change_set(&rc, a->updated_at, TimestampTzGetDatum(now), false);
	return heap_modify_tuple_by_cols(newtup, desc, rc.n, rc.cols, rc.values, rc.nulls);
}

/* ---------------------------------------------------------------------
 * DELETE
 * ---------------------------------------------------------------------
 */
static HeapTuple
guard_delete(TriggerData *td, const MojobJobAttrs *a)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	HeapTuple	oldtup = td->tg_trigtuple;
	MojobState	state = get_state(oldtup, desc, a->state);

	check_edit_lock(oldtup, NULL, desc, a, GetCurrentTransactionStartTimestamp(), false);
	if (!mojob_states[state].deletable)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_NOT_DELETABLE),
				 errmsg("%s job %s cannot be deleted", mojob_states[state].name,
						job_label(oldtup, desc, a)),
				 errdetail("Only draft, completed and canceled jobs can be deleted; it holds its resources while %s.",
						   mojob_states[state].name),
				 errhint("%s", state == MJ_RUNNING
						 ? "Stop it first with mojob.stop(job); a completed job can be deleted."
						 : "Cancel it first with mojob.cancel(job, reason); a canceled job can be deleted.")));
	return oldtup;
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

	a = mojob_job_attrs(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		return PointerGetDatum(guard_insert(td, a));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(guard_update(td, a));
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(guard_delete(td, a));
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("mojob_job_guard must be fired by INSERT, UPDATE or DELETE")));
	pg_unreachable();
}
