/*
 * history.c
 *		One mojob.job_event row and one NOTIFY per state transition.
 *
 * The guard trigger records each transition here as it makes it; the rows
 * are written when the statement's executor finishes (mojob.c's
 * ExecutorFinish hook), with one INSERT for the whole statement, so that a
 * bulk UPDATE of many jobs costs one insert rather than one per row, and a
 * statement that makes no transition costs nothing.  Only UPDATEs make
 * transitions, and an UPDATE always runs through the executor.
 *
 * The NOTIFYs are kept here and handed to PostgreSQL just before it queues
 * notifications at commit (mojob_history_pre_commit).  PostgreSQL's queue is
 * finite, and any role that can connect can fill it (by listening in a
 * transaction that stays open while notifications are sent): a commit that
 * finds it full fails.  So when the queue is fuller than
 * mojob.notify_queue_limit, mojob drops its own notifications rather than
 * fail the transition, and logs that at most once a minute.  Listeners
 * re-read the jobs anyway (README, Notifications).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "booking.h"

PG_FUNCTION_INFO_V1(mojob_internal_guard);

typedef struct MojobEvent
{
	int64		job_id;
	TimestampTz at;
	MojobState	from;
	MojobState	to;
	MojobCause	cause;
	SubTransactionId subid;
	const char *by_user;
	const char *reason;
} MojobEvent;

/* Transitions made by the current statement(s), not yet written. */
static MojobEvent *events = NULL;
static int	nevents = 0;
static int	maxevents = 0;

/* The acting user of the last event, shared by the events that follow. */
static char *last_actor = NULL;

/* The payloads of the transaction's NOTIFYs, not yet handed to PostgreSQL. */
typedef struct MojobNote
{
	SubTransactionId subid;
	char	   *payload;
} MojobNote;
static MojobNote *notes = NULL;
static int	nnotes = 0;
static int	maxnotes = 0;

/* NOTIFY's limit on a payload (PostgreSQL's async.c keeps it to itself). */
#define MOJOB_NOTIFY_PAYLOAD_MAX (BLCKSZ - NAMEDATALEN - 128)

/* mojob.notify_queue_limit: the queue usage above which mojob drops its own. */
double		mojob_notify_queue_limit = 0.5;


static MojobPlan insert_plan;

bool
mojob_history_pending(void)
{
	return nevents > 0;
}

/* Forget everything at the end of a transaction; the memory goes with it. */
void
mojob_history_xact_end(void)
{
	events = NULL;
	nevents = 0;
	maxevents = 0;
	last_actor = NULL;
	notes = NULL;
	nnotes = 0;
	maxnotes = 0;
}

/* Drop the events of an aborted subtransaction and of those inside it. */
void
mojob_history_subxact_abort(SubTransactionId subid)
{
	while (nevents > 0 && events[nevents - 1].subid >= subid)
		nevents--;
	while (nnotes > 0 && notes[nnotes - 1].subid >= subid)
		nnotes--;
}

/*
 * Just before PostgreSQL queues the transaction's notifications (its
 * pre-commit callbacks run first): hand mojob's to it, unless the queue is
 * fuller than mojob.notify_queue_limit; then drop them, and say so at most
 * once a minute.  The queue cannot fill from there to the limit between
 * this look and the queuing a moment later: the limit leaves half of it
 * (4 GB by default) free.
 */
void
mojob_history_pre_commit(void)
{
	double		usage;

	if (nnotes == 0)
		return;
	usage = DatumGetFloat8(DirectFunctionCall1(pg_notification_queue_usage, (Datum) 0));
	if (usage > mojob_notify_queue_limit)
	{
		if (mojob_notify_drop_may_log())
			ereport(LOG,
					(errmsg("mojob dropped %d notification%s on channel \"mojob\": the notification queue is %.0f%% full",
							nnotes, nnotes == 1 ? "" : "s", usage * 100),
					 errdetail("mojob sends none while the queue is fuller than mojob.notify_queue_limit (%g); the transitions are made and recorded in mojob.job_event. This is logged at most once a minute.",
							   mojob_notify_queue_limit),
					 errhint("A session listening in a transaction left open keeps the queue from emptying: end it (pg_stat_activity shows it as idle in transaction).")));
		nnotes = 0;
		return;
	}
	for (int i = 0; i < nnotes; i++)
		Async_Notify("mojob", notes[i].payload);
	nnotes = 0;
}

/*
 * Record one transition of job job_id: queue its history row and send its
 * NOTIFY.  "at" is the clock time now, when the transition is made.
 */
void
mojob_history_record(int64 job_id, const char *code,
					 MojobState from, MojobState to,
					 MojobCause cause, const char *reason)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	MojobEvent *ev;
	const char *actor = mojob_actor();
	char		atbuf[MAXDATELEN + 1];
	StringInfoData payload;
	int			utc = 0;

	if (nevents == maxevents)
	{
		maxevents = maxevents == 0 ? 64 : maxevents * 2;
		events = events == NULL
			? palloc(sizeof(MojobEvent) * maxevents)
			: repalloc_huge(events, sizeof(MojobEvent) * maxevents);
	}
	if (last_actor == NULL || strcmp(last_actor, actor) != 0)
		last_actor = pstrdup(actor);

	ev = &events[nevents++];
	ev->job_id = job_id;
	ev->at = GetCurrentTimestamp();
	ev->from = from;
	ev->to = to;
	ev->cause = cause;
	ev->subid = GetCurrentSubTransactionId();
	ev->by_user = last_actor;
	ev->reason = reason ? pstrdup(reason) : NULL;
	MemoryContextSwitchTo(old);

	/* {"job": id, "code": ..., "from": ..., "to": ..., "at": ...} */
	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"job\": " INT64_FORMAT ", \"code\": ", job_id);
	escape_json(&payload, code);
	appendStringInfo(&payload, ", \"from\": \"%s\", \"to\": \"%s\", \"at\": \"%s\"}",
					 mojob_states[from].name, mojob_states[to].name,
					 JsonEncodeDateTime(atbuf, TimestampTzGetDatum(ev->at),
										TIMESTAMPTZOID, &utc));
	/* Refused now, as NOTIFY would refuse it, rather than at commit. */
	if (payload.len >= MOJOB_NOTIFY_PAYLOAD_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload string too long")));
	old = MemoryContextSwitchTo(TopTransactionContext);
	if (nnotes == maxnotes)
	{
		maxnotes = maxnotes == 0 ? 64 : maxnotes * 2;
		notes = notes == NULL
			? palloc(sizeof(MojobNote) * maxnotes)
			: repalloc_huge(notes, sizeof(MojobNote) * maxnotes);
	}
	notes[nnotes].subid = GetCurrentSubTransactionId();
	notes[nnotes++].payload = pstrdup(payload.data);
	MemoryContextSwitchTo(old);
	pfree(payload.data);
}

/* The columns of mojob.job_event mojob writes, as in sql/mojob--1.0.sql. */
static const char *const event_columns[] = {"id", "job_id", "from_state", "to_state", "at",
"by_user", "cause", "reason"};
#define EVENT_NCOLS lengthof(event_columns)

/*
 * May the history be written directly (heap and index) rather than with an
 * INSERT?  Only while mojob.job_event is as mojob made it: its own columns
 * and NOT NULLs, no trigger but mojob's statement guard, no CHECK but its
 * own (by name), no rule.
 * Whatever a site adds (an audit trigger, a constraint, a column with a
 * default) is honoured by taking the INSERT instead.  attnums receives
 * where each column is.
 */
static bool
events_direct(Relation rel, AttrNumber *attnums)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			live = 0;

	if (rel->rd_rules != NULL)
		return false;
	if (rel->trigdesc != NULL)
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
			if (strcmp(rel->trigdesc->triggers[i].tgname, "mojob_internal_guard") != 0)
				return false;
	if (desc->constr == NULL || desc->constr->num_check != 1 ||
		strcmp(desc->constr->check[0].ccname, "job_event_cause_check") != 0)
		return false;
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			live++;
	if (live != (int) EVENT_NCOLS)
		return false;
	for (int i = 0; i < (int) EVENT_NCOLS; i++)
	{
		attnums[i] = mojob_column_find(desc, event_columns[i]);
		if (attnums[i] <= 0)
			return false;
		/* NOT NULL as mojob made them: every column but reason. */
		if (TupleDescAttr(desc, attnums[i] - 1)->attnotnull != (strcmp(event_columns[i], "reason") != 0))
			return false;
	}
	return true;
}

/*
 * Write the events directly, as the tables' owner (for the sequence): one
 * heap insert and its index entries per event, the CHECK on cause and the
 * NOT NULLs being what mojob writes anyway.
 */
static void
write_events_direct(Relation rel, const AttrNumber *attnums, int n)
{
	const MojobCatalog *c = mojob_catalog();
	MojobInserter ins;
	int			natts = RelationGetDescr(rel)->natts;
	Datum		cause_text[2];
	Oid			save_userid;
	int			save_sec;
	const char *prev_user = NULL;
	Datum		prev_user_text = (Datum) 0;

	cause_text[MJ_CAUSE_USER] = CStringGetTextDatum("user");
	cause_text[MJ_CAUSE_TIME] = CStringGetTextDatum("time");
	mojob_insert_begin(&ins, rel);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(c->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	for (int i = 0; i < n; i++)
	{
		MojobEvent *ev = &events[i];
		Datum	   *v = ins.slot->tts_values;
		bool	   *isnull = ins.slot->tts_isnull;

		CHECK_FOR_INTERRUPTS();

		for (int k = 0; k < natts; k++)
			isnull[k] = true;
#define SET(col, value)	(v[attnums[col] - 1] = (value), isnull[attnums[col] - 1] = false)
		SET(0, DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(c->event_seq)));
		SET(1, Int64GetDatum(ev->job_id));
		SET(2, ObjectIdGetDatum(c->state_oid[ev->from]));
		SET(3, ObjectIdGetDatum(c->state_oid[ev->to]));
		SET(4, TimestampTzGetDatum(ev->at));
		if (ev->by_user != prev_user)
		{
			prev_user = ev->by_user;
			prev_user_text = CStringGetTextDatum(ev->by_user);
		}
		SET(5, prev_user_text);
		SET(6, cause_text[ev->cause]);
		if (ev->reason)
			SET(7, CStringGetTextDatum(ev->reason));
#undef SET
		mojob_insert_row(&ins);
	}
	SetUserIdAndSecContext(save_userid, save_sec);
	mojob_insert_end(&ins);
	CommandCounterIncrement();
}

/* Write the queued history rows with one INSERT. */
void
mojob_history_flush(void)
{
	AttrNumber	attnums[EVENT_NCOLS];
	Relation	rel;

	static const char *sql =
		"INSERT INTO mojob.job_event "
		"(job_id, from_state, to_state, at, by_user, cause, reason) "
		"SELECT pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), "
		"pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)";
	const MojobCatalog *c;
	Oid			argtypes[7];
	Datum		args[7];
	Datum	   *ids,
			   *froms,
			   *tos,
			   *ats,
			   *users,
			   *causes,
			   *reasons;
	bool	   *reason_nulls;
	int			dims[1];
	int			lbs[1] = {1};
	int			n = nevents;
	text	   *cause_text[2];
	int			ret;

	if (n == 0)
		return;

	c = mojob_catalog();
	rel = table_open(c->event_rel, RowExclusiveLock);
	if (events_direct(rel, attnums))
	{
		/* The rows are taken: a failure below aborts the statement anyway. */
		nevents = 0;
		write_events_direct(rel, attnums, n);
		table_close(rel, NoLock);
		return;
	}
	table_close(rel, NoLock);
	argtypes[0] = INT8ARRAYOID;
	argtypes[1] = c->state_array_type;
	argtypes[2] = c->state_array_type;
	argtypes[3] = TIMESTAMPTZARRAYOID;
	argtypes[4] = TEXTARRAYOID;
	argtypes[5] = TEXTARRAYOID;
	argtypes[6] = TEXTARRAYOID;

	ids = palloc(sizeof(Datum) * n);
	froms = palloc(sizeof(Datum) * n);
	tos = palloc(sizeof(Datum) * n);
	ats = palloc(sizeof(Datum) * n);
	users = palloc(sizeof(Datum) * n);
	causes = palloc(sizeof(Datum) * n);
	reasons = palloc(sizeof(Datum) * n);
	reason_nulls = palloc(sizeof(bool) * n);
	cause_text[MJ_CAUSE_USER] = cstring_to_text("user");
	cause_text[MJ_CAUSE_TIME] = cstring_to_text("time");

	{
		const char *prev_user = NULL;
		Datum		prev_user_text = (Datum) 0;

		for (int i = 0; i < n; i++)
		{
			MojobEvent *ev = &events[i];

			ids[i] = Int64GetDatum(ev->job_id);
			froms[i] = ObjectIdGetDatum(c->state_oid[ev->from]);
			tos[i] = ObjectIdGetDatum(c->state_oid[ev->to]);
			ats[i] = TimestampTzGetDatum(ev->at);
			if (ev->by_user != prev_user)
			{
				prev_user = ev->by_user;
				prev_user_text = CStringGetTextDatum(ev->by_user);
			}
			users[i] = prev_user_text;
			causes[i] = PointerGetDatum(cause_text[ev->cause]);
			reason_nulls[i] = ev->reason == NULL;
			reasons[i] = ev->reason ? CStringGetTextDatum(ev->reason) : (Datum) 0;
		}
	}

	dims[0] = n;
	args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(froms, n, c->state_type, 4, true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(tos, n, c->state_type, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_array(ats, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(users, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(causes, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[6] = PointerGetDatum(construct_md_array(reasons, reason_nulls, 1, dims, lbs,
												 TEXTOID, -1, false, TYPALIGN_INT));

	/* The rows are taken: a failure below aborts the statement anyway. */
	nevents = 0;

	/* As the tables' owner: mojob_internal_guard lets it through. */
	mojob_spi_connect_owner();
	ret = SPI_execute_plan(mojob_plan(&insert_plan, sql, 7, argtypes),
						   args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "writing mojob.job_event failed: %s",
			 SPI_result_code_string(ret));
	mojob_spi_finish();
}

/*
 * Statement trigger on the tables mojob keeps for itself (mojob.job_event,
 * mojob.booking, mojob.recurrence_conflict): only mojob writes them, as
 * their owner; the owner and superusers may still (a restore, a purge).
 * Whatever rights a role was granted on them, it cannot forge history or
 * bookings.  On mojob.recurrence, mojob's functions may write too (in their
 * caller's name).  Also BEFORE TRUNCATE on mojob.job, mojob.job_resource and
 * mojob.resource, which only their owner may truncate: TRUNCATE fires no
 * row trigger, so nothing would release bookings or record history.
 */
Datum
mojob_internal_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *table;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mojob_internal_guard must be fired BEFORE ... FOR EACH STATEMENT")));
	mojob_check_trigger_table(trigdata->tg_relation, InvalidOid, "mojob.internal_guard()");

	if (mojob_is_privileged(RelationGetRelid(trigdata->tg_relation)))
		return PointerGetDatum(NULL);
	table = RelationGetRelationName(trigdata->tg_relation);
	if (strcmp(table, "recurrence") == 0)
	{
		if (mojob_in_function() && !TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
			return PointerGetDatum(NULL);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("mojob.recurrence is written by mojob's functions only"),
				 errdetail("A recurrence's rule, horizon and state decide which instances exist; changed by hand, they would no longer match them."),
				 errhint("Use mojob.make_recurring() and mojob.cancel_recurrence(); mojob.extend_recurrences() extends them.")));
	}
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event) &&
		(strcmp(table, "job") == 0 || strcmp(table, "job_resource") == 0 || strcmp(table, "resource") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("mojob.%s cannot be truncated but by its owner", table),
				 errdetail("TRUNCATE fires no row trigger: the jobs' bookings and history would not follow."),
				 errhint("DELETE the rows instead (drafts, completed and canceled jobs may be deleted).")));
	if (strcmp(table, "job_event") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("mojob.job_event is written by mojob only"),
				 errdetail("The history records the transitions mojob made; it cannot be changed by hand."),
				 errhint("Change the job instead (mojob.reserve(), mojob.cancel() ...); its history follows.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("mojob.%s is written by mojob only", table),
			 errdetail("mojob keeps it from the jobs and their nodes."),
			 errhint("Change the jobs and their nodes instead (mojob.reserve(), mojob.add_resource() ...).")));
	pg_unreachable();
}
