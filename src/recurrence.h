/*
 * recurrence.h
 *		Recurring jobs (recurrence.c).
 */
#ifndef MOJOB_RECURRENCE_H
#define MOJOB_RECURRENCE_H

#include "datatype/timestamp.h"

/* Extend every active recurrence up to at + its horizon; returns instances made. */
extern int64 mojob_extend_all(TimestampTz at);

#endif							/* MOJOB_RECURRENCE_H */
