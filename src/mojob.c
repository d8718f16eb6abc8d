/*
 * mojob.c
 *		Module entry: settings, per-backend caches and transaction hooks.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "mojob.h"
#include "booking.h"
#include "scheduler.h"

PG_MODULE_MAGIC;

/* The acting user, when an application names one (mojob.actor). */
static char *mojob_actor_setting = NULL;

static ExecutorFinish_hook_type prev_executor_finish = NULL;
static void mojob_executor_finish(QueryDesc *queryDesc);

static MojobCatalog catalog;

static void mojob_spi_unwind(SubTransactionId subid);
static bool catalog_valid = false;

/*
 * Columns whose values mojob's C code reads as they are, relying on their
 * NOT NULL constraint (the ones it checks for NULL itself, such as the
 * settings and a resource's name, are not listed).  required_valid is
 * cleared when one of their tables (required_rel) changes.
 */
static const struct
{
	const char *table;
	const char *column;
}			required_columns[] =
{
	{"booking", "node_id"}, {"booking", "job_id"}, {"booking", "resource_id"},
	{"booking", "held"}, {"booking", "amount"},
	{"job", "code"}, {"job", "state"}, {"job", "priority"},
	{"job", "pre_roll_start"}, {"job", "start_at"}, {"job", "end_at"},
	{"job", "post_roll_end"}, {"job", "version"},
	{"job_resource", "job_id"}, {"job_resource", "amount"},
	{"job_resource", "required_capabilities"},
	{"recurrence", "rule"}, {"recurrence", "time_zone"}, {"recurrence", "state"},
	{"recurrence", "dtstart"}, {"recurrence", "horizon"},
	{"recurrence", "instance_state"}, {"recurrence", "extended_until"},
	{"recurrence", "template_job"},
	{"resource", "enabled"}, {"resource", "concurrency"}, {"resource", "capabilities"},
};
#define NUM_REQUIRED_COLUMNS lengthof(required_columns)
static Oid	required_rel[NUM_REQUIRED_COLUMNS];
static bool required_valid = false;

static MojobJobAttrs job_attrs;
static Oid	job_attrs_rel = InvalidOid;
static MojobNodeAttrs node_attrs;
static Oid	node_attrs_rel = InvalidOid;

void		_PG_init(void);

/* Forget cached OIDs when a type or relation changes (e.g. DROP EXTENSION). */
static void
invalidate_type_cache(Datum arg, int cacheid, uint32 hashvalue)
{
	catalog_valid = false;
	required_valid = false;
	/* A domain's default may be a column default of mojob.job_resource. */
	mojob_nodes_direct_invalidate(InvalidOid);
}

static void
invalidate_rel_cache(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == job_attrs_rel)
		job_attrs_rel = InvalidOid;
	if (relid == InvalidOid || relid == node_attrs_rel)
		node_attrs_rel = InvalidOid;
	mojob_nodes_direct_invalidate(relid);
	if (relid == InvalidOid || relid == catalog.job_rel || relid == catalog.booking_rel ||
		relid == catalog.booking_pkey || relid == catalog.booking_held ||
		relid == catalog.job_pkey || relid == catalog.node_rel ||
		relid == catalog.node_job_index || relid == catalog.resource_rel ||
		relid == catalog.resource_pkey || relid == catalog.event_rel || relid == catalog.event_job_index ||
		relid == catalog.booking_start || relid == catalog.longest_rel ||
		relid == catalog.longest_pkey || relid == catalog.settings_rel ||
		relid == catalog.code_seq || relid == catalog.job_seq ||
		relid == catalog.node_pkey || relid == catalog.node_seq)
		catalog_valid = false;
	for (int i = 0; i < (int) NUM_REQUIRED_COLUMNS; i++)
		if (relid == InvalidOid || relid == required_rel[i])
			required_valid = false;
}

/*
 * Refuse to work (42P16) when the owner dropped the NOT NULL constraint of
 * a column mojob reads as it is: a NULL there would otherwise be read as a
 * value (and crash the backend for text, ranges and numerics).
 */
static void
check_required_columns(Oid nsp)
{
	for (int i = 0; i < (int) NUM_REQUIRED_COLUMNS; i++)
	{
		Oid			rel = get_relname_relid(required_columns[i].table, nsp);
		HeapTuple	tup;
		bool		notnull;

		if (!OidIsValid(rel))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table mojob.%s does not exist", required_columns[i].table),
					 errhint("Re-create the extension from a dump.")));
		required_rel[i] = rel;
		tup = SearchSysCacheAttName(rel, required_columns[i].column);
		if (!HeapTupleIsValid(tup))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of mojob.%s does not exist",
							required_columns[i].column, required_columns[i].table),
					 errdetail("mojob reads and writes that column of its table; it was renamed or dropped."),
					 errhint("Give it back its name and type (ALTER TABLE mojob.%s RENAME COLUMN ... TO %s), "
							 "or re-create the extension from a dump.",
							 required_columns[i].table, required_columns[i].column)));
		notnull = ((Form_pg_attribute) GETSTRUCT(tup))->attnotnull;
		ReleaseSysCache(tup);
		if (!notnull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("column \"%s\" of mojob.%s is no longer NOT NULL",
							required_columns[i].column, required_columns[i].table),
					 errdetail("mojob reads that column as a value in every row; its NOT NULL constraint was dropped."),
					 errhint("Give it back its constraint: ALTER TABLE mojob.%s ALTER COLUMN %s SET NOT NULL.",
							 required_columns[i].table, required_columns[i].column)));
	}
	required_valid = true;
}

/* Discard what a transaction left behind; wake the scheduler if it committed. */
static void
xact_reset(bool committed)
{
	mojob_scheduler_xact_end(committed);
	mojob_history_xact_end();
	mojob_confirm_check_reset(InvalidSubTransactionId);
	mojob_spi_unwind(InvalidSubTransactionId);
	mojob_request.active = false;
	mojob_clock.active = false;
	mojob_touch.active = false;
	mojob_job_is_new_reset();
	mojob_issued_ids_reset();
	mojob_guard_xact_end();
}

static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* Rows approved but never written (a COPY's, say). */
			if (mojob_guard_any_approved())
				mojob_guard_check_written(0);
			if (mojob_history_pending() || mojob_confirm_check_pending())
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("mojob history was not written before commit"),
						 errdetail("A statement made transitions outside the executor."),
						 errhint("This is a bug in mojob; please report it.")));
			mojob_history_pre_commit();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			xact_reset(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
			xact_reset(false);
			break;
		default:
			break;
	}
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		mojob_history_subxact_abort(mySubid);
		mojob_guard_subxact_abort(mySubid);
		mojob_confirm_check_reset(mySubid);
		mojob_spi_unwind(mySubid);
	}
}

void
_PG_init(void)
{
	DefineCustomStringVariable("mojob.actor",
							   "The user that mojob records as making changes.",
							   "Applications that connect as one role for many people set it; "
							   "when empty, session_user is recorded.",
							   &mojob_actor_setting,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomRealVariable("mojob.notify_queue_limit",
							 "How full PostgreSQL's notification queue may be for mojob to add its notifications.",
							 "Above it (a fraction of the queue), mojob drops its own notifications rather than "
							 "fail the transaction at commit, and logs that at most once a minute.",
							 &mojob_notify_queue_limit,
							 0.5, 0.0, 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	CacheRegisterSyscacheCallback(TYPEOID, invalidate_type_cache, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, invalidate_type_cache, (Datum) 0);
	CacheRegisterRelcacheCallback(invalidate_rel_cache, (Datum) 0);
	RegisterXactCallback(xact_callback, NULL);
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = mojob_executor_finish;

	mojob_scheduler_init();

	/* After every mojob.* setting is defined: unknown ones are typos. */
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("mojob");
#else
	EmitWarningsOnPlaceholders("mojob");
#endif
	RegisterSubXactCallback(subxact_callback, NULL);
}

/* The OIDs mojob needs, looked up once per backend. */
static const MojobCatalog *
catalog_load(void)
{
	if (!catalog_valid)
	{
		Oid			nsp = get_namespace_oid("mojob", false);
		Oid			typ;
		MojobCatalog old = catalog;

		typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							  CStringGetDatum("job_state"),
							  ObjectIdGetDatum(nsp));
		if (!OidIsValid(typ))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("type mojob.job_state does not exist"),
					 errhint("Run CREATE EXTENSION mojob.")));
		catalog.namespace = nsp;
		catalog.state_type = typ;
		catalog.state_array_type = get_array_type(typ);
		catalog.priority_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
												CStringGetDatum("job_priority"),
												ObjectIdGetDatum(nsp));
		for (int i = 0; i < MJ_NUM_STATES; i++)
		{
			Oid			label = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
												ObjectIdGetDatum(typ),
												CStringGetDatum(mojob_states[i].name));

			if (!OidIsValid(label))
				elog(ERROR, "mojob.job_state has no label \"%s\"",
					 mojob_states[i].name);
			catalog.state_oid[i] = label;
		}
		catalog.job_rel = get_relname_relid("job", nsp);
		{
			HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog.job_rel));

			if (!HeapTupleIsValid(tup))
				elog(ERROR, "cache lookup failed for relation %u", catalog.job_rel);
			catalog.owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
			ReleaseSysCache(tup);
		}
		catalog.booking_rel = get_relname_relid("booking", nsp);
		catalog.booking_pkey = get_relname_relid("booking_pkey", nsp);
		catalog.booking_held = get_relname_relid("booking_resource_held", nsp);
		catalog.job_pkey = get_relname_relid("job_pkey", nsp);
		catalog.job_seq = get_relname_relid("job_id_seq", nsp);
		catalog.node_pkey = get_relname_relid("job_resource_pkey", nsp);
		catalog.node_seq = get_relname_relid("job_resource_id_seq", nsp);
		catalog.booking_start = get_relname_relid("booking_resource_start", nsp);
		catalog.longest_rel = get_relname_relid("booking_longest", nsp);
		catalog.longest_pkey = get_relname_relid("booking_longest_pkey", nsp);
		catalog.node_rel = get_relname_relid("job_resource", nsp);
		catalog.node_job_index = get_relname_relid("job_resource_once", nsp);
		catalog.resource_rel = get_relname_relid("resource", nsp);
		catalog.resource_pkey = get_relname_relid("resource_pkey", nsp);
		catalog.event_rel = get_relname_relid("job_event", nsp);
		catalog.event_seq = get_relname_relid("job_event_id_seq", nsp);
		catalog.event_job_index = get_relname_relid("job_event_job_id_id_idx", nsp);
		catalog.settings_rel = get_relname_relid("settings", nsp);
		catalog.code_seq = get_relname_relid("job_code_seq", nsp);
		if (!OidIsValid(catalog.booking_rel) || !OidIsValid(catalog.booking_pkey) ||
			!OidIsValid(catalog.booking_held) || !OidIsValid(catalog.job_pkey) ||
			!OidIsValid(catalog.node_rel) || !OidIsValid(catalog.node_job_index) ||
			!OidIsValid(catalog.resource_rel) || !OidIsValid(catalog.resource_pkey) ||
			!OidIsValid(catalog.event_rel) || !OidIsValid(catalog.event_seq) ||
			!OidIsValid(catalog.event_job_index) ||
			!OidIsValid(catalog.settings_rel) || !OidIsValid(catalog.code_seq) ||
			!OidIsValid(catalog.booking_start) || !OidIsValid(catalog.longest_rel) ||
			!OidIsValid(catalog.longest_pkey) || !OidIsValid(catalog.job_seq) ||
			!OidIsValid(catalog.node_pkey) || !OidIsValid(catalog.node_seq))
			elog(ERROR, "a table or index of mojob is missing");
		{
			static const char *const cols[5] = {"node_id", "job_id", "resource_id", "held", "amount"};

			for (int i = 0; i < 5; i++)
			{
				if (get_attnum(catalog.booking_rel, cols[i]) != i + 1)
					elog(ERROR, "column %s of mojob.booking is not where mojob expects it", cols[i]);
			}
		}
		/* Saved plans survive unless mojob's objects were re-created. */
		catalog.generation = old.generation;
		if (memcmp(&old, &catalog, sizeof(MojobCatalog)) != 0)
			catalog.generation = old.generation + 1;
		catalog_valid = true;
	}
	return &catalog;
}

/*
 * mojob's catalog, for code that reads or writes its tables: it refuses to
 * work when a column it reads as a value lost its NOT NULL constraint.
 */
const MojobCatalog *
mojob_catalog(void)
{
	catalog_load();
	if (!required_valid)
		check_required_columns(catalog.namespace);
	return &catalog;
}

/*
 * mojob's types only, for the functions that read no table (the state
 * table's, used in index expressions and views, and the state conversions).
 */
const MojobCatalog *
mojob_catalog_types(void)
{
	return catalog_load();
}

/* The state an enum label OID stands for. */
MojobState
mojob_state_from_oid(Oid label)
{
	const MojobCatalog *c = mojob_catalog_types();

	for (int i = 0; i < MJ_NUM_STATES; i++)
		if (c->state_oid[i] == label)
			return (MojobState) i;
	elog(ERROR, "%u is not a label of mojob.job_state", label);
	pg_unreachable();
}

Datum
mojob_state_datum(MojobState state)
{
	return ObjectIdGetDatum(mojob_catalog_types()->state_oid[state]);
}

/* Where column "column" is in desc (not dropped), or InvalidAttrNumber. */
AttrNumber
mojob_column_find(TupleDesc desc, const char *column)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/*
 * The column of mojob's table "table" (its descriptor desc) named column,
 * of type type (or a domain over it; InvalidOid: any type).  Every lookup
 * of a column by name goes through here: an owner who renamed, dropped or
 * retyped a column mojob relies on gets an error naming it, never a read
 * of a column that is not there.
 */
AttrNumber
mojob_column(TupleDesc desc, const char *table, const char *column, Oid type)
{
	AttrNumber	att = mojob_column_find(desc, column);
	Oid			found;

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of mojob.%s does not exist", column, table),
				 errdetail("mojob reads and writes that column of its table; it was renamed or dropped."),
				 errhint("Give it back its name and type (ALTER TABLE mojob.%s RENAME COLUMN ... TO %s), "
						 "or re-create the extension from a dump.", table, column)));
	found = TupleDescAttr(desc, att - 1)->atttypid;
	if (OidIsValid(type) && found != type && getBaseType(found) != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of mojob.%s has type %s, not %s", column, table,
						format_type_be(found), format_type_be(type)),
				 errdetail("mojob reads and writes that column as %s.", format_type_be(type)),
				 errhint("Give it back its type: ALTER TABLE mojob.%s ALTER COLUMN %s TYPE %s.",
						 table, column, format_type_be(type))));
	return att;
}

/* Column numbers of mojob.job, cached until the table changes. */
const MojobJobAttrs *
mojob_job_attrs(Relation rel)
{
	if (job_attrs_rel != RelationGetRelid(rel))
	{
		TupleDesc	d = RelationGetDescr(rel);

		job_attrs.id = mojob_column(d, "job", "id", INT8OID);
		job_attrs.code = mojob_column(d, "job", "code", TEXTOID);
		job_attrs.name = mojob_column(d, "job", "name", TEXTOID);
		job_attrs.description = mojob_column(d, "job", "description", TEXTOID);
		job_attrs.priority = mojob_column(d, "job", "priority", mojob_catalog()->priority_type);
		job_attrs.state = mojob_column(d, "job", "state", mojob_catalog()->state_type);
		job_attrs.pre_roll_start = mojob_column(d, "job", "pre_roll_start", TIMESTAMPTZOID);
		job_attrs.start_at = mojob_column(d, "job", "start_at", TIMESTAMPTZOID);
		job_attrs.end_at = mojob_column(d, "job", "end_at", TIMESTAMPTZOID);
		job_attrs.post_roll_end = mojob_column(d, "job", "post_roll_end", TIMESTAMPTZOID);
		job_attrs.canceled_at = mojob_column(d, "job", "canceled_at", TIMESTAMPTZOID);
		job_attrs.cancel_reason = mojob_column(d, "job", "cancel_reason", TEXTOID);
		job_attrs.owner = mojob_column(d, "job", "owner", TEXTOID);
		job_attrs.properties = mojob_column(d, "job", "properties", JSONBOID);
		job_attrs.version = mojob_column(d, "job", "version", INT8OID);
		job_attrs.created_at = mojob_column(d, "job", "created_at", TIMESTAMPTZOID);
		job_attrs.created_by = mojob_column(d, "job", "created_by", TEXTOID);
		job_attrs.updated_at = mojob_column(d, "job", "updated_at", TIMESTAMPTZOID);
		job_attrs.locked_by = mojob_column(d, "job", "locked_by", TEXTOID);
		job_attrs.locked_until = mojob_column(d, "job", "locked_until", TIMESTAMPTZOID);
		job_attrs.recurrence_id = mojob_column(d, "job", "recurrence_id", INT8OID);
		job_attrs.id_rule = mojob_id_rule(rel, job_attrs.id, mojob_catalog()->job_seq);
		job_attrs_rel = RelationGetRelid(rel);
	}
	return &job_attrs;
}

/* Column numbers of mojob.job_resource, cached until the table changes. */
const MojobNodeAttrs *
mojob_node_attrs(Relation rel)
{
	if (node_attrs_rel != RelationGetRelid(rel))
	{
		TupleDesc	d = RelationGetDescr(rel);

		node_attrs.id = mojob_column(d, "job_resource", "id", INT8OID);
		node_attrs.job_id = mojob_column(d, "job_resource", "job_id", INT8OID);
		node_attrs.resource_id = mojob_column(d, "job_resource", "resource_id", INT8OID);
		node_attrs.pool_id = mojob_column(d, "job_resource", "pool_id", INT8OID);
		node_attrs.amount = mojob_column(d, "job_resource", "amount", NUMERICOID);
		node_attrs.required_capabilities = mojob_column(d, "job_resource", "required_capabilities", TEXTARRAYOID);
		node_attrs.held_from = mojob_column(d, "job_resource", "held_from", TIMESTAMPTZOID);
		node_attrs.held_until = mojob_column(d, "job_resource", "held_until", TIMESTAMPTZOID);
		node_attrs.id_rule = mojob_id_rule(rel, node_attrs.id, mojob_catalog()->node_seq);
		node_attrs_rel = RelationGetRelid(rel);
	}
	return &node_attrs;
}

/*
 * Refuse text that is not valid in the database encoding (22021) before
 * mojob stores it: text that did not come through a type's input function
 * (a setting given at connection start, for one) is not checked by
 * anything else, and a row holding it would not restore from a dump.
 * Control characters are valid text, and pass.
 */
void
mojob_check_text(const char *s, const char *what)
{
	int			len = strlen(s);

	if (!pg_verifymbstr(s, len, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("%s is not valid text in encoding \"%s\"", what, GetDatabaseEncodingName()),
				 errdetail("Its value has a byte sequence that is invalid in the database encoding."),
				 errhint("Set %s to valid text (SET %s = '...').", what, what)));
}

/*
 * The acting user: mojob.actor when set, else session_user.  The result is
 * valid until the setting or the session user changes; copy it to keep it.
 */
const char *
mojob_actor(void)
{
	static Oid	session_user = InvalidOid;
	static char session_name[NAMEDATALEN];

	if (mojob_actor_setting != NULL && mojob_actor_setting[0] != '\0')
	{
		mojob_check_text(mojob_actor_setting, "mojob.actor");
		return mojob_actor_setting;
	}
	if (GetSessionUserId() != session_user)
	{
		char	   *name = GetUserNameFromId(GetSessionUserId(), false);

		strlcpy(session_name, name, NAMEDATALEN);
		pfree(name);
		session_user = GetSessionUserId();
	}
	return session_name;
}

/*
 * Scan relid through its index indexid with keys (nkeys of them), as seen
 * by snapshot, in index order; callback gets each row and returns false to
 * stop.  Returns the number of rows passed to the callback.  The scan takes
 * the locks, and under SERIALIZABLE the predicate locks, of an index scan
 * in a query.
 */
int
mojob_index_scan_keys(Oid relid, Oid indexid, Snapshot snapshot, ScanKey keys, int nkeys,
					  MojobRowCallback callback, void *arg)
{
	Relation	heap = table_open(relid, AccessShareLock);
	Relation	index = index_open(indexid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan;
	int			n = 0;
	bool		registered = IsMVCCSnapshot(snapshot);

	if (registered)
		snapshot = RegisterSnapshot(snapshot);
#if PG_VERSION_NUM >= 180000
	scan = index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	scan = index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
	index_rescan(scan, keys, nkeys, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		n++;
		if (!callback(slot, arg))
			break;
	}
	index_endscan(scan);
	if (registered)
		UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	return n;
}

/* The same, for rows whose first nkeys index columns equal keys (bigints). */
int
mojob_index_scan(Oid relid, Oid indexid, Snapshot snapshot, int nkeys,
				 const int64 *keys, MojobRowCallback callback, void *arg)
{
	ScanKeyData skeys[INDEX_MAX_KEYS];

	Assert(nkeys > 0 && nkeys <= INDEX_MAX_KEYS);
	for (int i = 0; i < nkeys; i++)
		ScanKeyInit(&skeys[i], i + 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(keys[i]));
	return mojob_index_scan_keys(relid, indexid, snapshot, skeys, nkeys, callback, arg);
}

/* A callback: the TID of the first row (arg: an ItemPointer), then stop. */
bool
mojob_tid_of_first(TupleTableSlot *slot, void *arg)
{
	ItemPointerCopy(&slot->tts_tid, (ItemPointer) arg);
	return false;
}

void
mojob_insert_begin(MojobInserter *ins, Relation rel)
{
	ins->estate = CreateExecutorState();
	ins->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(ins->rri, rel, 1, NULL, 0);
	ExecOpenIndices(ins->rri, false);
	ins->slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
	ins->cid = GetCurrentCommandId(true);
	ExecClearTuple(ins->slot);
}

/* Insert the row in ins->slot (filled, or stored), with its index entries; clear the slot. */
void
mojob_insert_row(MojobInserter *ins)
{
	if (TTS_EMPTY(ins->slot))
		ExecStoreVirtualTuple(ins->slot);
	table_tuple_insert(ins->rri->ri_RelationDesc, ins->slot, ins->cid, 0, NULL);
#if PG_VERSION_NUM >= 160000
	ExecInsertIndexTuples(ins->rri, ins->slot, ins->estate, false, false, NULL, NIL, false);
#else
	ExecInsertIndexTuples(ins->rri, ins->slot, ins->estate, false, false, NULL, NIL);
#endif
	ResetPerTupleExprContext(ins->estate);
	ExecClearTuple(ins->slot);
}

/* Close the indexes; the caller makes the rows visible (CommandCounterIncrement). */
void
mojob_insert_end(MojobInserter *ins)
{
	ExecCloseIndices(ins->rri);
	ExecDropSingleTupleTableSlot(ins->slot);
	FreeExecutorState(ins->estate);
}

/* mojob.acting_user(): mojob.actor, else session_user. */
PG_FUNCTION_INFO_V1(mojob_acting_user);
Datum
mojob_acting_user(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(mojob_actor()));
}

/*
 * Refuse to run trigger function fname on any table but relid (or, with
 * relid InvalidOid, on a table outside schema mojob).  mojob attaches its
 * guards itself; attached by someone to a table of their own, a guard would
 * write history and bookings for rows that are not mojob's.
 */
void
mojob_check_trigger_table(Relation rel, Oid relid, const char *fname)
{
	const MojobCatalog *c = mojob_catalog();

	if (OidIsValid(relid) ? RelationGetRelid(rel) == relid
		: RelationGetNamespace(rel) == c->namespace)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("%s fires only on mojob's own tables", fname),
			 errdetail("It was fired on table \"%s\".", RelationGetRelationName(rel)),
			 errhint("mojob attaches its triggers itself; drop this trigger.")));
}

/* Save the contexts of mojob's calls and clear them (see mojob.h). */
MojobContext
mojob_context_enter(void)
{
	MojobContext saved;

	saved.request = mojob_request;
	saved.clock = mojob_clock;
	saved.touch = mojob_touch;
	mojob_request.active = false;
	mojob_clock.active = false;
	mojob_touch.active = false;
	return saved;
}

/* Put back the contexts saved by mojob_context_enter. */
void
mojob_context_leave(const MojobContext *saved)
{
	mojob_request = saved->request;
	mojob_clock = saved->clock;
	mojob_touch = saved->touch;
}

/* Has an application named the acting user (mojob.actor)? */
bool
mojob_actor_is_set(void)
{
	return mojob_actor_setting != NULL && mojob_actor_setting[0] != '\0';
}

/*
 * After every statement: write the history of the transitions it made (and
 * check the jobs it confirmed), in one go.
 */
static void
mojob_executor_finish(QueryDesc *queryDesc)
{
	if (prev_executor_finish)
		prev_executor_finish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
	/* Its rows' AFTER triggers have fired: each approved row was matched. */
	if (mojob_guard_any_approved() && queryDesc->estate != NULL &&
		(queryDesc->operation != CMD_SELECT || queryDesc->plannedstmt->hasModifyingCTE))
		mojob_guard_check_written(queryDesc->estate->es_output_cid);
	if (mojob_history_pending() || mojob_confirm_check_pending())
	{
		mojob_confirm_check_flush();
		mojob_history_flush();
	}
}

/*
 * May current_user write rows that bypass the life cycle (a restore)?
 * Only superusers and members of the role owning the table.
 */
bool
mojob_is_privileged(Oid relid)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, GetUserId());
#else
	return pg_class_ownercheck(relid, GetUserId());
#endif
}

static SPIPlanPtr
prepare_plan(MojobPlan *slot, const char *sql, int nargs, const Oid *argtypes, int options)
{
	const MojobCatalog *c = mojob_catalog();

	if (slot->plan != NULL && slot->generation != c->generation)
	{
		SPI_freeplan(slot->plan);
		slot->plan = NULL;
	}
	if (slot->plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		slot->plan = p;
		slot->generation = c->generation;
	}
	return slot->plan;
}

/*
 * Prepare (once) and return a saved SPI plan.  Plans are prepared again
 * after the catalog cache was rebuilt, since their parameter types may
 * name types of a dropped and re-created extension.
 *
 * Generic plans: mojob's queries are index lookups written so that their
 * best plan does not depend on the values; planning them anew at every call
 * (a custom plan) costs more than running them.
 */
SPIPlanPtr
mojob_plan(MojobPlan *slot, const char *sql, int nargs, const Oid *argtypes)
{
	return prepare_plan(slot, sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
}

/* A saved plan planned for the values of each call (rare, range-dependent queries). */
SPIPlanPtr
mojob_plan_custom(MojobPlan *slot, const char *sql, int nargs, const Oid *argtypes)
{
	return prepare_plan(slot, sql, nargs, argtypes, CURSOR_OPT_CUSTOM_PLAN);
}

/*
 * SPI for mojob's own queries: they run with search_path pg_catalog, pg_temp
 * whatever the caller's, so that no schema of the caller's can shadow an
 * operator or function they use.  Calls nest (a trigger inside a function).
 */
#define MAX_SPI_DEPTH 32
typedef struct SpiLevel
{
	int			guc_level;
	SubTransactionId subid;
	bool		as_owner;
	Oid			save_userid;
	int			save_sec_context;
} SpiLevel;
static SpiLevel spi_levels[MAX_SPI_DEPTH];
static int	spi_depth = 0;

static void
spi_connect(bool as_owner)
{
	SpiLevel   *level;

	if (spi_depth >= MAX_SPI_DEPTH)
		elog(ERROR, "mojob calls nest too deeply");
	(void) mojob_catalog();		/* refuses where a column lost NOT NULL */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	level = &spi_levels[spi_depth];
	level->subid = GetCurrentSubTransactionId();
	level->as_owner = as_owner;
	GetUserIdAndSecContext(&level->save_userid, &level->save_sec_context);
	level->guc_level = NewGUCNestLevel();
	spi_depth++;
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (as_owner)
		SetUserIdAndSecContext(mojob_catalog()->owner,
							   level->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * Is one of mojob's functions running (a level of SPI in the caller's name
 * on the stack)?  Then the rules hold for every caller: only plain SQL by
 * the tables' owner (a restore) may bypass them.
 */
bool
mojob_in_function(void)
{
	for (int i = 0; i < spi_depth; i++)
		if (!spi_levels[i].as_owner)
			return true;
	return false;
}

/* SPI for the statements a caller asked for: they run with its privileges. */
void
mojob_spi_connect(void)
{
	spi_connect(false);
}

/*
 * SPI for mojob's own bookkeeping (history rows, bookings, locking resource
 * rows, reading settings): it runs as the owner of mojob's tables, as
 * PostgreSQL runs foreign-key checks as the table owner, so that a role
 * allowed to reserve a job needs no rights on the tables mojob keeps for
 * itself.
 */
void
mojob_spi_connect_owner(void)
{
	spi_connect(true);
}

/*
 * An abort undoes the GUC nest levels and SPI connections made inside the
 * aborted (sub)transaction; forget ours too.
 */
static void
mojob_spi_unwind(SubTransactionId subid)
{
	while (spi_depth > 0 && spi_levels[spi_depth - 1].subid >= subid)
		spi_depth--;
}

void
mojob_spi_finish(void)
{
	Assert(spi_depth > 0);
	spi_depth--;
	if (spi_levels[spi_depth].as_owner)
		SetUserIdAndSecContext(spi_levels[spi_depth].save_userid,
							   spi_levels[spi_depth].save_sec_context);
	AtEOXact_GUC(true, spi_levels[spi_depth].guc_level);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * The row tuple (of a statement's result desc, RETURNING * or SELECT * on
 * mojob's table relid) as the value of a function declared to return the
 * table's row type, in the caller's memory: SPI_returntuple, once the row
 * has the row type's shape.  A column the owner dropped keeps its slot in
 * the row type but has none in the statement's result, so the columns are
 * matched by name (the executor's tuple conversion), the dropped ones null.
 */
Datum
mojob_spi_return_row(HeapTuple tuple, TupleDesc desc, Oid relid)
{
	Oid			rowtype = get_rel_type_id(relid);
	TupleDesc	rowdesc;
	TupleConversionMap *map;
	HeapTupleHeader result;

	if (!OidIsValid(rowtype))
		elog(ERROR, "cache lookup failed for the row type of relation %u", relid);
	rowdesc = lookup_rowtype_tupdesc(rowtype, -1);
	map = convert_tuples_by_name(desc, rowdesc);
	if (map != NULL)
		tuple = execute_attr_map_tuple(tuple, map);
	result = SPI_returntuple(tuple, rowdesc);
	ReleaseTupleDesc(rowdesc);
	return PointerGetDatum(result);
}

/* A timestamp as text in the session's DateStyle and TimeZone. */
char *
mojob_timestamp_text(TimestampTz t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out,
											   TimestampTzGetDatum(t)));
}
