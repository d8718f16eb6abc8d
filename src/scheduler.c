/*
 * scheduler.c
 *		The scheduler: background workers that make time transitions when due.
 *
 * With shared_preload_libraries = 'mojob', the postmaster starts the
 * "mojob launcher" once recovery has finished (so never on a standby, and
 * at once after a promotion).  It connects to no database, reads the list
 * mojob.database and starts one "mojob scheduler" worker per database that
 * exists, restarting any that stops.
 *
 * A scheduler worker calls the same code as mojob.advance(), in bounded
 * batches that skip rows other transactions have locked, then sleeps until
 * the next due time, found through the partial indexes job_start_due and
 * job_end_due.  No polling interval decides lateness: a committing
 * transaction that made a due time earlier than the one the worker sleeps
 * towards sets the worker's latch from its commit callback, after its
 * changes became visible (mojob_scheduler_commit_hook), so the worker wakes,
 * looks and sees them.  Before looking, the worker publishes "awake"
 * (next_wake = infinity) and resets its latch, so a commit landing between
 * its look and its sleep wakes it again: no wake-up is lost.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "mojob.h"
#include "scheduler.h"
#include "recurrence.h"

PGDLLEXPORT void mojob_launcher_main(Datum arg);
PGDLLEXPORT void mojob_scheduler_main(Datum arg);

#define MOJOB_MAX_DATABASES 64

/* Settings (documented in the README). */
static char *mojob_databases = NULL;
static bool mojob_scheduler_on = true;
static int	mojob_batch_size = 1000;

/* One slot per scheduled database, in shared memory. */
typedef struct SchedSlot
{
	Oid			dboid;			/* InvalidOid = free */
	pid_t		pid;			/* the worker */
	int			pgprocno;		/* its PGPROC */
	pg_atomic_uint64 next_wake; /* TimestampTz it sleeps until; DT_NOEND = awake */
} SchedSlot;

typedef struct SchedShared
{
	slock_t		mutex;
	SchedSlot	slots[MOJOB_MAX_DATABASES];
} SchedShared;

static SchedShared *shared = NULL;

static pid_t serving_pid(Oid dboid);
static bool preloaded = false;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The earliest due time the current transaction created. */
static TimestampTz xact_due = DT_NOEND;

/* ---------------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------------
 */

#if PG_VERSION_NUM >= 150000
static void
sched_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SchedShared)));
}
#endif

static void
sched_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("mojob scheduler", sizeof(SchedShared), &found);
	if (!found)
	{
		SpinLockInit(&shared->mutex);
		for (int i = 0; i < MOJOB_MAX_DATABASES; i++)
		{
			shared->slots[i].dboid = InvalidOid;
			shared->slots[i].pid = 0;
			shared->slots[i].pgprocno = -1;
			pg_atomic_init_u64(&shared->slots[i].next_wake, (uint64) DT_NOEND);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ---------------------------------------------------------------------
 * Waking the worker at commit (called in every backend)
 * ---------------------------------------------------------------------
 */

/* The current transaction made a job due at "due" (guard.c). */
void
mojob_scheduler_note_due(TimestampTz due)
{
	if (preloaded && due < xact_due)
		xact_due = due;
}

/*
 * At commit: wake this database's worker if the transaction made a job due
 * before the worker means to wake up.  The transaction's changes are
 * visible to new snapshots by now.
 */
void
mojob_scheduler_xact_end(bool committed)
{
	TimestampTz due = xact_due;

	xact_due = DT_NOEND;
	if (!committed || due == DT_NOEND || shared == NULL || !OidIsValid(MyDatabaseId))
		return;
	for (int i = 0; i < MOJOB_MAX_DATABASES; i++)
	{
		SchedSlot  *slot = &shared->slots[i];
		int			procno = -1;

		SpinLockAcquire(&shared->mutex);
		if (slot->dboid == MyDatabaseId)
			procno = slot->pgprocno;
		SpinLockRelease(&shared->mutex);
		if (procno < 0)
			continue;
		pg_memory_barrier();
		if ((uint64) due < pg_atomic_read_u64(&slot->next_wake))
			SetLatch(&ProcGlobal->allProcs[procno].procLatch);
		return;
	}
}

/* ---------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------
 */

void
mojob_scheduler_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	preloaded = true;

	DefineCustomStringVariable("mojob.database",
							   "Databases whose jobs the mojob scheduler moves (a comma-separated list).",
							   "Each listed database gets a worker once it exists and has the extension.",
							   &mojob_databases,
							   "postgres",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("mojob.scheduler",
							 "Whether the mojob scheduler makes time transitions by itself.",
							 "When off, the workers idle; call mojob.advance() instead.",
							 &mojob_scheduler_on,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("mojob.batch_size",
							"How many jobs the scheduler moves per transaction when it catches up.",
							NULL,
							&mojob_batch_size,
							1000, 1, 1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sched_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(SchedShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sched_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mojob");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mojob_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mojob launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "mojob launcher");
	RegisterBackgroundWorker(&worker);
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

typedef struct LaunchedDb
{
	char		name[NAMEDATALEN];
	Oid			oid;
	BackgroundWorkerHandle *handle;
	bool		missing_logged;
	TimestampTz started;
} LaunchedDb;

/*
 * The OID of a database, or InvalidOid.  The launcher is connected to no
 * database, so it reads the shared catalog pg_database with a plain scan.
 */
static Oid
database_oid(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			oid = InvalidOid;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0 && db->datallowconn)
		{
			oid = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return oid;
}

static void
start_db_worker(LaunchedDb *db)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mojob");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "mojob_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mojob scheduler for database %s", db->name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "mojob scheduler");
	worker.bgw_main_arg = ObjectIdGetDatum(db->oid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &db->handle))
	{
		db->handle = NULL;
		ereport(WARNING,
				(errmsg("mojob launcher could not start a scheduler for database \"%s\"", db->name),
				 errhint("Raise max_worker_processes.")));
		return;
	}
	db->started = GetCurrentTimestamp();
}

void
mojob_launcher_main(Datum arg)
{
	LaunchedDb	dbs[MOJOB_MAX_DATABASES];
	int			ndbs = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	ereport(LOG, (errmsg("mojob launcher started for databases \"%s\"", mojob_databases)));

	for (;;)
	{
		char	   *rawlist;
		List	   *names = NIL;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		rawlist = pstrdup(mojob_databases);
		if (!SplitIdentifierString(rawlist, ',', &names))
			ereport(LOG, (errmsg("mojob.database is not a valid list: \"%s\"", mojob_databases)));

		/* Stop workers of databases no longer listed. */
		for (int i = 0; i < ndbs; i++)
		{
			bool		listed = false;

			foreach(lc, names)
				listed |= strcmp(dbs[i].name, (char *) lfirst(lc)) == 0;
			if (!listed)
			{
				if (dbs[i].handle)
					TerminateBackgroundWorker(dbs[i].handle);
				dbs[i--] = dbs[--ndbs];
			}
		}

		foreach(lc, names)
		{
			char	   *name = lfirst(lc);
			LaunchedDb *db = NULL;
			pid_t		pid;
			Oid			oid;

			for (int i = 0; i < ndbs && db == NULL; i++)
				if (strcmp(dbs[i].name, name) == 0)
					db = &dbs[i];
			if (db == NULL)
			{
				if (ndbs == MOJOB_MAX_DATABASES)
					break;
				db = &dbs[ndbs++];
				memset(db, 0, sizeof(*db));
				strlcpy(db->name, name, NAMEDATALEN);
			}
			if (db->handle && GetBackgroundWorkerPid(db->handle, &pid) != BGWH_STOPPED)
				continue;

			oid = database_oid(name);
			if (!OidIsValid(oid))
			{
				if (!db->missing_logged)
					ereport(LOG,
							(errmsg("mojob scheduler: database \"%s\" does not exist; waiting for it", name)));
				db->missing_logged = true;
				continue;
			}
			db->missing_logged = false;
			db->oid = oid;
			/* A worker left running by an earlier launcher serves it still. */
			if (serving_pid(oid) != 0)
				continue;
			/* A worker that stopped at once is not restarted in a tight loop. */
			if (db->handle == NULL ||
				TimestampDifferenceExceeds(db->started, GetCurrentTimestamp(), 5000))
				start_db_worker(db);
		}
		list_free(names);
		pfree(rawlist);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------------------------------------------------------------------
 * A database's worker
 * ---------------------------------------------------------------------
 */

static SchedSlot *my_slot = NULL;

static void
release_slot(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->dboid = InvalidOid;
		my_slot->pid = 0;
		my_slot->pgprocno = -1;
	}
	SpinLockRelease(&shared->mutex);
	my_slot = NULL;
}

/* The pid of a live worker serving database dboid, or 0. */
static pid_t
serving_pid(Oid dboid)
{
	pid_t		pid = 0;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < MOJOB_MAX_DATABASES; i++)
		if (shared->slots[i].dboid == dboid)
			pid = shared->slots[i].pid;
	SpinLockRelease(&shared->mutex);
	if (pid != 0 && pid != MyProcPid && kill(pid, 0) != 0)
		pid = 0;
	return pid;
}

/*
 * Take the database's slot.  One worker per database: if another is alive
 * (a launcher restarted while its workers ran on), this one leaves.
 */
static void
claim_slot(void)
{
	pid_t		other = serving_pid(MyDatabaseId);

	if (other != 0 && other != MyProcPid)
	{
		ereport(DEBUG1,
				(errmsg("mojob scheduler: process %d already serves this database", (int) other)));
		proc_exit(0);
	}
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < MOJOB_MAX_DATABASES && my_slot == NULL; i++)
		if (shared->slots[i].dboid == MyDatabaseId)
			my_slot = &shared->slots[i];
	for (int i = 0; i < MOJOB_MAX_DATABASES && my_slot == NULL; i++)
		if (shared->slots[i].dboid == InvalidOid)
			my_slot = &shared->slots[i];
	if (my_slot)
	{
		my_slot->dboid = MyDatabaseId;
		my_slot->pid = MyProcPid;
		my_slot->pgprocno = MyProc->pgprocno;
		pg_atomic_write_u64(&my_slot->next_wake, (uint64) DT_NOEND);
	}
	SpinLockRelease(&shared->mutex);
	if (my_slot == NULL)
		ereport(ERROR, (errmsg("mojob scheduler: more than %d databases", MOJOB_MAX_DATABASES)));
	before_shmem_exit(release_slot, (Datum) 0);
}

/* Jobs whose transition failed, left alone for a while. */
#define MAX_SKIPPED 256
static int64 skipped_ids[MAX_SKIPPED];
static TimestampTz skipped_until[MAX_SKIPPED];
static int	nskipped = 0;

static ArrayType *
skipped_array(TimestampTz now)
{
	Datum		elems[MAX_SKIPPED];
	int			n = 0;

	for (int i = 0; i < nskipped; i++)
	{
		if (skipped_until[i] <= now)
		{
			skipped_ids[i] = skipped_ids[nskipped - 1];
			skipped_until[i--] = skipped_until[--nskipped];
			continue;
		}
		elems[n++] = Int64GetDatum(skipped_ids[i]);
	}
	return construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* Move one job in a subtransaction; a job that fails is left alone a minute. */
static int64
advance_one(int64 id, TimestampTz at, MemoryContext cxt)
{
	Datum		d = Int64GetDatum(id);
	ArrayType  *one = construct_array(&d, 1, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	volatile int64 moved = 0;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		moved = mojob_advance_due(at, 1, skipped_array(at), one);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(LOG,
				(errmsg("mojob scheduler: job " INT64_FORMAT " cannot advance; retrying in a minute: %s",
						id, edata->message)));
		FreeErrorData(edata);
		if (nskipped < MAX_SKIPPED)
		{
			skipped_ids[nskipped] = id;
			skipped_until[nskipped++] = TimestampTzPlusMilliseconds(at, 60000);
		}
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return moved;
}

/*
 * One batch of due transitions in its own transaction.  Returns how many
 * jobs it moved, or -1 when the extension is not installed.  If the batch
 * fails (a job that cannot advance), the jobs are tried one by one, and
 * those that fail are left alone for a minute.
 */
static int64
advance_batch(bool *extension_missing)
{
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz at = GetCurrentTimestamp();
	volatile int64 moved = 0;
	ResourceOwner owner;

	*extension_missing = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "mojob: advancing due jobs");

	if (!OidIsValid(get_extension_oid("mojob", true)))
	{
		*extension_missing = true;
		PopActiveSnapshot();
		CommitTransactionCommand();
		return -1;
	}
	owner = CurrentResourceOwner;
	cxt = CurrentMemoryContext;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		moved = mojob_advance_due(at, mojob_batch_size, skipped_array(at), NULL);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int64	   *ids;
		int			nids;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(LOG,
				(errmsg("mojob scheduler: a batch failed, moving jobs one by one: %s", edata->message)));
		FreeErrorData(edata);

		ids = mojob_due_jobs(at, mojob_batch_size, skipped_array(at), &nids);
		for (int i = 0; i < nids; i++)
		{
			CHECK_FOR_INTERRUPTS();
			moved += advance_one(ids[i], at, cxt);
		}
	}
	PG_END_TRY();

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return moved;
}

/*
 * When to look again, in its own transaction: at the next due time, or
 * soon (backing off up to a second) while due jobs wait for a row lock or a
 * retry.
 */
static int	backoff_ms = 0;

static TimestampTz
next_look(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next;
	bool		waiting;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	next = mojob_next_due(now, &waiting);
	PopActiveSnapshot();
	CommitTransactionCommand();

	if (waiting)
	{
		backoff_ms = backoff_ms ? Min(backoff_ms * 2, 1000) : 10;
		next = Min(next, TimestampTzPlusMilliseconds(now, backoff_ms));
	}
	else
		backoff_ms = 0;
	return next;
}

/*
 * Once a day: create the recurrences' instances that came within their
 * horizon, in a transaction of its own.  Returns when to do it next.
 */
static TimestampTz last_extension = 0;

static TimestampTz
extend_daily(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (last_extension != 0 && !TimestampDifferenceExceeds(last_extension, now, 86400 * 1000))
		return TimestampTzPlusMilliseconds(last_extension, 86400 * 1000);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "mojob: extending recurrences");
	if (OidIsValid(get_extension_oid("mojob", true)))
	{
		int64		made = mojob_extend_all(now);

		if (made > 0)
			ereport(LOG, (errmsg("mojob scheduler: created " INT64_FORMAT " recurring job instances", made)));
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	last_extension = now;
	return TimestampTzPlusMilliseconds(now, 86400 * 1000);
}

/*
 * Make what is due, then return the next due time.  An error is logged and
 * retried in ten seconds rather than ending the worker.
 */
static TimestampTz
scheduler_pass(bool *missing, MemoryContext cxt)
{
	volatile TimestampTz next = DT_NOEND;

	PG_TRY();
	{
		int64		moved;

		do
		{
			moved = advance_batch(missing);
			CHECK_FOR_INTERRUPTS();
		} while (moved >= mojob_batch_size);
		if (!*missing)
		{
			TimestampTz extend_next = extend_daily();

			next = next_look();
			next = Min(next, extend_next);
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		next = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return next;
}

/* Is the database still listed in mojob.database? */
static bool
still_listed(const char *dbname)
{
	char	   *rawlist = pstrdup(mojob_databases);
	List	   *names = NIL;
	ListCell   *lc;
	bool		listed = false;

	if (!SplitIdentifierString(rawlist, ',', &names))
		return true;			/* the launcher logs the bad list */
	foreach(lc, names)
		listed |= strcmp((char *) lfirst(lc), dbname) == 0;
	list_free(names);
	pfree(rawlist);
	return listed;
}

void
mojob_scheduler_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext loop_cxt;
	bool		missing_logged = false;
	char	   *dbname;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("application_name", "mojob scheduler", PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname("mojob scheduler");
	claim_slot();
	StartTransactionCommand();
	dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(dboid));
	CommitTransactionCommand();
	ereport(LOG, (errmsg("mojob scheduler started in database \"%s\"", dbname)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "mojob scheduler loop",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		timeout_ms = -1;
		TimestampTz next = DT_NOEND;
		bool		missing = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* Also when started by an earlier launcher, which nobody stops. */
			if (!still_listed(dbname))
			{
				ereport(LOG,
						(errmsg("mojob scheduler: database \"%s\" is no longer in mojob.database; stopping",
								dbname)));
				proc_exit(0);
			}
		}

		/* Awake: any commit from here on wakes us again. */
		pg_atomic_write_u64(&my_slot->next_wake, (uint64) DT_NOEND);
		pg_memory_barrier();
		ResetLatch(MyLatch);
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);

		if (mojob_scheduler_on)
		{
			next = scheduler_pass(&missing, loop_cxt);
			if (missing)
			{
				if (!missing_logged)
					ereport(LOG,
							(errmsg("mojob scheduler: extension mojob is not installed in database \"%s\"; waiting for it",
									dbname)));
				missing_logged = true;
				next = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
			}
			else
				missing_logged = false;
		}

		if (next != DT_NOEND)
		{
			TimestampTz now = GetCurrentTimestamp();

			/* Round up, so that we wake at or after the due instant. */
			timeout_ms = next <= now ? 0 : (long) ((next - now + 999) / 1000);
		}
		pg_atomic_write_u64(&my_slot->next_wake, (uint64) next);
		pg_memory_barrier();

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout_ms >= 0 ? WL_TIMEOUT : 0),
						 timeout_ms, PG_WAIT_EXTENSION);
	}
}
