/*
 * recurrence.c
 *		Recurring jobs: RFC 5545 rules expanded with libical, in local time.
 *
 * A recurrence repeats a job (its template) by a rule such as
 * FREQ=WEEKLY;BYDAY=SA.  libical expands the rule in wall-clock time,
 * starting from the template's start as a local time in the recurrence's
 * time zone; each local occurrence becomes an instant with PostgreSQL's own
 * time-zone rules (timestamp AT TIME ZONE), so a 20:00 Europe/Brussels show
 * stays at 20:00 across daylight-saving changes.  A local time that does not
 * exist (the spring gap) is read as PostgreSQL reads it, with the offset in
 * force before the change: 02:30 becomes 03:30 summer time.  A local time that
 * exists twice (the autumn overlap) is the second, standard-time instant.
 *
 * Instances are created up to now() + horizon, in the template's state; one
 * whose resources are taken is created as a draft instead and shows the
 * error RECURRENCE_CONFLICT until it is reserved.  Reservations go through
 * the same triggers and checks as any other.
 */
#include "postgres.h"

#include <libical/ical.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "access/tupdesc.h"
#include "utils/tuplestore.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "mojob.h"
#include "args.h"
#include "recurrence.h"

PG_FUNCTION_INFO_V1(mojob_make_recurring);
PG_FUNCTION_INFO_V1(mojob_extend_recurrences);
PG_FUNCTION_INFO_V1(mojob_cancel_recurrence);
PG_FUNCTION_INFO_V1(mojob_recurrence_preview);

#define MAX_INSTANCES 5000

/* What a recurrence needs to expand its rule. */
typedef struct Recurrence
{
	int64		id;
	char	   *rule;
	char	   *time_zone;
	TimestampTz dtstart;		/* the first instance's start */
	MojobState	instance_state; /* draft or tentative: the template's at the start */
} Recurrence;

/* The job whose fields each instance copies. */
typedef struct Template
{
	int64		id;
	MojobState	state;
	TimestampTz start_at;
	Interval	length;			/* exact: microseconds only */
	Interval	pre_roll;
	Interval	post_roll;
} Template;

/* ---------------------------------------------------------------------
 * Rules and time zones
 * ---------------------------------------------------------------------
 */

static void
bad_rule(const char *rule, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid recurrence rule \"%s\"", rule),
			 errdetail("libical: %s", why),
			 errhint("Give an RFC 5545 RRULE such as 'FREQ=WEEKLY;BYDAY=SA' or 'FREQ=DAILY;UNTIL=20271231T000000Z'.")));
}

/* The rule, parsed by libical; 22023 with libical's complaint if it is not valid. */
static struct icalrecurrencetype
parse_rule(const char *rule)
{
	struct icalrecurrencetype r;
	const char *text = rule;

	if (pg_strncasecmp(text, "RRULE:", 6) == 0)
		text += 6;
	icalerror_set_errors_are_fatal(0);
	icalerror_clear_errno();
	r = icalrecurrencetype_from_string(text);
	if (r.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR)
		bad_rule(rule, icalerrno != ICAL_NO_ERROR ? icalerror_strerror(icalerrno)
				 : "the rule has no FREQ");
	return r;
}

/* An instant as wall-clock time in a time zone (PostgreSQL's rules). */
static Timestamp
to_local(TimestampTz t, const char *tz)
{
	return DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
												 CStringGetTextDatum(tz),
												 TimestampTzGetDatum(t)));
}

/* A wall-clock time in a time zone as an instant (PostgreSQL's rules). */
static TimestampTz
from_local(Timestamp t, const char *tz)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
												   CStringGetTextDatum(tz),
												   TimestampGetDatum(t)));
}

static struct icaltimetype
ical_from_timestamp(Timestamp t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	struct icaltimetype it = icaltime_null_time();

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	it.year = tm.tm_year;
	it.month = tm.tm_mon;
	it.day = tm.tm_mday;
	it.hour = tm.tm_hour;
	it.minute = tm.tm_min;
	it.second = tm.tm_sec;
	it.is_date = 0;
	return it;
}

static Timestamp
timestamp_from_ical(struct icaltimetype it, fsec_t fsec)
{
	struct pg_tm tm = {0};
	Timestamp	t;

	tm.tm_year = it.year;
	tm.tm_mon = it.month;
	tm.tm_mday = it.day;
	tm.tm_hour = it.hour;
	tm.tm_min = it.minute;
	tm.tm_sec = it.second;
	if (tm2timestamp(&tm, fsec, NULL, &t) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("a recurrence occurrence is out of range")));
	return t;
}

/* ---------------------------------------------------------------------
 * Bounding libical
 *
 * One call of icalrecur_iterator_next() steps through candidate times until
 * one matches the rule, up to the rule's UNTIL or libical's last year (2582),
 * and cannot be interrupted: FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30 searched for
 * 9 seconds, SECONDLY for hours.  So before libical starts, a rule whose
 * days can never match is refused, the expansion is given an UNTIL at the
 * end of the window asked for, and a rule that would make libical try more
 * than MAX_CANDIDATES times in that window is refused: each call is then
 * bounded, and interrupts are checked between calls.
 * ---------------------------------------------------------------------
 */

/* About 0.4 s of libical's work (1.8 us a candidate, measured). */
#define MAX_CANDIDATES 200000

/* libical stops after this year (icalrecur.c, 64-bit time_t). */
#define ICAL_LAST_YEAR 2582

static const char *const freq_names[] = {
	"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"
};

/* How many values a BY-part has (0: not given). */
static int
by_count(const short *by, int size)
{
	int			n = 0;

	while (n < size && by[n] != ICAL_RECURRENCE_ARRAY_MAX)
		n++;
	return n;
}

static void
unbounded_rule(const char *rule, const char *why, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("recurrence rule \"%s\" cannot be expanded within bounds: %s", rule, why),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
}

/* Julian day number of a date (PostgreSQL's); day of week 0 = Sunday. */
static int
weekday_of(int jd)
{
	return (jd + 1) % 7;
}

/* The first day of week 1 of year y, weeks starting on wkst (0 = Sunday). */
static int
week1_start(int y, int wkst)
{
	int			jan4 = date2j(y, 1, 4);

	return jan4 - (weekday_of(jan4) - wkst + 7) % 7;
}

/*
 * How many days of one period of the rule (a year for YEARLY, a month for
 * MONTHLY, a week for WEEKLY, a day otherwise) can the rule's day-level
 * BY-parts select, at most?  0: no day ever.  Tried on every day of the 400
 * years after which the Gregorian calendar repeats, taking each BY-part as a
 * condition a day must meet (BYDAY's ordinal within the month or year too);
 * a necessary condition, so a day this does not count can never match.
 * Less than a millisecond.
 */
static int
days_per_period(const struct icalrecurrencetype *r)
{
	bool		month[13] = {0},
				mday_pos[32] = {0},
				mday_neg[32] = {0},
				yday_pos[367] = {0},
				yday_neg[367] = {0},
				wno_pos[54] = {0},
				wno_neg[54] = {0};
	int			nmonth = by_count(r->by_month, ICAL_BY_MONTH_SIZE),
				nmday = by_count(r->by_month_day, ICAL_BY_MONTHDAY_SIZE),
				nyday = by_count(r->by_year_day, ICAL_BY_YEARDAY_SIZE),
				nwno = by_count(r->by_week_no, ICAL_BY_WEEKNO_SIZE),
				nday = by_count(r->by_day, ICAL_BY_DAY_SIZE);
	int			wkst = ((int) r->week_start + 6) % 7;	/* libical: Sunday = 1 */
	/* an ordinal BYDAY counts within the month, or within the year */
	bool		in_month = r->freq == ICAL_MONTHLY_RECURRENCE ||
		(r->freq == ICAL_YEARLY_RECURRENCE && nmonth > 0);
	bool		ordinals = (in_month || r->freq == ICAL_YEARLY_RECURRENCE) && nwno == 0;
	int			best = 0,		/* the most days of one period */
				in_year = 0,
				in_month_n = 0,
				in_week = 0,
				week = -1;

	for (int i = 0; i < nmonth; i++)
		if (r->by_month[i] >= 1 && r->by_month[i] <= 12)
			month[r->by_month[i]] = true;
	for (int i = 0; i < nmday; i++)
	{
		int			v = r->by_month_day[i];

		if (v >= 1 && v <= 31)
			mday_pos[v] = true;
		else if (v <= -1 && v >= -31)
			mday_neg[-v] = true;
	}
	for (int i = 0; i < nyday; i++)
	{
		int			v = r->by_year_day[i];

		if (v >= 1 && v <= 366)
			yday_pos[v] = true;
		else if (v <= -1 && v >= -366)
			yday_neg[-v] = true;
	}
	for (int i = 0; i < nwno; i++)
	{
		int			v = r->by_week_no[i];

		if (v >= 1 && v <= 53)
			wno_pos[v] = true;
		else if (v <= -1 && v >= -53)
			wno_neg[-v] = true;
	}

	for (int y = 2000; y < 2400; y++)
	{
		int			jan1 = date2j(y, 1, 1);
		int			diy = date2j(y + 1, 1, 1) - jan1;
		int			w1 = week1_start(y, wkst),
					w1_next = week1_start(y + 1, wkst),
					w1_prev = week1_start(y - 1, wkst);

		for (int m = 1; m <= 12; m++)
		{
			int			first = date2j(y, m, 1);
			int			dim = (m == 12 ? date2j(y + 1, 1, 1) : date2j(y, m + 1, 1)) - first;

			in_month_n = 0;
			if (nmonth > 0 && !month[m])
				continue;
			for (int d = 1; d <= dim; d++)
			{
				int			jd = first + d - 1;
				int			doy = jd - jan1 + 1;
				bool		ok = true;

				if (nmday > 0)
					ok = mday_pos[d] || mday_neg[dim - d + 1];
				if (ok && nyday > 0)
					ok = yday_pos[doy] || yday_neg[diy - doy + 1];
				if (ok && nwno > 0)
				{
					int			weeks,
								wno;

					if (jd < w1)
					{
						wno = (jd - w1_prev) / 7 + 1;
						weeks = (w1 - w1_prev) / 7;
					}
					else if (jd >= w1_next)
					{
						wno = 1;
						weeks = (week1_start(y + 2, wkst) - w1_next) / 7;
					}
					else
					{
						wno = (jd - w1) / 7 + 1;
						weeks = (w1_next - w1) / 7;
					}
					ok = wno_pos[wno] || (weeks - wno + 1 >= 1 && wno_neg[weeks - wno + 1]);
				}
				if (ok && nday > 0)
				{
					int			wd = weekday_of(jd);
					int			pos = in_month ? d : doy;
					int			len = in_month ? dim : diy;

					ok = false;
					for (int i = 0; i < nday && !ok; i++)
					{
						int			want = (int) icalrecurrencetype_day_day_of_week(r->by_day[i]) - 1;
						int			n = icalrecurrencetype_day_position(r->by_day[i]);

						if (want != wd)
							continue;
						if (!ordinals || n == 0)
							ok = true;
						else if (n > 0)
							ok = (pos - 1) / 7 + 1 == n;
						else
							ok = (len - pos) / 7 + 1 == -n;
					}
				}
				if (!ok)
					continue;
				/* a week starts on the day whose weekday is wkst */
				if ((jd + 1 - wkst + 7) / 7 != week)
				{
					week = (jd + 1 - wkst + 7) / 7;
					in_week = 0;
				}
				in_year++;
				in_month_n++;
				in_week++;
				switch (r->freq)
				{
					case ICAL_YEARLY_RECURRENCE:
						best = Max(best, in_year);
						break;
					case ICAL_MONTHLY_RECURRENCE:
						best = Max(best, in_month_n);
						break;
					case ICAL_WEEKLY_RECURRENCE:
						best = Max(best, in_week);
						break;
					default:
						return 1;
				}
			}
		}
		in_year = 0;
	}
	return best;
}

/*
 * Does the rule have BY-parts that drop some of the candidates libical
 * steps through (those coarser than FREQ for a FREQ finer than a week, as
 * RFC 5545's table says "limit"), or BYSETPOS?
 */
static bool
has_limits(const struct icalrecurrencetype *r)
{
	bool		days = by_count(r->by_day, ICAL_BY_DAY_SIZE) > 0 ||
		by_count(r->by_month_day, ICAL_BY_MONTHDAY_SIZE) > 0 ||
		by_count(r->by_year_day, ICAL_BY_YEARDAY_SIZE) > 0 ||
		by_count(r->by_week_no, ICAL_BY_WEEKNO_SIZE) > 0;
	bool		months = by_count(r->by_month, ICAL_BY_MONTH_SIZE) > 0;
	bool		hours = by_count(r->by_hour, ICAL_BY_HOUR_SIZE) > 0;
	bool		minutes = by_count(r->by_minute, ICAL_BY_MINUTE_SIZE) > 0;
	bool		seconds = by_count(r->by_second, ICAL_BY_SECOND_SIZE) > 0;

	if (by_count(r->by_set_pos, ICAL_BY_SETPOS_SIZE) > 0)
		return true;
	switch (r->freq)
	{
		case ICAL_SECONDLY_RECURRENCE:
			return days || months || hours || minutes || seconds;
		case ICAL_MINUTELY_RECURRENCE:
			return days || months || hours || minutes;
		case ICAL_HOURLY_RECURRENCE:
			return days || months || hours;
		case ICAL_DAILY_RECURRENCE:
			return days || months;
		case ICAL_WEEKLY_RECURRENCE:
		case ICAL_MONTHLY_RECURRENCE:
			/* BYDAY with BYMONTHDAY limits too, within a period's expansion */
			return months || days;
		default:
			return days || months;
	}
}

/*
 * Refuse a rule libical could search without end, or beyond the bound,
 * between from and until (local times, whole seconds): days that never
 * match, a BYSETPOS beyond every set, more candidates than MAX_CANDIDATES.
 * all_counted: every occurrence from "from" on counts against MAX_INSTANCES.
 */
static void
check_bounded(const char *rule, const struct icalrecurrencetype *r,
			  Timestamp from, Timestamp until, bool all_counted)
{
	double		nsec = Max(1, by_count(r->by_second, ICAL_BY_SECOND_SIZE)),
				nmin = Max(1, by_count(r->by_minute, ICAL_BY_MINUTE_SIZE)),
				nhour = Max(1, by_count(r->by_hour, ICAL_BY_HOUR_SIZE)),
				nday = by_count(r->by_day, ICAL_BY_DAY_SIZE),
				nmday = by_count(r->by_month_day, ICAL_BY_MONTHDAY_SIZE),
				nyday = by_count(r->by_year_day, ICAL_BY_YEARDAY_SIZE),
				nwno = by_count(r->by_week_no, ICAL_BY_WEEKNO_SIZE),
				nmonth = by_count(r->by_month, ICAL_BY_MONTH_SIZE);
	int			nsetpos = by_count(r->by_set_pos, ICAL_BY_SETPOS_SIZE);
	double		unit;			/* seconds in one period (the shortest) */
	double		per_period;		/* candidates libical tries in one period */
	double		candidates;
	int			interval = Max(1, r->interval);
	int			step = interval;	/* periods libical moves at a time */
	int			days;

	switch (r->freq)
	{
		case ICAL_SECONDLY_RECURRENCE:
			unit = 1;
			per_period = 1;
			break;
		case ICAL_MINUTELY_RECURRENCE:
			unit = 60;
			per_period = nsec;
			break;
		case ICAL_HOURLY_RECURRENCE:
			unit = 3600;
			per_period = nsec * nmin;
			break;
		case ICAL_DAILY_RECURRENCE:
			unit = SECS_PER_DAY;
			per_period = nsec * nmin * nhour;
			break;
		case ICAL_WEEKLY_RECURRENCE:
			unit = 7 * SECS_PER_DAY;
			per_period = nsec * nmin * nhour * Max(1, nday);
			break;
		case ICAL_MONTHLY_RECURRENCE:
			unit = 28 * SECS_PER_DAY;
			per_period = nsec * nmin * nhour * Min(31, Max(1, Max(nmday, 5 * nday)));
			break;
		default:
			unit = 365 * SECS_PER_DAY;
			per_period = nsec * nmin * nhour *
				Min(366, Max(1, nyday + 7 * nwno + Max(1, nmonth) * nmday + 53 * nday + nmonth));
			break;
	}

	days = days_per_period(r);
	if (days == 0)
		unbounded_rule(rule, "its BY-parts select no day", "Its BY-parts select no day of any year (BYMONTH, BYMONTHDAY, BYYEARDAY, BYWEEKNO and BYDAY must all hold on the same day).",
					   "Check the BY-parts against the calendar: February has 29 days at most; April, June, September and November 30.");
	if (nsetpos > 0)
	{
		bool		some = false;

		/*
		 * libical's set is the days of a period (times of day are not
		 * counted), no more than the BY-parts can select in one: it
		 * searches without end for a BYSETPOS beyond it
		 * (FREQ=MONTHLY;BYDAY=2WE;BYSETPOS=2 ran 1.5 s in one call).
		 */
		if (r->freq >= ICAL_WEEKLY_RECURRENCE)
			per_period = Min(per_period / (nsec * nmin * nhour), days);
		for (int i = 0; i < nsetpos && !some; i++)
			some = abs(r->by_set_pos[i]) <= per_period;
		if (!some)
			unbounded_rule(rule, "every BYSETPOS is beyond its set", psprintf("Every BYSETPOS is beyond the %.0f times a period of FREQ=%s can hold.",
										  per_period, freq_names[r->freq]),
						   "Give a BYSETPOS within the set the other BY-parts make in each period.");
	}

	/*
	 * With the BY-part of its own unit (BYSECOND with SECONDLY, BYMINUTE with
	 * MINUTELY), libical steps through every second or minute whatever the
	 * INTERVAL: FREQ=SECONDLY;INTERVAL=4000;BYSECOND=1 with rare days ran
	 * 17 s in one call.
	 */
	if ((r->freq == ICAL_SECONDLY_RECURRENCE && by_count(r->by_second, ICAL_BY_SECOND_SIZE) > 0) ||
		(r->freq == ICAL_MINUTELY_RECURRENCE && by_count(r->by_minute, ICAL_BY_MINUTE_SIZE) > 0))
		step = 1;
	candidates = ((double) (until - from) / USECS_PER_SEC / (unit * step) + 1) * per_period;

	/*
	 * Without BY-parts that drop candidates, every candidate is an
	 * occurrence: COUNT bounds them, and so does the cap on instances where
	 * every occurrence counts.
	 */
	if (!has_limits(r))
	{
		if (r->count > 0)
			candidates = Min(candidates, r->count);
		if (all_counted)
			candidates = Min(candidates, MAX_INSTANCES + 2);
	}
	if (candidates > MAX_CANDIDATES)
		unbounded_rule(rule, psprintf("FREQ=%s is too fine for the window", freq_names[r->freq]),
					   psprintf("With FREQ=%s, INTERVAL=%d, the expansion from %s to %s (local time) would try about %.0f times; mojob tries at most %d.",
								freq_names[r->freq], interval,
								DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(from))),
								DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(until))),
								candidates, MAX_CANDIDATES),
					   "Use a coarser FREQ with BYHOUR, BYMINUTE or BYSECOND, a larger INTERVAL, a shorter horizon, or a shorter window.");
}

/*
 * The starts of the occurrences of rule after dtstart (which is the first
 * instance) that fall in [after, before): wall-clock times in tz made
 * instants.  More than MAX_INSTANCES in [count_from, before) is refused
 * (22023), and so is a rule whose expansion cannot be bounded.
 */
static TimestampTz *
expand(const char *rule, const char *tz, TimestampTz dtstart,
	   TimestampTz after, TimestampTz before, TimestampTz count_from, int *n)
{
	struct icalrecurrencetype r = parse_rule(rule);
	Timestamp	local_start = to_local(dtstart, tz);
	fsec_t		fsec = local_start % USECS_PER_SEC;
	struct icaltimetype start = ical_from_timestamp(local_start - fsec);
	Timestamp	from = local_start - fsec;
	Timestamp	last_local;		/* libical's end: libical's last year at most */
	Timestamp	until;
	bool		own_until = false;	/* the rule's UNTIL ends it first */
	bool		at_libical_end;
	icalrecur_iterator *it;
	TimestampTz *starts = palloc(sizeof(TimestampTz) * 64);
	int			max = 64;
	int			count = 0;
	int			counted = 0;

	/*
	 * libical compares UNTIL with the (floating, local) occurrences: an UNTIL
	 * given in UTC, as RFC 5545 asks, is made local time in tz first.
	 */
	if (!icaltime_is_null_time(r.until) && !r.until.is_date && icaltime_is_utc(r.until))
	{
		Timestamp	until_utc = timestamp_from_ical(r.until, 0);

		r.until = ical_from_timestamp(to_local((TimestampTz) until_utc, tz));
	}

	/*
	 * The expansion ends two days after before in local time (a day of
	 * offset changes either way), or at libical's last year.
	 */
	{
		struct icaltimetype end = icaltime_null_time();
		Timestamp	local_before;

		end.year = ICAL_LAST_YEAR + 1;
		end.month = 1;
		end.day = 1;
		last_local = timestamp_from_ical(end, 0);
		local_before = before >= dtstart ? to_local(before, tz) : local_start;
		at_libical_end = local_before >= last_local - 2 * USECS_PER_DAY;
		until = at_libical_end ? last_local : local_before + 2 * USECS_PER_DAY;
	}
	if (!icaltime_is_null_time(r.until))
	{
		Timestamp	rule_until = timestamp_from_ical(r.until, 0);

		if (rule_until <= until)
		{
			until = rule_until;
			own_until = true;
		}
	}
	if (!own_until)
	{
		r.until = ical_from_timestamp(until);
		r.until.is_date = 0;
	}

	/*
	 * A rule without COUNT whose periods have a fixed length in wall-clock
	 * time starts at its last period two days before the window: the same
	 * candidates, without those of the years since dtstart.  (libical sets
	 * the time of day from BYHOUR, BYMINUTE, BYSECOND when it starts there,
	 * which keeps the phase only with INTERVAL=1 where those contract.)
	 */
	if (r.count == 0 &&
		(r.freq == ICAL_DAILY_RECURRENCE || Max(1, r.interval) == 1 ||
		 (by_count(r.by_hour, ICAL_BY_HOUR_SIZE) == 0 &&
		  (r.freq == ICAL_HOURLY_RECURRENCE || by_count(r.by_minute, ICAL_BY_MINUTE_SIZE) == 0) &&
		  (r.freq != ICAL_SECONDLY_RECURRENCE || by_count(r.by_second, ICAL_BY_SECOND_SIZE) == 0))))
	{
		int64		period = (r.freq == ICAL_SECONDLY_RECURRENCE ? USECS_PER_SEC :
							  r.freq == ICAL_MINUTELY_RECURRENCE ? USECS_PER_MINUTE :
							  r.freq == ICAL_HOURLY_RECURRENCE ? USECS_PER_HOUR :
							  r.freq == ICAL_DAILY_RECURRENCE ? USECS_PER_DAY : 0) * Max(1, r.interval);
		TimestampTz window = Min(after, count_from);

		if (period > 0 && window > dtstart && window < before)
		{
			Timestamp	target = to_local(window, tz) - 2 * USECS_PER_DAY;

			if (target > from)
				from += (target - from) / period * period;
		}
	}

	check_bounded(rule, &r, from, until, count_from <= dtstart);

	icalerror_clear_errno();
	it = icalrecur_iterator_new(r, start);
	if (it == NULL)
		bad_rule(rule, icalerrno != ICAL_NO_ERROR ? icalerror_strerror(icalerrno)
				 : "the rule gives no occurrence");
	PG_TRY();
	{
		int			returned = 0;
		struct icaltimetype last = start;

		if (from > local_start - fsec &&
			!icalrecur_iterator_set_start(it, ical_from_timestamp(from)))
			bad_rule(rule, icalerrno != ICAL_NO_ERROR ? icalerror_strerror(icalerrno)
					 : "libical cannot start the rule later");
		for (;;)
		{
			struct icaltimetype next;
			Timestamp	local;
			TimestampTz t;

			CHECK_FOR_INTERRUPTS();
			next = icalrecur_iterator_next(it);
			if (icaltime_is_null_time(next))
			{
				/*
				 * libical also ends a rule where its own calendar ends (the
				 * year 2582 in libical 3.0): a rule still going then is not
				 * cut short silently.
				 */
				bool		rule_ended = (r.count > 0 && returned >= r.count) || own_until;

				if (!rule_ended && at_libical_end && last.year >= 2500)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("recurrence rule \"%s\" goes on past the year %d, where libical stops",
									rule, last.year),
							 errdetail("The horizon ends at %s.", mojob_timestamp_text(before)),
							 errhint("Use a shorter horizon, or a rule with COUNT or UNTIL.")));
				break;
			}
			returned++;
			last = next;
			local = timestamp_from_ical(next, fsec);
			/* the template is the first instance (compared as wall-clock time) */
			if (local <= local_start)
				continue;
			t = from_local(local, tz);
			if (t >= before)
				break;
			if (t >= count_from && ++counted > MAX_INSTANCES)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("recurrence rule \"%s\" makes more than %d instances within the horizon",
								rule, MAX_INSTANCES),
						 errdetail("The horizon ends at %s.", mojob_timestamp_text(before)),
						 errhint("Use a shorter horizon, or a rule with COUNT or UNTIL.")));
			if (t < after)
				continue;
			if (count == max)
			{
				max *= 2;
				starts = repalloc(starts, sizeof(TimestampTz) * max);
			}
			starts[count++] = t;
		}
	}
	PG_FINALLY();
	{
		icalrecur_iterator_free(it);
	}
	PG_END_TRY();
	*n = count;
	return starts;
}

/* ---------------------------------------------------------------------
 * Instances
 * ---------------------------------------------------------------------
 */

static Interval *
exact_interval(TimestampTz from, TimestampTz to)
{
	Interval   *i = palloc0(sizeof(Interval));

	i->time = to - from;
	return i;
}

/*
 * The job instances copy: the template, or if it was deleted or canceled
 * (one episode dropped) the latest instance that was not.
 */
static bool
read_template(int64 recurrence, int64 template_job, Template *t)
{
	static MojobPlan plan;
	static const char *sql =
		"SELECT id, state, pre_roll_start, start_at, end_at, post_roll_end FROM mojob.job "
		"WHERE id = $1 OR recurrence_id = $2 "
		"ORDER BY state <> 'canceled' DESC, id = $1 DESC, start_at DESC LIMIT 1";
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(template_job), Int64GetDatum(recurrence)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	TimestampTz pre,
				start,
				end,
				post;

	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	if (SPI_processed == 0)
		return false;
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	t->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	t->state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull)));
	pre = DatumGetTimestampTz(SPI_getbinval(row, desc, 3, &isnull));
	start = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
	end = DatumGetTimestampTz(SPI_getbinval(row, desc, 5, &isnull));
	post = DatumGetTimestampTz(SPI_getbinval(row, desc, 6, &isnull));
	t->start_at = start;
	t->length = *exact_interval(start, end);
	t->pre_roll = *exact_interval(pre, start);
	t->post_roll = *exact_interval(end, post);
	return true;
}

/*
 * Run the instance-making statement in a subtransaction.  False if it was
 * refused for resources (MJ005, MJ006), which changes nothing; any other
 * error is raised.
 */
static bool
try_instances(MojobPlan *plan, const char *sql, Oid *argtypes, Datum *args, MemoryContext cxt)
{
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (SPI_execute_plan(mojob_plan(plan, sql, 7, argtypes), args, NULL, false, 0) < 0)
			elog(ERROR, "creating instances failed");
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_MOJOB_CONFLICT &&
			edata->sqlerrcode != ERRCODE_MOJOB_NOT_READY)
			ReThrowError(edata);
		FlushErrorState();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * Create the instances starting at starts[0..n-1] as copies of the
 * template, in state (draft or tentative); returns how many.  In one
 * statement for all; if that is refused for resources (MJ005, MJ006), one
 * by one, each that is refused becoming a draft with RECURRENCE_CONFLICT.
 */
static int
create_instances(int64 recurrence, const Template *t, MojobState state,
				 TimestampTz *starts, int n)
{
	static MojobPlan plan;
	static MojobPlan conflict_plan;
	static const char *sql =
		"WITH made AS ("
		"  INSERT INTO mojob.job (name, description, priority, owner, properties, state, "
		"                         pre_roll_start, start_at, end_at, post_roll_end, recurrence_id) "
		"  SELECT t.name, t.description, t.priority, t.owner, t.properties, $4, "
		"         s - $5, s, s + $6, s + $6 + $7, $2 "
		"  FROM mojob.job t, pg_catalog.unnest($3) AS s WHERE t.id = $1 "
		"  RETURNING id) "
		"INSERT INTO mojob.job_resource (job_id, resource_id, pool_id, alias, amount, required_capabilities) "
		"SELECT m.id, n.resource_id, n.pool_id, n.alias, n.amount, n.required_capabilities "
		"FROM made m, mojob.job_resource n "
		"WHERE n.job_id = $1 AND (n.held_until IS NULL OR n.held_until > now()) "
		"ORDER BY n.resource_id, m.id, n.id";
	static const char *conflict_sql =
		"INSERT INTO mojob.recurrence_conflict (job_id) "
		"SELECT id FROM mojob.job WHERE recurrence_id = $1 AND start_at = $2 AND state = 'draft' "
		"ORDER BY id DESC LIMIT 1";
	Oid			argtypes[7] = {INT8OID, INT8OID, TIMESTAMPTZARRAYOID, mojob_catalog()->state_type,
		INTERVALOID, INTERVALOID, INTERVALOID};
	Datum		args[7];
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *elems;

	if (n == 0)
		return 0;
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = TimestampTzGetDatum(starts[i]);
	args[0] = Int64GetDatum(t->id);
	args[1] = Int64GetDatum(recurrence);
	args[2] = PointerGetDatum(construct_array(elems, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = mojob_state_datum(state);
	args[4] = IntervalPGetDatum(&t->pre_roll);
	args[5] = IntervalPGetDatum(&t->length);
	args[6] = IntervalPGetDatum(&t->post_roll);

	/* All at once. */
	if (try_instances(&plan, sql, argtypes, args, cxt))
		return n;
	if (state == MJ_DRAFT)
		elog(ERROR, "creating draft instances failed");

	/* One by one: those whose resources are taken become drafts. */
	for (int i = 0; i < n; i++)
	{
		Datum		one[7];

		memcpy(one, args, sizeof(one));
		one[2] = PointerGetDatum(construct_array(&elems[i], 1, TIMESTAMPTZOID, 8,
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (!try_instances(&plan, sql, argtypes, one, cxt))
		{
			Oid			ctypes[2] = {INT8OID, TIMESTAMPTZOID};
			Datum		cargs[2] = {Int64GetDatum(recurrence), elems[i]};

			one[3] = mojob_state_datum(MJ_DRAFT);
			if (SPI_execute_plan(mojob_plan(&plan, sql, 7, argtypes), one, NULL, false, 0) < 0)
				elog(ERROR, "creating a draft instance failed");
			/* mojob's own record: written as the tables' owner */
			mojob_spi_connect_owner();
			if (SPI_execute_plan(mojob_plan(&conflict_plan, conflict_sql, 2, ctypes), cargs, NULL, false, 0) < 0)
				elog(ERROR, "recording a recurrence conflict failed");
			mojob_spi_finish();
		}
	}
	return n;
}

/*
 * Create the instances of recurrence rec that start in (after, before), and
 * record how far it was extended.  Returns how many it created.
 */
static int
extend_one(const Recurrence *rec, int64 template_job, TimestampTz after, TimestampTz before,
		   TimestampTz count_from)
{
	static MojobPlan plan;
	static const char *sql =
		"UPDATE mojob.recurrence SET extended_until = $2 WHERE id = $1";
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(rec->id), TimestampTzGetDatum(before)};
	Template	t;
	TimestampTz *starts;
	int			n;
	int			made = 0;

	if (read_template(rec->id, template_job, &t))
	{
		starts = expand(rec->rule, rec->time_zone, rec->dtstart, after, before, count_from, &n);
		made = create_instances(rec->id, &t, rec->instance_state, starts, n);
	}
	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "updating mojob.recurrence failed");
	return made;
}

/* ---------------------------------------------------------------------
 * Functions
 * ---------------------------------------------------------------------
 */

/*
 * mojob.make_recurring(job, rule, time_zone, horizon) RETURNS mojob.recurrence:
 * the job becomes the first instance of a recurrence; the further
 * occurrences that start before now() + horizon become jobs.
 */
Datum
mojob_make_recurring(PG_FUNCTION_ARGS)
{
	static MojobPlan read_plan;
	static MojobPlan insert_plan;
	static MojobPlan link_plan;
	static MojobPlan result_plan;
	static const char *read_sql =
		"SELECT state, start_at, code, recurrence_id FROM mojob.job WHERE id = $1 FOR NO KEY UPDATE";
	static const char *insert_sql =
		"INSERT INTO mojob.recurrence (template_job, rule, time_zone, horizon, dtstart, extended_until, "
		"                              created_by, instance_state) "
		"VALUES ($1, $2, $3, $4, $5, $5, $6, $7) RETURNING id";
	static const char *link_sql =
		"UPDATE mojob.job SET recurrence_id = $2 WHERE id = $1";
	static const char *result_sql = "SELECT * FROM mojob.recurrence WHERE id = $1";
	int64		job = mojob_arg_id(fcinfo, 0, "job");
	char	   *rule = TextDatumGetCString(mojob_arg_datum(fcinfo, 1, "rule"));
	char	   *tz = TextDatumGetCString(mojob_arg_datum(fcinfo, 2, "time_zone"));
	Interval   *horizon = DatumGetIntervalP(mojob_arg_datum(fcinfo, 3, "horizon"));
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz before;
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INTERVALOID, TIMESTAMPTZOID, TEXTOID,
		mojob_catalog()->state_type};
	Datum		args[7];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	MojobState	state;
	TimestampTz start_at;
	char	   *code;
	Recurrence	rec;
	Datum		result;
	Interval	day = {0};

	/*
	 * The scheduler extends recurrences once a day: a shorter horizon would
	 * create instances after they should have started.
	 */
	day.day = 1;
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(horizon),
										  IntervalPGetDatum(&day))) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be at least a day"),
				 errdetail("It is %s; recurrences are extended once a day, so a shorter horizon would create instances after they should have started.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(horizon)))),
				 errhint("Instances are created up to now() + horizon; the default is 1 year.")));
	(void) parse_rule(rule);
	(void) to_local(now, tz);	/* 22023 for an unknown time zone */
	before = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													 TimestampTzGetDatum(now), IntervalPGetDatum(horizon)));

	mojob_spi_connect();
	args[0] = Int64GetDatum(job);
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.job failed");
	if (SPI_processed == 0)
		mojob_not_found("job", job);
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull)));
	start_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 2, &isnull));
	code = TextDatumGetCString(SPI_getbinval(row, desc, 3, &isnull));
	(void) SPI_getbinval(row, desc, 4, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("job %s is already an instance of a recurrence", code),
				 errhint("Cancel that recurrence with mojob.cancel_recurrence(), or duplicate the job first.")));
	if ((state != MJ_DRAFT && state != MJ_TENTATIVE) || start_at <= now)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("job %s cannot be made recurring", code),
				 errdetail("It is %s and %s; only a draft or tentative job that has not started can.",
						   mojob_states[state].name,
						   start_at <= now ? "its start has passed" : "has not started"),
				 errhint("Make a new draft with mojob.duplicate(job, start_at) and make that recurring.")));

	args[0] = Int64GetDatum(job);
	args[1] = CStringGetTextDatum(rule);
	args[2] = CStringGetTextDatum(tz);
	args[3] = IntervalPGetDatum(horizon);
	args[4] = TimestampTzGetDatum(start_at);
	args[5] = CStringGetTextDatum(mojob_actor());
	args[6] = mojob_state_datum(state);
	if (SPI_execute_plan(mojob_plan(&insert_plan, insert_sql, 7, argtypes), args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "inserting into mojob.recurrence failed");
	rec.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	rec.rule = rule;
	rec.time_zone = tz;
	rec.dtstart = start_at;
	rec.instance_state = state;

	args[1] = Int64GetDatum(rec.id);
	{
		Oid			linktypes[2] = {INT8OID, INT8OID};

		if (SPI_execute_plan(mojob_plan(&link_plan, link_sql, 2, linktypes), args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "updating mojob.job failed");
	}
	(void) extend_one(&rec, job, start_at, before, now);

	/* Not read-only: the row was inserted by this call. */
	args[0] = Int64GetDatum(rec.id);
	if (SPI_execute_plan(mojob_plan(&result_plan, result_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "reading mojob.recurrence failed");
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  get_relname_relid("recurrence", mojob_catalog()->namespace));
	mojob_spi_finish();
	return result;
}

/*
 * Extend recurrence id up to at + its horizon, unless another session holds
 * its row (*locked) or it no longer needs it.  Returns how many instances it
 * created.
 */
static int64
extend_series(int64 id, TimestampTz at, TimestampTz count_from, bool *locked)
{
	static MojobPlan plan;
	/* the row as it is now (a new snapshot at READ COMMITTED), or none */
	static const char *sql =
		"SELECT rule, time_zone, dtstart, extended_until, template_job, $2 + horizon, instance_state, "
		"       state = 'active' AND extended_until < $2 + horizon "
		"FROM mojob.recurrence WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED";
	Oid			argtypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(id), TimestampTzGetDatum(at)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Recurrence	rec;
	int64		made;

	*locked = false;
	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&plan, sql, 2, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.recurrence failed");
	if (SPI_processed == 0)
	{
		/* skipped: locked (a deleted one is rare, and only the owner's) */
		*locked = true;
		mojob_spi_finish();
		return 0;
	}
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (!DatumGetBool(SPI_getbinval(row, desc, 8, &isnull)) || isnull)
	{
		mojob_spi_finish();
		return 0;
	}
	rec.id = id;
	rec.rule = TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull));
	rec.time_zone = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
	rec.dtstart = DatumGetTimestampTz(SPI_getbinval(row, desc, 3, &isnull));
	rec.instance_state = mojob_state_from_oid(DatumGetObjectId(SPI_getbinval(row, desc, 7, &isnull)));
	made = extend_one(&rec,
					  DatumGetInt64(SPI_getbinval(row, desc, 5, &isnull)),
					  DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull)),
					  DatumGetTimestampTz(SPI_getbinval(row, desc, 6, &isnull)),
					  count_from);
	mojob_spi_finish();
	return made;
}

typedef enum SeriesResult
{
	SERIES_DONE,
	SERIES_LOCKED,
	SERIES_FAILED
} SeriesResult;

/*
 * extend_series() in a subtransaction: an error is the series' failure,
 * reported as a WARNING, unless it ends the call (cancellation, shutdown,
 * exhausted resources, a transaction to retry, a caller without the right).  Adds what it made to *made.
 */
static SeriesResult
try_series(int64 id, TimestampTz at, TimestampTz count_from, MemoryContext cxt, int64 *made,
		   MojobExtendReport *report)
{
	ResourceOwner owner = CurrentResourceOwner;
	volatile SeriesResult result = SERIES_DONE;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		bool		skipped;

		*made += extend_series(id, at, count_from, &skipped);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (skipped)
			result = SERIES_LOCKED;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			class;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		class = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_QUERY_CANCELED) ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_OUT_OF_MEMORY) ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_T_R_SERIALIZATION_FAILURE) ||
			class == ERRCODE_TO_CATEGORY(ERRCODE_IN_FAILED_SQL_TRANSACTION))
			ReThrowError(edata);
		FlushErrorState();
		if (report && report->first_message == NULL)
		{
			report->first_sqlerrcode = edata->sqlerrcode;
			report->first_message = pstrdup(edata->message);
		}
		ereport(report && report->quiet ? DEBUG1 : WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("recurrence " INT64_FORMAT " was not extended: %s", id, edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("Its instances are as they were; fix the cause or cancel it with mojob.cancel_recurrence(); the next extension tries it again.")));
		FreeErrorData(edata);
		result = SERIES_FAILED;
	}
	PG_END_TRY();
	return result;
}

/*
 * Extend every active recurrence up to at + its horizon (the scheduler's
 * daily call).  Each series in a subtransaction of its own: one that fails
 * (an instance refused, a rule that cannot be expanded) is left as it was,
 * with a WARNING, and the others go on; one whose row another session holds
 * is skipped, never waited for, and counted in a LOG line (the next call
 * extends it).  report (may be NULL) counts them, and says the first failure.
 * Returns how many instances were created.  Cancellation and shutdown, and
 * errors that doom the transaction, end the call.
 *
 * The 5,000-instance cap counts the occurrences from now (from at, for
 * the owner's extension more than a day ahead) to at + horizon; only the
 * owner may extend more than a day ahead of now (mojob_extend_recurrences).
 */
int64
mojob_extend_all_report(TimestampTz at, MojobExtendReport *report)
{
	static MojobPlan plan;
	static MojobPlan rights_plan;
	static const char *sql =
		"SELECT id FROM mojob.recurrence "
		"WHERE state = 'active' AND extended_until < $1 + horizon ORDER BY id";
	/* the right to lock the series (42501 for a viewer), checked once up front */
	static const char *rights_sql =
		"SELECT FROM mojob.recurrence WHERE false FOR NO KEY UPDATE";
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1] = {TimestampTzGetDatum(at)};
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	/*
	 * The cap counts from now, not from at, for an extension at most a day
	 * ahead (anyone's): counted from at, a planner's extension to now + 1
	 * day left that day uncounted, and a series with a horizon of a day
	 * could hold twice the cap.  The owner's extension further ahead
	 * counts from at.
	 */
	TimestampTz count_from = (at > now && at - now > USECS_PER_DAY) ? at : Min(at, now);
	MemoryContext cxt = CurrentMemoryContext;
	int64	   *ids;
	uint64		n;
	int64		made = 0;
	int			nfailed = 0;
	int			nlocked = 0;

	if (report)
	{
		report->failed = report->locked = 0;
		report->first_sqlerrcode = 0;
		report->first_message = NULL;
	}
	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&rights_plan, rights_sql, 0, NULL), NULL, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_execute_plan(mojob_plan(&plan, sql, 1, argtypes), args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.recurrence failed");
	n = SPI_processed;
	ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	mojob_spi_finish();
	MemoryContextSwitchTo(cxt);

	for (uint64 i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		switch (try_series(ids[i], at, count_from, cxt, &made, report))
		{
			case SERIES_FAILED:
				nfailed++;
				break;
			case SERIES_LOCKED:
				nlocked++;
				break;
			default:
				break;
		}
	}
	if (nlocked > 0)
		ereport(report && report->quiet ? DEBUG1 : LOG,
				(errmsg("mojob: %d recurrence(s) skipped: their rows are locked by other sessions", nlocked),
				 errdetail("They are extended on the next call of mojob.extend_recurrences().")));
	if (report)
	{
		report->failed = nfailed;
		report->locked = nlocked;
	}
	return made;
}

/* Extend every active recurrence up to at + its horizon (the scheduler's daily call). */
int64
mojob_extend_all(TimestampTz at)
{
	return mojob_extend_all_report(at, NULL);
}

/*
 * mojob.extend_recurrences(at DEFAULT now()) RETURNS integer: how many
 * instances were created.  Extending more than a day ahead of now creates
 * instances early, in bulk: only the owner may.
 */
Datum
mojob_extend_recurrences(PG_FUNCTION_ARGS)
{
	TimestampTz at = mojob_arg_time(fcinfo, 0, "at");
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		made;

	if (at > now && at - now > USECS_PER_DAY &&
		!mojob_is_privileged(mojob_catalog()->job_rel))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of mojob.job may extend recurrences more than a day ahead of now"),
				 errdetail("mojob.extend_recurrences was called with at = %s; now() is %s.",
						   mojob_timestamp_text(at), mojob_timestamp_text(now)),
				 errhint("Call mojob.extend_recurrences() without at; the scheduler extends every recurrence daily.")));
	made = mojob_extend_all(at);

	PG_RETURN_INT32((int32) Min(made, PG_INT32_MAX));
}

/*
 * mojob.cancel_recurrence(recurrence, reason) RETURNS mojob.recurrence:
 * instances that have not started are canceled (tentative, confirmed, with
 * the reason) or deleted (drafts); started ones stay as they are.
 */
Datum
mojob_cancel_recurrence(PG_FUNCTION_ARGS)
{
	static MojobPlan read_plan;
	static MojobPlan lock_plan;
	static MojobPlan cancel_plan;
	static MojobPlan delete_plan;
	static MojobPlan done_plan;
	static const char *read_sql =
		"SELECT state FROM mojob.recurrence WHERE id = $1 FOR NO KEY UPDATE";
	/*
	 * The instances not started, locked in id order before anything is
	 * decided: one a user is changing is waited for, and at READ COMMITTED
	 * then judged as the user left it (a draft just reserved is canceled, an
	 * instance just started is left alone; recurrence_cancel_race.spec).
	 * The statements after it read with snapshots taken after the locks.
	 */
	static const char *lock_sql =
		"SELECT FROM mojob.job WHERE recurrence_id = $1 AND state IN ('draft', 'tentative', 'confirmed') "
		"ORDER BY id FOR NO KEY UPDATE";
	static const char *cancel_sql =
		"SELECT count(mojob.cancel(id, $2)) FROM mojob.job "
		"WHERE recurrence_id = $1 AND state IN ('tentative', 'confirmed')";
	static const char *delete_sql =
		"DELETE FROM mojob.job WHERE recurrence_id = $1 AND state = 'draft'";
	static const char *done_sql =
		"UPDATE mojob.recurrence SET state = 'canceled', canceled_at = now(), cancel_reason = $2 "
		"WHERE id = $1 RETURNING *";
	int64		recurrence = mojob_arg_id(fcinfo, 0, "recurrence");
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Datum		result;

	args[0] = Int64GetDatum(recurrence);
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';

	mojob_spi_connect();
	if (SPI_execute_plan(mojob_plan(&read_plan, read_sql, 1, argtypes), args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading mojob.recurrence failed");
	if (SPI_processed == 0)
		mojob_not_found("recurrence", recurrence);
	if (strcmp(TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
			   "canceled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MOJOB_TRANSITION),
				 errmsg("recurrence " INT64_FORMAT " is already canceled", recurrence),
				 errhint("SELECT * FROM mojob.recurrences shows its instances.")));
	if (SPI_execute_plan(mojob_plan(&lock_plan, lock_sql, 1, argtypes), args, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_execute_plan(mojob_plan(&cancel_plan, cancel_sql, 2, argtypes), args, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_execute_plan(mojob_plan(&delete_plan, delete_sql, 1, argtypes), args, nulls, false, 0) != SPI_OK_DELETE ||
		SPI_execute_plan(mojob_plan(&done_plan, done_sql, 2, argtypes), args, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "canceling recurrence " INT64_FORMAT " failed", recurrence);
	result = mojob_spi_return_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  get_relname_relid("recurrence", mojob_catalog()->namespace));
	mojob_spi_finish();
	return result;
}

/*
 * mojob.recurrence_preview(rule, time_zone, dtstart, until) RETURNS SETOF
 * timestamptz: the occurrences a rule gives after dtstart, before until --
 * what make_recurring would create; also the next occurrence of a
 * recurrence in mojob.recurrences.
 */
Datum
mojob_recurrence_preview(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *rule = TextDatumGetCString(mojob_arg_datum(fcinfo, 0, "rule"));
	char	   *tz = TextDatumGetCString(mojob_arg_datum(fcinfo, 1, "time_zone"));
	TimestampTz dtstart = mojob_arg_time(fcinfo, 2, "dtstart");
	TimestampTz until = mojob_arg_time(fcinfo, 3, "until");
	TimestampTz *starts;
	int			n;
	TupleDesc	desc;
	Tuplestorestate *store;
	MemoryContext old;

	if (until <= dtstart)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("until must be after dtstart"),
				 errdetail("dtstart is %s and until is %s.", mojob_timestamp_text(dtstart),
						   mojob_timestamp_text(until)),
				 errhint("The occurrences listed are those after dtstart and before until.")));

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recurrence_preview must be called where a set is accepted")));
	starts = expand(rule, tz, dtstart, dtstart, until, dtstart, &n);

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	desc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(desc, (AttrNumber) 1, "start_at", TIMESTAMPTZOID, -1, 0);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < n; i++)
	{
		Datum		v = TimestampTzGetDatum(starts[i]);
		bool		isnull = false;

		tuplestore_putvalues(store, desc, &v, &isnull);
	}
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	return (Datum) 0;
}
