/*
 * recurrence.h
 *		Recurring jobs (recurrence.c).
 */
#ifndef MOJOB_RECURRENCE_H
#define MOJOB_RECURRENCE_H

#include "datatype/timestamp.h"

/* Extend every active recurrence up to at + its horizon; returns instances made. */
extern int64 mojob_extend_all(TimestampTz at);

/*
 * What one extension of every series met: the series that failed (left as
 * they were) and those skipped because another session holds their row
 * (never waited for).  With quiet set, the per-series messages go to DEBUG1
 * rather than WARNING and LOG: the caller (the scheduler) reports them
 * itself, at most once a minute.
 */
typedef struct MojobExtendReport
{
	bool		quiet;			/* in */
	int			failed;			/* out */
	int			locked;			/* out */
	int			first_sqlerrcode;	/* out: the first failure's SQLSTATE */
	char	   *first_message;	/* out: its message (NULL when none failed) */
} MojobExtendReport;

/* The same, each series in a subtransaction; report may be NULL. */
extern int64 mojob_extend_all_report(TimestampTz at, MojobExtendReport *report);

#endif							/* MOJOB_RECURRENCE_H */
