/* src/intent/time.c — the one timestamp spelling kura's formats use,
 * "YYYY-MM-DDTHH:MM:SSZ" in UTC, and its conversion to and from seconds since
 * 1970-01-01T00:00:00Z. Written out by hand (no timegm/strptime) so the
 * result does not depend on the C library, the locale or the TZ variable. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kura/intent.h"

#define SECONDS_PER_DAY 86400

static bool is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap(year)) return 29;
    return days[month - 1];
}

/* Number of leap years in 1..y (Gregorian rule, proleptic). */
static int64_t leaps_through(int64_t y)
{
    return y / 4 - y / 100 + y / 400;
}

/* Days from 1970-01-01 to the first of January of `year` (year >= 1970). */
static int64_t days_before_year(int64_t year)
{
    return 365 * (year - 1970) + leaps_through(year - 1) - leaps_through(1969);
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int kura_intent_time_parse(int64_t *t, const char *s, size_t len, kura_error *err)
{
    int year, month, day, hour, minute, second;
    int64_t days;
    if (t == NULL) return KURA_EINVAL;
    *t = 0;
    if (s == NULL || len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z' || !digits(s, 4, &year) || !digits(s + 5, 2, &month) ||
        !digits(s + 8, 2, &day) || !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) ||
        !digits(s + 17, 2, &second))
        return kura_fail(err, KURA_EDATA, "time: expected YYYY-MM-DDTHH:MM:SSZ (UTC)");
    if (year < 1970)
        return kura_fail(err, KURA_EDATA, "time: year %04d is before 1970", year);
    if (month < 1 || month > 12)
        return kura_fail(err, KURA_EDATA, "time: month %02d does not exist", month);
    if (day < 1 || day > days_in_month(year, month))
        return kura_fail(err, KURA_EDATA, "time: %04d-%02d-%02d is not a calendar date", year,
                         month, day);
    /* Seconds stop at 59: a leap second (":60") would name the same instant
     * as ":00" of the next minute in Unix time, giving one time two
     * spellings. */
    if (hour > 23 || minute > 59 || second > 59)
        return kura_fail(err, KURA_EDATA, "time: %02d:%02d:%02d is not a time of day", hour,
                         minute, second);
    days = days_before_year(year);
    for (int m = 1; m < month; m++) days += days_in_month(year, m);
    days += day - 1;
    *t = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    return KURA_OK;
}

int kura_intent_time_format(char *out, size_t out_len, int64_t t)
{
    int64_t days, rem, year;
    int month = 1;
    if (out == NULL || out_len < 21) return KURA_EINVAL;
    out[0] = '\0';
    if (t < 0 || t > KURA_INTENT_TIME_MAX) return KURA_EINVAL;
    days = t / SECONDS_PER_DAY;
    rem = t % SECONDS_PER_DAY;
    /* 366 days a year underestimates the year by at most a few dozen over
     * 8000 years; step forward from there. */
    year = 1970 + days / 366;
    while (days_before_year(year + 1) <= days) year++;
    days -= days_before_year(year);
    while (days >= days_in_month(year, month)) {
        days -= days_in_month(year, month);
        month++;
    }
    snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)year, month, (int)days + 1,
             (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60));
    return KURA_OK;
}
