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
 * The same, each series in a subtransaction: counts the series that failed
 * (left as they were, with a WARNING) and those skipped because another
 * session holds their row (never waited for); either pointer may be NULL.
 */
extern int64 mojob_extend_all_counts(TimestampTz at, int *failed, int *locked);

#endif							/* MOJOB_RECURRENCE_H */
