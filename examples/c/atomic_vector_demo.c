/*
 * shmkit from C: an atomic vector of int64_t shared by processes.
 *
 *   atomic_vector_demo demo  STORE       forked processes count on one element (the total is
 *                                        exact), a wait woken by another process, compare-
 *                                        exchange, bits, growth; the store is removed at the end
 *   atomic_vector_demo write STORE VEC   writes elements for another process (Python) to read
 *   atomic_vector_demo read  STORE VEC   checks the elements another process wrote
 *
 * Built and run by scripts/test-c.sh; the write/read modes are driven by the Python test
 * crates/shmkit-py/tests/test_c_api.py. Exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid, nanosleep */

#include "shmkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    PROCESSES = 4,    /* children counting at once */
    EACH = 20000,     /* fetch_add calls per child */
    COUNTER = 0,      /* the element they count on */
    READY = 1,        /* the waiting child sets it to 1 before it waits */
    BELL = 2,         /* the element the child waits on */
    WAIT_MS = 60000,  /* the waits' watchdog: far longer than any wake-up takes */
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

static int64_t load(const shmkit_atomic_vector *vec, uint64_t index) {
    int64_t v = 0;
    check(shmkit_atomic_vector_load(vec, index, &v), SHMKIT_STATUS_OK, "load");
    return v;
}

static shmkit_atomic_vector *open_vector(shmkit_store *store, const char *name, uint64_t len) {
    shmkit_atomic_vector *vec = NULL;
    if (check(shmkit_atomic_vector_open(store, name, len, 0, &vec), SHMKIT_STATUS_OK, "open vector")) {
        exit(2);
    }
    return vec;
}

/* Starts a child running `body` on the inherited handle; the child closes it and leaves. */
static pid_t spawn(shmkit_atomic_vector *vec, int (*body)(shmkit_atomic_vector *)) {
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        int status = body(vec);
        shmkit_atomic_vector_close(vec); /* detaches cleanly: the child's last handle */
        _exit(status);
    }
    return pid;
}

/* Waits for a child; nonzero unless it exited with status 0. */
static int reap(pid_t pid, const char *what) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "FAIL %s: the child process failed (status %d)\n", what, status);
        failures++;
        return 1;
    }
    return 0;
}

static int count(shmkit_atomic_vector *vec) {
    for (int i = 0; i < EACH; i++) {
        if (shmkit_atomic_vector_fetch_add(vec, COUNTER, 1, NULL) != SHMKIT_STATUS_OK) {
            fprintf(stderr, "fetch_add: %s\n", shmkit_last_error_message());
            return 1;
        }
    }
    return 0;
}

/* Says it is ready, then sleeps until the parent rings BELL (which it does only after seeing
 * READY, so the wake-up comes from another process). */
static int wait_for_bell(shmkit_atomic_vector *vec) {
    bool changed = false;
    if (shmkit_atomic_vector_store(vec, READY, 1) != SHMKIT_STATUS_OK ||
        shmkit_atomic_vector_wait(vec, BELL, 0, WAIT_MS, &changed) != SHMKIT_STATUS_OK) {
        fprintf(stderr, "wait: %s\n", shmkit_last_error_message());
        return 1;
    }
    int64_t rung = 0;
    shmkit_atomic_vector_load(vec, BELL, &rung);
    if (!changed || rung != 7) {
        fprintf(stderr, "the wait returned without the bell (changed %d, value %lld)\n", (int)changed,
                (long long)rung);
        return 1;
    }
    return 0;
}

static void demo(shmkit_store *store) {
    shmkit_atomic_vector *vec = open_vector(store, "counters", 8);

    /* Forked processes count on one element: no increment is lost. */
    pid_t children[PROCESSES];
    for (int i = 0; i < PROCESSES; i++) {
        children[i] = spawn(vec, count);
    }
    for (int i = 0; i < PROCESSES; i++) {
        reap(children[i], "counting child");
    }
    int64_t total = load(vec, COUNTER);
    if (total != (int64_t)PROCESSES * EACH) {
        fprintf(stderr, "FAIL the total is %lld, wanted %lld\n", (long long)total, (long long)PROCESSES * EACH);
        failures++;
    }

    /* A wait woken by another process: the child waits on BELL, the parent rings it once the
     * child is ready, and a little later, so that the child is most likely asleep by then
     * (the check holds either way: a wait that begins after the ring returns at once). */
    pid_t waiter = spawn(vec, wait_for_bell);
    bool changed = false;
    check(shmkit_atomic_vector_wait(vec, READY, 0, WAIT_MS, &changed), SHMKIT_STATUS_OK, "wait for ready");
    expect(changed, "the child said it is ready");
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    check(shmkit_atomic_vector_store(vec, BELL, 7), SHMKIT_STATUS_OK, "ring");
    reap(waiter, "waiting child");
    check(shmkit_atomic_vector_wait(vec, BELL, 7, 0, &changed), SHMKIT_STATUS_OK, "wait with timeout 0");
    expect(!changed, "a wait that times out says so");

    /* compare-exchange: OK when the element held the expected value, MISMATCH (an outcome)
     * with the value it held otherwise. */
    int64_t found = 0;
    check(shmkit_atomic_vector_compare_exchange(vec, 3, 0, 100, &found), SHMKIT_STATUS_OK, "cas 0 -> 100");
    check(shmkit_atomic_vector_compare_exchange(vec, 3, 0, 200, &found), SHMKIT_STATUS_MISMATCH, "cas 0 -> 200");
    expect(found == 100, "the mismatch reports 100");
    int64_t previous = 0;
    check(shmkit_atomic_vector_swap(vec, 3, -1, &previous), SHMKIT_STATUS_OK, "swap");
    expect(previous == 100, "swap returns 100");
    check(shmkit_atomic_vector_fetch_and(vec, 3, 0xff, &previous), SHMKIT_STATUS_OK, "fetch_and");
    expect(previous == -1 && load(vec, 3) == 0xff, "-1 & 0xff");

    /* Bits: bit i is bit i % 64 of element i / 64; set_bit is a test-and-set. */
    bool was = true;
    check(shmkit_atomic_vector_set_bit(vec, 4 * 64 + 5, &was), SHMKIT_STATUS_OK, "set bit");
    expect(!was && load(vec, 4) == 32, "bit 5 of element 4");
    check(shmkit_atomic_vector_set_bit(vec, 4 * 64 + 5, &was), SHMKIT_STATUS_OK, "set bit again");
    expect(was, "the second set_bit finds it set");

    /* Out of range is an error code of its own, and nothing is written. */
    int64_t untouched = 42;
    check(shmkit_atomic_vector_load(vec, 8, &untouched), SHMKIT_STATUS_INDEX_OUT_OF_RANGE, "load past the end");
    expect(untouched == 42, "nothing written after an error");
    check(shmkit_atomic_vector_get_bit(vec, 8 * 64, &was), SHMKIT_STATUS_INDEX_OUT_OF_RANGE, "bit past the end");

    /* Growth in place: old elements keep their values, new ones read 0. */
    check(shmkit_atomic_vector_expand(vec, 100000), SHMKIT_STATUS_OK, "expand");
    uint64_t len = 0;
    check(shmkit_atomic_vector_len(vec, &len), SHMKIT_STATUS_OK, "len");
    expect(len == 100000, "100000 elements");
    expect(load(vec, COUNTER) == total && load(vec, 99999) == 0, "growth keeps values, new ones are 0");

    shmkit_check_summary summary;
    check(shmkit_store_check(store, &summary), SHMKIT_STATUS_OK, "check");
    expect(summary.clean, "the store checks clean");
    shmkit_atomic_vector_close(vec);
}

/* Elements for Python (crates/shmkit-py/tests/test_c_api.py). */
static void write_values(shmkit_atomic_vector *vec) {
    check(shmkit_atomic_vector_store(vec, 0, INT64_MIN), SHMKIT_STATUS_OK, "store INT64_MIN");
    check(shmkit_atomic_vector_store(vec, 1, INT64_MAX), SHMKIT_STATUS_OK, "store INT64_MAX");
    check(shmkit_atomic_vector_store(vec, 2, -1234567890123LL), SHMKIT_STATUS_OK, "store");
    check(shmkit_atomic_vector_fetch_add(vec, 3, 10, NULL), SHMKIT_STATUS_OK, "fetch_add");
    check(shmkit_atomic_vector_set_bit(vec, 4 * 64 + 63, NULL), SHMKIT_STATUS_OK, "set the top bit");
}

/* Checks what Python wrote (the vector is 16 long), then adds 1 to element 8. */
static void read_values(shmkit_atomic_vector *vec) {
    uint64_t len = 0;
    check(shmkit_atomic_vector_len(vec, &len), SHMKIT_STATUS_OK, "len");
    expect(len == 16, "Python's vector has 16 elements");
    expect(load(vec, 8) == 123456789012LL, "element 8 == 123456789012");
    expect(load(vec, 9) == -5, "element 9 == -5");
    expect(load(vec, 15) == INT64_MIN, "element 15 == INT64_MIN");
    bool bit = false;
    check(shmkit_atomic_vector_get_bit(vec, 10 * 64 + 3, &bit), SHMKIT_STATUS_OK, "get bit");
    expect(bit, "bit 3 of element 10 is set");
    check(shmkit_atomic_vector_fetch_add(vec, 8, 1, NULL), SHMKIT_STATUS_OK, "fetch_add");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s demo STORE | write STORE VEC | read STORE VEC\n", argv[0]);
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
    } else if (argc == 4 && (strcmp(mode, "write") == 0 || strcmp(mode, "read") == 0)) {
        shmkit_atomic_vector *vec = NULL;
        shmkit_status s = shmkit_atomic_vector_open(store, argv[3], 0, SHMKIT_VECTOR_OPEN_EXISTING, &vec);
        shmkit_store_close(store); /* the vector keeps the store attached */
        if (check(s, SHMKIT_STATUS_OK, "open the existing vector")) {
            return 2;
        }
        if (mode[0] == 'w') {
            write_values(vec);
        } else {
            read_values(vec);
        }
        shmkit_atomic_vector_close(vec);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("atomic_vector_demo %s: ok (shmkit %s)\n", mode, shmkit_version());
    return 0;
}
