/*
 * job_code.c
 *		Job codes made from mojob.settings.job_code_pattern.
 *
 * A pattern is text with placeholders: {seq} or {seq:N} (the job-code
 * counter, zero-padded to N digits), and {YYYY}, {MM}, {DD} (the creation
 * date in UTC).  Any other text is copied.  A pattern must contain the
 * counter, so that codes are unique.
 *
 * The longest code a pattern can make is at most MOJOB_CODE_MAX_BYTES bytes:
 * every transition sends the code in a notification whose payload
 * PostgreSQL limits to 8,000 bytes, and JSON escapes a byte into at most 6
 * (a control character becomes \u00XX), so 1,000 bytes of code and the rest
 * of the payload (about 130 bytes) always fit.  Codes are also a unique
 * index's keys, which must stay well under a B-tree page's third.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "mojob.h"

PG_FUNCTION_INFO_V1(mojob_job_code_preview);

#define MOJOB_CODE_MAX_BYTES 1000

/*
 * The longest text a placeholder can become: the counter is a positive
 * bigint (19 digits, 20 with a sign), a year of timestamptz has at most 6
 * digits (7 with a sign, before 1 AD).
 */
#define MOJOB_SEQ_MAX_DIGITS 20
#define MOJOB_YEAR_MAX_DIGITS 7

static void
bad_pattern(const char *pattern, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid job code pattern \"%s\"", pattern),
			 errdetail("%s", why),
			 errhint("Use text with the placeholders {seq}, {seq:N} (N digits, 1 to 18), {YYYY}, {MM} and {DD}, "
					 "for example 'JOB-{seq:6}'.")));
}

static void
pattern_too_long(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("job code pattern is too long"),
			 errdetail("Its codes could be longer than %d bytes, the most a job code may have, "
					   "so that it fits in the notification every transition sends.",
					   MOJOB_CODE_MAX_BYTES),
			 errhint("Use a shorter pattern, such as 'JOB-{seq:6}'.")));
}

/*
 * The code for counter value seq created at the given instant.  Raises
 * 22023 for a pattern that is not valid.
 */
char *
mojob_format_code(const char *pattern, int64 seq, TimestampTz created)
{
	StringInfoData buf;
	struct pg_tm tm;
	fsec_t		fsec;
	bool		has_seq = false;
	const char *p = pattern;
	int64		longest = 0;	/* the longest code the pattern can make */

	if (timestamp2tm(created, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	initStringInfo(&buf);
	while (*p)
	{
		const char *close;
		int			len;

		/* Stops within MOJOB_CODE_MAX_BYTES steps, however long the pattern. */
		if (longest > MOJOB_CODE_MAX_BYTES)
			pattern_too_long();

		if (*p != '{')
		{
			appendStringInfoChar(&buf, *p++);
			longest++;
			continue;
		}
		close = strchr(p, '}');
		if (close == NULL)
			bad_pattern(pattern, "A \"{\" is not closed by \"}\".");
		len = close - p - 1;

		if (len == 4 && strncmp(p + 1, "YYYY", 4) == 0)
		{
			appendStringInfo(&buf, "%04d", tm.tm_year);
			longest += MOJOB_YEAR_MAX_DIGITS;
		}
		else if (len == 2 && strncmp(p + 1, "MM", 2) == 0)
		{
			appendStringInfo(&buf, "%02d", tm.tm_mon);
			longest += 2;
		}
		else if (len == 2 && strncmp(p + 1, "DD", 2) == 0)
		{
			appendStringInfo(&buf, "%02d", tm.tm_mday);
			longest += 2;
		}
		else if (len == 3 && strncmp(p + 1, "seq", 3) == 0)
		{
			appendStringInfo(&buf, INT64_FORMAT, seq);
			has_seq = true;
			longest += MOJOB_SEQ_MAX_DIGITS;
		}
		else if (len > 4 && strncmp(p + 1, "seq:", 4) == 0)
		{
			int			width = 0;

			for (const char *d = p + 5; d < close; d++)
			{
				if (*d < '0' || *d > '9' || width > 18)
					bad_pattern(pattern, "The width of {seq:N} must be a number from 1 to 18.");
				width = width * 10 + (*d - '0');
			}
			if (width < 1 || width > 18)
				bad_pattern(pattern, "The width of {seq:N} must be a number from 1 to 18.");
			appendStringInfo(&buf, "%0*lld", width, (long long) seq);
			has_seq = true;
			longest += Max(width, MOJOB_SEQ_MAX_DIGITS);
		}
		else
			bad_pattern(pattern,
						psprintf("\"%.*s\" is not a placeholder.", len + 2, p));
		p = close + 1;
	}
	if (!has_seq)
		bad_pattern(pattern, "The pattern has no {seq} placeholder, so codes would not be unique.");
	if (longest > MOJOB_CODE_MAX_BYTES)
		pattern_too_long();
	return buf.data;
}

/*
 * mojob.job_code_preview(pattern, seq, at): the code a job would get.
 * Also validates patterns stored in mojob.settings.
 */
Datum
mojob_job_code_preview(PG_FUNCTION_ARGS)
{
	char	   *pattern;
	int64		seq;
	TimestampTz at;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pattern must not be null"),
				 errhint("Pass a pattern such as 'JOB-{seq:6}'.")));
	pattern = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("seq must not be null"),
				 errhint("Pass the counter value to show, such as 1.")));
	seq = PG_GETARG_INT64(1);
	at = PG_ARGISNULL(2) ? GetCurrentTransactionStartTimestamp() : PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at must be a finite timestamp")));
	PG_RETURN_TEXT_P(cstring_to_text(mojob_format_code(pattern, seq, at)));
}
