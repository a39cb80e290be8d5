/*
 * shmkit from C: a work queue (a shared deque) between processes.
 *
 *   queue_demo demo    STORE          forked producers push numbered items while the parent,
 *                                     blocked in pops, takes every one exactly once; a bounded
 *                                     deque refuses a push when full; a small buffer leaves the
 *                                     item in place; the store is removed at the end
 *   queue_demo produce STORE QUEUE N  puts the typed ints 0..N-1 for another process
 *                                     (Python's Queue) to get
 *   queue_demo consume STORE QUEUE N  gets N typed values another process put and checks
 *                                     they are the ints 0..N-1 in order
 *   queue_demo pq-consume STORE PQ N  pops N items from a priority queue another process
 *                                     (Python) filled with the ints 0..N-1 in any order, and
 *                                     checks they come out as 0..N-1
 *
 * Built and run by scripts/test-c.sh; the produce/consume modes are driven by the Python test
 * crates/shmkit-py/tests/test_c_api.py. Exit status 0 when every check passed.
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
    PRODUCERS = 4,    /* children pushing at once */
    EACH = 5000,      /* items per producer */
    WAIT_MS = 60000,  /* the pops' watchdog: far longer than any wake-up takes */
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

static shmkit_deque *open_deque(shmkit_store *store, const char *name, uint64_t maxlen, uint32_t flags) {
    shmkit_deque *d = NULL;
    if (check(shmkit_deque_open(store, name, maxlen, flags, &d), SHMKIT_STATUS_OK, "open deque")) {
        exit(2);
    }
    return d;
}

/* An item: producer number and sequence number, 64 bytes in all. */
typedef struct item {
    uint32_t producer;
    uint32_t seq;
    char pad[56];
} item;

static int produce_items(shmkit_deque *d, uint32_t producer) {
    for (uint32_t seq = 0; seq < EACH; seq++) {
        item it;
        memset(&it, 'x', sizeof it);
        it.producer = producer;
        it.seq = seq;
        if (shmkit_deque_push(d, SHMKIT_DEQUE_BACK, (const uint8_t *)&it, sizeof it, -1) != SHMKIT_STATUS_OK) {
            fprintf(stderr, "push: %s\n", shmkit_last_error_message());
            return 1;
        }
    }
    return 0;
}

static void demo(shmkit_store *store) {
    /* Producers in child processes; the parent consumes, blocking while the deque is empty.
     * Bounded to 100 items, so producers also block on a full deque now and then. */
    shmkit_deque *d = open_deque(store, "jobs", 100, 0);
    pid_t children[PRODUCERS];
    for (uint32_t p = 0; p < PRODUCERS; p++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            exit(2);
        }
        if (pid == 0) {
            int status = produce_items(d, p);
            shmkit_deque_close(d);
            _exit(status);
        }
        children[p] = pid;
    }
    uint32_t next[PRODUCERS] = {0};
    for (int i = 0; i < PRODUCERS * EACH; i++) {
        item it;
        size_t len = 0;
        if (check(shmkit_deque_pop(d, SHMKIT_DEQUE_FRONT, WAIT_MS, (uint8_t *)&it, sizeof it, &len),
                  SHMKIT_STATUS_OK, "pop")) {
            break;
        }
        if (len != sizeof it || it.producer >= PRODUCERS || it.seq != next[it.producer]) {
            fprintf(stderr, "FAIL item %d: producer %u seq %u (len %zu)\n", i, it.producer, it.seq, len);
            failures++;
            break;
        }
        next[it.producer]++;
    }
    for (int p = 0; p < PRODUCERS; p++) {
        int status = 0;
        if (waitpid(children[p], &status, 0) != children[p] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "FAIL producer %d failed (status %d)\n", p, status);
            failures++;
        }
    }
    uint64_t n = 1;
    check(shmkit_deque_len(d, &n), SHMKIT_STATUS_OK, "len");
    expect(n == 0, "every item was taken");
    size_t len = 0;
    check(shmkit_deque_pop(d, SHMKIT_DEQUE_FRONT, 0, NULL, 0, &len), SHMKIT_STATUS_NOT_FOUND, "pop on empty");

    /* A full deque refuses a push that may not wait, and a too-small buffer keeps the item. */
    shmkit_deque *small = open_deque(store, "small", 1, 0);
    check(shmkit_deque_push(small, SHMKIT_DEQUE_BACK, (const uint8_t *)"hello", 5, 0), SHMKIT_STATUS_OK, "push");
    check(shmkit_deque_push(small, SHMKIT_DEQUE_FRONT, (const uint8_t *)"x", 1, 0), SHMKIT_STATUS_FULL,
          "push on a full deque");
    char buf[8];
    check(shmkit_deque_pop(small, SHMKIT_DEQUE_BACK, 0, (uint8_t *)buf, 2, &len), SHMKIT_STATUS_BUFFER_TOO_SMALL,
          "pop into a small buffer");
    expect(len == 5, "the length needed is reported");
    check(shmkit_deque_pop(small, SHMKIT_DEQUE_BACK, 0, (uint8_t *)buf, sizeof buf, &len), SHMKIT_STATUS_OK,
          "pop into a large enough buffer");
    expect(len == 5 && memcmp(buf, "hello", 5) == 0, "the item stayed for the second pop");
    check(shmkit_deque_push(small, 7, (const uint8_t *)"x", 1, 0), SHMKIT_STATUS_INVALID_ARGUMENT, "unknown end");
    check(shmkit_deque_push(NULL, SHMKIT_DEQUE_BACK, (const uint8_t *)"x", 1, 0), SHMKIT_STATUS_NULL_POINTER,
          "NULL deque");

    /* An overwriting deque drops the oldest item. */
    shmkit_deque *recent = open_deque(store, "recent", 2, SHMKIT_DEQUE_OVERWRITE);
    for (char c = 'a'; c <= 'c'; c++) {
        check(shmkit_deque_push(recent, SHMKIT_DEQUE_BACK, (const uint8_t *)&c, 1, 0), SHMKIT_STATUS_OK, "push");
    }
    uint64_t removed = 0;
    check(shmkit_deque_pop(recent, SHMKIT_DEQUE_FRONT, 0, (uint8_t *)buf, sizeof buf, &len), SHMKIT_STATUS_OK, "pop");
    expect(len == 1 && buf[0] == 'b', "the oldest item was dropped");
    check(shmkit_deque_clear(recent, &removed), SHMKIT_STATUS_OK, "clear");
    expect(removed == 1, "clear says how many it removed");

    /* The name of another kind of object. */
    shmkit_hash_map *map = NULL;
    check(shmkit_hash_map_open(store, "a-map", NULL, &map), SHMKIT_STATUS_OK, "open map");
    shmkit_deque *wrong = NULL;
    check(shmkit_deque_open(store, "a-map", 0, 0, &wrong), SHMKIT_STATUS_WRONG_KIND, "a map opened as a deque");
    expect(wrong == NULL, "no handle on failure");
    shmkit_hash_map_close(map);

    /* A priority queue: keys are compared bytewise, so big-endian numbers pop smallest
     * first; equal keys pop in push order. */
    shmkit_priority_queue *pq = NULL;
    check(shmkit_priority_queue_open(store, "pq", 0, 0, &pq), SHMKIT_STATUS_OK, "open priority queue");
    const uint32_t order[] = {30, 10, 20, 10};
    for (int i = 0; i < 4; i++) {
        uint8_t key[4] = {(uint8_t)(order[i] >> 24), (uint8_t)(order[i] >> 16), (uint8_t)(order[i] >> 8),
                          (uint8_t)order[i]};
        uint8_t value = (uint8_t)i;
        check(shmkit_priority_queue_push(pq, key, 4, &value, 1, 0), SHMKIT_STATUS_OK, "pq push");
    }
    const uint8_t expected_values[] = {1, 3, 2, 0}; /* 10 (pushed 1st), 10 (2nd), 20, 30 */
    for (int i = 0; i < 4; i++) {
        uint8_t key[4], value[1];
        size_t klen = 0, vlen = 0;
        if (i == 0) {
            check(shmkit_priority_queue_pop(pq, 0, key, 2, &klen, value, 1, &vlen), SHMKIT_STATUS_BUFFER_TOO_SMALL,
                  "pq pop into a small key buffer");
            expect(klen == 4 && vlen == 1, "the lengths needed are reported");
        }
        check(shmkit_priority_queue_pop(pq, 0, key, 4, &klen, value, 1, &vlen), SHMKIT_STATUS_OK, "pq pop");
        expect(vlen == 1 && value[0] == expected_values[i], "pq pops smallest first, ties in push order");
    }
    size_t klen = 0, vlen = 0;
    check(shmkit_priority_queue_pop(pq, 10, NULL, 0, &klen, NULL, 0, &vlen), SHMKIT_STATUS_NOT_FOUND, "pq empty");
    shmkit_priority_queue_close(pq);
    shmkit_deque_close(recent);
    shmkit_deque_close(small);
    shmkit_deque_close(d);
}

static void pq_consume(shmkit_priority_queue *pq, int n) {
    for (int i = 0; i < n; i++) {
        uint8_t key[64], buf[64];
        size_t klen = 0, vlen = 0;
        shmkit_value v;
        if (check(shmkit_priority_queue_pop(pq, WAIT_MS, key, sizeof key, &klen, buf, sizeof buf, &vlen),
                  SHMKIT_STATUS_OK, "pq pop") ||
            check(shmkit_value_decode(buf, vlen, &v), SHMKIT_STATUS_OK, "decode")) {
            return;
        }
        if (v.kind != SHMKIT_TYPE_INT || v.int64 != i) {
            fprintf(stderr, "FAIL pq item %d: kind %d value %lld\n", i, (int)v.kind, (long long)v.int64);
            failures++;
            return;
        }
    }
}

static void produce(shmkit_deque *d, int n) {
    for (int i = 0; i < n; i++) {
        shmkit_value v = {.kind = SHMKIT_TYPE_INT, .int64 = i};
        uint8_t buf[16];
        size_t len = 0;
        if (check(shmkit_value_encode(&v, buf, sizeof buf, &len), SHMKIT_STATUS_OK, "encode") ||
            check(shmkit_deque_push(d, SHMKIT_DEQUE_BACK, buf, len, WAIT_MS), SHMKIT_STATUS_OK, "push")) {
            return;
        }
    }
}

static void consume(shmkit_deque *d, int n) {
    for (int i = 0; i < n; i++) {
        uint8_t buf[64];
        size_t len = 0;
        shmkit_value v;
        if (check(shmkit_deque_pop(d, SHMKIT_DEQUE_FRONT, WAIT_MS, buf, sizeof buf, &len), SHMKIT_STATUS_OK, "pop") ||
            check(shmkit_value_decode(buf, len, &v), SHMKIT_STATUS_OK, "decode")) {
            return;
        }
        if (v.kind != SHMKIT_TYPE_INT || v.int64 != i) {
            fprintf(stderr, "FAIL item %d: kind %d value %lld\n", i, (int)v.kind, (long long)v.int64);
            failures++;
            return;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s demo STORE | produce|consume STORE QUEUE N | pq-consume STORE PQ N\n",
                argv[0]);
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
    } else if (argc == 5 && strcmp(mode, "pq-consume") == 0) {
        shmkit_priority_queue *pq = NULL;
        shmkit_status s = shmkit_priority_queue_open(store, argv[3], 0, SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING, &pq);
        shmkit_store_close(store);
        if (check(s, SHMKIT_STATUS_OK, "open the existing priority queue")) {
            return 2;
        }
        pq_consume(pq, atoi(argv[4]));
        shmkit_priority_queue_close(pq);
    } else if (argc == 5 && (strcmp(mode, "produce") == 0 || strcmp(mode, "consume") == 0)) {
        shmkit_deque *d = NULL;
        shmkit_status s = shmkit_deque_open(store, argv[3], 0, SHMKIT_DEQUE_OPEN_EXISTING, &d);
        shmkit_store_close(store); /* the deque keeps the store attached */
        if (check(s, SHMKIT_STATUS_OK, "open the existing queue")) {
            return 2;
        }
        int n = atoi(argv[4]);
        if (mode[0] == 'p') {
            produce(d, n);
        } else {
            consume(d, n);
        }
        shmkit_deque_close(d);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("queue_demo %s: ok (shmkit %s)\n", mode, shmkit_version());
    return 0;
}
