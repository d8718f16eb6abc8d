/*
 * compat.h
 *		What differs between the PostgreSQL major versions mojob builds on
 *		(15, 17 and 18), in one place: the rest of the code is written
 *		against the newest spelling.
 */
#ifndef MOJOB_COMPAT_H
#define MOJOB_COMPAT_H

#include "executor/spi.h"
#include "storage/proc.h"

/*
 * A function that never returns.  PostgreSQL 18 marks it before the
 * declaration (pg_noreturn) and removed pg_attribute_noreturn(), which
 * earlier versions put after it; GCC and Clang accept the attribute before
 * the declaration too.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/* A backend's PGPROC number: PostgreSQL 17 removed PGPROC.pgprocno. */
#if PG_VERSION_NUM < 170000
#define GetNumberFromPGProc(proc) ((proc)->pgprocno)
#endif

/*
 * A column of a heap tuple, read by the server's own code.  The server
 * headers of a newer minor release may make the inline heap_getattr() call
 * a function an older server lacks (17.12's heap_datum_check(), absent from
 * 17.10), and the headers used to build need not match the server's minor
 * release exactly: SPI_getbinval() does the same work inside the server.
 * It works without an SPI connection.
 */
#define mojob_heap_getattr(tup, attnum, desc, isnull) \
	SPI_getbinval((tup), (desc), (attnum), (isnull))

#endif							/* MOJOB_COMPAT_H */
