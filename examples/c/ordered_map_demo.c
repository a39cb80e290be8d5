/*
 * shmkit from C: a sorted map (an ordered map) with typed tuple keys, shared between
 * processes and with Python.
 *
 *   ordered_map_demo demo  STORE          forked children write disjoint ranges of keys
 *                                         ("user", i) -> i at once; the parent counts the
 *                                         ("user", ...) prefix, scans a range both ways,
 *                                         checks every key and value, looks up the entries
 *                                         around a key, and removes the store
 *   ordered_map_demo write STORE MAP N    writes ("user", i) -> i for i in 0..N-1 (in a
 *                                         scrambled order) for another process (Python's
 *                                         OrderedMap) to read
 *   ordered_map_demo read  STORE MAP N    reads a map another process wrote with those
 *                                         entries: checks the prefix count and that a scan
 *                                         gives them in order
 *
 * Keys are the ordered encoding Python's OrderedMap uses (written with
 * shmkit_ordered_key_*), values the typed encoding (shmkit_value_encode/_decode), so the
 * map is the one Python sees as {("user", 0): 0, ...}. Built and run by scripts/test-c.sh;
 * the write/read modes are for the Python test crates/shmkit-py/tests/test_c_api.py. Exit
 * status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid */

#include "shmkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    WRITERS = 4,   /* children writing at once */
    EACH = 1000,   /* keys per child */
    KEY_CAP = 64,  /* room for any key of this demo */
    ITEMS_CAP = 8, /* room for the items of a decoded key */
};

static int failures = 0;

/* Reports a failed call with its status name and message; returns nonzero on failure. */
static int check(shmkit_status s, shmkit_status want, const char *what) {
    if (s == want) {
        return 0;
    }
    fprintf(stderr, "FAIL %s: got %s (%d), wanted %s: %s\n", what, shmkit_status_name(s), (int)s,
            shmkit_status_name(want), shmkit_last_error_message());
    failures++;
    return 1;
}

static void expect(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAIL %s\n", what);
        failures++;
    }
}

/* Writes the key (tag, i) into buf (KEY_CAP bytes); returns its length. */
static size_t tuple_key(uint8_t *buf, const char *tag, int64_t i) {
    size_t len = 0;
    shmkit_status s = shmkit_ordered_key_begin_tuple(buf, KEY_CAP, &len);
    if (s == SHMKIT_STATUS_OK) {
        s = shmkit_ordered_key_encode_str(buf, KEY_CAP, &len, (const uint8_t *)tag, strlen(tag));
    }
    if (s == SHMKIT_STATUS_OK) {
        s = shmkit_ordered_key_encode_i64(buf, KEY_CAP, &len, i);
    }
    if (s == SHMKIT_STATUS_OK) {
        s = shmkit_ordered_key_end_tuple(buf, KEY_CAP, &len);
    }
    if (check(s, SHMKIT_STATUS_OK, "encode a key")) {
        exit(2);
    }
    return len;
}

/* The range of keys (tag, ...): the tuple prefix from `start` (inclusive) to `end`
 * (exclusive), each KEY_CAP bytes. */
static void prefix_range(const char *tag, uint8_t *start, size_t *start_len, uint8_t *end, size_t *end_len) {
    *start_len = 0;
    shmkit_status s = shmkit_ordered_key_begin_tuple(start, KEY_CAP, start_len);
    if (s == SHMKIT_STATUS_OK) {
        s = shmkit_ordered_key_encode_str(start, KEY_CAP, start_len, (const uint8_t *)tag, strlen(tag));
    }
    memcpy(end, start, *start_len);
    *end_len = *start_len;
    if (s == SHMKIT_STATUS_OK) {
        s = shmkit_ordered_key_prefix_upper_bound(end, KEY_CAP, end_len);
    }
    if (check(s, SHMKIT_STATUS_OK, "encode a prefix")) {
        exit(2);
    }
}

/* Sets (tag, i) to the typed int i. */
static int put(shmkit_ordered_map *map, const char *tag, int64_t i) {
    uint8_t key[KEY_CAP], value[16];
    size_t klen = tuple_key(key, tag, i), vlen = 0;
    shmkit_value v = {.kind = SHMKIT_TYPE_INT, .int64 = i};
    if (shmkit_value_encode(&v, value, sizeof value, &vlen) != SHMKIT_STATUS_OK ||
        shmkit_ordered_map_set(map, key, klen, value, vlen) != SHMKIT_STATUS_OK) {
        fprintf(stderr, "put: %s\n", shmkit_last_error_message());
        return 1;
    }
    return 0;
}

/* Checks that key/value are ("user", want) -> want. */
static int check_entry(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen, int64_t want) {
    shmkit_ordered_key_item items[ITEMS_CAP];
    uint8_t payload[KEY_CAP];
    size_t n = 0, plen = 0;
    shmkit_value v;
    if (check(shmkit_ordered_key_decode(key, klen, items, ITEMS_CAP, &n, payload, sizeof payload, &plen),
              SHMKIT_STATUS_OK, "decode a key") ||
        check(shmkit_value_decode(value, vlen, &v), SHMKIT_STATUS_OK, "decode a value")) {
        return 1;
    }
    int ok = n == 3 && items[0].kind == SHMKIT_ORDERED_KEY_TYPE_TUPLE && items[0].len == 2 &&
             items[1].kind == SHMKIT_ORDERED_KEY_TYPE_STR && items[1].len == 4 &&
             memcmp(items[1].data, "user", 4) == 0 && items[2].kind == SHMKIT_ORDERED_KEY_TYPE_INT &&
             items[2].int64 == want && v.kind == SHMKIT_TYPE_INT && v.int64 == want;
    if (!ok) {
        fprintf(stderr, "FAIL entry: wanted (\"user\", %lld) -> %lld (%zu items)\n", (long long)want,
                (long long)want, n);
        failures++;
        return 1;
    }
    return 0;
}

/* Scans [start, end) (inclusive start, exclusive end), ascending or descending, and checks
 * the entries are ("user", i) -> i for i from `first` by `step`; returns how many came. */
static int64_t scan(shmkit_ordered_map *map, const uint8_t *start, size_t start_len, const uint8_t *end,
                    size_t end_len, bool reverse, int64_t first, int64_t step) {
    shmkit_ordered_map_iter *it = NULL;
    if (check(shmkit_ordered_map_iter_open(map, start, start_len, true, end, end_len, false, reverse, &it),
              SHMKIT_STATUS_OK, "open a cursor")) {
        return -1;
    }
    int64_t n = 0;
    for (;;) {
        uint8_t key[KEY_CAP], value[16];
        size_t klen = 0, vlen = 0;
        shmkit_status s = shmkit_ordered_map_iter_next(it, key, sizeof key, &klen, value, sizeof value, &vlen);
        if (s == SHMKIT_STATUS_END) {
            break;
        }
        if (check(s, SHMKIT_STATUS_OK, "next entry") || check_entry(key, klen, value, vlen, first + n * step)) {
            break;
        }
        n++;
    }
    shmkit_ordered_map_iter_close(it);
    return n;
}

static uint64_t count_prefix(shmkit_ordered_map *map, const char *tag) {
    uint8_t start[KEY_CAP], end[KEY_CAP];
    size_t start_len = 0, end_len = 0;
    prefix_range(tag, start, &start_len, end, &end_len);
    uint64_t n = 0, bytes = 0;
    check(shmkit_ordered_map_count(map, start, start_len, true, end, end_len, false, &n, &bytes), SHMKIT_STATUS_OK,
          "count a prefix");
    return n;
}

static void demo(shmkit_store *store) {
    shmkit_ordered_map *map = NULL;
    if (check(shmkit_ordered_map_open(store, "users", 0, &map), SHMKIT_STATUS_OK, "open map")) {
        exit(2);
    }
    /* Writers in child processes, each its own range of ids (written from the top down, so
     * the tree splits on both sides) and one ("team", w) key. */
    pid_t children[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            exit(2);
        }
        if (pid == 0) {
            int status = put(map, "team", w);
            for (int64_t i = (int64_t)(w + 1) * EACH - 1; status == 0 && i >= (int64_t)w * EACH; i--) {
                status = put(map, "user", i);
            }
            shmkit_ordered_map_close(map);
            _exit(status);
        }
        children[w] = pid;
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        if (waitpid(children[w], &status, 0) != children[w] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "FAIL writer %d failed (status %d)\n", w, status);
            failures++;
        }
    }
    const int64_t users = (int64_t)WRITERS * EACH;
    uint64_t len = 0;
    check(shmkit_ordered_map_len(map, &len), SHMKIT_STATUS_OK, "len");
    expect(len == (uint64_t)users + WRITERS, "every entry arrived");

    /* A prefix count: every ("user", ...) key, no ("team", ...) key. */
    uint64_t n_users = count_prefix(map, "user"), n_teams = count_prefix(map, "team");
    expect(n_users == (uint64_t)users && n_teams == WRITERS, "prefix counts");

    /* A range scan: ("user", 100) <= key < ("user", 250), in order, then backwards. */
    uint8_t lo[KEY_CAP], hi[KEY_CAP];
    size_t lo_len = tuple_key(lo, "user", 100), hi_len = tuple_key(hi, "user", 250);
    int64_t forward = scan(map, lo, lo_len, hi, hi_len, false, 100, 1);
    int64_t backward = scan(map, lo, lo_len, hi, hi_len, true, 249, -1);
    expect(forward == 150 && backward == 150, "range scans both ways");
    /* The whole prefix from the top: ids order as numbers (999 < 1000), not as text. */
    uint8_t start[KEY_CAP], end[KEY_CAP];
    size_t start_len = 0, end_len = 0;
    prefix_range("user", start, &start_len, end, &end_len);
    int64_t all = scan(map, start, start_len, end, end_len, true, users - 1, -1);
    expect(all == users, "a reverse scan of the prefix");

    /* Around a key that is not there: ("user", 10.5) lies between ("user", 10) and 11. */
    uint8_t probe[KEY_CAP], key[KEY_CAP], value[16];
    size_t probe_len = 0, klen = 0, vlen = 0;
    shmkit_ordered_key_begin_tuple(probe, KEY_CAP, &probe_len);
    shmkit_ordered_key_encode_str(probe, KEY_CAP, &probe_len, (const uint8_t *)"user", 4);
    shmkit_ordered_key_encode_f64(probe, KEY_CAP, &probe_len, 10.5);
    check(shmkit_ordered_key_end_tuple(probe, KEY_CAP, &probe_len), SHMKIT_STATUS_OK, "encode a float key");
    check(shmkit_ordered_map_floor(map, probe, probe_len, key, sizeof key, &klen, value, sizeof value, &vlen),
          SHMKIT_STATUS_OK, "floor");
    check_entry(key, klen, value, vlen, 10);
    check(shmkit_ordered_map_ceiling(map, probe, probe_len, key, sizeof key, &klen, value, sizeof value, &vlen),
          SHMKIT_STATUS_OK, "ceiling");
    check_entry(key, klen, value, vlen, 11);

    /* A buffer too small keeps the entry for the next call. */
    shmkit_ordered_map_iter *it = NULL;
    check(shmkit_ordered_map_iter_open(map, start, start_len, true, end, end_len, false, false, &it), SHMKIT_STATUS_OK,
          "open a cursor");
    check(shmkit_ordered_map_iter_next(it, key, 2, &klen, value, sizeof value, &vlen), SHMKIT_STATUS_BUFFER_TOO_SMALL,
          "next into a small key buffer");
    expect(klen > 2, "the key length needed is reported");
    check(shmkit_ordered_map_iter_next(it, key, sizeof key, &klen, value, sizeof value, &vlen), SHMKIT_STATUS_OK,
          "next with room");
    check_entry(key, klen, value, vlen, 0);
    shmkit_ordered_map_iter_close(it);

    /* The name of another kind of object. */
    shmkit_hash_map *hm = NULL;
    check(shmkit_hash_map_open(store, "users", NULL, &hm), SHMKIT_STATUS_WRONG_KIND, "an ordered map opened as a hash map");
    expect(hm == NULL, "no handle on failure");

    printf("ordered map: %llu entries; (\"user\", ...) %llu, (\"team\", ...) %llu; [(\"user\", 100), (\"user\", 250)) "
           "%lld entries ascending, %lld descending\n",
           (unsigned long long)len, (unsigned long long)n_users, (unsigned long long)n_teams, (long long)forward,
           (long long)backward);
    shmkit_ordered_map_close(map);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s demo STORE | write|read STORE MAP N\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    shmkit_store *store = NULL;
    if (check(shmkit_store_open_or_create(argv[2], NULL, &store), SHMKIT_STATUS_OK, "open store")) {
        return 2;
    }
    if (strcmp(mode, "demo") == 0) {
        demo(store);
        shmkit_store_close(store);
        check(shmkit_store_remove(argv[2]), SHMKIT_STATUS_OK, "remove the store");
    } else if (argc == 5 && (strcmp(mode, "write") == 0 || strcmp(mode, "read") == 0)) {
        int64_t n = atoll(argv[4]);
        int writing = mode[0] == 'w';
        shmkit_ordered_map *map = NULL;
        shmkit_status s = shmkit_ordered_map_open(store, argv[3], writing ? 0 : SHMKIT_ORDERED_MAP_OPEN_EXISTING, &map);
        shmkit_store_close(store); /* the map keeps the store attached */
        if (check(s, SHMKIT_STATUS_OK, "open the map")) {
            return 2;
        }
        if (writing) {
            /* i * 7919 mod n visits every i when n is not a multiple of the prime 7919. */
            for (int64_t j = 0; j < n; j++) {
                if (put(map, "user", n % 7919 == 0 ? j : (j * 7919) % n)) {
                    failures++;
                    break;
                }
            }
        } else {
            uint8_t start[KEY_CAP], end[KEY_CAP];
            size_t start_len = 0, end_len = 0;
            prefix_range("user", start, &start_len, end, &end_len);
            expect(count_prefix(map, "user") == (uint64_t)n, "the prefix count is N");
            expect(scan(map, start, start_len, end, end_len, false, 0, 1) == n, "a scan gives ids 0..N-1 in order");
        }
        shmkit_ordered_map_close(map);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ordered_map_demo %s: ok (shmkit %s)\n", mode, shmkit_version());
    return 0;
}
