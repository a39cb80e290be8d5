/*
 * shmkit: data structures in named shared memory, for C.
 *
 * Generated from crates/shmkit-capi by cbindgen: do not edit. To regenerate:
 *   SHMKIT_BLESS=1 cargo test -p shmkit-capi --test header_is_current
 * See docs/C.md.
 */

#ifndef SHMKIT_H
#define SHMKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * Flag of `shmkit_array_open`: open an existing array only (`SHMKIT_STATUS_OBJECT_NOT_FOUND`
 * if there is none); without it a missing array is created (which needs a format).
 */
#define SHMKIT_ARRAY_OPEN_EXISTING 1

/**
 * Flag of `shmkit_atomic_vector_open`: open an existing vector only
 * (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing vector is
 * created.
 */
#define SHMKIT_VECTOR_OPEN_EXISTING 1

/**
 * Flag of `shmkit_deque_open`: open an existing deque only (`SHMKIT_STATUS_OBJECT_NOT_FOUND`
 * if there is none); without it a missing deque is created.
 */
#define SHMKIT_DEQUE_OPEN_EXISTING 1

/**
 * Flag of `shmkit_deque_open`: a deque created with a `maxlen` drops the item at the other
 * end when a push finds it full (as Python's `collections.deque`); without it such a push
 * waits for room or fails with `SHMKIT_STATUS_FULL`.
 */
#define SHMKIT_DEQUE_OVERWRITE 2

/**
 * `end` of `shmkit_deque_push`/`_pop`: the back (append, pop).
 */
#define SHMKIT_DEQUE_BACK 0

/**
 * `end` of `shmkit_deque_push`/`_pop`: the front (appendleft, popleft).
 */
#define SHMKIT_DEQUE_FRONT 1

/**
 * Flag of `shmkit_map_options.flags`: open an existing map only
 * (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing map is created.
 */
#define SHMKIT_MAP_OPEN_EXISTING 1

/**
 * Flag of `shmkit_map_options.flags`: keys passed to and returned by this handle are UTF-8
 * text, stored as typed strings (as Python stores `str` keys). Without it keys are stored
 * as the bytes given (Python's `hash_map(name, raw=True)`, Rust's `HashMap`).
 */
#define SHMKIT_MAP_STR_KEYS 2

/**
 * Flag of `shmkit_ordered_map_open`: open an existing map only
 * (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing map is created.
 */
#define SHMKIT_ORDERED_MAP_OPEN_EXISTING 1

/**
 * Flag of `shmkit_priority_queue_open`: open an existing queue only
 * (`SHMKIT_STATUS_OBJECT_NOT_FOUND` if there is none); without it a missing one is created.
 */
#define SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING 1

/**
 * Flag of `shmkit_store_options.flags`: accept an existing store owned by another user.
 * Without it such a store is refused with `SHMKIT_STATUS_FOREIGN_OWNER`.
 */
#define SHMKIT_ALLOW_FOREIGN_OWNER 1

/**
 * Flag of `shmkit_store_options.flags`: a new store removes its name when the last process
 * detaches cleanly.
 */
#define SHMKIT_REMOVE_WHEN_UNUSED 2

/**
 * What a C function reports. `SHMKIT_STATUS_OK` and the other non-negative codes are outcomes;
 * every negative code is an error, whose message `shmkit_last_error_message()` returns.
 * Numbers are stable: never changed or reused once released.
 */
enum shmkit_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Success.
   */
  SHMKIT_STATUS_OK = 0,
  /**
   * The key is not in the map (`get` and its typed forms). Not an error.
   */
  SHMKIT_STATUS_NOT_FOUND = 1,
  /**
   * The iterator has no more entries. Not an error.
   */
  SHMKIT_STATUS_END = 2,
  /**
   * `shmkit_hash_map_incr_int` stored a sum beyond `int64_t` as a big int (as Python's
   * `incr` does) and did not write `*out`. Not an error: the increment happened.
   */
  SHMKIT_STATUS_BIG_INT = 3,
  /**
   * `shmkit_atomic_vector_compare_exchange` found another value than the expected one
   * and stored nothing (the value found is in its out-parameter). Not an error.
   */
  SHMKIT_STATUS_MISMATCH = 4,
  /**
   * No store under that name or path.
   */
  SHMKIT_STATUS_STORE_NOT_FOUND = -1,
  /**
   * No object of that name in the store.
   */
  SHMKIT_STATUS_OBJECT_NOT_FOUND = -2,
  /**
   * A store already has that name, and creation was exclusive.
   */
  SHMKIT_STATUS_STORE_EXISTS = -3,
  /**
   * The store file may not be opened or created by this process (see also
   * `SHMKIT_STATUS_FOREIGN_OWNER` and `SHMKIT_STATUS_MODE_TOO_WIDE`).
   */
  SHMKIT_STATUS_PERMISSION_DENIED = -4,
  /**
   * A store or object name that cannot be used (also: not UTF-8).
   */
  SHMKIT_STATUS_INVALID_NAME = -5,
  /**
   * An argument the operation does not accept (options out of range, a key or value too
   * long or of another length than a fixed-size map's, text that is not UTF-8).
   */
  SHMKIT_STATUS_INVALID_ARGUMENT = -6,
  /**
   * A stored value of another type than the operation needs.
   */
  SHMKIT_STATUS_WRONG_TYPE = -7,
  /**
   * The name belongs to an object of another kind.
   */
  SHMKIT_STATUS_WRONG_KIND = -8,
  /**
   * Stored bytes that are not a value this build can decode.
   */
  SHMKIT_STATUS_INVALID_VALUE = -9,
  /**
   * The file is not a complete shmkit store.
   */
  SHMKIT_STATUS_NOT_A_STORE = -10,
  /**
   * A store of a format version this build does not read.
   */
  SHMKIT_STATUS_UNSUPPORTED_VERSION = -11,
  /**
   * Shared state is damaged.
   */
  SHMKIT_STATUS_CORRUPT = -12,
  /**
   * The store cannot provide the memory.
   */
  SHMKIT_STATUS_STORE_FULL = -13,
  /**
   * All process slots of the store are held by live processes.
   */
  SHMKIT_STATUS_REGISTRY_FULL = -14,
  /**
   * A live process held a lock for longer than the operation waits; or another thread is
   * inside a call on the same iterator (an iterator is for one thread at a time).
   */
  SHMKIT_STATUS_BUSY = -15,
  /**
   * Another system error.
   */
  SHMKIT_STATUS_IO = -16,
  /**
   * The existing store is owned by another user and `SHMKIT_ALLOW_FOREIGN_OWNER` was not
   * given.
   */
  SHMKIT_STATUS_FOREIGN_OWNER = -17,
  /**
   * The existing store's permission bits grant more than the mode asked for.
   */
  SHMKIT_STATUS_MODE_TOO_WIDE = -18,
  /**
   * An element or bit index at or past the atomic vector's length, or an element index
   * at or past the array's (Python's `IndexOutOfRangeError`, an `IndexError`).
   */
  SHMKIT_STATUS_INDEX_OUT_OF_RANGE = -19,
  /**
   * The array exists with another shape than the one asked for (Python's `ShapeError`);
   * nothing was created or changed.
   */
  SHMKIT_STATUS_SHAPE_MISMATCH = -20,
  /**
   * A bounded deque is full and the call would not wait (longer); nothing was pushed.
   */
  SHMKIT_STATUS_FULL = -21,
  /**
   * A required pointer was null (or a buffer pointer was null with a nonzero length).
   */
  SHMKIT_STATUS_NULL_POINTER = -100,
  /**
   * The caller's buffer is too small; the needed length was reported, nothing copied.
   */
  SHMKIT_STATUS_BUFFER_TOO_SMALL = -101,
  /**
   * A number does not fit the type it must become (an int too large for a `double`);
   * nothing was changed.
   */
  SHMKIT_STATUS_OVERFLOW = -102,
  /**
   * A bug in shmkit: a panic was caught at the boundary. The handle stays usable.
   */
  SHMKIT_STATUS_PANIC = -103,
  /**
   * An error of a kind added to the library after this binding.
   */
  SHMKIT_STATUS_UNKNOWN = -104,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum shmkit_status shmkit_status;
#else
typedef int32_t shmkit_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * The type of a `shmkit_value`.
 */
enum shmkit_type
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * null (Python's None).
   */
  SHMKIT_TYPE_NULL = 0,
  /**
   * A boolean: `boolean`.
   */
  SHMKIT_TYPE_BOOL = 1,
  /**
   * A 64-bit signed integer: `int64`.
   */
  SHMKIT_TYPE_INT = 2,
  /**
   * A 64-bit float: `float64`.
   */
  SHMKIT_TYPE_FLOAT = 3,
  /**
   * Bytes: `data`, `len`.
   */
  SHMKIT_TYPE_BYTES = 4,
  /**
   * UTF-8 text, not NUL-terminated: `data`, `len`.
   */
  SHMKIT_TYPE_STR = 5,
  /**
   * An integer beyond 64 bits (Python writes them): two's complement little-endian in
   * `data`, `len`.
   */
  SHMKIT_TYPE_BIG_INT = 6,
  /**
   * A language-specific object (a Python pickle: `lang` 1): `lang`, `data`, `len`.
   */
  SHMKIT_TYPE_FOREIGN = 7,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum shmkit_type shmkit_type;
#else
typedef uint32_t shmkit_type;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * The type of an item of a decoded ordered key.
 */
enum shmkit_ordered_key_type
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * null (Python's None).
   */
  SHMKIT_ORDERED_KEY_TYPE_NULL = 0,
  /**
   * An integer within 64 bits: `int64`. (A bool was stored as the int 0 or 1, and an
   * integral float as the int it equals.)
   */
  SHMKIT_ORDERED_KEY_TYPE_INT = 1,
  /**
   * An integer beyond 64 bits: two's complement little-endian in `data`, `len` (its
   * shortest form).
   */
  SHMKIT_ORDERED_KEY_TYPE_BIG_INT = 2,
  /**
   * A float that is not an integer (or an infinity, or NaN): `float64`.
   */
  SHMKIT_ORDERED_KEY_TYPE_FLOAT = 3,
  /**
   * Bytes: `data`, `len`.
   */
  SHMKIT_ORDERED_KEY_TYPE_BYTES = 4,
  /**
   * UTF-8 text, not NUL-terminated: `data`, `len`.
   */
  SHMKIT_ORDERED_KEY_TYPE_STR = 5,
  /**
   * A tuple of `len` elements: the items that follow it (each element one item, a tuple
   * element with its own elements after it).
   */
  SHMKIT_ORDERED_KEY_TYPE_TUPLE = 6,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum shmkit_ordered_key_type shmkit_ordered_key_type;
#else
typedef uint32_t shmkit_ordered_key_type;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * An array handle (opaque). Made by `shmkit_array_open`, freed by `shmkit_array_close`. It
 * keeps its store attached (so the store handle may be closed first) and with it the memory
 * `shmkit_array_data` points to. Usable from any thread, also from several at once.
 */
typedef struct shmkit_array shmkit_array;

/**
 * An atomic vector handle (opaque). Made by `shmkit_atomic_vector_open`, freed by
 * `shmkit_atomic_vector_close`. It keeps its store attached, so the store handle may be
 * closed first. Usable from any thread, also from several at once.
 */
typedef struct shmkit_atomic_vector shmkit_atomic_vector;

/**
 * A deque handle (opaque). Made by `shmkit_deque_open`, freed by `shmkit_deque_close`. It
 * keeps its store attached, so the store handle may be closed first. Usable from any
 * thread, also from several at once.
 */
typedef struct shmkit_deque shmkit_deque;

/**
 * A hash map handle (opaque). Made by `shmkit_hash_map_open`, freed by
 * `shmkit_hash_map_close`. It keeps its store attached, so the store handle may be closed
 * first. Usable from any thread, also from several at once.
 */
typedef struct shmkit_hash_map shmkit_hash_map;

/**
 * An iterator over a map's entries (opaque). Made by `shmkit_hash_map_iter_new`, freed by
 * `shmkit_hash_map_iter_free`. It keeps its map (and store) attached. One cursor: meant for
 * one thread at a time; a call while another thread is inside a call on the same iterator
 * returns `SHMKIT_STATUS_BUSY` (no entry is lost: call again).
 */
typedef struct shmkit_hash_map_iter shmkit_hash_map_iter;

/**
 * An ordered map handle (opaque). Made by `shmkit_ordered_map_open`, freed by
 * `shmkit_ordered_map_close`. It keeps its store attached, so the store handle may be
 * closed first. Usable from any thread, also from several at once.
 */
typedef struct shmkit_ordered_map shmkit_ordered_map;

/**
 * A cursor over a key range of an ordered map (opaque). Made by
 * `shmkit_ordered_map_iter_open`, freed by `shmkit_ordered_map_iter_close`. It keeps its map
 * (and store) attached. One cursor: meant for one thread at a time; a call while another
 * thread is inside a call on the same cursor returns `SHMKIT_STATUS_BUSY` (no entry is
 * lost: call again).
 */
typedef struct shmkit_ordered_map_iter shmkit_ordered_map_iter;

/**
 * A priority queue handle (opaque). Made by `shmkit_priority_queue_open`, freed by
 * `shmkit_priority_queue_close`. It keeps its store attached. Usable from any thread, also
 * from several at once.
 */
typedef struct shmkit_priority_queue shmkit_priority_queue;

/**
 * An open store (opaque). Made by `shmkit_store_open`, `shmkit_store_create` or
 * `shmkit_store_open_or_create`; freed by `shmkit_store_close`. Usable from any thread.
 */
typedef struct shmkit_store shmkit_store;

/**
 * Options of `shmkit_hash_map_open`. All zero (or a NULL pointer) means: create if missing,
 * byte keys, default shape, keys and values of any length.
 */
typedef struct shmkit_map_options {
  /**
   * `SHMKIT_MAP_OPEN_EXISTING`, `SHMKIT_MAP_STR_KEYS`, or'ed.
   */
  uint32_t flags;
  /**
   * Shards of a new map: a power of two up to 65536 (0: 64). An existing map keeps its own.
   */
  uint32_t shards;
  /**
   * Entries a new map should hold before its first resize (0: a small start).
   */
  uint64_t initial_capacity;
  /**
   * With `value_len`: both 0 (the default) for a map whose keys and values may have any
   * length; otherwise a **fixed-size map**, whose every key is `key_len` bytes (at
   * least one) and every value `value_len` bytes (0 makes it a set of keys); a record
   * (8 bytes, then the key and the value each rounded up to 8 bytes) is at most 64 KiB.
   * Its records carry no lengths and an overwrite or a removal never allocates. A key
   * or value of another length is `SHMKIT_STATUS_INVALID_ARGUMENT` in every call, with
   * nothing changed. An existing map keeps the sizes it was created with: opening it
   * with other nonzero sizes (or sizes for a map of any length) is
   * `SHMKIT_STATUS_INVALID_ARGUMENT`; 0 and 0 open any map. A fixed-size map takes byte
   * keys only (`SHMKIT_MAP_STR_KEYS` is `SHMKIT_STATUS_INVALID_ARGUMENT`, also for an
   * existing one); the sizes are those of the stored bytes, so the typed setters write
   * their encoding (an `int64_t` in 9 bytes, see `shmkit_value_encode`).
   */
  uint32_t key_len;
  /**
   * See `key_len`.
   */
  uint32_t value_len;
} shmkit_map_options;

/**
 * One decoded value. Which fields mean something depends on `kind`. For bytes, str, big
 * int and foreign values `data` points to the `len` payload bytes inside the buffer the
 * value was decoded from (valid as long as that buffer is); it is never NULL for them, also
 * when `len` is 0 (it then points just past the type byte, still inside that buffer, so
 * it may be passed to `memcpy`). For null, bool, int and float `data` is NULL and `len` 0.
 * A str payload is not NUL-terminated.
 *
 * C also passes values in (`shmkit_value_encode`, `shmkit_hash_map_compare_and_set_value`,
 * `_insert_if_absent_value`): set `kind` and the fields it uses (`data` may then be NULL
 * with `len` 0); the other fields are not read.
 */
typedef struct shmkit_value {
  /**
   * The type.
   */
  shmkit_type kind;
  /**
   * `SHMKIT_TYPE_FOREIGN`: the language id (1: a Python pickle).
   */
  uint8_t lang;
  /**
   * `SHMKIT_TYPE_BOOL`: the value.
   */
  bool boolean;
  /**
   * `SHMKIT_TYPE_INT`: the value.
   */
  int64_t int64;
  /**
   * `SHMKIT_TYPE_FLOAT`: the value.
   */
  double float64;
  /**
   * `SHMKIT_TYPE_BYTES`, `_STR`, `_BIG_INT`, `_FOREIGN`: the payload (not NULL, also when
   * empty); NULL for the other types.
   */
  const uint8_t *data;
  /**
   * Length of `data` in bytes.
   */
  size_t len;
} shmkit_value;

/**
 * One item of a decoded ordered key (see `shmkit_ordered_key_decode`). Which fields mean
 * something depends on `kind`; the others are 0 (and `data` NULL).
 */
typedef struct shmkit_ordered_key_item {
  /**
   * The type.
   */
  shmkit_ordered_key_type kind;
  /**
   * `SHMKIT_ORDERED_KEY_TYPE_INT`: the value.
   */
  int64_t int64;
  /**
   * `SHMKIT_ORDERED_KEY_TYPE_FLOAT`: the value.
   */
  double float64;
  /**
   * `_BIG_INT`, `_BYTES`, `_STR`: the payload, inside the caller's payload buffer (NULL
   * only when that buffer is NULL, and then `len` is 0).
   */
  const uint8_t *data;
  /**
   * `_BIG_INT`, `_BYTES`, `_STR`: the payload's length in bytes; `_TUPLE`: the number of
   * elements.
   */
  size_t len;
} shmkit_ordered_key_item;

/**
 * Options of opening and creating a store. All zero (`{0}`) means the defaults; a NULL
 * pointer to options means the same.
 */
typedef struct shmkit_store_options {
  /**
   * `SHMKIT_ALLOW_FOREIGN_OWNER`, `SHMKIT_REMOVE_WHEN_UNUSED`, or'ed.
   */
  uint32_t flags;
  /**
   * Permission bits. Creating: the new file's mode (0: 0600). Opening an existing store
   * (`shmkit_store_open_or_create`, or `shmkit_store_open` with a nonzero mode): a store
   * whose mode grants more is refused with `SHMKIT_STATUS_MODE_TOO_WIDE`.
   */
  uint32_t mode;
  /**
   * Most processes attached at once, 1..=1024 (0: 1024). Creating only.
   */
  uint32_t max_processes;
  /**
   * Unused; must be 0 (anything else is `SHMKIT_STATUS_INVALID_ARGUMENT`, so that a
   * later version can give it a meaning).
   */
  uint32_t reserved;
  /**
   * Largest size the store may grow to, in bytes (0: 64 GiB of address space), rounded up
   * to whole pages; once rounded at most `INT64_MAX` (a file's largest size), else
   * `SHMKIT_STATUS_INVALID_ARGUMENT`. Creating only.
   */
  uint64_t reserve;
  /**
   * Initial file length in bytes (0: 1 MiB), rounded up to whole pages; at most
   * `reserve`. Creating only.
   */
  uint64_t initial_len;
} shmkit_store_options;

/**
 * What `shmkit_store_check` found, counted by severity.
 */
typedef struct shmkit_check_summary {
  /**
   * True when everything was checked and nothing needs a repair (only notes).
   */
  bool clean;
  /**
   * Damage: part of the store is unusable or wrong.
   */
  uint64_t problems;
  /**
   * State a killed process left, which `shmkit_store_repair` fixes.
   */
  uint64_t needs_repair;
  /**
   * Parts not checked because a live process held a lock too long.
   */
  uint64_t busy;
  /**
   * Worth knowing, not wrong.
   */
  uint64_t notes;
} shmkit_check_summary;

/**
 * What `shmkit_store_repair` did.
 */
typedef struct shmkit_repair_summary {
  /**
   * Parts repaired.
   */
  uint64_t repaired;
  /**
   * Parts left as they were (busy, in use by others, or beyond repair).
   */
  uint64_t not_repaired;
  /**
   * The check after the repair.
   */
  struct shmkit_check_summary after;
} shmkit_repair_summary;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The message of this thread's last error (an empty string if there was none). The text
 * stays valid until this thread's next shmkit call that fails; copy it to keep it. Never
 * NULL.
 */
const char *shmkit_last_error_message(void);

/**
 * The stable snake_case name of a status code (`"store_not_found"`, ...; the names of
 * `shmkit::ErrorKind` and of the other front ends), or `"unknown"` for a number that is
 * not a code. A static string; never NULL.
 */
const char *shmkit_status_name(int32_t code);

/**
 * The version of the library (`"0.1.0"`), a static string.
 */
const char *shmkit_version(void);

/**
 * Opens the array `name` of `store`.
 *
 * - With a `format` (a PEP 3118 format string such as `"<d"` or `"T{<d:x:<d:y:<I:id:B:flag:3x}"`,
 *   or a NumPy type string of one scalar such as `"<f8"`), the array has elements of that
 *   type and the shape `shape[0..ndim]` (`ndim` 0: one element; `shape` may then be NULL).
 *   A missing array is created with all bytes zero, unless `flags` has
 *   `SHMKIT_ARRAY_OPEN_EXISTING` (`SHMKIT_STATUS_OBJECT_NOT_FOUND` then). An existing array
 *   must have that element type (`SHMKIT_STATUS_WRONG_TYPE`; spellings of one layout such as
 *   `"<q"` and `"q"` are the same type) and that shape (`SHMKIT_STATUS_SHAPE_MISMATCH`).
 * - With `format` NULL the array must exist (`SHMKIT_STATUS_OBJECT_NOT_FOUND`) and the
 *   handle adopts its stored element type and shape. If `shape` is not NULL the array must
 *   also have the shape `shape[0..ndim]`.
 *
 * A format that is not a valid element type (`"O"`: pointers cannot be shared), a shape of
 * too many dimensions or elements, and unknown flags are `SHMKIT_STATUS_INVALID_ARGUMENT`;
 * a name that belongs to another kind of object is `SHMKIT_STATUS_WRONG_KIND`. On success
 * `*out` is a new handle, to free with `shmkit_array_close`; on failure `*out` is set to
 * NULL (unless `out` itself is NULL).
 *
 * # Safety
 * `store` is NULL or a live store handle; `name` and `format` are NULL or NUL-terminated
 * strings; `shape` is NULL with `ndim` 0, or points to `ndim` `uint64_t`s; `out` is NULL or
 * writable.
 */
shmkit_status shmkit_array_open(const struct shmkit_store *store,
                                const char *name,
                                const char *format,
                                const uint64_t *shape,
                                size_t ndim,
                                uint32_t flags,
                                struct shmkit_array **out);

/**
 * Frees an array handle; NULL is a no-op. Pointers from `shmkit_array_data` stay valid
 * while another handle to the array or its store lives in this process.
 *
 * # Safety
 * `array` is NULL or an array handle not yet closed; it is not used again.
 */
void shmkit_array_close(struct shmkit_array *array);

/**
 * Sets `*data` to the address of element 0 in this process and `*nbytes` (may be NULL) to
 * the bytes of all elements (`len × itemsize`): the elements in C order, 64-byte aligned.
 *
 * The pointer stays valid while this handle, or another handle to the array or its store,
 * lives in this process (the store's mapping never moves). Reading and writing through it is
 * the caller's, racing with other processes and threads like any shared memory: a read may
 * see a write of another process half done. Use C11 atomics on naturally aligned integer
 * elements for updates many processes make at once.
 *
 * # Safety
 * `array` is NULL or a live array handle; `data` is NULL or writable; `nbytes` is NULL or
 * writable.
 */
shmkit_status shmkit_array_data(const struct shmkit_array *array, void **data, uint64_t *nbytes);

/**
 * Sets `*out` to the number of elements (the product of the shape; it never changes).
 *
 * # Safety
 * `array` is NULL or a live array handle; `out` is NULL or writable.
 */
shmkit_status shmkit_array_len(const struct shmkit_array *array, uint64_t *out);

/**
 * Sets `*out` to the bytes of one element.
 *
 * # Safety
 * `array` is NULL or a live array handle; `out` is NULL or writable.
 */
shmkit_status shmkit_array_itemsize(const struct shmkit_array *array, uint64_t *out);

/**
 * Sets `*out` to the number of dimensions (0 for an array of one element, at most 32).
 *
 * # Safety
 * `array` is NULL or a live array handle; `out` is NULL or writable.
 */
shmkit_status shmkit_array_ndim(const struct shmkit_array *array, size_t *out);

/**
 * Copies the shape into `dims` (room for `cap` numbers) and sets `*ndim` to the number of
 * dimensions. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if `cap` is less: `*ndim` is the number
 * needed and nothing is copied (`dims` may be NULL with `cap` 0 to ask).
 *
 * # Safety
 * `array` is NULL or a live array handle; `dims` is valid for writes of `cap` `uint64_t`s
 * (or NULL with 0); `ndim` is NULL or writable.
 */
shmkit_status shmkit_array_shape(const struct shmkit_array *array,
                                 uint64_t *dims,
                                 size_t cap,
                                 size_t *ndim);

/**
 * Copies the element type's format string (PEP 3118, as stored: `"<d"`,
 * `"T{<d:x:<d:y:}"`; not NUL-terminated) into `buf` and sets `*len` to its length.
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` if it is longer than `cap`: `*len` is the length needed
 * and nothing is copied (`buf` may be NULL with `cap` 0 to ask). Give `len + 1` bytes and
 * set `buf[len] = 0` to use it as a C string.
 *
 * # Safety
 * `array` is NULL or a live array handle; `buf` is valid for writes of `cap` bytes (or NULL
 * with 0); `len` is NULL or writable.
 */
shmkit_status shmkit_array_format(const struct shmkit_array *array,
                                  char *buf,
                                  size_t cap,
                                  size_t *len);

/**
 * Copies element `index` (flat, C order: element `(i, j)` of a `rows × cols` array is
 * `i * cols + j`) into `buf`, `itemsize` bytes. `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` at or past
 * the length; `SHMKIT_STATUS_BUFFER_TOO_SMALL` if `cap` is less than `itemsize`. Either way
 * nothing is copied; `*len` (may be NULL) is set to `itemsize` in both this case and success.
 * The copy takes no lock (see `shmkit_array_data`).
 *
 * # Safety
 * `array` is NULL or a live array handle; `buf` is valid for writes of `cap` bytes (or NULL
 * with 0); `len` is NULL or writable.
 */
shmkit_status shmkit_array_read(const struct shmkit_array *array,
                                uint64_t index,
                                uint8_t *buf,
                                size_t cap,
                                size_t *len);

/**
 * Stores the `len` bytes at `data` as element `index` (flat, C order); `len` must be the
 * item size (`SHMKIT_STATUS_INVALID_ARGUMENT` otherwise, nothing written).
 * `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` at or past the length. The copy takes no lock (see
 * `shmkit_array_data`).
 *
 * # Safety
 * `array` is NULL or a live array handle; `data` is valid for `len` bytes (or NULL with 0)
 * that no one changes during the call (so not the array's own memory from
 * `shmkit_array_data`: copy an element to a local buffer first; such a pointer is refused
 * with `SHMKIT_STATUS_INVALID_ARGUMENT`).
 */
shmkit_status shmkit_array_write(const struct shmkit_array *array,
                                 uint64_t index,
                                 const uint8_t *data,
                                 size_t len);

/**
 * Opens the atomic vector `name` of `store`, creating it with `len` elements (all 0) unless
 * `flags` has `SHMKIT_VECTOR_OPEN_EXISTING`. `len` is a minimum in both cases: an existing
 * vector shorter than `len` is expanded to it (its new elements read 0), a longer one is
 * left as it is; pass 0 to open one as it is. `SHMKIT_STATUS_WRONG_KIND` if the name
 * belongs to another kind of object; `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags or a
 * length past the largest vector. On success `*out` is a new handle, to free with
 * `shmkit_atomic_vector_close`; on failure `*out` is set to NULL (unless `out` itself is
 * NULL).
 *
 * # Safety
 * `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
 * is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_open(const struct shmkit_store *store,
                                        const char *name,
                                        uint64_t len,
                                        uint32_t flags,
                                        struct shmkit_atomic_vector **out);

/**
 * Frees a vector handle; NULL is a no-op.
 *
 * # Safety
 * `vec` is NULL or a vector handle not yet closed; it is not used again.
 */
void shmkit_atomic_vector_close(struct shmkit_atomic_vector *vec);

/**
 * Sets `*out` to the number of elements (a vector only grows, so another process may have
 * made it longer by the time the caller looks).
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `out` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_len(const struct shmkit_atomic_vector *vec, uint64_t *out);

/**
 * Grows the vector to `new_len` elements (nothing if it is that long already); the new
 * elements read 0. No element moves: other processes keep using the vector meanwhile.
 * `SHMKIT_STATUS_INVALID_ARGUMENT` past the largest vector, `SHMKIT_STATUS_STORE_FULL` if
 * the store cannot provide the memory (the length is then unchanged).
 *
 * # Safety
 * `vec` is NULL or a live vector handle.
 */
shmkit_status shmkit_atomic_vector_expand(const struct shmkit_atomic_vector *vec, uint64_t new_len);

/**
 * Sets `*out` to the value of element `index`.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `out` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_load(const struct shmkit_atomic_vector *vec,
                                        uint64_t index,
                                        int64_t *out);

/**
 * Stores `value` in element `index`.
 *
 * # Safety
 * `vec` is NULL or a live vector handle.
 */
shmkit_status shmkit_atomic_vector_store(const struct shmkit_atomic_vector *vec,
                                         uint64_t index,
                                         int64_t value);

/**
 * Stores `desired` in element `index` if it holds `expected`, as one atomic step.
 * Returns `SHMKIT_STATUS_OK` if it did (the element held `expected` and now holds
 * `desired`), `SHMKIT_STATUS_MISMATCH` (an outcome, not an error) if the element held
 * another value and nothing was stored. In both cases `*found` (may be NULL) is the value
 * the element held at that moment: `expected` after `SHMKIT_STATUS_OK`, the differing value
 * after `SHMKIT_STATUS_MISMATCH` (the next `expected` of a retry loop). After an error
 * `*found` is not written.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `found` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_compare_exchange(const struct shmkit_atomic_vector *vec,
                                                    uint64_t index,
                                                    int64_t expected,
                                                    int64_t desired,
                                                    int64_t *found);

/**
 * Stores `value` in element `index` and sets `*previous` (may be NULL) to the value it
 * replaced.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_swap(const struct shmkit_atomic_vector *vec,
                                        uint64_t index,
                                        int64_t value,
                                        int64_t *previous);

/**
 * Adds `delta` to element `index` (wrapping on overflow) and sets `*previous` (may be
 * NULL) to the value before the addition.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_fetch_add(const struct shmkit_atomic_vector *vec,
                                             uint64_t index,
                                             int64_t delta,
                                             int64_t *previous);

/**
 * Subtracts `delta` from element `index` (wrapping on overflow) and sets `*previous` (may
 * be NULL) to the value before the subtraction.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_fetch_sub(const struct shmkit_atomic_vector *vec,
                                             uint64_t index,
                                             int64_t delta,
                                             int64_t *previous);

/**
 * Bitwise and of element `index` with `bits`; `*previous` (may be NULL) is the value
 * before.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_fetch_and(const struct shmkit_atomic_vector *vec,
                                             uint64_t index,
                                             int64_t bits,
                                             int64_t *previous);

/**
 * Bitwise or of element `index` with `bits`; `*previous` (may be NULL) is the value
 * before.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_fetch_or(const struct shmkit_atomic_vector *vec,
                                            uint64_t index,
                                            int64_t bits,
                                            int64_t *previous);

/**
 * Bitwise exclusive or of element `index` with `bits`; `*previous` (may be NULL) is the
 * value before.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_fetch_xor(const struct shmkit_atomic_vector *vec,
                                             uint64_t index,
                                             int64_t bits,
                                             int64_t *previous);

/**
 * Sets `*out` to bit `bit` of the vector: bit `bit % 64` of element `bit / 64` (the vector
 * holds `64 × len` bits). `SHMKIT_STATUS_INDEX_OUT_OF_RANGE` at or past `64 × len`.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `out` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_get_bit(const struct shmkit_atomic_vector *vec,
                                           uint64_t bit,
                                           bool *out);

/**
 * Sets bit `bit` (see `shmkit_atomic_vector_get_bit`) and sets `*previous` (may be NULL)
 * to its value before: a test-and-set across processes. Bits of one element set at once by
 * different processes are never lost.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_set_bit(const struct shmkit_atomic_vector *vec,
                                           uint64_t bit,
                                           bool *previous);

/**
 * Clears bit `bit`; `*previous` (may be NULL) is its value before.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_clear_bit(const struct shmkit_atomic_vector *vec,
                                             uint64_t bit,
                                             bool *previous);

/**
 * Flips bit `bit`; `*previous` (may be NULL) is its value before.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `previous` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_flip_bit(const struct shmkit_atomic_vector *vec,
                                            uint64_t bit,
                                            bool *previous);

/**
 * Sleeps until element `index` holds something other than `expected`, for at most
 * `timeout_ms` milliseconds (a negative `timeout_ms`: no limit; 0: only look). Any write
 * to the element from any process wakes it, and so does `shmkit_atomic_vector_notify`.
 * `*changed` (may be NULL) is true if the element differed from `expected` (at once or
 * after sleeping), false if the timeout passed while it still held `expected`; a timeout
 * is `SHMKIT_STATUS_OK` too. Read the new value with `shmkit_atomic_vector_load`.
 *
 * # Safety
 * `vec` is NULL or a live vector handle; `changed` is NULL or writable.
 */
shmkit_status shmkit_atomic_vector_wait(const struct shmkit_atomic_vector *vec,
                                        uint64_t index,
                                        int64_t expected,
                                        int64_t timeout_ms,
                                        bool *changed);

/**
 * Wakes every process and thread sleeping in `shmkit_atomic_vector_wait` on element
 * `index` (each re-reads the element and sleeps on if it still holds its expected value).
 * Every write to the element (from C, Rust or Python) wakes them already, so a program
 * that only changes elements through shmkit does not need this.
 *
 * # Safety
 * `vec` is NULL or a live vector handle.
 */
shmkit_status shmkit_atomic_vector_notify(const struct shmkit_atomic_vector *vec, uint64_t index);

/**
 * Looks up `n` keys in one call and copies their values, in key order, one after the other
 * into the caller's buffer `buf` (capacity `cap`): the core's batched read, in which the
 * memory fetches of neighbouring keys overlap. Key `i` is the `key_lens[i]` bytes at
 * `keys[i]`; through a `SHMKIT_MAP_STR_KEYS` handle keys are UTF-8 text, as in the single
 * calls.
 *
 * On `SHMKIT_STATUS_OK`, for each key `i` (duplicates included):
 * - `found[i]` says whether the key was present;
 * - its value is the `offsets[i + 1] - offsets[i]` bytes at `buf + offsets[i]` (the raw
 *   bytes; for a map of typed values their encoding, see `shmkit_value_decode`): none for
 *   an absent key (an empty value is present with 0 bytes: tell them apart by `found`).
 *   `offsets` has `n + 1` entries: `offsets[0]` is 0 and `offsets[n]` the bytes used;
 * - `*needed` is the bytes used (`offsets[n]`).
 *
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the values together are longer than `cap`: `*needed`
 * is the bytes they need, and nothing else is written: `buf`, `offsets` and `found` keep
 * what they held, so no earlier contents can pass for results of this call. Grow the buffer
 * and call again (the values may have changed meanwhile, so loop). `buf` may be NULL with
 * `cap` 0 to ask for the size. After an error nothing at all is written.
 *
 * Each key's value is one a single `shmkit_hash_map_get` could have returned at some
 * moment during the call; the keys are not read atomically together. With `n` 0, the
 * arrays may be NULL (`offsets` may not: it gets its one entry, 0). `keys` and `key_lens`
 * may be NULL only with `n` 0, a key pointer only with length 0 (an empty key). The arrays
 * must be aligned for their types (`SHMKIT_STATUS_INVALID_ARGUMENT` otherwise). No output
 * (`buf`, `offsets`, `found`, `needed`) may overlap a key, the key arrays or another output
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`, nothing written). A key longer than a map's keys may be
 * is `SHMKIT_STATUS_INVALID_ARGUMENT`, before anything is read. Once a thread's scratch has
 * grown to the batch, the call allocates nothing.
 *
 * # Safety
 * `map` is NULL or a live map handle; `keys` and `key_lens` are NULL or point to `n`
 * pointers and `n` `size_t`s; each `keys[i]` is valid for `key_lens[i]` bytes (or NULL with
 * 0); `buf` is valid for writes of `cap` bytes (or NULL with 0); `offsets` is NULL or valid
 * for writes of `n + 1` `size_t`s; `found` is NULL or valid for writes of `n` `bool`s;
 * `needed` is NULL or writable. None of the inputs changes during the call.
 */
shmkit_status shmkit_hash_map_get_many(const struct shmkit_hash_map *map,
                                       size_t n,
                                       const uint8_t *const *keys,
                                       const size_t *key_lens,
                                       uint8_t *buf,
                                       size_t cap,
                                       size_t *offsets,
                                       bool *found,
                                       size_t *needed);

/**
 * For each of `n` keys in order, whether it is present: `found[i]` for key `i` (the
 * `key_lens[i]` bytes at `keys[i]`; text through a `SHMKIT_MAP_STR_KEYS` handle). Each
 * answer is one a single lookup could have given during the call. The key arrays and
 * `found` are as in `shmkit_hash_map_get_many` (NULL with `n` 0; aligned; `found` must not
 * overlap a key or the key arrays). On an error `found` is left as it was.
 *
 * # Safety
 * `map` is NULL or a live map handle; `keys`, `key_lens` and the keys as in
 * `shmkit_hash_map_get_many`; `found` is NULL or valid for writes of `n` `bool`s.
 */
shmkit_status shmkit_hash_map_contains_many(const struct shmkit_hash_map *map,
                                            size_t n,
                                            const uint8_t *const *keys,
                                            const size_t *key_lens,
                                            bool *found);

/**
 * Sets `n` keys to `n` raw values in one call, taking each shard's lock once: key `i` (the
 * `key_lens[i]` bytes at `keys[i]`; text through a `SHMKIT_MAP_STR_KEYS` handle) gets the
 * `value_lens[i]` bytes at `values[i]`, stored as given (for a map of typed values, give
 * encodings: `shmkit_value_encode`). A key given more than once ends with its last value.
 *
 * All or nothing before the first write: NULL or misaligned arrays, a NULL key or value with
 * a length, a key that is not UTF-8 (str keys), and a key or value too large for the map
 * fail the whole batch, and nothing is written. An error met while writing (the store full,
 * a lock held too long by a live process, damage) stops the batch part way: some items are
 * written, the others not. Not atomic: other processes see the items land one by one.
 *
 * # Safety
 * `map` is NULL or a live map handle; `keys`, `key_lens` and the keys as in
 * `shmkit_hash_map_get_many`; `values` and `value_lens` are NULL or point to `n` pointers
 * and `n` `size_t`s, each `values[i]` valid for `value_lens[i]` bytes (or NULL with 0).
 * None of them changes during the call.
 */
shmkit_status shmkit_hash_map_set_many(const struct shmkit_hash_map *map,
                                       size_t n,
                                       const uint8_t *const *keys,
                                       const size_t *key_lens,
                                       const uint8_t *const *values,
                                       const size_t *value_lens);

/**
 * Removes `n` keys in one call, taking each shard's lock once; `*removed` (may be NULL) is
 * how many were present (a key given twice counts once, as two removals one after the other
 * would). The key arrays as in `shmkit_hash_map_get_many`; `removed` must not overlap a key
 * or the key arrays (`SHMKIT_STATUS_INVALID_ARGUMENT`). A key that is too large or not UTF-8
 * (str keys) fails the batch before anything is removed; an error met while removing stops
 * it part way, and `*removed` is not written then.
 *
 * # Safety
 * `map` is NULL or a live map handle; `keys`, `key_lens` and the keys as in
 * `shmkit_hash_map_get_many`; `removed` is NULL or writable.
 */
shmkit_status shmkit_hash_map_remove_many(const struct shmkit_hash_map *map,
                                          size_t n,
                                          const uint8_t *const *keys,
                                          const size_t *key_lens,
                                          uint64_t *removed);

/**
 * Opens the deque `name` of `store`, creating it unless `flags` has
 * `SHMKIT_DEQUE_OPEN_EXISTING`, with at most `maxlen` items (0: no limit) and, with
 * `SHMKIT_DEQUE_OVERWRITE`, overwriting when full. An existing deque keeps its own limit and
 * policy. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to another kind of object;
 * `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags. On success `*out` is a new handle, to
 * free with `shmkit_deque_close`; on failure `*out` is set to NULL (unless `out` itself is
 * NULL).
 *
 * # Safety
 * `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
 * is NULL or writable.
 */
shmkit_status shmkit_deque_open(const struct shmkit_store *store,
                                const char *name,
                                uint64_t maxlen,
                                uint32_t flags,
                                struct shmkit_deque **out);

/**
 * Frees a deque handle; NULL is a no-op.
 *
 * # Safety
 * `deque` is NULL or a deque handle not yet closed; it is not used again.
 */
void shmkit_deque_close(struct shmkit_deque *deque);

/**
 * Sets `*out` to the number of items now (other processes may push and pop meanwhile).
 *
 * # Safety
 * `deque` is NULL or a live deque handle; `out` is NULL or writable.
 */
shmkit_status shmkit_deque_len(const struct shmkit_deque *deque, uint64_t *out);

/**
 * Pushes the `len` bytes at `item` at `end` (`SHMKIT_DEQUE_BACK` or `SHMKIT_DEQUE_FRONT`).
 * On a full bounded deque (created without `SHMKIT_DEQUE_OVERWRITE`) waits up to
 * `timeout_ms` milliseconds for room (negative: for ever; 0: not at all), then returns
 * `SHMKIT_STATUS_FULL` with nothing pushed. `SHMKIT_STATUS_INVALID_ARGUMENT` for an item
 * past the largest (1 GiB) or an unknown `end`.
 *
 * # Safety
 * `deque` is NULL or a live deque handle; `item` is valid for `len` bytes (or NULL with 0).
 */
shmkit_status shmkit_deque_push(const struct shmkit_deque *deque,
                                uint32_t end,
                                const uint8_t *item,
                                size_t len,
                                int64_t timeout_ms);

/**
 * Pops the item at `end` into `buf` and sets `*len` to its length, waiting up to
 * `timeout_ms` milliseconds for one (negative: for ever; 0: not at all).
 * `SHMKIT_STATUS_NOT_FOUND` if no item came. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the item
 * is longer than `cap`: `*len` is the length needed and the item stays in the deque (pass
 * NULL with `cap` 0 to learn it). `buf` and `len` must not overlap
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `deque` is NULL or a live deque handle; `buf` is valid for writes of `cap` bytes (or NULL
 * with 0); `len` is NULL or writable.
 */
shmkit_status shmkit_deque_pop(const struct shmkit_deque *deque,
                               uint32_t end,
                               int64_t timeout_ms,
                               uint8_t *buf,
                               size_t cap,
                               size_t *len);

/**
 * Removes every item; sets `*removed` (if not NULL) to how many there were.
 *
 * # Safety
 * `deque` is NULL or a live deque handle; `removed` is NULL or writable.
 */
shmkit_status shmkit_deque_clear(const struct shmkit_deque *deque, uint64_t *removed);

/**
 * Opens the hash map `name` of `store`, creating it unless `SHMKIT_MAP_OPEN_EXISTING`.
 * `options` may be NULL. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to another kind of
 * object. On success `*out` is a new handle, to free with `shmkit_hash_map_close`; on
 * failure `*out` is set to NULL (unless `out` itself is NULL).
 *
 * # Safety
 * `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string;
 * `options` is NULL or points to a `shmkit_map_options`; `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_open(const struct shmkit_store *store,
                                   const char *name,
                                   const struct shmkit_map_options *options,
                                   struct shmkit_hash_map **out);

/**
 * The sizes of a fixed-size map's keys and values in `*key_len` and `*value_len`; both 0
 * for a map whose keys and values may have any length.
 *
 * # Safety
 * `map` is NULL or a live map handle; `key_len` and `value_len` are NULL or writable.
 */
shmkit_status shmkit_hash_map_fixed_size(const struct shmkit_hash_map *map,
                                         uint32_t *key_len,
                                         uint32_t *value_len);

/**
 * Frees a map handle; NULL is a no-op.
 *
 * # Safety
 * `map` is NULL or a map handle not yet closed; it is not used again (iterators made from
 * it stay valid).
 */
void shmkit_hash_map_close(struct shmkit_hash_map *map);

/**
 * Copies the value of `key` (the stored bytes; for a map of typed values their encoding,
 * see `shmkit_value_decode`) into `buf` and sets `*len` to its length.
 * `SHMKIT_STATUS_NOT_FOUND` if the key is absent. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the
 * value is longer than `cap`: `*len` is the length needed and nothing is copied (the value
 * may change before the next call). `buf` may be NULL with `cap` 0 to ask for the length.
 * The outputs must not overlap the key: `buf` and `len` overlapping it are
 * `SHMKIT_STATUS_INVALID_ARGUMENT` (nothing written), never undefined behaviour.
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or writable.
 */
shmkit_status shmkit_hash_map_get(const struct shmkit_hash_map *map,
                                  const uint8_t *key,
                                  size_t key_len,
                                  uint8_t *buf,
                                  size_t cap,
                                  size_t *len);

/**
 * Like `shmkit_hash_map_get`, and decodes the value into `*value`, whose `data` points
 * into `buf`. `SHMKIT_STATUS_INVALID_VALUE` if the stored bytes are not a typed value.
 * `buf`, `len` and `value` must not overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_hash_map_get`; `value` is NULL or writable.
 */
shmkit_status shmkit_hash_map_get_value(const struct shmkit_hash_map *map,
                                        const uint8_t *key,
                                        size_t key_len,
                                        uint8_t *buf,
                                        size_t cap,
                                        size_t *len,
                                        struct shmkit_value *value);

/**
 * Reads a typed int (Python `int` within `int64_t`). `SHMKIT_STATUS_NOT_FOUND` if the key is absent,
 * `SHMKIT_STATUS_WRONG_TYPE` if the value has another type. `out` must not overlap the
 * key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_get_i64(const struct shmkit_hash_map *map,
                                      const uint8_t *key,
                                      size_t key_len,
                                      int64_t *out);

/**
 * Reads a typed float (Python `float`). `SHMKIT_STATUS_NOT_FOUND` if the key is absent,
 * `SHMKIT_STATUS_WRONG_TYPE` if the value has another type. `out` must not overlap the
 * key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_get_f64(const struct shmkit_hash_map *map,
                                      const uint8_t *key,
                                      size_t key_len,
                                      double *out);

/**
 * Reads a typed bool (Python `bool`). `SHMKIT_STATUS_NOT_FOUND` if the key is absent,
 * `SHMKIT_STATUS_WRONG_TYPE` if the value has another type. `out` must not overlap the
 * key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_get_bool(const struct shmkit_hash_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       bool *out);

/**
 * Reads a typed str (Python `str`) into `buf` as UTF-8, not NUL-terminated; `*len` is its
 * length in bytes. Buffers as `shmkit_hash_map_get` (to use the text as a C string, pass
 * a buffer of at least `*len + 1` bytes and set `buf[*len] = 0`; the text itself may
 * contain NUL bytes); `SHMKIT_STATUS_WRONG_TYPE` if the value is not a str. `buf` and
 * `len` must not overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_hash_map_get`.
 */
shmkit_status shmkit_hash_map_get_str(const struct shmkit_hash_map *map,
                                      const uint8_t *key,
                                      size_t key_len,
                                      char *buf,
                                      size_t cap,
                                      size_t *len);

/**
 * Reads typed bytes (Python `bytes`) into `buf`. Buffers as `shmkit_hash_map_get`;
 * `SHMKIT_STATUS_WRONG_TYPE` if the value is not bytes. `buf` and `len` must not overlap
 * the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_hash_map_get`.
 */
shmkit_status shmkit_hash_map_get_bytes(const struct shmkit_hash_map *map,
                                        const uint8_t *key,
                                        size_t key_len,
                                        uint8_t *buf,
                                        size_t cap,
                                        size_t *len);

/**
 * Sets `key` to the `value_len` bytes at `value`, stored as given (raw).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` and `value` are valid for their lengths (or
 * NULL with 0).
 */
shmkit_status shmkit_hash_map_set(const struct shmkit_hash_map *map,
                                  const uint8_t *key,
                                  size_t key_len,
                                  const uint8_t *value,
                                  size_t value_len);

/**
 * Sets `key` to null (Python `None`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
 */
shmkit_status shmkit_hash_map_set_null(const struct shmkit_hash_map *map,
                                       const uint8_t *key,
                                       size_t key_len);

/**
 * Sets `key` to a typed bool (Python `bool`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
 */
shmkit_status shmkit_hash_map_set_bool(const struct shmkit_hash_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       bool value);

/**
 * Sets `key` to a typed int (Python `int`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
 */
shmkit_status shmkit_hash_map_set_i64(const struct shmkit_hash_map *map,
                                      const uint8_t *key,
                                      size_t key_len,
                                      int64_t value);

/**
 * Sets `key` to a typed float (Python `float`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0).
 */
shmkit_status shmkit_hash_map_set_f64(const struct shmkit_hash_map *map,
                                      const uint8_t *key,
                                      size_t key_len,
                                      double value);

/**
 * Sets `key` to a typed str (Python `str`): the `len` bytes of UTF-8 at `text` (no NUL
 * needed). `SHMKIT_STATUS_INVALID_ARGUMENT` if they are not UTF-8.
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` and `text` are valid for their lengths (or
 * NULL with 0).
 */
shmkit_status shmkit_hash_map_set_str(const struct shmkit_hash_map *map,
                                      const uint8_t *key,
                                      size_t key_len,
                                      const char *text,
                                      size_t len);

/**
 * Sets `key` to typed bytes (Python `bytes`).
 *
 * # Safety
 * As `shmkit_hash_map_set`.
 */
shmkit_status shmkit_hash_map_set_bytes(const struct shmkit_hash_map *map,
                                        const uint8_t *key,
                                        size_t key_len,
                                        const uint8_t *value,
                                        size_t value_len);

/**
 * Sets `key` to the raw bytes `value` only if it is absent; `*inserted` (may be NULL) says
 * whether it was. `inserted` must not overlap the key or the value
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_hash_map_set`; `inserted` is NULL or writable.
 */
shmkit_status shmkit_hash_map_insert_if_absent(const struct shmkit_hash_map *map,
                                               const uint8_t *key,
                                               size_t key_len,
                                               const uint8_t *value,
                                               size_t value_len,
                                               bool *inserted);

/**
 * One conditional write of raw bytes, atomic across processes: if the value of `key` is
 * `expected` (NULL `expected`: if `key` is absent), set it to `new_value` (NULL
 * `new_value`: remove `key`). `*swapped` (may be NULL) says whether the condition held and
 * the write happened. An empty value is a non-NULL pointer with length 0. For a map of
 * typed values, compare with the bytes `shmkit_hash_map_get` returned. `swapped` must not
 * overlap the key, `expected` or `new_value` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key`, `expected` and `new_value` are each NULL or
 * valid for their lengths; `swapped` is NULL or writable.
 */
shmkit_status shmkit_hash_map_compare_and_set(const struct shmkit_hash_map *map,
                                              const uint8_t *key,
                                              size_t key_len,
                                              const uint8_t *expected,
                                              size_t expected_len,
                                              const uint8_t *new_value,
                                              size_t new_len,
                                              bool *swapped);

/**
 * Sets `key` to the typed value `*value` (encoded as `shmkit_value_encode` does) only if
 * `key` is absent; `*inserted` (may be NULL) says whether it was. `value` may not be NULL.
 * `inserted` must not overlap the key, `*value` or its payload
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `value` is NULL or as `shmkit_value_encode` needs it; `inserted` is NULL or writable.
 */
shmkit_status shmkit_hash_map_insert_if_absent_value(const struct shmkit_hash_map *map,
                                                     const uint8_t *key,
                                                     size_t key_len,
                                                     const struct shmkit_value *value,
                                                     bool *inserted);

/**
 * The typed form of `shmkit_hash_map_compare_and_set`, atomic across processes: if the
 * value of `key` is `*expected` (NULL `expected`: if `key` is absent), set it to
 * `*new_value` (NULL `new_value`: remove `key`). Both are encoded as
 * `shmkit_value_encode` does, and the stored value matches when its encoding is the same:
 * so the type counts (the int 1, the float 1.0 and the str "1" are three values), and an int
 * matches whether it was written as an int or as a big int. `*swapped` (may be NULL) says
 * whether the condition held and the write happened. `swapped` must not overlap the key or
 * either value (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `expected` and `new_value` are each NULL or as `shmkit_value_encode` needs them;
 * `swapped` is NULL or writable.
 */
shmkit_status shmkit_hash_map_compare_and_set_value(const struct shmkit_hash_map *map,
                                                    const uint8_t *key,
                                                    size_t key_len,
                                                    const struct shmkit_value *expected,
                                                    const struct shmkit_value *new_value,
                                                    bool *swapped);

/**
 * Removes `key`; `*removed` (may be NULL) says whether it was present. `removed` must not
 * overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `removed` is NULL or writable.
 */
shmkit_status shmkit_hash_map_remove(const struct shmkit_hash_map *map,
                                     const uint8_t *key,
                                     size_t key_len,
                                     bool *removed);

/**
 * Atomically adds `delta` to the typed int at `key` (a missing key counts as 0), as
 * Python's `m.incr(key, delta)` does (the same code in the library), and sets `*out` (may
 * be NULL) to the result. The stored value may be an int or a big int (an int beyond
 * `int64_t`, which Python writes); `SHMKIT_STATUS_WRONG_TYPE` if it is anything else, and
 * the value is unchanged then. The sum is exact: when it no longer fits in `int64_t` it is
 * stored as a big int (Python reads it as its `int`), the function returns
 * `SHMKIT_STATUS_BIG_INT` (an outcome, not an error) and `*out` is not written; read the
 * value with `shmkit_hash_map_get_value`. A later increment that brings it back into
 * `int64_t` stores an int again and returns `SHMKIT_STATUS_OK`. `out` must not overlap the
 * key (`SHMKIT_STATUS_INVALID_ARGUMENT`; the same for the other `incr` functions).
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_incr_int(const struct shmkit_hash_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       int64_t delta,
                                       int64_t *out);

/**
 * Atomically adds `delta` to the typed number at `key` (a missing key counts as 0.0) and
 * sets `*out` (may be NULL) to the result, stored as a float: an int (also a big int)
 * becomes a float, as in Python's `m.incr(key, delta)` (the same code in the library).
 * `SHMKIT_STATUS_WRONG_TYPE` if the value is not a number; `SHMKIT_STATUS_OVERFLOW` if it is
 * a big int too large for a `double` (Python's `OverflowError`). The value is unchanged
 * after an error.
 *
 * # Safety
 * As `shmkit_hash_map_incr_int`.
 */
shmkit_status shmkit_hash_map_incr_float(const struct shmkit_hash_map *map,
                                         const uint8_t *key,
                                         size_t key_len,
                                         double delta,
                                         double *out);

/**
 * Atomically adds `delta` to the raw 8-byte little-endian `int64_t` at `key` (created as
 * `delta` if missing; wraps on overflow) and sets `*out` (may be NULL) to the result.
 * `SHMKIT_STATUS_WRONG_TYPE` if the value is not 8 bytes long;
 * `SHMKIT_STATUS_INVALID_ARGUMENT` on a fixed-size map whose values are not 8 bytes. For
 * raw maps (Rust's `incr_i64`, Python's raw maps); typed maps use
 * `shmkit_hash_map_incr_int`.
 *
 * # Safety
 * As `shmkit_hash_map_incr_int`.
 */
shmkit_status shmkit_hash_map_incr_i64(const struct shmkit_hash_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       int64_t delta,
                                       int64_t *out);

/**
 * The raw 8-byte little-endian `double` form of `shmkit_hash_map_incr_i64`.
 *
 * # Safety
 * As `shmkit_hash_map_incr_int`.
 */
shmkit_status shmkit_hash_map_incr_f64(const struct shmkit_hash_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       double delta,
                                       double *out);

/**
 * Sets `*out` to the number of entries (exact when no write is in flight).
 *
 * # Safety
 * `map` is NULL or a live map handle; `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_len(const struct shmkit_hash_map *map, uint64_t *out);

/**
 * The handle of `key` in `*handle`, giving the key one if it has none;
 * `SHMKIT_STATUS_NOT_FOUND` if the key is absent. A key keeps its handle until it is
 * removed. `handle` must not overlap the key.
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `handle` is NULL or writable.
 */
shmkit_status shmkit_hash_map_handle(const struct shmkit_hash_map *map,
                                     const uint8_t *key,
                                     size_t key_len,
                                     uint64_t *handle);

/**
 * Sets `key` to `value` (as `shmkit_hash_map_set`) and writes the key's handle to
 * `*handle`. `handle` must not overlap the key or the value.
 *
 * # Safety
 * `map` is NULL or a live map handle; `key` and `value` are valid for their lengths (or
 * NULL with 0); `handle` is NULL or writable.
 */
shmkit_status shmkit_hash_map_set_with_handle(const struct shmkit_hash_map *map,
                                              const uint8_t *key,
                                              size_t key_len,
                                              const uint8_t *value,
                                              size_t value_len,
                                              uint64_t *handle);

/**
 * Copies the value of the key `handle` names into `buf` (`*len` = its length), without
 * hashing or probing. `SHMKIT_STATUS_NOT_FOUND` if the handle names no live key;
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` (with `*len` the length needed) if it does not fit.
 *
 * # Safety
 * `map` is NULL or a live map handle; `buf` is valid for `cap` writable bytes (or NULL
 * with 0); `len` is NULL or writable and outside `buf`.
 */
shmkit_status shmkit_hash_map_get_by_handle(const struct shmkit_hash_map *map,
                                            uint64_t handle,
                                            uint8_t *buf,
                                            size_t cap,
                                            size_t *len);

/**
 * Replaces the value of the key `handle` names; `SHMKIT_STATUS_NOT_FOUND` (nothing
 * written) if it names no live key.
 *
 * # Safety
 * `map` is NULL or a live map handle; `value` is valid for `value_len` bytes (or NULL with
 * 0).
 */
shmkit_status shmkit_hash_map_set_by_handle(const struct shmkit_hash_map *map,
                                            uint64_t handle,
                                            const uint8_t *value,
                                            size_t value_len);

/**
 * Removes the key `handle` names; `*removed` (may be NULL) says whether it named one.
 *
 * # Safety
 * `map` is NULL or a live map handle; `removed` is NULL or writable.
 */
shmkit_status shmkit_hash_map_remove_by_handle(const struct shmkit_hash_map *map,
                                               uint64_t handle,
                                               bool *removed);

/**
 * Starts an iteration over `map`'s entries; `*out` is a new iterator handle. On failure
 * `*out` is set to NULL (unless `out` itself is NULL).
 *
 * # Safety
 * `map` is NULL or a live map handle; `out` is NULL or writable.
 */
shmkit_status shmkit_hash_map_iter_new(const struct shmkit_hash_map *map,
                                       struct shmkit_hash_map_iter **out);

/**
 * Copies the next entry's key into `key_buf` and its value (the stored bytes, as
 * `shmkit_hash_map_get` returns them) into `value_buf`, and sets `*key_len` and
 * `*value_len`. `SHMKIT_STATUS_END` when there are no more entries.
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` if either does not fit: both lengths are set to what
 * is needed, nothing is copied, and the next call returns the same entry. Through a
 * handle opened with `SHMKIT_MAP_STR_KEYS` the key is the text of a str key;
 * `SHMKIT_STATUS_WRONG_TYPE` for an entry with a key of another type (that entry is
 * skipped: call again for the next). `SHMKIT_STATUS_BUSY` if another thread is inside a
 * call on the same iterator (nothing happened: call again).
 *
 * The key is not NUL-terminated (pass a buffer one byte longer and add the NUL to use it
 * as a C string).
 *
 * # Safety
 * `iter` is NULL or a live iterator handle (not being freed by another thread); each
 * buffer is valid for writes of its capacity (or NULL with 0); `key_len` and `value_len`
 * are NULL or writable.
 */
shmkit_status shmkit_hash_map_iter_next(const struct shmkit_hash_map_iter *iter,
                                        uint8_t *key_buf,
                                        size_t key_cap,
                                        size_t *key_len,
                                        uint8_t *value_buf,
                                        size_t value_cap,
                                        size_t *value_len);

/**
 * Frees an iterator; NULL is a no-op.
 *
 * # Safety
 * `iter` is NULL or an iterator handle not yet freed; it is not used again.
 */
void shmkit_hash_map_iter_free(struct shmkit_hash_map_iter *iter);

/**
 * Appends null (Python's None) to the key being written in `buf` (capacity `cap`) at
 * `*len`, and advances `*len` by its length. Every `shmkit_ordered_key_encode_*` and
 * `_begin_tuple`/`_end_tuple` works so: start with `*len` = 0, call one per element, and
 * the key is the first `*len` bytes of `buf`. An element that does not fit returns
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` and copies nothing, but `*len` still advances (and
 * later calls copy nothing either), so after the last call `*len` is the length the
 * whole key needs: grow the buffer to it and write the key again. `len` must not overlap
 * `buf` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or points to an
 * initialised, writable `size_t`.
 */
shmkit_status shmkit_ordered_key_encode_null(uint8_t *buf, size_t cap, size_t *len);

/**
 * Appends the int `value` (a bool is the int 0 or 1), as `shmkit_ordered_key_encode_null`
 * appends. Ints and floats share one numeric order (`-1 < 0.5 < 1`), and an integral float
 * is the int it equals.
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`.
 */
shmkit_status shmkit_ordered_key_encode_i64(uint8_t *buf, size_t cap, size_t *len, int64_t value);

/**
 * Appends the float `value`, as `shmkit_ordered_key_encode_null` appends: an integral one
 * as the int it equals (`-0.0` as 0), infinities and NaN in their places (`-inf` lowest,
 * then every number, `+inf`, NaN).
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`.
 */
shmkit_status shmkit_ordered_key_encode_f64(uint8_t *buf, size_t cap, size_t *len, double value);

/**
 * Appends an int of any size (Python's ints beyond `int64_t`): two's complement,
 * little-endian, the `data_len` bytes at `data` (any length; 0 bytes is 0), as
 * `shmkit_ordered_key_encode_null` appends. `SHMKIT_STATUS_OVERFLOW` for an int of more
 * than 2^20 bits (nothing appended, `*len` unchanged). `data` must not overlap `buf` or
 * `len` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`; `data` is valid for `data_len` bytes (or NULL with
 * 0).
 */
shmkit_status shmkit_ordered_key_encode_big_int(uint8_t *buf,
                                                size_t cap,
                                                size_t *len,
                                                const uint8_t *data,
                                                size_t data_len);

/**
 * Appends the `text_len` bytes of UTF-8 text at `text` (a str, ordered by code point), as
 * `shmkit_ordered_key_encode_null` appends. `SHMKIT_STATUS_INVALID_ARGUMENT` for text that
 * is not UTF-8 (nothing appended), or that overlaps `buf` or `len`.
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`; `text` is valid for `text_len` bytes (or NULL with
 * 0).
 */
shmkit_status shmkit_ordered_key_encode_str(uint8_t *buf,
                                            size_t cap,
                                            size_t *len,
                                            const uint8_t *text,
                                            size_t text_len);

/**
 * Appends the `data_len` bytes at `data` (bytes, ordered bytewise), as
 * `shmkit_ordered_key_encode_null` appends. `data` must not overlap `buf` or `len`
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`; `data` is valid for `data_len` bytes (or NULL with
 * 0).
 */
shmkit_status shmkit_ordered_key_encode_bytes(uint8_t *buf,
                                              size_t cap,
                                              size_t *len,
                                              const uint8_t *data,
                                              size_t data_len);

/**
 * Starts a tuple, as `shmkit_ordered_key_encode_null` appends: append its elements, then
 * `shmkit_ordered_key_end_tuple`. Tuples compare element by element, a tuple before its
 * extensions (`("user",) < ("user", 0)`). Nesting is at most 64 deep (deeper keys are not
 * keys: `shmkit_ordered_key_decode` refuses them). The bytes before the `_end_tuple` are
 * the tuple's prefix: see `shmkit_ordered_key_prefix_upper_bound`.
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`.
 */
shmkit_status shmkit_ordered_key_begin_tuple(uint8_t *buf, size_t cap, size_t *len);

/**
 * Ends the tuple `shmkit_ordered_key_begin_tuple` started, as
 * `shmkit_ordered_key_encode_null` appends.
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`.
 */
shmkit_status shmkit_ordered_key_end_tuple(uint8_t *buf, size_t cap, size_t *len);

/**
 * Turns a tuple prefix `P` (`shmkit_ordered_key_begin_tuple` and some elements, without
 * the `_end_tuple`; a copy of it, since `P` itself is the range's start) into the exclusive
 * upper bound of the keys that extend it, appending as `shmkit_ordered_key_encode_null`
 * does: the keys from `P` (inclusive) to this bound (exclusive) are exactly the tuples that
 * start with those elements, the range to pass to `shmkit_ordered_map_count` or
 * `_iter_open` for a prefix count or scan. (Keys that merely start with the bytes of `P`
 * include others: `("user\0x", 1)` starts with the bytes of `("user",`'s prefix.)
 *
 * # Safety
 * As `shmkit_ordered_key_encode_null`.
 */
shmkit_status shmkit_ordered_key_prefix_upper_bound(uint8_t *buf, size_t cap, size_t *len);

/**
 * Decodes the `key_len` bytes at `key` (a key of an ordered map or priority queue, or one
 * the encoders wrote) into items, in order: a scalar is one item; a tuple is one item
 * (`SHMKIT_ORDERED_KEY_TYPE_TUPLE`, `len` its element count) followed by its elements'
 * items. `("user", 7)` is three items: a tuple of 2, the str `user`, the int 7. Str, bytes
 * and big int payloads are copied one after the other into `payload` (capacity
 * `payload_cap`), where the items' `data` point. `*items_len` and `*payload_len` are set
 * to the item count and payload bytes used.
 *
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the items do not fit in `items_cap` or the payloads
 * in `payload_cap`: both counts are set to what is needed and nothing else is written
 * (NULL arrays with 0 ask for them). `SHMKIT_STATUS_INVALID_VALUE` for bytes that are not
 * exactly one key (the decoding is strict: truncated keys, trailing bytes and forms the
 * encoder never writes are refused). Decoded keys are canonical: an integral float comes
 * back as an int, a bool as the int 0 or 1. No output may overlap the key or another
 * output (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `key` is valid for `key_len` bytes (or NULL with 0); `items` is valid for writes of
 * `items_cap` items (aligned; or NULL with 0); `payload` is valid for writes of
 * `payload_cap` bytes (or NULL with 0); `items_len` and `payload_len` are NULL or
 * writable.
 */
shmkit_status shmkit_ordered_key_decode(const uint8_t *key,
                                        size_t key_len,
                                        struct shmkit_ordered_key_item *items,
                                        size_t items_cap,
                                        size_t *items_len,
                                        uint8_t *payload,
                                        size_t payload_cap,
                                        size_t *payload_len);

/**
 * Opens the ordered map `name` of `store`, creating it unless `flags` has
 * `SHMKIT_ORDERED_MAP_OPEN_EXISTING`. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to
 * another kind of object; `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags. On success
 * `*out` is a new handle, to free with `shmkit_ordered_map_close`; on failure `*out` is set
 * to NULL (unless `out` itself is NULL).
 *
 * # Safety
 * `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
 * is NULL or writable.
 */
shmkit_status shmkit_ordered_map_open(const struct shmkit_store *store,
                                      const char *name,
                                      uint32_t flags,
                                      struct shmkit_ordered_map **out);

/**
 * Frees an ordered map handle; NULL is a no-op.
 *
 * # Safety
 * `map` is NULL or a handle not yet closed; it is not used again (cursors made from it
 * stay valid).
 */
void shmkit_ordered_map_close(struct shmkit_ordered_map *map);

/**
 * Copies the value of `key` into `buf` and sets `*len` to its length, as
 * `shmkit_hash_map_get` does: `SHMKIT_STATUS_NOT_FOUND` if the key is absent (nothing
 * written); `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the value is longer than `cap`, with `*len`
 * the length needed and nothing copied (`buf` may be NULL with `cap` 0 to ask). `buf` and
 * `len` must not overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`);
 * `SHMKIT_STATUS_INVALID_ARGUMENT` for a key past 65535 bytes.
 *
 * # Safety
 * `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `buf` is valid for writes of `cap` bytes (or NULL with 0); `len` is NULL or writable.
 */
shmkit_status shmkit_ordered_map_get(const struct shmkit_ordered_map *map,
                                     const uint8_t *key,
                                     size_t key_len,
                                     uint8_t *buf,
                                     size_t cap,
                                     size_t *len);

/**
 * Sets `key` to the `value_len` bytes at `value`. `SHMKIT_STATUS_INVALID_ARGUMENT` for a
 * key past 65535 bytes or a value past 1 GiB.
 *
 * # Safety
 * `map` is NULL or a live handle; `key` and `value` are valid for their lengths (or NULL
 * with 0).
 */
shmkit_status shmkit_ordered_map_set(const struct shmkit_ordered_map *map,
                                     const uint8_t *key,
                                     size_t key_len,
                                     const uint8_t *value,
                                     size_t value_len);

/**
 * Sets `key` to `value` only if it is absent; `*inserted` (may be NULL) says whether it
 * was. `inserted` must not overlap the key or the value (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * As `shmkit_ordered_map_set`; `inserted` is NULL or writable.
 */
shmkit_status shmkit_ordered_map_insert_if_absent(const struct shmkit_ordered_map *map,
                                                  const uint8_t *key,
                                                  size_t key_len,
                                                  const uint8_t *value,
                                                  size_t value_len,
                                                  bool *inserted);

/**
 * Removes `key`; `*removed` (may be NULL) says whether it was present. `removed` must not
 * overlap the key (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0);
 * `removed` is NULL or writable.
 */
shmkit_status shmkit_ordered_map_remove(const struct shmkit_ordered_map *map,
                                        const uint8_t *key,
                                        size_t key_len,
                                        bool *removed);

/**
 * One conditional write, atomic across processes, as `shmkit_hash_map_compare_and_set`: if
 * the value of `key` is `expected` (NULL: the key is absent; a non-NULL pointer with length
 * 0: the empty value), it becomes `new_value` (NULL: the key is removed) and `*swapped`
 * (may be NULL) is true; otherwise nothing changes and `*swapped` is false. `swapped` must
 * not overlap the key, `expected` or `new_value` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live handle; `key`, `expected` and `new_value` are each NULL or valid
 * for their lengths; `swapped` is NULL or writable.
 */
shmkit_status shmkit_ordered_map_compare_and_set(const struct shmkit_ordered_map *map,
                                                 const uint8_t *key,
                                                 size_t key_len,
                                                 const uint8_t *expected,
                                                 size_t expected_len,
                                                 const uint8_t *new_value,
                                                 size_t new_len,
                                                 bool *swapped);

/**
 * Sets `*out` to the number of entries.
 *
 * # Safety
 * `map` is NULL or a live handle; `out` is NULL or writable.
 */
shmkit_status shmkit_ordered_map_len(const struct shmkit_ordered_map *map, uint64_t *out);

/**
 * Removes every entry. Other processes may see the map part-way cleared (it is emptied a
 * leaf at a time), never a damaged one.
 *
 * # Safety
 * `map` is NULL or a live handle.
 */
shmkit_status shmkit_ordered_map_clear(const struct shmkit_ordered_map *map);

/**
 * Counts the entries whose keys lie between `start` and `end`, exactly, for one version
 * of the map, in O(log n): `*count` is their number and `*bytes` (may be NULL) the sum of
 * their key and value lengths. A bound is NULL with length 0 for "unbounded", else its
 * bytes (a non-NULL pointer with length 0 is the empty key), included when its `_inclusive`
 * flag is true. A start after the end counts nothing. `SHMKIT_STATUS_INVALID_ARGUMENT` for
 * a bound past 65535 bytes; the outputs must not overlap a bound or each other.
 *
 * # Safety
 * `map` is NULL or a live handle; `start` and `end` are each NULL or valid for their
 * lengths; `count` and `bytes` are NULL or writable.
 */
shmkit_status shmkit_ordered_map_count(const struct shmkit_ordered_map *map,
                                       const uint8_t *start,
                                       size_t start_len,
                                       bool start_inclusive,
                                       const uint8_t *end,
                                       size_t end_len,
                                       bool end_inclusive,
                                       uint64_t *count,
                                       uint64_t *bytes);

/**
 * Copies the entry with the smallest key: its key into `key_buf` (`*key_len` set to its
 * length) and its value into `value_buf` (`*value_len`). `SHMKIT_STATUS_NOT_FOUND` if the
 * map is empty. `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the key or the value does not fit:
 * both lengths are set and nothing is copied (NULL buffers with capacity 0 ask for them).
 * No two outputs may overlap (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `map` is NULL or a live handle; each buffer is valid for writes of its capacity (or NULL
 * with 0); `key_len` and `value_len` are NULL or writable.
 */
shmkit_status shmkit_ordered_map_first(const struct shmkit_ordered_map *map,
                                       uint8_t *key_buf,
                                       size_t key_cap,
                                       size_t *key_len,
                                       uint8_t *value_buf,
                                       size_t value_cap,
                                       size_t *value_len);

/**
 * The entry with the largest key, as `shmkit_ordered_map_first`.
 *
 * # Safety
 * As `shmkit_ordered_map_first`.
 */
shmkit_status shmkit_ordered_map_last(const struct shmkit_ordered_map *map,
                                      uint8_t *key_buf,
                                      size_t key_cap,
                                      size_t *key_len,
                                      uint8_t *value_buf,
                                      size_t value_cap,
                                      size_t *value_len);

/**
 * The entry with the largest key at or below `key`. Copied as `shmkit_ordered_map_first` copies (`SHMKIT_STATUS_NOT_FOUND` if there
 * is no such entry; `SHMKIT_STATUS_BUFFER_TOO_SMALL` with both lengths set and nothing
 * copied): its key into `key_buf` (`*found_key_len` set to its length), its value into
 * `value_buf` (`*value_len`). No output may overlap `key` or another output
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`); `SHMKIT_STATUS_INVALID_ARGUMENT` for a key past 65535
 * bytes. `key` itself need not be in the map.
 *
 * # Safety
 * `map` is NULL or a live handle; `key` is valid for `key_len` bytes (or NULL with 0); each
 * buffer is valid for writes of its capacity (or NULL with 0); `found_key_len` and
 * `value_len` are NULL or writable.
 */
shmkit_status shmkit_ordered_map_floor(const struct shmkit_ordered_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       uint8_t *key_buf,
                                       size_t key_cap,
                                       size_t *found_key_len,
                                       uint8_t *value_buf,
                                       size_t value_cap,
                                       size_t *value_len);

/**
 * The entry with the smallest key at or above `key`. As `shmkit_ordered_map_floor`.
 *
 * # Safety
 * As `shmkit_ordered_map_floor`.
 */
shmkit_status shmkit_ordered_map_ceiling(const struct shmkit_ordered_map *map,
                                         const uint8_t *key,
                                         size_t key_len,
                                         uint8_t *key_buf,
                                         size_t key_cap,
                                         size_t *found_key_len,
                                         uint8_t *value_buf,
                                         size_t value_cap,
                                         size_t *value_len);

/**
 * The entry with the largest key strictly below `key`. As `shmkit_ordered_map_floor`.
 *
 * # Safety
 * As `shmkit_ordered_map_floor`.
 */
shmkit_status shmkit_ordered_map_lower(const struct shmkit_ordered_map *map,
                                       const uint8_t *key,
                                       size_t key_len,
                                       uint8_t *key_buf,
                                       size_t key_cap,
                                       size_t *found_key_len,
                                       uint8_t *value_buf,
                                       size_t value_cap,
                                       size_t *value_len);

/**
 * The entry with the smallest key strictly above `key`. As `shmkit_ordered_map_floor`.
 *
 * # Safety
 * As `shmkit_ordered_map_floor`.
 */
shmkit_status shmkit_ordered_map_higher(const struct shmkit_ordered_map *map,
                                        const uint8_t *key,
                                        size_t key_len,
                                        uint8_t *key_buf,
                                        size_t key_cap,
                                        size_t *found_key_len,
                                        uint8_t *value_buf,
                                        size_t value_cap,
                                        size_t *value_len);

/**
 * Starts a scan of the entries of `map` whose keys lie between `start` and `end` (bounds as
 * `shmkit_ordered_map_count` takes them: NULL with length 0 for unbounded, included when
 * their `_inclusive` flag is true), in ascending key order, or descending if `reverse`.
 * `*out` is a new cursor, to free with `shmkit_ordered_map_iter_close`; on failure `*out`
 * is set to NULL (unless `out` itself is NULL). `SHMKIT_STATUS_INVALID_ARGUMENT` for a
 * bound past 65535 bytes. The bounds are copied: their buffers may be reused at once.
 *
 * The scan is weakly consistent: each step finds the first key past the last one it
 * returned in the map as it is then, so an entry present for the whole scan comes exactly
 * once and in order while others write; entries added or removed meanwhile may or may not
 * come.
 *
 * # Safety
 * `map` is NULL or a live handle; `start` and `end` are each NULL or valid for their
 * lengths; `out` is NULL or writable.
 */
shmkit_status shmkit_ordered_map_iter_open(const struct shmkit_ordered_map *map,
                                           const uint8_t *start,
                                           size_t start_len,
                                           bool start_inclusive,
                                           const uint8_t *end,
                                           size_t end_len,
                                           bool end_inclusive,
                                           bool reverse,
                                           struct shmkit_ordered_map_iter **out);

/**
 * Copies the scan's next entry: its key into `key_buf` (`*key_len` set to its length) and
 * its value into `value_buf` (`*value_len`). `SHMKIT_STATUS_END` when the range holds no
 * more. As `shmkit_hash_map_iter_next`: `SHMKIT_STATUS_BUFFER_TOO_SMALL` if either does not
 * fit, with both lengths set to what is needed, nothing copied, and the same entry returned
 * by the next call; `SHMKIT_STATUS_BUSY` if another thread is inside a call on the same
 * cursor (nothing happened: call again). After any other error the cursor stays where it
 * was: the next call resumes after the last entry returned. No two outputs may overlap
 * (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `iter` is NULL or a live cursor (not being freed by another thread); each buffer is
 * valid for writes of its capacity (or NULL with 0); `key_len` and `value_len` are NULL or
 * writable.
 */
shmkit_status shmkit_ordered_map_iter_next(const struct shmkit_ordered_map_iter *iter,
                                           uint8_t *key_buf,
                                           size_t key_cap,
                                           size_t *key_len,
                                           uint8_t *value_buf,
                                           size_t value_cap,
                                           size_t *value_len);

/**
 * Frees a cursor; NULL is a no-op.
 *
 * # Safety
 * `iter` is NULL or a cursor not yet freed; it is not used again.
 */
void shmkit_ordered_map_iter_close(struct shmkit_ordered_map_iter *iter);

/**
 * Opens the priority queue `name` of `store`, creating it (with room for `maxlen` items, 0
 * for no limit) unless `flags` has `SHMKIT_PRIORITY_QUEUE_OPEN_EXISTING`. An existing queue
 * keeps its own limit. `SHMKIT_STATUS_WRONG_KIND` if the name belongs to another kind of
 * object; `SHMKIT_STATUS_INVALID_ARGUMENT` for unknown flags. On success `*out` is a new
 * handle, to free with `shmkit_priority_queue_close`; on failure `*out` is set to NULL
 * (unless `out` itself is NULL).
 *
 * # Safety
 * `store` is NULL or a live store handle; `name` is NULL or a NUL-terminated string; `out`
 * is NULL or writable.
 */
shmkit_status shmkit_priority_queue_open(const struct shmkit_store *store,
                                         const char *name,
                                         uint64_t maxlen,
                                         uint32_t flags,
                                         struct shmkit_priority_queue **out);

/**
 * Frees a priority queue handle; NULL is a no-op.
 *
 * # Safety
 * `queue` is NULL or a handle not yet closed; it is not used again.
 */
void shmkit_priority_queue_close(struct shmkit_priority_queue *queue);

/**
 * Sets `*out` to the number of items now.
 *
 * # Safety
 * `queue` is NULL or a live handle; `out` is NULL or writable.
 */
shmkit_status shmkit_priority_queue_len(const struct shmkit_priority_queue *queue, uint64_t *out);

/**
 * Pushes the item (`key_len` bytes at `key`, `value_len` bytes at `value`). On a full
 * bounded queue waits up to `timeout_ms` milliseconds for room (negative: for ever; 0: not
 * at all), then returns `SHMKIT_STATUS_FULL` with nothing pushed.
 * `SHMKIT_STATUS_INVALID_ARGUMENT` for a key past 1 MiB or a value past 1 GiB.
 *
 * # Safety
 * `queue` is NULL or a live handle; `key` is valid for `key_len` bytes and `value` for
 * `value_len` bytes (each may be NULL with length 0).
 */
shmkit_status shmkit_priority_queue_push(const struct shmkit_priority_queue *queue,
                                         const uint8_t *key,
                                         size_t key_len,
                                         const uint8_t *value,
                                         size_t value_len,
                                         int64_t timeout_ms);

/**
 * Pops the smallest item: its key into `key_buf` (`*key_len` set to its length) and its
 * value into `value_buf` (`*value_len`), waiting up to `timeout_ms` milliseconds for one
 * (negative: for ever; 0: not at all). `SHMKIT_STATUS_NOT_FOUND` if no item came.
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the key or the value does not fit: both lengths are
 * set and the item stays in the queue (NULL buffers with capacity 0 ask for them).
 * `key_buf` may be NULL with `key_cap` 0 when the key is not wanted and is empty. No two
 * outputs may overlap (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `queue` is NULL or a live handle; each buffer is valid for writes of its capacity (or
 * NULL with 0); `key_len` and `value_len` are NULL or writable.
 */
shmkit_status shmkit_priority_queue_pop(const struct shmkit_priority_queue *queue,
                                        int64_t timeout_ms,
                                        uint8_t *key_buf,
                                        size_t key_cap,
                                        size_t *key_len,
                                        uint8_t *value_buf,
                                        size_t value_cap,
                                        size_t *value_len);

/**
 * Removes every item; sets `*removed` (if not NULL) to how many there were.
 *
 * # Safety
 * `queue` is NULL or a live handle; `removed` is NULL or writable.
 */
shmkit_status shmkit_priority_queue_clear(const struct shmkit_priority_queue *queue,
                                          uint64_t *removed);

/**
 * Opens an existing store. `options` may be NULL; only its `SHMKIT_ALLOW_FOREIGN_OWNER`
 * flag and `mode` (when nonzero: refuse a store whose mode grants more) are used; its
 * `reserved` field must be 0. On success `*out` is a new handle, to free with
 * `shmkit_store_close`; on failure `*out` is set to NULL (unless `out` itself is NULL).
 *
 * Errors: `SHMKIT_STATUS_STORE_NOT_FOUND`, `SHMKIT_STATUS_FOREIGN_OWNER`,
 * `SHMKIT_STATUS_MODE_TOO_WIDE`, `SHMKIT_STATUS_INVALID_NAME`, `SHMKIT_STATUS_NOT_A_STORE`,
 * ...
 *
 * # Safety
 * `name` is NULL or a NUL-terminated string; `options` is NULL or points to a
 * `shmkit_store_options`; `out` is NULL or writable.
 */
shmkit_status shmkit_store_open(const char *name,
                                const struct shmkit_store_options *options,
                                struct shmkit_store **out);

/**
 * Creates a new store; `SHMKIT_STATUS_STORE_EXISTS` if the name is taken. `options` may
 * be NULL (defaults). On success `*out` is a new handle; on failure `*out` is set to NULL
 * (unless `out` itself is NULL). Sizes past what a store can be (`reserve` or `initial_len`
 * that round up to whole pages beyond `INT64_MAX` bytes) are
 * `SHMKIT_STATUS_INVALID_ARGUMENT`.
 *
 * # Safety
 * As `shmkit_store_open`.
 */
shmkit_status shmkit_store_create(const char *name,
                                  const struct shmkit_store_options *options,
                                  struct shmkit_store **out);

/**
 * Opens the store, creating it if it does not exist (race-free: processes calling this at
 * once end up on one store). An existing store must belong to the caller (unless
 * `SHMKIT_ALLOW_FOREIGN_OWNER`) and grant no permission beyond `options.mode` (0: 0600).
 * On success `*out` is a new handle; on failure `*out` is set to NULL (unless `out` itself
 * is NULL).
 *
 * # Safety
 * As `shmkit_store_open`.
 */
shmkit_status shmkit_store_open_or_create(const char *name,
                                          const struct shmkit_store_options *options,
                                          struct shmkit_store **out);

/**
 * Frees a store handle; NULL is a no-op. Map handles made from it stay valid (each keeps
 * the store attached); the process detaches when the last handle is gone.
 *
 * # Safety
 * `store` is NULL or a handle from this library not yet closed; it is not used again.
 */
void shmkit_store_close(struct shmkit_store *store);

/**
 * Removes a store's name, even while other processes are attached (they keep working on
 * it). `SHMKIT_STATUS_NOT_A_STORE` for a file that is not a store.
 *
 * # Safety
 * `name` is NULL or a NUL-terminated string.
 */
shmkit_status shmkit_store_remove(const char *name);

/**
 * Removes a store's name only if no other process is attached; `*removed` (may be NULL)
 * says whether it was.
 *
 * # Safety
 * `name` is NULL or a NUL-terminated string; `removed` is NULL or writable.
 */
shmkit_status shmkit_store_remove_if_unused(const char *name, bool *removed);

/**
 * Checks the whole store (allocator, every object, leaked blocks) and counts what it found
 * into `*out`. A store that is not clean is still `SHMKIT_STATUS_OK`: read `out->clean`.
 *
 * # Safety
 * `store` is NULL or a live store handle; `out` is NULL or writable.
 */
shmkit_status shmkit_store_check(const struct shmkit_store *store,
                                 struct shmkit_check_summary *out);

/**
 * Repairs what killed processes left (locks, half-done writes, leaked blocks when no other
 * process is attached) and checks again; `*out` (may be NULL) says what was done.
 *
 * # Safety
 * `store` is NULL or a live store handle; `out` is NULL or writable.
 */
shmkit_status shmkit_store_repair(const struct shmkit_store *store,
                                  struct shmkit_repair_summary *out);

/**
 * Decodes the `len` encoded bytes at `bytes` (a value as `shmkit_hash_map_get` or the
 * iterator return it from a map of typed values) into `*out`, whose `data` then points into
 * `bytes`. `SHMKIT_STATUS_INVALID_VALUE` for bytes that are not a value. `out` must not
 * overlap `bytes` (`SHMKIT_STATUS_INVALID_ARGUMENT`).
 *
 * # Safety
 * `bytes` is NULL (with `len` 0) or valid for `len` bytes; `out` is NULL or writable.
 */
shmkit_status shmkit_value_decode(const uint8_t *bytes, size_t len, struct shmkit_value *out);

/**
 * Encodes `*value` into `buf` (capacity `cap`) in the shared encoding and sets `*len` to
 * the length of the encoding: the bytes Python writes for the same value, to pass as a key
 * (to a map handle opened without `SHMKIT_MAP_STR_KEYS`, for an int or bytes key of a map
 * Python uses) or as a value to the raw functions. Buffers as `shmkit_hash_map_get`:
 * `SHMKIT_STATUS_BUFFER_TOO_SMALL` if the encoding is longer than `cap`, with `*len` the
 * length needed and nothing copied; `buf` may be NULL with `cap` 0 to ask for the length.
 * Every type may be given: a big int (`data`/`len`, two's complement little-endian, any
 * length) is written in its one canonical form, so one that fits in `int64_t` becomes an
 * int; a str must be UTF-8 and a `kind` must be a `shmkit_type`
 * (`SHMKIT_STATUS_INVALID_ARGUMENT` otherwise). `buf` and `len` must not overlap `*value`
 * or its payload (`SHMKIT_STATUS_INVALID_ARGUMENT`, nothing written).
 *
 * # Safety
 * `value` is NULL or points to a `shmkit_value` whose `kind` and the fields that kind uses
 * are set (its `data` valid for `len` bytes, or NULL with `len` 0); `buf` is valid for
 * writes of `cap` bytes (or NULL with 0); `len` is NULL or writable.
 */
shmkit_status shmkit_value_encode(const struct shmkit_value *value,
                                  uint8_t *buf,
                                  size_t cap,
                                  size_t *len);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SHMKIT_H */
