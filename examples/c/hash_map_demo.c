/*
 * shmkit from C: a store, a hash map of typed values, batches, iteration, errors, and a
 * fixed-size map of plain records.
 *
 *   hash_map_demo demo  STORE        the whole tour on a new store, removed at the end
 *   hash_map_demo write STORE MAP    writes typed values for another process (Python) to read
 *   hash_map_demo read  STORE MAP    reads and checks the values another process wrote
 *
 * Built and run by scripts/test-c.sh; the write/read modes are driven by the Python test
 * crates/shmkit-py/tests/test_c_api.py. Exit status 0 when every check passed.
 */
#include "shmkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define KEY(s) (const uint8_t *)(s), strlen(s)

/* malloc that exits on failure (a demo has nothing better to do). */
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* Grows *buf to at least `need` bytes (never shrinks it); exits if memory runs out. */
static void grow(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) {
        return;
    }
    uint8_t *bigger = realloc(*buf, need);
    if (bigger == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    *buf = bigger;
    *cap = need;
}

/* Batches: up to BATCH keys as C passes them, an array of pointers and one of lengths. */
#define BATCH 200
typedef struct {
    char text[BATCH][32];
    const uint8_t *ptrs[BATCH];
    size_t lens[BATCH];
    size_t n;
} key_batch;

/* Fills `b` with the keys "<prefix><i>" for i in [0, n). */
static void batch_keys(key_batch *b, const char *prefix, size_t n) {
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(b->text[i], sizeof b->text[i], "%s%zu", prefix, i);
        b->ptrs[i] = (const uint8_t *)b->text[i];
        b->lens[i] = strlen(b->text[i]);
    }
}

/* The values of a batch read: one buffer, n + 1 offsets, n found flags. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t offsets[BATCH + 1];
    bool found[BATCH];
} batch_values;

/* shmkit_hash_map_get_many, growing the buffer until the values fit (they may change
 * between calls, so loop). Returns the final status. */
static shmkit_status get_many(shmkit_hash_map *map, const key_batch *keys, batch_values *out) {
    for (;;) {
        size_t needed = 0;
        shmkit_status s = shmkit_hash_map_get_many(map, keys->n, keys->ptrs, keys->lens, out->buf, out->cap,
                                                   out->offsets, out->found, &needed);
        if (s != SHMKIT_STATUS_BUFFER_TOO_SMALL) {
            return s;
        }
        grow(&out->buf, &out->cap, needed);
    }
}

/* Decodes value `i` of a batch read as an int; 0 and a failed check if it is not one. */
static int64_t batch_int(const batch_values *v, size_t i) {
    shmkit_value decoded;
    if (check(shmkit_value_decode(v->buf + v->offsets[i], v->offsets[i + 1] - v->offsets[i], &decoded),
              SHMKIT_STATUS_OK, "decode a batch value") ||
        decoded.kind != SHMKIT_TYPE_INT) {
        expect(0, "a batch value is an int");
        return 0;
    }
    return decoded.int64;
}

static shmkit_hash_map *open_map(shmkit_store *store, const char *name) {
    shmkit_map_options options = {0};
    options.flags = SHMKIT_MAP_STR_KEYS; /* str keys, as Python's m["name"] */
    shmkit_hash_map *map = NULL;
    if (check(shmkit_hash_map_open(store, name, &options, &map), SHMKIT_STATUS_OK, "open map")) {
        exit(2);
    }
    return map;
}

static shmkit_store *open_store(const char *name) {
    shmkit_store *store = NULL;
    if (check(shmkit_store_open_or_create(name, NULL, &store), SHMKIT_STATUS_OK, "open store")) {
        exit(2);
    }
    return store;
}

/* Typed values for Python: int, float, str, bytes, bool, None, and a shared counter. */
static void write_values(shmkit_hash_map *map) {
    static const uint8_t raw[] = {0x00, 0x01, 0xfe, 0xff};
    const char *text = "h\xc3\xa9llo from C"; /* "héllo from C" */
    check(shmkit_hash_map_set_i64(map, KEY("c_int"), -1234567890123LL), SHMKIT_STATUS_OK, "set int");
    check(shmkit_hash_map_set_f64(map, KEY("c_float"), 0.125), SHMKIT_STATUS_OK, "set float");
    check(shmkit_hash_map_set_str(map, KEY("c_str"), text, strlen(text)), SHMKIT_STATUS_OK, "set str");
    check(shmkit_hash_map_set_bytes(map, KEY("c_bytes"), raw, sizeof raw), SHMKIT_STATUS_OK, "set bytes");
    check(shmkit_hash_map_set_bool(map, KEY("c_true"), true), SHMKIT_STATUS_OK, "set bool");
    check(shmkit_hash_map_set_bool(map, KEY("c_false"), false), SHMKIT_STATUS_OK, "set bool");
    check(shmkit_hash_map_set_null(map, KEY("c_none")), SHMKIT_STATUS_OK, "set null");
    int64_t count = 0;
    check(shmkit_hash_map_incr_int(map, KEY("count"), 10, &count), SHMKIT_STATUS_OK, "incr");
    /* A counter past int64_t keeps counting as a big int, as Python's incr does. */
    check(shmkit_hash_map_set_i64(map, KEY("c_big"), INT64_MAX), SHMKIT_STATUS_OK, "set INT64_MAX");
    check(shmkit_hash_map_incr_int(map, KEY("c_big"), 1, &count), SHMKIT_STATUS_BIG_INT, "incr past int64_t");

    /* c_batch_<i> = i * 3 for 50 keys in one call: values are encodings (shmkit_value_encode),
     * so Python reads ints. */
    static key_batch keys;
    batch_keys(&keys, "c_batch_", 50);
    static uint8_t encoded[50][16];
    const uint8_t *values[50];
    size_t value_lens[50];
    for (size_t i = 0; i < keys.n; i++) {
        shmkit_value v = {0};
        v.kind = SHMKIT_TYPE_INT;
        v.int64 = (int64_t)i * 3;
        check(shmkit_value_encode(&v, encoded[i], sizeof encoded[i], &value_lens[i]), SHMKIT_STATUS_OK, "encode");
        values[i] = encoded[i];
    }
    check(shmkit_hash_map_set_many(map, keys.n, keys.ptrs, keys.lens, values, value_lens), SHMKIT_STATUS_OK,
          "set_many");
}

/* Checks what Python's m.set_many({f"py_batch_{i}": i * i for i in range(100)}) wrote, with
 * one get_many of 120 keys (the last 20 absent). */
static void read_batch(shmkit_hash_map *map) {
    static key_batch keys;
    batch_keys(&keys, "py_batch_", 120);
    batch_values got = {0};
    if (!check(get_many(map, &keys, &got), SHMKIT_STATUS_OK, "get_many py_batch_*")) {
        int ok = 1;
        for (size_t i = 0; i < keys.n; i++) {
            if (i < 100) {
                ok &= got.found[i] && batch_int(&got, i) == (int64_t)(i * i);
            } else {
                ok &= !got.found[i] && got.offsets[i] == got.offsets[i + 1];
            }
        }
        expect(ok, "py_batch_<i> == i * i for i < 100, absent after");
    }
    free(got.buf);
}

/* Checks what the Python side of the test wrote (crates/shmkit-py/tests/test_c_api.py). */
static void read_values(shmkit_hash_map *map) {
    int64_t i = 0;
    if (!check(shmkit_hash_map_get_i64(map, KEY("py_int"), &i), SHMKIT_STATUS_OK, "get py_int")) {
        expect(i == 123456789012LL, "py_int == 123456789012");
    }
    double f = 0;
    if (!check(shmkit_hash_map_get_f64(map, KEY("py_float"), &f), SHMKIT_STATUS_OK, "get py_float")) {
        expect(f == -0.25, "py_float == -0.25");
    }
    bool b = false;
    if (!check(shmkit_hash_map_get_bool(map, KEY("py_true"), &b), SHMKIT_STATUS_OK, "get py_true")) {
        expect(b, "py_true is true");
    }
    char text[64];
    size_t len = 0;
    if (!check(shmkit_hash_map_get_str(map, KEY("py_str"), text, sizeof text, &len), SHMKIT_STATUS_OK,
               "get py_str")) {
        const char *want = "snake \xe2\x9c\x93"; /* "snake ✓" */
        expect(len == strlen(want) && memcmp(text, want, len) == 0, "py_str == 'snake ✓'");
    }
    uint8_t bytes[16];
    if (!check(shmkit_hash_map_get_bytes(map, KEY("py_bytes"), bytes, sizeof bytes, &len), SHMKIT_STATUS_OK,
               "get py_bytes")) {
        expect(len == 3 && bytes[0] == 0 && bytes[1] == 7 && bytes[2] == 0xff, "py_bytes == b'\\x00\\x07\\xff'");
    }
    uint8_t buf[16];
    shmkit_value v;
    if (!check(shmkit_hash_map_get_value(map, KEY("py_none"), buf, sizeof buf, &len, &v), SHMKIT_STATUS_OK,
               "get py_none")) {
        expect(v.kind == SHMKIT_TYPE_NULL, "py_none is None");
    }
    /* A Python int beyond int64_t is a big int: readable as a value, not as an int64_t. */
    check(shmkit_hash_map_get_i64(map, KEY("py_big"), &i), SHMKIT_STATUS_WRONG_TYPE, "get py_big as int64");
    if (!check(shmkit_hash_map_get_value(map, KEY("py_big"), buf, sizeof buf, &len, &v), SHMKIT_STATUS_OK,
               "get py_big")) {
        /* 2**64: tag 0x07 (big int), then two's complement little-endian, minimal length. */
        static const uint8_t encoded[] = {0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
        expect(len == sizeof encoded && memcmp(buf, encoded, sizeof encoded) == 0, "py_big is encoded as 2**64");
        expect(v.kind == SHMKIT_TYPE_BIG_INT && v.len == sizeof encoded - 1 && v.data == buf + 1 &&
                   memcmp(v.data, encoded + 1, v.len) == 0,
               "py_big == 2**64");
    }
    /* The counter both sides incremented: 10 from C, 5 from Python, now 1 more. */
    int64_t count = 0;
    if (!check(shmkit_hash_map_incr_int(map, KEY("count"), 1, &count), SHMKIT_STATUS_OK, "incr count")) {
        expect(count == 16, "count == 16");
    }
    /* Python's 2**64 counts on from C. */
    check(shmkit_hash_map_incr_int(map, KEY("py_big"), 1, &count), SHMKIT_STATUS_BIG_INT, "incr py_big");
    read_batch(map);
}

/* A point, the 16-byte value of the fixed-size map below. */
typedef struct {
    double x, y;
} point;

/* A fixed-size map: every key is 8 bytes (a uint64_t id in host byte order), every value 16
 * (a point). Records carry no lengths and overwrites never allocate; a key or value of
 * another size is SHMKIT_STATUS_INVALID_ARGUMENT, with nothing changed. */
static void fixed_size_demo(shmkit_store *store) {
    shmkit_map_options options = {0};
    options.key_len = sizeof(uint64_t);
    options.value_len = sizeof(point);
    shmkit_hash_map *points = NULL;
    if (check(shmkit_hash_map_open(store, "c_points", &options, &points), SHMKIT_STATUS_OK,
              "open a fixed-size map")) {
        return;
    }
    uint32_t key_len = 0, value_len = 0;
    check(shmkit_hash_map_fixed_size(points, &key_len, &value_len), SHMKIT_STATUS_OK, "fixed_size");
    expect(key_len == 8 && value_len == 16, "the map reports its sizes");
    for (uint64_t id = 0; id < 100; id++) {
        point p = {(double)id, (double)id * 0.5};
        check(shmkit_hash_map_set(points, (const uint8_t *)&id, sizeof id, (const uint8_t *)&p, sizeof p),
              SHMKIT_STATUS_OK, "set a point");
    }
    uint64_t id = 42;
    point p = {0, 0};
    size_t len = 0;
    if (!check(shmkit_hash_map_get(points, (const uint8_t *)&id, sizeof id, (uint8_t *)&p, sizeof p, &len),
               SHMKIT_STATUS_OK, "get a point")) {
        expect(len == sizeof p && p.x == 42.0 && p.y == 21.0, "point 42 reads back");
    }
    /* A key of 4 bytes, a value of 8: refused, and the map is as it was. */
    uint32_t short_id = 42;
    check(shmkit_hash_map_get(points, (const uint8_t *)&short_id, sizeof short_id, (uint8_t *)&p, sizeof p, &len),
          SHMKIT_STATUS_INVALID_ARGUMENT, "get with a 4-byte key");
    printf("a 4-byte key: %s: %s\n", shmkit_status_name(SHMKIT_STATUS_INVALID_ARGUMENT),
           shmkit_last_error_message());
    check(shmkit_hash_map_set(points, (const uint8_t *)&short_id, sizeof short_id, (const uint8_t *)&p, sizeof p),
          SHMKIT_STATUS_INVALID_ARGUMENT, "set with a 4-byte key");
    double just_x = 1.0;
    check(shmkit_hash_map_set(points, (const uint8_t *)&id, sizeof id, (const uint8_t *)&just_x, sizeof just_x),
          SHMKIT_STATUS_INVALID_ARGUMENT, "set an 8-byte value");
    uint64_t n = 0;
    check(shmkit_hash_map_len(points, &n), SHMKIT_STATUS_OK, "len of the fixed-size map");
    expect(n == 100, "the refused writes changed nothing");
    if (!check(shmkit_hash_map_get(points, (const uint8_t *)&id, sizeof id, (uint8_t *)&p, sizeof p, &len),
               SHMKIT_STATUS_OK, "get point 42 again")) {
        expect(p.x == 42.0 && p.y == 21.0, "point 42 unchanged");
    }
    /* An existing map keeps its sizes: other ones are refused, 0/0 opens it as it is. */
    shmkit_hash_map *other = NULL;
    options.value_len = 8;
    check(shmkit_hash_map_open(store, "c_points", &options, &other), SHMKIT_STATUS_INVALID_ARGUMENT,
          "open with other sizes");
    shmkit_map_options any = {0};
    if (!check(shmkit_hash_map_open(store, "c_points", &any, &other), SHMKIT_STATUS_OK, "open as it is")) {
        check(shmkit_hash_map_fixed_size(other, &key_len, &value_len), SHMKIT_STATUS_OK, "fixed_size again");
        expect(key_len == 8 && value_len == 16, "the sizes are the map's");
        shmkit_hash_map_close(other);
    }
    printf("fixed-size map: %llu points of %u-byte keys and %u-byte values\n", (unsigned long long)n,
           (unsigned)key_len, (unsigned)value_len);
    shmkit_hash_map_close(points);
}

static void demo(shmkit_store *store) {
    fixed_size_demo(store);
    shmkit_hash_map *map = open_map(store, "demo");
    write_values(map);

    /* Read back: a buffer too small reports the length needed, then a big enough one. */
    char small[4];
    size_t len = 0;
    check(shmkit_hash_map_get_str(map, KEY("c_str"), small, sizeof small, &len), SHMKIT_STATUS_BUFFER_TOO_SMALL,
          "get str into a small buffer");
    expect(len == strlen("h\xc3\xa9llo from C"), "the needed length is reported");
    /* The text is not NUL-terminated: one byte more for the NUL, to print it as a C string. */
    char *text = xmalloc(len + 1);
    if (!check(shmkit_hash_map_get_str(map, KEY("c_str"), text, len + 1, &len), SHMKIT_STATUS_OK, "get str")) {
        text[len] = '\0';
        printf("c_str = \"%s\"\n", text);
    }
    free(text);
    int64_t i = 0;
    check(shmkit_hash_map_get_i64(map, KEY("c_int"), &i), SHMKIT_STATUS_OK, "get int");
    expect(i == -1234567890123LL, "c_int round trip");
    check(shmkit_hash_map_get_i64(map, KEY("c_str"), &i), SHMKIT_STATUS_WRONG_TYPE, "get str as int");
    check(shmkit_hash_map_get_i64(map, KEY("absent"), &i), SHMKIT_STATUS_NOT_FOUND, "get absent");
    /* The key in the buffer the value is read into is refused, not undefined behaviour. */
    uint8_t same[32] = "c_str";
    check(shmkit_hash_map_get_str(map, same, 5, (char *)same, sizeof same, &len), SHMKIT_STATUS_INVALID_ARGUMENT,
          "a key overlapping the output buffer");

    /* Conditional writes and counters. */
    bool done = false;
    check(shmkit_hash_map_insert_if_absent(map, KEY("once"), (const uint8_t *)"1", 1, &done), SHMKIT_STATUS_OK,
          "insert if absent");
    expect(done, "inserted");
    check(shmkit_hash_map_insert_if_absent(map, KEY("once"), (const uint8_t *)"2", 1, &done), SHMKIT_STATUS_OK,
          "insert if absent again");
    expect(!done, "not inserted twice");
    check(shmkit_hash_map_compare_and_set(map, KEY("once"), (const uint8_t *)"1", 1, (const uint8_t *)"3", 1, &done),
          SHMKIT_STATUS_OK, "compare and set");
    expect(done, "swapped");
    int64_t count = 0;
    check(shmkit_hash_map_incr_int(map, KEY("count"), 5, &count), SHMKIT_STATUS_OK, "incr");
    expect(count == 15, "count == 15");
    check(shmkit_hash_map_remove(map, KEY("once"), &done), SHMKIT_STATUS_OK, "remove");
    expect(done, "removed");

    /* Typed conditional writes: values as shmkit_value, no buffers. */
    shmkit_value owner = {0};
    owner.kind = SHMKIT_TYPE_STR;
    owner.data = (const uint8_t *)"c";
    owner.len = 1;
    check(shmkit_hash_map_insert_if_absent_value(map, KEY("owner"), &owner, &done), SHMKIT_STATUS_OK,
          "insert a typed value if absent");
    expect(done, "owner claimed");
    shmkit_value ten = {0};
    ten.kind = SHMKIT_TYPE_INT;
    ten.int64 = 10;
    check(shmkit_hash_map_compare_and_set_value(map, KEY("owner"), &ten, NULL, &done), SHMKIT_STATUS_OK,
          "compare and set, typed");
    expect(!done, "the str \"c\" is not the int 10");
    check(shmkit_hash_map_compare_and_set_value(map, KEY("owner"), &owner, NULL, &done), SHMKIT_STATUS_OK,
          "compare and remove, typed");
    expect(done, "owner released");

    /* An int key (Python's m[10]): encode it, then use a handle that takes keys as given. */
    uint8_t int_key[16];
    size_t int_key_len = 0;
    check(shmkit_value_encode(&ten, NULL, 0, &int_key_len), SHMKIT_STATUS_BUFFER_TOO_SMALL, "encoded length");
    expect(int_key_len == 9, "an int encodes in 9 bytes");
    check(shmkit_value_encode(&ten, int_key, sizeof int_key, &int_key_len), SHMKIT_STATUS_OK, "encode");
    shmkit_map_options raw_keys = {0};
    shmkit_hash_map *by_value = NULL;
    check(shmkit_hash_map_open(store, "demo", &raw_keys, &by_value), SHMKIT_STATUS_OK, "open with raw keys");
    check(shmkit_hash_map_set_str(by_value, int_key, int_key_len, "ten", 3), SHMKIT_STATUS_OK, "set m[10]");
    check(shmkit_hash_map_remove(by_value, int_key, int_key_len, &done), SHMKIT_STATUS_OK, "remove m[10]");
    expect(done, "m[10] removed");
    shmkit_hash_map_close(by_value);

    /* Batches: one get_many of 200 keys (c_batch_0..49 present, the rest absent), compared
     * with 200 single gets; a buffer too small says how much is needed and writes nothing
     * else. */
    static key_batch many;
    batch_keys(&many, "c_batch_", BATCH);
    batch_values got = {0};
    size_t needed = 0;
    got.offsets[0] = 77;
    got.found[0] = true;
    check(shmkit_hash_map_get_many(map, many.n, many.ptrs, many.lens, NULL, 0, got.offsets, got.found, &needed),
          SHMKIT_STATUS_BUFFER_TOO_SMALL, "get_many size query");
    expect(needed == 50 * 9, "50 ints of 9 encoded bytes each");
    expect(got.found[0] && got.offsets[0] == 77, "a size query writes nothing but *needed");
    if (!check(get_many(map, &many, &got), SHMKIT_STATUS_OK, "get_many")) {
        uint8_t single[16];
        size_t single_len = 0;
        int same = 1;
        size_t present = 0;
        for (size_t i = 0; i < many.n; i++) {
            shmkit_status s = shmkit_hash_map_get(map, many.ptrs[i], many.lens[i], single, sizeof single, &single_len);
            size_t len = got.offsets[i + 1] - got.offsets[i];
            if (s == SHMKIT_STATUS_OK) {
                same &= got.found[i] && len == single_len && memcmp(got.buf + got.offsets[i], single, len) == 0;
                same &= batch_int(&got, i) == (int64_t)i * 3;
                present++;
            } else {
                same &= s == SHMKIT_STATUS_NOT_FOUND && !got.found[i] && len == 0;
            }
        }
        expect(same, "get_many gives what 200 single gets give");
        expect(present == 50, "50 of 200 present");
        printf("get_many: %zu keys, %zu present, %zu bytes\n", many.n, present, got.offsets[many.n]);
    }
    free(got.buf);
    bool have[3] = {false, false, false};
    check(shmkit_hash_map_contains_many(map, 3, many.ptrs + 48, many.lens + 48, have), SHMKIT_STATUS_OK,
          "contains_many");
    expect(have[0] && have[1] && !have[2], "c_batch_48 and _49 present, _50 absent");
    uint64_t removed = 0;
    check(shmkit_hash_map_remove_many(map, many.n, many.ptrs, many.lens, &removed), SHMKIT_STATUS_OK,
          "remove_many");
    expect(removed == 50, "remove_many removed the 50 present keys");
    /* A key that is not UTF-8 (this handle takes str keys) fails the batch before any write. */
    const uint8_t *bad_keys[2] = {(const uint8_t *)"fine", (const uint8_t *)"\xff"};
    size_t bad_lens[2] = {4, 1};
    const uint8_t *bad_values[2] = {(const uint8_t *)"\x02", (const uint8_t *)"\x02"};
    size_t bad_value_lens[2] = {1, 1};
    check(shmkit_hash_map_set_many(map, 2, bad_keys, bad_lens, bad_values, bad_value_lens),
          SHMKIT_STATUS_INVALID_ARGUMENT, "set_many with a key that is not UTF-8");
    check(shmkit_hash_map_contains_many(map, 1, bad_keys, bad_lens, have), SHMKIT_STATUS_OK, "contains fine");
    expect(!have[0], "nothing of the failed batch was written");

    /* Key handles: a uint64_t that reads the key's value without hashing or probing while
     * the key exists (through overwrites and resizes); stale once the key is removed. */
    uint64_t handle = 0, handle_again = 0;
    check(shmkit_hash_map_set_with_handle(map, KEY("c_handle"), (const uint8_t *)"one", 3, &handle),
          SHMKIT_STATUS_OK, "set_with_handle");
    check(shmkit_hash_map_handle(map, KEY("c_handle"), &handle_again), SHMKIT_STATUS_OK, "handle");
    expect(handle_again == handle, "a key keeps its handle");
    check(shmkit_hash_map_set_str(map, KEY("c_handle"), "two", 3), SHMKIT_STATUS_OK, "overwrite by key");
    uint8_t by_handle[16];
    size_t by_handle_len = 0;
    check(shmkit_hash_map_get_by_handle(map, handle, by_handle, sizeof by_handle, &by_handle_len),
          SHMKIT_STATUS_OK, "get_by_handle");
    shmkit_value hv;
    check(shmkit_value_decode(by_handle, by_handle_len, &hv), SHMKIT_STATUS_OK, "decode by handle");
    expect(hv.kind == SHMKIT_TYPE_STR && hv.len == 3 && memcmp(hv.data, "two", 3) == 0,
           "the handle reads the overwritten value");
    bool gone = false;
    check(shmkit_hash_map_remove_by_handle(map, handle, &gone), SHMKIT_STATUS_OK, "remove_by_handle");
    expect(gone, "remove_by_handle removed the key");
    check(shmkit_hash_map_get_by_handle(map, handle, by_handle, sizeof by_handle, &by_handle_len),
          SHMKIT_STATUS_NOT_FOUND, "a stale handle");
    check(shmkit_hash_map_get_by_handle(map, 0x123456789abcdefULL, by_handle, sizeof by_handle, &by_handle_len),
          SHMKIT_STATUS_NOT_FOUND, "a made-up handle");
    printf("key handle %#llx: read, overwritten, removed, stale\n", (unsigned long long)handle);

    /* Iterate: key text and the value's encoding, decoded with shmkit_value_decode. */
    uint64_t n = 0;
    check(shmkit_hash_map_len(map, &n), SHMKIT_STATUS_OK, "len");
    shmkit_hash_map_iter *it = NULL;
    check(shmkit_hash_map_iter_new(map, &it), SHMKIT_STATUS_OK, "iter");
    size_t key_cap = 2, value_cap = 2, key_len = 0, value_len = 0;
    uint8_t *key = xmalloc(key_cap), *value = xmalloc(value_cap);
    uint64_t seen = 0;
    for (;;) {
        shmkit_status s = shmkit_hash_map_iter_next(it, key, key_cap, &key_len, value, value_cap, &value_len);
        if (s == SHMKIT_STATUS_END) {
            break;
        }
        if (s == SHMKIT_STATUS_BUFFER_TOO_SMALL) { /* grow and ask again for the same entry */
            grow(&key, &key_cap, key_len);
            grow(&value, &value_cap, value_len);
            continue;
        }
        if (check(s, SHMKIT_STATUS_OK, "iter next")) {
            break;
        }
        shmkit_value v;
        if (!check(shmkit_value_decode(value, value_len, &v), SHMKIT_STATUS_OK, "decode")) {
            printf("  %.*s: type %u\n", (int)key_len, (const char *)key, (unsigned)v.kind);
        }
        seen++;
    }
    free(key);
    free(value);
    shmkit_hash_map_iter_free(it);
    expect(seen == n, "iteration saw every entry");
    printf("%llu entries\n", (unsigned long long)n);

    /* Errors: codes and messages, never a crash. */
    check(shmkit_hash_map_get_i64(NULL, KEY("x"), &i), SHMKIT_STATUS_NULL_POINTER, "NULL map");
    shmkit_store *missing = store; /* not NULL: a failed open sets it to NULL */
    check(shmkit_store_open("no-such-store-for-the-c-demo", NULL, &missing), SHMKIT_STATUS_STORE_NOT_FOUND,
          "open a missing store");
    expect(missing == NULL, "a failed open leaves NULL in the out-parameter");
    printf("a missing store: %s: %s\n", shmkit_status_name(SHMKIT_STATUS_STORE_NOT_FOUND),
           shmkit_last_error_message());

    shmkit_check_summary summary;
    check(shmkit_store_check(store, &summary), SHMKIT_STATUS_OK, "check");
    expect(summary.clean, "the store checks clean");
    shmkit_hash_map_close(map);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s demo STORE | write STORE MAP | read STORE MAP\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    shmkit_store *store = open_store(argv[2]);
    if (strcmp(mode, "demo") == 0) {
        demo(store);
        shmkit_store_close(store);
        check(shmkit_store_remove(argv[2]), SHMKIT_STATUS_OK, "remove the store");
    } else if (argc == 4 && (strcmp(mode, "write") == 0 || strcmp(mode, "read") == 0)) {
        shmkit_hash_map *map = open_map(store, argv[3]);
        shmkit_store_close(store); /* the map keeps the store attached */
        if (mode[0] == 'w') {
            write_values(map);
        } else {
            read_values(map);
        }
        shmkit_hash_map_close(map);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("hash_map_demo %s: ok (shmkit %s)\n", mode, shmkit_version());
    return 0;
}
