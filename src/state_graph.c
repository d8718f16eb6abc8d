/*
 * state_graph.c
 *		The job life cycle: the one table of states and transitions.
 *
 * Everything that needs to know which transitions exist reads the tables
 * below: the guard trigger that checks every write, the view
 * mojob.state_transitions, the ops board's action flags and the error
 * messages.  There is no second copy of the graph anywhere.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "args.h"
#include "mojob.h"

PG_FUNCTION_INFO_V1(mojob_state_graph);
PG_FUNCTION_INFO_V1(mojob_state_color);
PG_FUNCTION_INFO_V1(mojob_state_board);
PG_FUNCTION_INFO_V1(mojob_board_states);
PG_FUNCTION_INFO_V1(mojob_action_states);
PG_FUNCTION_INFO_V1(mojob_action_open);
PG_FUNCTION_INFO_V1(mojob_time_desc);

/* Per-state rules, indexed by MojobState (docs/design.md section 1). */
const MojobStateInfo mojob_states[MJ_NUM_STATES] = {
	[MJ_DRAFT] = {"draft", true, false, true, MJ_EDIT_ALL, "upcoming", "#9140D9"},
	[MJ_TENTATIVE] = {"tentative", true, true, false, MJ_EDIT_ALL, "upcoming", "#F7EC15"},
	[MJ_CONFIRMED] = {"confirmed", false, true, false, MJ_EDIT_ALL, "upcoming", "#348D42"},
	[MJ_RUNNING] = {"running", false, true, false, MJ_EDIT_RUNNING, "active", "#4CEF8E"},
	[MJ_COMPLETED] = {"completed", false, true, true, MJ_EDIT_METADATA, "completed", "#4A41E6"},
	[MJ_CANCELED] = {"canceled", false, false, true, MJ_EDIT_NOTHING, NULL, "#FC7D76"},
};

/* The transitions: every pair not listed here is refused (MJ001). */
static const MojobEdge mojob_edges[] = {
	{MJ_DRAFT, MJ_TENTATIVE, MJ_CAUSE_USER, "reserve", "mojob.reserve(job)"},
	{MJ_TENTATIVE, MJ_CONFIRMED, MJ_CAUSE_USER, "confirm", "mojob.confirm(job)"},
	{MJ_CONFIRMED, MJ_TENTATIVE, MJ_CAUSE_USER, "unconfirm", "mojob.unconfirm(job)"},
	{MJ_CONFIRMED, MJ_RUNNING, MJ_CAUSE_TIME, "advance", "mojob.advance()"},
	{MJ_CONFIRMED, MJ_RUNNING, MJ_CAUSE_USER, "start", "mojob.start(job)"},
	{MJ_RUNNING, MJ_COMPLETED, MJ_CAUSE_TIME, "advance", "mojob.advance()"},
	{MJ_RUNNING, MJ_COMPLETED, MJ_CAUSE_USER, "stop", "mojob.stop(job)"},
	{MJ_TENTATIVE, MJ_CANCELED, MJ_CAUSE_USER, "cancel", "mojob.cancel(job, reason)"},
	{MJ_CONFIRMED, MJ_CANCELED, MJ_CAUSE_USER, "cancel", "mojob.cancel(job, reason)"},
};

#define MJ_NUM_EDGES	lengthof(mojob_edges)

/* The edge from -> to made by cause, or NULL. */
const MojobEdge *
mojob_find_edge(MojobState from, MojobState to, MojobCause cause)
{
	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
	{
		const MojobEdge *e = &mojob_edges[i];

		if (e->from == from && e->to == to && e->cause == cause)
			return e;
	}
	return NULL;
}

/* The edge a user action (reserve, confirm, ...) takes from a state, or NULL. */
const MojobEdge *
mojob_find_action(MojobState from, const char *action)
{
	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
	{
		const MojobEdge *e = &mojob_edges[i];

		if (e->from == from && e->cause == MJ_CAUSE_USER && strcmp(e->action, action) == 0)
			return e;
	}
	return NULL;
}

/* Is there any edge from -> to, whatever its cause? */
bool
mojob_has_edge(MojobState from, MojobState to)
{
	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
		if (mojob_edges[i].from == from && mojob_edges[i].to == to)
			return true;
	return false;
}

const char *
mojob_cause_name(MojobCause cause)
{
	return cause == MJ_CAUSE_TIME ? "time" : "user";
}

/*
 * A sentence for error details saying where a job may go from a state:
 * "From draft a job may go to tentative by mojob.reserve(job)."
 */
char *
mojob_successors_text(MojobState from)
{
	StringInfoData buf;
	bool		any = false;

	initStringInfo(&buf);
	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
	{
		const MojobEdge *e = &mojob_edges[i];

		if (e->from != from)
			continue;
		appendStringInfo(&buf, "%s%s by %s", any ? ", or " : "",
						 mojob_states[e->to].name, e->function);
		any = true;
	}
	if (!any)
		return psprintf("A %s job is final: no transition leaves %s.",
						mojob_states[from].name, mojob_states[from].name);
	return psprintf("From %s a job may go to %s.", mojob_states[from].name, buf.data);
}

/* "draft" or "tentative or confirmed": the states an action applies to. */
char *
mojob_action_sources_text(const char *action)
{
	StringInfoData buf;
	int			n = 0;

	initStringInfo(&buf);
	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
	{
		const MojobEdge *e = &mojob_edges[i];

		if (e->cause != MJ_CAUSE_USER || strcmp(e->action, action) != 0)
			continue;
		appendStringInfo(&buf, "%s%s", n ? " or " : "", mojob_states[e->from].name);
		n++;
	}
	return buf.data;
}

static MojobState
state_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", argname),
				 errdetail("The function was called with %s => NULL.", argname),
				 errhint("Pass one of the values of mojob.job_state.")));
	return mojob_state_from_oid(PG_GETARG_OID(argno));
}

/*
 * mojob.state_graph() returns the transition table as rows
 * (from_state, to_state, cause, function); mojob.state_transitions is a
 * view over it.
 */
Datum
mojob_state_graph(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);

	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
	{
		const MojobEdge *e = &mojob_edges[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = mojob_state_datum(e->from);
		values[1] = mojob_state_datum(e->to);
		values[2] = CStringGetTextDatum(mojob_cause_name(e->cause));
		values[3] = CStringGetTextDatum(e->function);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* mojob.state_color(state): the colour a state is drawn in. */
Datum
mojob_state_color(PG_FUNCTION_ARGS)
{
	MojobState	s = state_arg(fcinfo, 0, "state");

	PG_RETURN_TEXT_P(cstring_to_text(mojob_states[s].color));
}

/* mojob.state_board(state): the ops board column a state is shown in. */
Datum
mojob_state_board(PG_FUNCTION_ARGS)
{
	MojobState	s = state_arg(fcinfo, 0, "state");

	if (mojob_states[s].board == NULL)
		PG_RETURN_NULL();
	/* The label of mojob.board, the function's result type. */
	return DirectFunctionCall2(enum_in, CStringGetDatum(mojob_states[s].board),
							   ObjectIdGetDatum(get_func_rettype(fcinfo->flinfo->fn_oid)));
}

/*
 * mojob.time_desc(at): a sort key, not a time: at reflected within the range
 * of timestamptz (its earliest value for its latest, and so on), so that
 * ascending order of the key is descending order of at and the key is itself
 * a valid timestamptz.  The ops board orders each column by one key, and the
 * completed column is newest first.  Job times are finite, so at must be.
 */
Datum
mojob_time_desc(PG_FUNCTION_ARGS)
{
	TimestampTz at = mojob_arg_time(fcinfo, 0, "at");

	/* MIN_TIMESTAMP <= at < END_TIMESTAMP; the sum fits in an int64. */
	PG_RETURN_TIMESTAMPTZ((MIN_TIMESTAMP + (END_TIMESTAMP - 1)) - at);
}

/*
 * mojob.board_states(board) -> job_state[]: the states shown on an ops
 * board column.  IMMUTABLE, so the planner folds it into a constant and can
 * use the partial indexes on state.
 */
Datum
mojob_board_states(PG_FUNCTION_ARGS)
{
	char	   *board;
	Datum		elems[MJ_NUM_STATES];
	int			n = 0;
	const MojobCatalog *c = mojob_catalog_types();

	board = DatumGetCString(DirectFunctionCall1(enum_out, mojob_arg_datum(fcinfo, 0, "board")));
	for (int i = 0; i < MJ_NUM_STATES; i++)
		if (mojob_states[i].board && strcmp(mojob_states[i].board, board) == 0)
			elems[n++] = ObjectIdGetDatum(c->state_oid[i]);
	/* The labels of mojob.board are the boards of the table above (30_views.sql). */
	if (n == 0)
		elog(ERROR, "mojob.board label \"%s\" is the board of no state", board);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, c->state_type, 4, true, TYPALIGN_INT));
}

/*
 * The ops board's actions: edit (the state allows some edit), delete, and
 * the action of each user edge of the table above (reserve, confirm, ...).
 * The action named by the text argument argno, as the table spells it.
 */
static const char *
board_action_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *action = TextDatumGetCString(mojob_arg_datum(fcinfo, argno, "action"));
	StringInfoData known;

	if (strcmp(action, "edit") == 0)
		return "edit";
	if (strcmp(action, "delete") == 0)
		return "delete";
	initStringInfo(&known);
	appendStringInfoString(&known, "edit, delete");
	for (int i = 0; i < (int) MJ_NUM_EDGES; i++)
	{
		const MojobEdge *e = &mojob_edges[i];
		bool		seen = false;

		if (e->cause != MJ_CAUSE_USER)
			continue;
		if (strcmp(e->action, action) == 0)
			return e->action;
		for (int k = 0; k < i && !seen; k++)
			seen = mojob_edges[k].cause == MJ_CAUSE_USER && strcmp(mojob_edges[k].action, e->action) == 0;
		if (!seen)
			appendStringInfo(&known, ", %s", e->action);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("there is no ops board action \"%s\"", action),
			 errdetail("The actions are %s.", known.data),
			 errhint("Pass one of them.")));
	pg_unreachable();
}

/* May the action be taken in state s, as far as the state decides? */
static bool
board_action_open(const char *action, MojobState s)
{
	if (strcmp(action, "edit") == 0)
		return mojob_states[s].edit != MJ_EDIT_NOTHING;
	if (strcmp(action, "delete") == 0)
		return mojob_states[s].deletable;
	return mojob_find_action(s, action) != NULL;
}

/*
 * mojob.action_states(action) -> job_state[]: the states in which an action
 * of the ops board may be taken, as far as the state decides.  IMMUTABLE, so
 * the planner folds it into a constant.
 */
Datum
mojob_action_states(PG_FUNCTION_ARGS)
{
	const char *action = board_action_arg(fcinfo, 0);
	Datum		elems[MJ_NUM_STATES];
	int			n = 0;
	const MojobCatalog *c = mojob_catalog_types();

	for (int s = 0; s < MJ_NUM_STATES; s++)
		if (board_action_open(action, (MojobState) s))
			elems[n++] = ObjectIdGetDatum(c->state_oid[s]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, c->state_type, 4, true, TYPALIGN_INT));
}

/* What mojob.action_open keeps between calls from one call site. */
typedef struct ActionOpenCache
{
	text	   *action;			/* the action text it was made for */
	Oid			state_oid[MJ_NUM_STATES];
	bool		open[MJ_NUM_STATES];
} ActionOpenCache;

/*
 * mojob.action_open(action, state) -> boolean: may the action be taken by a
 * job in this state, as far as the state decides?  What
 * state = ANY (mojob.action_states(action)) says, but for the ops board,
 * which asks it of every job eight times: the answers for the call site's
 * action are worked out once and kept in its FmgrInfo.
 */
Datum
mojob_action_open(PG_FUNCTION_ARGS)
{
	ActionOpenCache *c = fcinfo->flinfo ? (ActionOpenCache *) fcinfo->flinfo->fn_extra : NULL;
	text	   *action;
	Oid			label;

	if (PG_ARGISNULL(0))
		(void) board_action_arg(fcinfo, 0); /* refuses it */
	label = DatumGetObjectId(mojob_arg_datum(fcinfo, 1, "state"));
	action = PG_GETARG_TEXT_PP(0);
	if (c == NULL || VARSIZE_ANY_EXHDR(c->action) != VARSIZE_ANY_EXHDR(action) ||
		memcmp(VARDATA_ANY(c->action), VARDATA_ANY(action), VARSIZE_ANY_EXHDR(action)) != 0)
	{
		const char *name = board_action_arg(fcinfo, 0);
		const MojobCatalog *cat = mojob_catalog_types();
		MemoryContext old;
		ActionOpenCache *fresh;

		/* Built whole before it replaces the old one (an error may come). */
		old = MemoryContextSwitchTo(fcinfo->flinfo ? fcinfo->flinfo->fn_mcxt : CurrentMemoryContext);
		fresh = palloc(sizeof(ActionOpenCache));
		fresh->action = (text *) palloc(VARSIZE_ANY(action));
		memcpy(fresh->action, action, VARSIZE_ANY(action));
		MemoryContextSwitchTo(old);
		for (int s = 0; s < MJ_NUM_STATES; s++)
		{
			fresh->state_oid[s] = cat->state_oid[s];
			fresh->open[s] = board_action_open(name, (MojobState) s);
		}
		if (fcinfo->flinfo)
		{
			if (c != NULL)
			{
				pfree(c->action);
				pfree(c);
			}
			fcinfo->flinfo->fn_extra = fresh;
		}
		c = fresh;
	}
	for (int s = 0; s < MJ_NUM_STATES; s++)
		if (c->state_oid[s] == label)
			PG_RETURN_BOOL(c->open[s]);
	elog(ERROR, "%u is not a label of mojob.job_state", label);
	pg_unreachable();
}
