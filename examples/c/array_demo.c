/*
 * shmkit from C: arrays of doubles and of records, the memory NumPy sees through Python's
 * store.array(...).
 *
 *   array_demo demo  STORE   creates a 100 x 3 float64 array and an array of records, forks a
 *                            child that writes both (through the element pointer and by
 *                            copies), checks them in the parent, checks the error codes of
 *                            mismatches; the store is removed at the end
 *   array_demo write STORE   creates "c_grid" (float64, 100 x 3) and "c_points" (50 records)
 *                            and fills them for another process (NumPy) to read
 *   array_demo read  STORE   opens "grid" and "points" that another process (NumPy) made,
 *                            checks their element type, shape and every value, then sets
 *                            grid[0][0] to -1 and points[49].id to 4242
 *
 * Built and run by scripts/test-c.sh; the write/read modes are driven by the Python test
 * crates/shmkit-py/tests/test_c_api.py. Exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid */

#include "shmkit.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROWS = 100, COLS = 3, POINTS = 50 };

/* One record: NumPy's np.dtype([("x","<f8"),("y","<f8"),("id","<u4"),("flag","u1")],
 * align=True) places its fields exactly as C does (24 bytes, 3 of them tail padding). */
typedef struct {
    double x;
    double y;
    uint32_t id;
    uint8_t flag;
} point;

_Static_assert(sizeof(point) == 24, "NumPy's itemsize");
_Static_assert(offsetof(point, id) == 16 && offsetof(point, flag) == 20, "NumPy's offsets");

/* The same record as a PEP 3118 format string, with its padding spelled out. */
static const char POINT_FORMAT[] = "T{<d:x:<d:y:<I:id:B:flag:3x}";
static const uint64_t GRID_SHAPE[2] = {ROWS, COLS};
static const uint64_t POINTS_SHAPE[1] = {POINTS};

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

/* Opens (creating when `create`) an array with the element type and shape given. */
static shmkit_array *open_array(shmkit_store *store, const char *name, const char *format,
                                const uint64_t *shape, size_t ndim, int create) {
    shmkit_array *a = NULL;
    uint32_t flags = create ? 0 : SHMKIT_ARRAY_OPEN_EXISTING;
    if (check(shmkit_array_open(store, name, format, shape, ndim, flags, &a), SHMKIT_STATUS_OK,
              name)) {
        exit(2);
    }
    return a;
}

/* The elements of `a` in place, after checking they are `count` elements of `size` bytes. */
static void *elements(const shmkit_array *a, uint64_t count, size_t size) {
    void *data = NULL;
    uint64_t nbytes = 0, len = 0, itemsize = 0;
    check(shmkit_array_data(a, &data, &nbytes), SHMKIT_STATUS_OK, "data");
    check(shmkit_array_len(a, &len), SHMKIT_STATUS_OK, "len");
    check(shmkit_array_itemsize(a, &itemsize), SHMKIT_STATUS_OK, "itemsize");
    if (data == NULL || len != count || itemsize != size || nbytes != count * size) {
        fprintf(stderr, "FAIL layout: %llu elements of %llu bytes\n", (unsigned long long)len,
                (unsigned long long)itemsize);
        exit(2);
    }
    return data;
}

static double grid_value(int i, int j, double scale) { return (i * COLS + j) * scale + 0.25; }

static point point_value(int i, double scale) {
    point p;
    memset(&p, 0, sizeof p); /* the padding too: whole elements are compared */
    p.x = i * 1.5 * scale;
    p.y = i * -2.0 * scale;
    p.id = (uint32_t)(i * 7);
    p.flag = (uint8_t)(i % 3 == 0);
    return p;
}

/* Writes the grid through the element pointer and the records by copies. */
static void fill(shmkit_array *grid, shmkit_array *points, double scale) {
    double(*g)[COLS] = elements(grid, ROWS * COLS, sizeof(double));
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < COLS; j++) {
            g[i][j] = grid_value(i, j, scale);
        }
    }
    for (int i = 0; i < POINTS; i++) {
        point p = point_value(i, scale);
        check(shmkit_array_write(points, (uint64_t)i, (const uint8_t *)&p, sizeof p),
              SHMKIT_STATUS_OK, "write a record");
    }
}

/* Checks what `fill` (or NumPy, with the same values) wrote: the grid by copies, the records
 * in place. */
static void verify(const shmkit_array *grid, const shmkit_array *points, double scale) {
    int bad = 0;
    for (int i = 0; i < ROWS; i++) {
        for (int j = 0; j < COLS; j++) {
            double v = 0;
            size_t len = 0;
            check(shmkit_array_read(grid, (uint64_t)(i * COLS + j), (uint8_t *)&v, sizeof v, &len),
                  SHMKIT_STATUS_OK, "read");
            bad += v != grid_value(i, j, scale) || len != sizeof v;
        }
    }
    expect(bad == 0, "every grid element has its value");
    const point *p = elements(points, POINTS, sizeof(point));
    bad = 0;
    for (int i = 0; i < POINTS; i++) {
        point want = point_value(i, scale);
        bad += p[i].x != want.x || p[i].y != want.y || p[i].id != want.id ||
               p[i].flag != want.flag;
    }
    expect(bad == 0, "every record has its fields");
}

static void check_shape_and_format(const shmkit_array *a, const uint64_t *shape, size_t ndim) {
    uint64_t dims[4] = {0};
    size_t n = 0;
    check(shmkit_array_ndim(a, &n), SHMKIT_STATUS_OK, "ndim");
    expect(n == ndim, "ndim");
    check(shmkit_array_shape(a, dims, 4, &n), SHMKIT_STATUS_OK, "shape");
    expect(n == ndim && memcmp(dims, shape, ndim * sizeof *shape) == 0, "the shape");
    char format[128];
    size_t len = 0;
    check(shmkit_array_format(a, NULL, 0, &len), SHMKIT_STATUS_BUFFER_TOO_SMALL, "the format's length");
    if (len < sizeof format && !check(shmkit_array_format(a, format, sizeof format - 1, &len),
                                      SHMKIT_STATUS_OK, "format")) {
        format[len] = 0;
        printf("  %s: format %s, %zu dimensions\n", "array", format, n);
    }
}

static int demo(shmkit_store *store) {
    shmkit_array *grid = open_array(store, "grid", "<f8", GRID_SHAPE, 2, 1);
    shmkit_array *points = open_array(store, "points", POINT_FORMAT, POINTS_SHAPE, 1, 1);
    check_shape_and_format(grid, GRID_SHAPE, 2);
    check_shape_and_format(points, POINTS_SHAPE, 1);

    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        fill(grid, points, 1.0); /* the handles are inherited: same store, same addresses */
        shmkit_array_close(grid);
        shmkit_array_close(points);
        _exit(failures == 0 ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "FAIL the writing child\n");
        failures++;
    }
    verify(grid, points, 1.0);

    /* Mismatches and bad input have their own codes; nothing is created by them. */
    shmkit_array *other = NULL;
    check(shmkit_array_open(store, "grid", "<f4", GRID_SHAPE, 2, 0, &other), SHMKIT_STATUS_WRONG_TYPE,
          "another element type");
    check(shmkit_array_open(store, "grid", "<f8", POINTS_SHAPE, 1, 0, &other),
          SHMKIT_STATUS_SHAPE_MISMATCH, "another shape");
    check(shmkit_array_open(store, "nope", NULL, NULL, 0, 0, &other), SHMKIT_STATUS_OBJECT_NOT_FOUND,
          "adopting a missing array");
    check(shmkit_array_open(store, "bad", "O", POINTS_SHAPE, 1, 0, &other),
          SHMKIT_STATUS_INVALID_ARGUMENT, "object fields");
    expect(other == NULL, "failed opens leave NULL");
    double v = 0;
    check(shmkit_array_read(grid, ROWS * COLS, (uint8_t *)&v, sizeof v, NULL),
          SHMKIT_STATUS_INDEX_OUT_OF_RANGE, "an index past the end");
    check(shmkit_array_write(points, 0, (const uint8_t *)&v, sizeof v), SHMKIT_STATUS_INVALID_ARGUMENT,
          "a buffer of another size than a record");

    /* Adopting: no element type, no shape. */
    shmkit_array *same = open_array(store, "points", NULL, NULL, 0, 0);
    verify(grid, same, 1.0);
    shmkit_array_close(same);
    shmkit_array_close(grid);
    shmkit_array_close(points);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s demo STORE | write STORE | read STORE\n", argv[0]);
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
    } else if (strcmp(mode, "write") == 0) {
        shmkit_array *grid = open_array(store, "c_grid", "<f8", GRID_SHAPE, 2, 1);
        shmkit_array *points = open_array(store, "c_points", POINT_FORMAT, POINTS_SHAPE, 1, 1);
        fill(grid, points, 2.0);
        shmkit_array_close(grid);
        shmkit_array_close(points);
        shmkit_store_close(store);
    } else if (strcmp(mode, "read") == 0) {
        /* Opened with C's own element types: NumPy's layout must be C's, or this fails. */
        shmkit_array *grid = open_array(store, "grid", "<f8", GRID_SHAPE, 2, 0);
        shmkit_array *points = open_array(store, "points", POINT_FORMAT, POINTS_SHAPE, 1, 0);
        check_shape_and_format(points, POINTS_SHAPE, 1);
        verify(grid, points, 1.0);
        double minus_one = -1.0;
        check(shmkit_array_write(grid, 0, (const uint8_t *)&minus_one, sizeof minus_one),
              SHMKIT_STATUS_OK, "write grid[0][0]");
        point *p = elements(points, POINTS, sizeof(point));
        p[POINTS - 1].id = 4242;
        shmkit_array_close(grid);
        shmkit_array_close(points);
        shmkit_store_close(store);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("array_demo %s: ok\n", mode);
    return 0;
}
