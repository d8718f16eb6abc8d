/*
 * args.h
 *		Checking the arguments of mojob's SQL functions (args.c).
 *
 * mojob's functions are not STRICT: a NULL where a value is needed, an
 * infinite time, a window whose end is not after its start or a negative
 * interval is refused with 22023 (invalid_parameter_value).
 */
#ifndef MOJOB_ARGS_H
#define MOJOB_ARGS_H

#include "fmgr.h"
#include "compat.h"
#include "datatype/timestamp.h"
#include "utils/array.h"

/*
 * The most ids an array argument may hold (the nodes of one job): far more
 * than a job has, few enough that checking them is quick.
 */
#define MOJOB_MAX_IDS 100000
/* The most capability names an argument may hold (free_resources too). */
#define MOJOB_MAX_CAPABILITIES 1000

extern int64 mojob_arg_id(FunctionCallInfo fcinfo, int argno, const char *name);
extern TimestampTz mojob_arg_time(FunctionCallInfo fcinfo, int argno, const char *name);
extern Interval *mojob_arg_roll(FunctionCallInfo fcinfo, int argno, const char *name);
extern Datum mojob_arg_name(FunctionCallInfo fcinfo, int argno, const char *name);
extern Datum mojob_arg_datum(FunctionCallInfo fcinfo, int argno, const char *name);
extern ArrayType *mojob_arg_ids(FunctionCallInfo fcinfo, int argno, const char *name);
extern void mojob_check_window(TimestampTz start_at, TimestampTz end_at);
extern void mojob_check_finite(TimestampTz t, const char *name);
extern void mojob_check_instant(TimestampTz t, const char *name);
extern TimestampTz mojob_time_add(TimestampTz t, int64 delta, const char *name);
extern int64 mojob_time_diff(TimestampTz b, TimestampTz a, const char *name);
pg_noreturn extern void mojob_not_found(const char *kind, int64 id);

#endif							/* MOJOB_ARGS_H */
