/*
 * scheduler.h
 *		The scheduler background workers (scheduler.c).
 */
#ifndef MOJOB_SCHEDULER_H
#define MOJOB_SCHEDULER_H

#include "datatype/timestamp.h"

extern void mojob_scheduler_init(void);
extern void mojob_scheduler_note_due(TimestampTz due);
extern void mojob_scheduler_xact_end(bool committed);

#endif							/* MOJOB_SCHEDULER_H */
