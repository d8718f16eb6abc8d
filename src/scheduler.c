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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "compat.h"
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
	pg_atomic_uint64 notify_logged_at;	/* TimestampTz; see history.c */
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
		pg_atomic_init_u64(&shared->notify_logged_at, 0);
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

/*
 * May this backend log that mojob dropped notifications (history.c)?  At
 * most once a minute in the whole cluster when mojob is preloaded (the
 * time is kept in shared memory), else once a minute per backend.
 */
bool
mojob_notify_drop_may_log(void)
{
	static TimestampTz local_logged_at = 0;
	TimestampTz now = GetCurrentTimestamp();
	uint64		last;

	if (shared == NULL)
	{
		if (local_logged_at != 0 && !TimestampDifferenceExceeds(local_logged_at, now, 60000))
			return false;
		local_logged_at = now;
		return true;
	}
	last = pg_atomic_read_u64(&shared->notify_logged_at);
	if (last != 0 && !TimestampDifferenceExceeds((TimestampTz) last, now, 60000))
		return false;
	return pg_atomic_compare_exchange_u64(&shared->notify_logged_at, &last, (uint64) now);
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
							   "Names are written as SQL identifiers: double-quote a name with capitals or other special characters. "
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
 * When there is none, *alike receives (palloc'd) the name of a database
 * that differs only in case, if there is one, else NULL.
 */
static Oid
database_oid(const char *name, char **alike)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			oid = InvalidOid;
	char		found_alike[NAMEDATALEN] = "";

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
		if (pg_strcasecmp(NameStr(db->datname), name) == 0 && found_alike[0] == '\0')
			strlcpy(found_alike, NameStr(db->datname), NAMEDATALEN);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	*alike = OidIsValid(oid) || found_alike[0] == '\0' ? NULL : pstrdup(found_alike);
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
			char	   *alike;

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

			oid = database_oid(name, &alike);
			if (!OidIsValid(oid))
			{
				/* Names are identifiers: unquoted, they are folded to lower case. */
				if (!db->missing_logged && alike != NULL)
					ereport(LOG,
							(errmsg("mojob scheduler: database \"%s\" does not exist; waiting for it", name),
							 errdetail("mojob.database lists database names as SQL writes identifiers: unquoted, a name is folded to lower case. Database \"%s\" exists.", alike),
							 errhint("To serve database \"%s\", write %s, in double quotes, inside the single-quoted value of mojob.database.",
									 alike, quote_identifier(alike))));
				else if (!db->missing_logged)
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
		my_slot->pgprocno = GetNumberFromPGProc(MyProc);
		pg_atomic_write_u64(&my_slot->next_wake, (uint64) DT_NOEND);
	}
	SpinLockRelease(&shared->mutex);
	if (my_slot == NULL)
		ereport(ERROR, (errmsg("mojob scheduler: more than %d databases", MOJOB_MAX_DATABASES)));
	before_shmem_exit(release_slot, (Datum) 0);
}

/*
 * Locks, failures and the log.
 *
 * Every statement the worker runs waits at most SCHED_LOCK_TIMEOUT for a
 * lock another session holds (lock_timeout, set for the worker's session).
 * What times out or fails is set aside and retried with back-off, apart:
 *
 *	- a job whose transition fails (a site's trigger refuses it, or waits
 *	  on a lock) is put in set_aside; the batches leave every set-aside job
 *	  alone, and each pass retries those whose time has come one by one,
 *	  within RETRY_BUDGET_MS, after the batches, so that they never delay
 *	  the jobs that are due and can move;
 *	- the daily extension of the recurrences, when it fails, is retried
 *	  with back-off (extend_daily), never before the time transitions;
 *	- a pass that fails as a whole is retried with back-off.
 *
 * Each failing job, the extension and the pass log at most once a minute,
 * and the jobs together at most MAX_JOB_LINES lines a minute, the others
 * counted in one line.
 */
#define SCHED_LOCK_TIMEOUT "100ms"
#define MINUTE_MS 60000
#define MAX_BACKOFF_MS (10 * MINUTE_MS)
#define RETRY_BUDGET_MS 100
#define SPLIT_BUDGET_MS 200
#define MAX_JOB_LINES 5

typedef struct SetAside
{
	int64		id;				/* hash key */
	TimestampTz retry_at;		/* when to try it again */
	int			failures;		/* in a row; 0 = not tried alone yet */
	TimestampTz logged_at;		/* 0 = never */
} SetAside;

static HTAB *set_aside = NULL;

/* The minute of job lines now open: how many logged, how many not. */
static TimestampTz lines_since = 0;
static int	lines_logged = 0;
static int	lines_unlogged = 0;
static TimestampTz batch_logged_at = 0;

/* Until when failed batches may be split into single jobs in this pass. */
static TimestampTz split_until = 0;

static void
set_aside_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(SetAside);
	ctl.hcxt = TopMemoryContext;
	set_aside = hash_create("mojob scheduler: jobs set aside", 256, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* The ids of the jobs set aside: the batches leave them to the retries. */
static ArrayType *
set_aside_array(void)
{
	long		n = hash_get_num_entries(set_aside);
	Datum	   *elems = palloc(sizeof(Datum) * (n + 1));
	int			i = 0;
	HASH_SEQ_STATUS status;
	SetAside   *e;

	hash_seq_init(&status, set_aside);
	while ((e = hash_seq_search(&status)) != NULL)
		elems[i++] = Int64GetDatum(e->id);
	return construct_array(elems, i, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* When the first job set aside is to be tried again (DT_NOEND: none). */
static TimestampTz
first_retry(void)
{
	TimestampTz first = DT_NOEND;
	HASH_SEQ_STATUS status;
	SetAside   *e;

	hash_seq_init(&status, set_aside);
	while ((e = hash_seq_search(&status)) != NULL)
		first = Min(first, e->retry_at);
	return first;
}

/*
 * The wait before the next try, after "failures" failures in a row: a lock
 * timeout from a second, any other failure from a minute, doubling up to
 * ten minutes.
 */
static int
backoff_ms(int failures, bool lock_timeout)
{
	int			ms = lock_timeout ? 1000 : MINUTE_MS;

	for (int i = 1; i < failures && ms < MAX_BACKOFF_MS; i++)
		ms *= 2;
	return Min(ms, MAX_BACKOFF_MS);
}

/* "a minute", "4 minutes", "8 s" */
static const char *
in_words(int ms)
{
	static char buf[32];

	if (ms == MINUTE_MS)
		return "a minute";
	if (ms > MINUTE_MS)
		snprintf(buf, sizeof(buf), "%d minutes", ms / MINUTE_MS);
	else
		snprintf(buf, sizeof(buf), "%d s", (ms + 999) / 1000);
	return buf;
}

static bool
logged_within_a_minute(TimestampTz logged_at, TimestampTz now)
{
	return logged_at != 0 && !TimestampDifferenceExceeds(logged_at, now, MINUTE_MS);
}

/* Close the minute of job lines once it has passed, counting what it did not log. */
static void
job_lines_roll(TimestampTz now)
{
	if (logged_within_a_minute(lines_since, now))
		return;
	if (lines_unlogged > 0)
		ereport(LOG,
				(errmsg("mojob scheduler: %d more failed transition%s in the last minute, not logged one by one; %ld job%s set aside",
						lines_unlogged, lines_unlogged == 1 ? "" : "s",
						hash_get_num_entries(set_aside),
						hash_get_num_entries(set_aside) == 1 ? " is" : "s are")));
	lines_since = now;
	lines_logged = 0;
	lines_unlogged = 0;
}

/* Job id failed to advance (edata): set it aside, and log it if it may be. */
static void
job_failed(int64 id, ErrorData *edata, TimestampTz now)
{
	bool		found;
	SetAside   *e = hash_search(set_aside, &id, HASH_ENTER, &found);
	int			ms;

	if (!found)
	{
		e->failures = 0;
		e->logged_at = 0;
	}
	e->failures++;
	ms = backoff_ms(e->failures, edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE);
	e->retry_at = TimestampTzPlusMilliseconds(now, ms);
	job_lines_roll(now);
	if (logged_within_a_minute(e->logged_at, now) || lines_logged >= MAX_JOB_LINES)
	{
		lines_unlogged++;
		return;
	}
	lines_logged++;
	e->logged_at = now;
	ereport(LOG,
			(errmsg("mojob scheduler: job " INT64_FORMAT " cannot advance; retrying in %s: %s",
					id, in_words(ms), edata->message)));
}

/* Job id, of a failed batch, is left to the retries without a try of its own. */
static void
job_deferred(int64 id, TimestampTz now)
{
	bool		found;
	SetAside   *e = hash_search(set_aside, &id, HASH_ENTER, &found);

	if (!found)
	{
		e->failures = 0;
		e->logged_at = 0;
		e->retry_at = now;
	}
}

/*
 * Move one job in a subtransaction.  A job that fails is set aside; one
 * that moved, or was no longer due, or is locked by another session (the
 * batches skip it until it is free), is no longer.
 */
static int64
advance_one(int64 id, TimestampTz at, MemoryContext cxt)
{
	Datum		d = Int64GetDatum(id);
	ArrayType  *one = construct_array(&d, 1, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	ArrayType  *none = construct_empty_array(INT8OID);
	volatile int64 moved = 0;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		moved = mojob_advance_due(at, 1, none, one);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		(void) hash_search(set_aside, &id, HASH_REMOVE, NULL);
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
		job_failed(id, edata, GetCurrentTimestamp());
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return moved;
}

/*
 * One batch of due transitions in its own transaction.  Returns how many
 * transitions it made; *more says whether more jobs may be due.  If the
 * batch fails (a job that cannot advance), its jobs are tried one by one
 * while this pass's split_until allows, and left to the retries after.
 */
static int64
advance_batch(bool *extension_missing, bool *more)
{
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz at = GetCurrentTimestamp();
	volatile int64 moved = 0;
	ResourceOwner owner;
	ArrayType  *exclude;

	*extension_missing = false;
	*more = false;
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
	exclude = set_aside_array();

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		moved = mojob_advance_due(at, mojob_batch_size, exclude, NULL);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		*more = moved >= mojob_batch_size;
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
		if (!logged_within_a_minute(batch_logged_at, at))
		{
			ereport(LOG,
					(errmsg("mojob scheduler: a batch failed, moving jobs one by one: %s", edata->message),
					 errdetail("This is logged at most once a minute.")));
			batch_logged_at = at;
		}
		FreeErrorData(edata);

		ids = mojob_due_jobs(at, mojob_batch_size, exclude, &nids);
		*more = nids >= mojob_batch_size;
		for (int i = 0; i < nids; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (GetCurrentTimestamp() < split_until)
				moved += advance_one(ids[i], at, cxt);
			else
				job_deferred(ids[i], at);
		}
	}
	PG_END_TRY();

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return moved;
}

/*
 * Try again, one by one, the jobs set aside whose time has come, in a
 * transaction of their own, for at most RETRY_BUDGET_MS: the others are
 * tried in the next pass, which comes at once.
 */
static void
retry_set_aside(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz until = TimestampTzPlusMilliseconds(now, RETRY_BUDGET_MS);
	MemoryContext cxt;
	HASH_SEQ_STATUS status;
	SetAside   *e;
	int64	   *ids;
	int			n = 0;

	if (first_retry() > now)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "mojob: retrying jobs set aside");
	cxt = CurrentMemoryContext;
	ids = palloc(sizeof(int64) * (hash_get_num_entries(set_aside) + 1));
	hash_seq_init(&status, set_aside);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->retry_at <= now)
			ids[n++] = e->id;
	for (int i = 0; i < n && GetCurrentTimestamp() < until; i++)
	{
		CHECK_FOR_INTERRUPTS();
		(void) advance_one(ids[i], now, cxt);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * When to look again, in its own transaction: at the next due time, when
 * the first job set aside is to be retried, or soon (backing off up to a
 * second) while due jobs wait for a row lock.
 */
static int	backoff_lock_ms = 0;

static TimestampTz
next_look(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next;
	bool		waiting;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	next = mojob_next_due(now, set_aside_array(), &waiting);
	PopActiveSnapshot();
	CommitTransactionCommand();

	if (waiting)
	{
		backoff_lock_ms = backoff_lock_ms ? Min(backoff_lock_ms * 2, 1000) : 10;
		next = Min(next, TimestampTzPlusMilliseconds(now, backoff_lock_ms));
	}
	else
		backoff_lock_ms = 0;
	return Min(next, first_retry());
}

/*
 * Once a day: create the recurrences' instances that came within their
 * horizon, in a transaction of its own.  Returns when to do it next: in a
 * day, or, when it failed (a series locked by a user, an instance that
 * cannot be made), after a back-off; the failure is logged at most once a
 * minute.
 */
static TimestampTz extension_next = 0;
static int	extension_failures = 0;
static TimestampTz extension_logged_at = 0;

static TimestampTz
extend_daily(MemoryContext cxt)
{
	TimestampTz now = GetCurrentTimestamp();

	if (extension_next != 0 && now < extension_next)
		return extension_next;
	PG_TRY();
	{
		MojobExtendReport report = {.quiet = true};
		char	   *why = NULL;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "mojob: extending recurrences");
		if (OidIsValid(get_extension_oid("mojob", true)))
		{
			int64		made = mojob_extend_all_report(now, &report);

			if (made > 0)
				ereport(LOG, (errmsg("mojob scheduler: created " INT64_FORMAT " recurring job instances", made)));
			if (report.first_message)
				why = MemoryContextStrdup(cxt, report.first_message);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
		if (report.failed + report.locked == 0)
		{
			extension_failures = 0;
			extension_next = TimestampTzPlusMilliseconds(now, 86400 * 1000);
		}
		else
		{
			/*
			 * Some series were left as they were (failed, or locked by a
			 * user): the others are extended; those are tried again after
			 * a back-off, not a day later, and reported at most once a
			 * minute, all together.
			 */
			int			ms;

			extension_failures++;
			ms = backoff_ms(extension_failures,
							report.failed == 0 || report.first_sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE);
			if (!logged_within_a_minute(extension_logged_at, now))
			{
				ereport(LOG,
						(errmsg("mojob scheduler: %d recurrence(s) cannot be extended now; retrying in %s: %s",
								report.failed + report.locked, in_words(ms),
								why ? why : "their rows are locked by other sessions"),
						 errdetail("%d failed, %d skipped because other sessions hold their rows; the others were extended. This is logged at most once a minute.",
								   report.failed, report.locked)));
				extension_logged_at = now;
			}
			extension_next = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			ms;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		extension_failures++;
		ms = backoff_ms(extension_failures, edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE);
		if (!logged_within_a_minute(extension_logged_at, now))
		{
			ereport(LOG,
					(errmsg("mojob scheduler: the recurrences cannot be extended; retrying in %s: %s",
							in_words(ms), edata->message),
					 errdetail("This is logged at most once a minute.")));
			extension_logged_at = now;
		}
		FreeErrorData(edata);
		extension_next = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return extension_next;
}

/*
 * Make what is due, then return the next due time.  A pass that fails is
 * retried with back-off (from 100 ms to 10 s) rather than ending the
 * worker, and logged at most once a minute.
 */
static int	pass_failures = 0;
static TimestampTz pass_logged_at = 0;

static TimestampTz
scheduler_pass(bool *missing, MemoryContext cxt)
{
	volatile TimestampTz next = DT_NOEND;

	PG_TRY();
	{
		bool		more;

		split_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SPLIT_BUDGET_MS);
		do
		{
			(void) advance_batch(missing, &more);
			CHECK_FOR_INTERRUPTS();
		} while (more);
		if (!*missing)
		{
			TimestampTz extend_next;

			retry_set_aside();
			extend_next = extend_daily(cxt);
			next = next_look();
			next = Min(next, extend_next);
			job_lines_roll(GetCurrentTimestamp());
		}
		pass_failures = 0;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		TimestampTz now = GetCurrentTimestamp();
		int			ms = 100;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		pass_failures++;
		for (int i = 1; i < pass_failures && ms < 10000; i++)
			ms *= 2;
		ms = Min(ms, 10000);
		if (!logged_within_a_minute(pass_logged_at, now))
		{
			ereport(LOG,
					(errmsg("mojob scheduler: cannot look for due jobs; retrying in %s: %s",
							in_words(ms), edata->message),
					 errdetail("This is logged at most once a minute.")));
			pass_logged_at = now;
		}
		FreeErrorData(edata);
		next = TimestampTzPlusMilliseconds(now, ms);
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
	/* No lock another session holds stops the worker for long (above). */
	SetConfigOption("lock_timeout", SCHED_LOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION);
	set_aside_init();
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
