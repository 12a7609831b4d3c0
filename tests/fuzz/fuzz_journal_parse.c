/* Fuzz the journal reader. Any bytes: reading either fails cleanly (a code,
 * a message naming an entry, no journal) or gives a journal whose every line
 * writes back to the very same bytes (one spelling per entry). A torn tail
 * must be exactly that: the bytes up to the last LF read as a whole journal
 * of the reported length. */
#include <stdlib.h>
#include <string.h>

#include "kura/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each LF-terminated line of data[0..size) parses and formats back to itself. */
static void check_lines(const uint8_t *data, size_t size, uint64_t want)
{
    size_t start = 0;
    uint64_t n = 0;
    for (size_t i = 0; i < size; i++) {
        kura_journal_entry e;
        char line[KURA_JOURNAL_LINE_MAX];
        size_t len = 0;
        if (data[i] != '\n') continue;
        if (kura_journal_entry_parse(&e, data + start, i - start, NULL) != KURA_OK) abort();
        if (e.seq != n) abort();
        if (kura_journal_entry_format(line, sizeof(line), &len, &e) != KURA_OK) abort();
        if (len != i - start || memcmp(line, data + start, len) != 0) abort();
        start = i + 1;
        n++;
    }
    if (n != want) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_journal *j = NULL;
    kura_error err;
    uint64_t bad = 0, count = 0, amount = 0;
    int64_t last = 0;
    int rc;
    memset(&err, 0, sizeof(err));
    rc = kura_journal_parse(&j, &bad, data, size, &err);
    if (rc == KURA_OK) {
        uint8_t head[32];
        if (j == NULL || bad == 0) abort();
        if (kura_journal_head(j, &count, head, &last) != KURA_OK || count != bad) abort();
        if (kura_journal_sum_24h(j, &amount, NULL, last) != KURA_OK) abort();
        (void)kura_journal_last_policy(j, NULL, NULL, NULL);
        (void)kura_journal_find_signed(j, NULL, head);
        if (kura_journal_append_refused(j, NULL, last, NULL, "X", NULL) != KURA_EINVAL) abort();
        kura_journal_free(j);
        check_lines(data, size, count);
        return 0;
    }
    if (j != NULL || err.code != rc || strncmp(err.message, "journal: ", 9) != 0) abort();
    if (rc != KURA_EDATA && rc != KURA_JOURNAL_ETORN && rc != KURA_ERANGE && rc != KURA_ENOMEM)
        abort();
    if (rc == KURA_JOURNAL_ETORN) {
        size_t keep = size;
        while (keep > 0 && data[keep - 1] != '\n') keep--;
        if (keep == 0 || size - keep >= KURA_JOURNAL_LINE_MAX) abort();
        if (kura_journal_parse(&j, &count, data, keep, NULL) != KURA_OK || count != bad) abort();
        kura_journal_free(j);
    }
    /* A single line on its own, too. */
    if (size < KURA_JOURNAL_LINE_MAX && memchr(data, '\n', size) == NULL) {
        kura_journal_entry e;
        char line[KURA_JOURNAL_LINE_MAX];
        size_t len = 0;
        if (kura_journal_entry_parse(&e, data, size, NULL) == KURA_OK) {
            if (kura_journal_entry_format(line, sizeof(line), &len, &e) != KURA_OK) abort();
            if (len != size || memcmp(line, data, size) != 0) abort();
        }
    }
    return 0;
}
