/*
 * booking.h
 *		Reservations (booking.c) and nodes (nodes.c).
 */
#ifndef MOJOB_BOOKING_H
#define MOJOB_BOOKING_H

#include "datatype/timestamp.h"
#include "compat.h"
#include "nodes/lockoptions.h"
#include "utils/numeric.h"

/* A resource row, as read (and locked) for a reservation. */
typedef struct MojobResource
{
	int64		id;
	char	   *name;
	bool		enabled;
	int32		concurrency;
	Numeric		capacity;		/* NULL = unlimited */
	int64		longest;		/* its longest booking (µs), once checked; else -1 */
} MojobResource;

extern void mojob_lock_resources(const int64 *ids, int n, MojobResource *out,
								 LockTupleMode mode);
extern void mojob_check_free(MojobResource *r, TimestampTz lo, TimestampTz hi,
							 Numeric amount, int64 job_id, const char *code);
extern void mojob_put_booking(int64 node_id, int64 job_id, int64 resource_id,
							  TimestampTz lo, TimestampTz hi, Numeric amount, bool fresh,
							  const MojobResource *checked);
extern void mojob_drop_booking(int64 node_id);
pg_noreturn extern void mojob_refuse_empty_node(int64 node_id, const char *code,
												 TimestampTz pre, TimestampTz post);
extern void mojob_node_window(bool has_from, TimestampTz held_from, bool has_until,
							  TimestampTz held_until, TimestampTz pre, TimestampTz post,
							  TimestampTz *lo, TimestampTz *hi);
extern void mojob_job_bookings_changed(int64 job_id, const char *code,
									   bool was_holding, TimestampTz old_pre, TimestampTz old_post,
									   bool holding, TimestampTz pre, TimestampTz post,
									   bool refuse_empty, bool nodes_moved);

/* Jobs confirmed by the current statement, checked for unresolved nodes at its end. */
extern void mojob_confirm_check_later(int64 job_id);
extern void mojob_confirm_check_flush(void);
extern void mojob_confirm_check_reset(SubTransactionId subid);
extern bool mojob_confirm_check_pending(void);

pg_noreturn extern void mojob_not_found_resource(int64 id);

#endif							/* MOJOB_BOOKING_H */
