/*
 * mojob.h
 *		Declarations shared by the mojob extension's source files.
 *
 * mojob makes PostgreSQL enforce the life cycle of media-operations jobs.
 * The state graph lives in state_graph.c; the guard trigger in guard.c;
 * history and NOTIFY in history.c; the SQL-callable job functions in jobs.c.
 */
#ifndef MOJOB_H
#define MOJOB_H

#include "postgres.h"

#include "access/htup.h"
#include "access/skey.h"
#include "commands/trigger.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "utils/relcache.h"

/* SQLSTATEs of the design contract (docs/design.md section 6). */
#define ERRCODE_MOJOB_TRANSITION		MAKE_SQLSTATE('M','J','0','0','1')
#define ERRCODE_MOJOB_NOT_EDITABLE		MAKE_SQLSTATE('M','J','0','0','2')
#define ERRCODE_MOJOB_NOT_DELETABLE		MAKE_SQLSTATE('M','J','0','0','3')
#define ERRCODE_MOJOB_LOCKED			MAKE_SQLSTATE('M','J','0','0','4')
#define ERRCODE_MOJOB_CONFLICT			MAKE_SQLSTATE('M','J','0','0','5')
#define ERRCODE_MOJOB_NOT_READY			MAKE_SQLSTATE('M','J','0','0','6')
#define ERRCODE_MOJOB_NOT_FOUND			MAKE_SQLSTATE('M','J','4','0','4')

/* ---------------------------------------------------------------------
 * The state graph (state_graph.c)
 * ---------------------------------------------------------------------
 */

/* The states of mojob.job_state, in the enum's order. */
typedef enum MojobState
{
	MJ_DRAFT = 0,
	MJ_TENTATIVE,
	MJ_CONFIRMED,
	MJ_RUNNING,
	MJ_COMPLETED,
	MJ_CANCELED
} MojobState;

#define MJ_NUM_STATES	6

/* What may change in a job while it is in a state. */
typedef enum MojobEditRule
{
	MJ_EDIT_ALL,				/* every column but the job's identity */
	MJ_EDIT_RUNNING,			/* metadata, and end_at/post_roll_end to the
								 * future */
	MJ_EDIT_METADATA,			/* metadata only */
	MJ_EDIT_NOTHING				/* read-only */
} MojobEditRule;

/* Who makes a transition. */
typedef enum MojobCause
{
	MJ_CAUSE_USER,
	MJ_CAUSE_TIME
} MojobCause;

typedef struct MojobStateInfo
{
	const char *name;			/* enum label */
	bool		initial;		/* may a job be created in it? */
	bool		holds;			/* do its bookings hold their resources? */
	bool		deletable;		/* may the job be deleted? */
	MojobEditRule edit;			/* what may change */
	const char *board;			/* ops board column, NULL = not shown */
	const char *color;			/* drawing colour */
} MojobStateInfo;

typedef struct MojobEdge
{
	MojobState	from;
	MojobState	to;
	MojobCause	cause;
	const char *action;			/* short name: reserve, confirm, ... advance */
	const char *function;		/* what makes it: a SQL function call */
} MojobEdge;

extern const MojobStateInfo mojob_states[MJ_NUM_STATES];

extern const MojobEdge *mojob_find_edge(MojobState from, MojobState to,
										MojobCause cause);
extern const MojobEdge *mojob_find_action(MojobState from, const char *action);
extern bool mojob_has_edge(MojobState from, MojobState to);
extern char *mojob_successors_text(MojobState from);
extern char *mojob_action_sources_text(const char *action);
extern const char *mojob_cause_name(MojobCause cause);

/* ---------------------------------------------------------------------
 * Catalog cache (mojob.c): OIDs looked up once per backend.
 * ---------------------------------------------------------------------
 */
typedef struct MojobCatalog
{
	Oid			namespace;		/* schema mojob */
	Oid			state_type;		/* mojob.job_state */
	Oid			state_array_type;	/* mojob.job_state[] */
	Oid			priority_type;	/* mojob.job_priority */
	Oid			state_oid[MJ_NUM_STATES];	/* enum label OIDs */
	Oid			job_rel;		/* mojob.job */
	Oid			owner;			/* the owner of mojob.job */
	Oid			booking_rel;	/* mojob.booking, read and written directly (booking.c);
								 * columns node_id, job_id, resource_id, held, amount */
	Oid			booking_pkey;	/* its primary key, on node_id */
	Oid			booking_held;	/* its GiST index on (resource_id, held) */
	Oid			booking_start;	/* its B-tree on (resource_id, lower(held)) */
	Oid			longest_rel;	/* mojob.booking_longest */
	Oid			longest_pkey;	/* its primary key */
	Oid			job_pkey;		/* mojob.job's primary key */
	Oid			job_seq;		/* mojob.job_id_seq, whose ids mojob.next_id() gives */
	Oid			node_rel;		/* mojob.job_resource */
	Oid			node_pkey;		/* its primary key */
	Oid			node_seq;		/* mojob.job_resource_id_seq */
	Oid			node_job_index; /* its unique index on (job_id, resource_id) */
	Oid			resource_rel;	/* mojob.resource */
	Oid			resource_pkey;	/* its primary key */
	Oid			event_rel;		/* mojob.job_event */
	Oid			event_seq;		/* mojob.job_event_id_seq */
	Oid			event_job_index;	/* its index on (job_id, id) */
	Oid			settings_rel;	/* mojob.settings */
	Oid			code_seq;		/* mojob.job_code_seq */
	uint64		generation;		/* bumped whenever the cache is rebuilt */
} MojobCatalog;

extern const MojobCatalog *mojob_catalog(void);
extern const MojobCatalog *mojob_catalog_types(void);
extern MojobState mojob_state_from_oid(Oid label);
extern Datum mojob_state_datum(MojobState state);

/*
 * How the ids of a table are given (guard.c): by mojob.next_id(), the 1.1
 * default; by the 1.0 default in a database not yet updated (no
 * mojob.next_id() exists), where the 1.0 rules hold; or by another default
 * the owner set.
 */
typedef enum MojobIdRule
{
	MJ_ID_NEXT_ID,
	MJ_ID_LEGACY,
	MJ_ID_OTHER
} MojobIdRule;

extern MojobIdRule mojob_id_rule(Relation rel, AttrNumber att, Oid seq);

/* Column numbers of mojob.job, looked up by name. */
typedef struct MojobJobAttrs
{
	MojobIdRule id_rule;		/* how its ids are given */
	AttrNumber	id,
				code,
				name,
				description,
				priority,
				state,
				pre_roll_start,
				start_at,
				end_at,
				post_roll_end,
				canceled_at,
				cancel_reason,
				owner,
				properties,
				version,
				created_at,
				created_by,
				updated_at,
				locked_by,
				locked_until,
				recurrence_id;
} MojobJobAttrs;

extern const MojobJobAttrs *mojob_job_attrs(Relation rel);

/* Columns of mojob's tables by name, checked (mojob.c): every lookup goes through these. */
extern AttrNumber mojob_column_find(TupleDesc desc, const char *column);
extern AttrNumber mojob_column(TupleDesc desc, const char *table, const char *column, Oid type);

/* Column numbers of mojob.job_resource, looked up by name. */
typedef struct MojobNodeAttrs
{
	MojobIdRule id_rule;		/* how its ids are given */
	AttrNumber	id,
				job_id,
				resource_id,
				pool_id,
				amount,
				required_capabilities,
				held_from,
				held_until;
} MojobNodeAttrs;

extern const MojobNodeAttrs *mojob_node_attrs(Relation rel);

/* create_job's nodes, inserted without an INSERT where that is the same (nodes.c). */
extern bool mojob_insert_nodes_direct(int64 job_id, struct ArrayType *resources);
/* A job's window moved: its nodes' own windows move with it (nodes.c). */
extern bool mojob_move_node_windows(int64 job_id, const char *code, int64 dfrom, int64 duntil);
extern void mojob_nodes_direct_invalidate(Oid relid);

/*
 * Read mojob's own tables directly, by index, where a query per row would
 * cost more than the work (booking.c, nodes.c).
 */
typedef bool (*MojobRowCallback) (TupleTableSlot *slot, void *arg);
extern int	mojob_index_scan_keys(Oid relid, Oid indexid, Snapshot snapshot, ScanKey keys,
								  int nkeys, MojobRowCallback callback, void *arg);
extern int	mojob_index_scan(Oid relid, Oid indexid, Snapshot snapshot, int nkeys,
							 const int64 *keys, MojobRowCallback callback, void *arg);
extern bool mojob_tid_of_first(TupleTableSlot *slot, void *arg);

/*
 * Write rows of mojob's own tables directly (heap and index entries), as
 * the executor would, but no trigger and no constraint: the callers write
 * what those would ensure.  Fill slot's values and nulls, then insert.
 */
typedef struct MojobInserter
{
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	CommandId	cid;
} MojobInserter;
extern void mojob_insert_begin(MojobInserter *ins, Relation rel);
extern void mojob_insert_row(MojobInserter *ins);
extern void mojob_insert_end(MojobInserter *ins);

/* ---------------------------------------------------------------------
 * Backend-wide helpers (mojob.c)
 * ---------------------------------------------------------------------
 */
extern const char *mojob_actor(void);
extern void mojob_check_text(const char *s, const char *what);
extern bool mojob_actor_is_set(void);
extern void mojob_check_trigger_table(Relation rel, Oid relid, const char *fname);
extern bool mojob_is_privileged(Oid relid);

/* A saved SPI plan that is re-prepared when the catalog cache changes. */
typedef struct MojobPlan
{
	SPIPlanPtr	plan;
	uint64		generation;
} MojobPlan;

extern void mojob_spi_connect(void);
extern void mojob_spi_connect_owner(void);
extern bool mojob_in_function(void);
extern void mojob_spi_finish(void);
extern Datum mojob_spi_return_row(HeapTuple tuple, TupleDesc desc, Oid relid);
extern SPIPlanPtr mojob_plan(MojobPlan *slot, const char *sql, int nargs,
							 const Oid *argtypes);
extern SPIPlanPtr mojob_plan_custom(MojobPlan *slot, const char *sql, int nargs,
									const Oid *argtypes);

/* ---------------------------------------------------------------------
 * The guard (guard.c) and the context it is called in
 * ---------------------------------------------------------------------
 */

/*
 * Set by a transition function (jobs.c) around the UPDATE it runs, so that
 * the guard can tell "reserve a job that is already tentative" (refused)
 * from an ordinary edit.
 */
typedef struct MojobRequest
{
	bool		active;
	int64		job_id;
	const char *action;			/* the edge's action: reserve, confirm, ... */
	const char *function;
} MojobRequest;

/*
 * Set by mojob.advance() around its UPDATE: the transitions it makes are
 * caused by time, as of the instant "at".
 */
typedef struct MojobClock
{
	bool		active;
	TimestampTz at;
	int64		transitions;	/* counted by the guard */
} MojobClock;

/*
 * Set by the node trigger (nodes.c) around the UPDATE that "touches" a job
 * when one of its nodes changes: the guard judges it like any change, but
 * the job row itself is unchanged (no new version number).
 */
typedef struct MojobTouch
{
	bool		active;
	int64		job_id;
	bool		restore;		/* a restore's node: the job's lock stays as dumped */
} MojobTouch;

extern MojobTouch mojob_touch;

/*
 * The three contexts together.  A call that sets one saves them all and
 * clears them (mojob_context_enter), and puts back what it saved on the
 * way out, error or not (mojob_context_leave): a call nested inside
 * another's statement (a site's trigger calling mojob.reserve() while a
 * transition is being made) neither sees the outer context nor clears it.
 */
typedef struct MojobContext
{
	MojobRequest request;
	MojobClock	clock;
	MojobTouch	touch;
} MojobContext;

extern MojobContext mojob_context_enter(void);
extern void mojob_context_leave(const MojobContext *saved);

extern void mojob_refuse_locked(const char *code, const char *holder, TimestampTz until);

/* Rows approved while a site's trigger fires after the guard (guard.c). */
extern void mojob_guard_approved(TriggerData *td, HeapTuple tuple, AttrNumber idatt);
extern void mojob_guard_check_written(CommandId cid);
extern bool mojob_guard_any_approved(void);
extern void mojob_guard_subxact_abort(SubTransactionId subid);
extern void mojob_guard_xact_end(void);

/* Jobs created by the current transaction (guard.c). */
extern void mojob_job_is_new_note(int64 job_id);
extern bool mojob_take_issued_id(Oid seq, int64 id);
extern void mojob_issued_ids_reset(void);
extern void mojob_check_chosen_id(Relation rel, AttrNumber att, int64 id, MojobIdRule rule);
extern bool mojob_job_is_new(int64 job_id);
extern void mojob_job_is_new_reset(void);
extern MojobRequest mojob_request;
extern MojobClock mojob_clock;

/* Time transitions (jobs.c), for mojob.advance() and the scheduler. */
extern int64 mojob_advance_due(TimestampTz at, int limit,
							   struct ArrayType *exclude, struct ArrayType *only);
extern int64 *mojob_due_jobs(TimestampTz at, int limit, struct ArrayType *exclude, int *n);
extern TimestampTz mojob_next_due(TimestampTz after, struct ArrayType *exclude, bool *waiting);

/* ---------------------------------------------------------------------
 * History and NOTIFY (history.c)
 * ---------------------------------------------------------------------
 */
extern void mojob_history_record(int64 job_id, const char *code,
								 MojobState from, MojobState to,
								 MojobCause cause, const char *reason);
extern void mojob_history_flush(void);
extern bool mojob_history_pending(void);
extern void mojob_history_xact_end(void);
extern void mojob_history_subxact_abort(SubTransactionId subid);
extern void mojob_history_pre_commit(void);
extern double mojob_notify_queue_limit;
extern bool mojob_notify_drop_may_log(void);

/* ---------------------------------------------------------------------
 * Job codes (job_code.c)
 * ---------------------------------------------------------------------
 */
extern char *mojob_format_code(const char *pattern, int64 seq,
							   TimestampTz created);

/* ---------------------------------------------------------------------
 * Small shared helpers
 * ---------------------------------------------------------------------
 */
extern char *mojob_timestamp_text(TimestampTz t);

#endif							/* MOJOB_H */
